"""The backprop model contract: names, tasks, dispatch through schemas, JSON outputs, dill."""

import json

import dill
import keras
import numpy as np
import pytest

from kerasprop.models import BaseModel, KerasTaskModel
from tiny_models import tiny_text_classifier


class MyModel(BaseModel):
    """backprop's seed example, with kerasprop in place of backprop."""

    def __call__(self, task_input, task="emotion"):
        if task == "emotion":
            text = task_input.get("text")  # noqa: F841
            return "admiration"
        raise ValueError("Unsupported task!")


class EchoLength(BaseModel):
    """Serves two tasks through predict_task, returning numpy values the contract must convert."""

    def __init__(self):
        super().__init__(name="echo-length", tasks=["text-vectorisation", "text-classification"])

    def predict_task(self, task, request):
        if task == "text-vectorisation":
            return [np.array([len(t), 1.0], dtype="float32") for t in request.inputs["text"]]
        return [{label: np.float32(1.0 / len(labels)) for label in labels} for labels in request.inputs["labels"]]


def test_seed_example_works_as_written():
    model = MyModel()
    assert model({"text": "This is pretty cool!"}, task="emotion") == "admiration"
    assert model.name == "base-model" and model.tasks == []


@pytest.mark.parametrize("name", ["ab", "Upper", "has space", "a" * 101, "dots.no"])
def test_invalid_names_are_refused(name):
    with pytest.raises(ValueError, match="3 to 100 characters"):
        BaseModel(name=name)


def test_names_and_tasks_validation():
    assert BaseModel(name="my_model-2").name == "my_model-2"
    with pytest.raises(TypeError, match="model name must be a string"):
        BaseModel(name=3)
    with pytest.raises(ValueError, match="Unknown task 'summarization'"):
        BaseModel(name="abc", tasks=["summarization"])
    with pytest.raises(TypeError, match="'tasks' must be a list"):
        BaseModel(name="abc", tasks="emotion")
    with pytest.raises(ValueError, match="more than once"):
        BaseModel(name="abc", tasks=["emotion", "emotion"])
    with pytest.raises(TypeError, match="'details' must be a dict"):
        BaseModel(name="abc", details=["x"])


def test_dispatch_validates_and_returns_plain_json():
    model = EchoLength()
    vector = model({"text": "four"}, task="text-vectorisation")
    assert vector == [4.0, 1.0] and all(type(v) is float for v in vector)
    batch = model({"text": ["a", "abc"], "labels": ["x", "y"]}, task="text-classification")
    assert batch == [{"x": 0.5, "y": 0.5}, {"x": 0.5, "y": 0.5}]
    json.dumps(batch)
    with pytest.raises(ValueError, match="does not support the task 'emotion'; its tasks are"):
        model({"text": "hi"}, task="emotion")
    with pytest.raises(ValueError, match="name one with task="):
        model({"text": "hi"})
    with pytest.raises(TypeError, match=r"'text\[1\]' must be a string"):
        model({"text": ["ok", None]}, task="text-vectorisation")


def test_finetuning_hooks_refuse_unsupported_tasks():
    with pytest.raises(ValueError, match="cannot be finetuned for 'text-vectorisation'"):
        EchoLength().process_batch({"texts": ["a"], "groups": [0]}, task="text-vectorisation")


def test_dill_round_trip_of_plain_models():
    restored = dill.loads(dill.dumps(EchoLength()))
    assert restored({"text": "four"}, task="text-vectorisation") == [4.0, 1.0]


def test_keras_task_model_is_a_keras_task_and_a_backprop_model():
    model = tiny_text_classifier()
    assert isinstance(model, BaseModel) and isinstance(model, KerasTaskModel)
    result = model({"text": "the food was good"}, task="text-classification")
    assert list(result) == sorted(result, key=result.get, reverse=True)
    assert abs(sum(result.values()) - 1.0) < 1e-5
    logits = model.predict(["the food was good"], verbose=0)  # the Keras side is untouched
    assert logits.shape == (1, 2)
    top = model({"text": ["good", "bad"], "top_k": 1}, task="text-classification")
    assert [len(r) for r in top] == [1, 1]
    json.dumps(top)


def test_keras_task_model_round_trips_through_dill():
    model = tiny_text_classifier()
    restored = dill.loads(dill.dumps(model))
    assert type(restored) is type(model)
    assert restored.tasks == model.tasks and restored.label_names == model.label_names
    text = {"text": ["the service was awful", "nice"]}
    expected = model(text, task="text-classification")
    for got, want in zip(restored(text, task="text-classification"), expected):
        assert got.keys() == want.keys()
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)


def test_training_step_returns_a_finite_loss():
    model = tiny_text_classifier()
    model.compile(optimizer="adam")
    x, y = model.process_batch({"texts": ["good", "bad"], "labels": ["positive", "negative"]}, task="text-classification")
    loss = float(keras.ops.convert_to_numpy(model.training_step((x, y), task="text-classification")))
    assert np.isfinite(loss) and loss > 0


def test_path_model_builds_from_a_preset_folder_with_keras_hub_classes(tmp_path):
    import keras_hub

    from kerasprop.models import KerasHubModel, PathModel

    source = tiny_text_classifier()
    folder = str(tmp_path / "backbone")
    source.backbone.save_to_preset(folder)
    source.preprocessor.tokenizer.save_to_preset(folder)

    model = PathModel(folder, init_model=keras_hub.models.BertBackbone,
                      init_tokenizer=keras_hub.tokenizers.BertTokenizer, name="tiny-bert")
    assert isinstance(model.model, keras_hub.models.BertBackbone)
    assert isinstance(model.tokenizer, keras_hub.tokenizers.BertTokenizer)
    ids = np.asarray(model.tokenizer("the food was good"))
    assert len(ids) == 4 and model.num_parameters() == source.backbone.count_params()
    inputs = {"token_ids": ids[None], "segment_ids": np.zeros_like(ids)[None], "padding_mask": np.ones_like(ids)[None]}
    outputs = model(inputs)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["pooled_output"]),
                               keras.ops.convert_to_numpy(source.backbone(inputs)["pooled_output"]), atol=1e-6)
    generic = KerasHubModel(folder)  # keras-hub's generic Backbone/Tokenizer classes pick the right ones
    assert type(generic.model) is keras_hub.models.BertBackbone and model.tasks == []


def test_task_classes_list_and_load_catalog_names(tmp_path, monkeypatch):
    from kerasprop.hub import catalog
    from tiny_models import TinyTextClassifier

    folder = tmp_path / "tiny-preset"
    tiny_text_classifier().save_to_preset(str(folder))
    entry = catalog.CatalogEntry(
        "tiny-catalog-model", "tiny_models:TinyTextClassifier", str(folder), tasks=("text-classification",),
        description="A tiny catalog model.", license="mit", source="test",
    )
    monkeypatch.setitem(catalog._CATALOG, entry.name, entry)
    presets = TinyTextClassifier.presets
    assert "bert_tiny_en_uncased" in presets  # keras-hub's own presets stay listed
    assert presets["tiny-catalog-model"]["metadata"]["offline"] is True
    for handle in ("tiny-catalog-model", str(folder)):
        model = TinyTextClassifier.from_preset(handle)
        assert type(model) is TinyTextClassifier and model.label_names == ["negative", "positive"]
    assert TinyTextClassifier.from_preset("tiny-catalog-model").description == "A tiny catalog model."
