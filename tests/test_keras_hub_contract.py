"""The keras-hub contract on kerasprop's public model classes, as a keras-hub user types it.

The `Seq2SeqLM` and `CausalLM` examples follow keras-hub's own documentation
(`from_preset`, `compile(sampler=...)`, `generate` on a string and a batch, `fit` on
`tf.data`, `save_to_preset`, reload), on the bundled presets.
"""

import inspect
import json

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import kerasprop.models as models
from kerasprop.hub import catalog
from kerasprop.models import AutoModel, CausalLM, KerasTaskModel, Seq2SeqLM


def public_model_classes():
    classes = {getattr(models, name) for name in models.__all__}
    return sorted((c for c in classes if inspect.isclass(c) and issubclass(c, KerasTaskModel)),
                  key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", public_model_classes(), ids=lambda c: c.__name__)
def test_every_public_model_class_lists_presets_it_loads(cls):
    presets = cls.presets
    assert isinstance(presets, dict)
    for name, info in presets.items():
        entry = catalog.find_entry(name)
        if entry is not None:
            # A catalog name this class loads: its entry's class is this class or one of its family.
            assert issubclass(entry.load_class(), cls), name
        else:
            # Otherwise a keras-hub preset of the class's backbone (keras-hub's `from_preset` takes it).
            assert name in keras_hub.src.utils.preset_utils.BUILTIN_PRESETS, name
        assert "metadata" in info


OFFLINE_PRESETS = sorted({
    (cls.__name__, name)
    for cls in public_model_classes() for name in cls.presets
    if catalog.find_entry(name) is not None and catalog.find_entry(name).offline
})


@pytest.mark.parametrize("class_name,preset", OFFLINE_PRESETS)
def test_offline_presets_load_with_every_class_that_lists_them(class_name, preset):
    cls = getattr(models, class_name)
    model = cls.from_preset(preset)
    assert isinstance(model, cls) and isinstance(model, keras_hub.models.Task)


def test_the_headline_classes_have_keras_hub_names_and_list_their_bundled_presets():
    assert "t5-tiny-multitask" in Seq2SeqLM.presets and "t5_small_multi" in Seq2SeqLM.presets
    assert "gpt2-tiny-pydocs" in CausalLM.presets and "gpt2_base_en" in CausalLM.presets
    assert "bert-tiny-fill-mask" in models.MaskedLM.presets
    assert "bert-tiny-squad" in models.ExtractiveQuestionAnswerer.presets


def test_model_and_task_classes_cannot_be_confused():
    import kerasprop

    model_names = {name for name in models.__all__}
    task_names = set(kerasprop.tasks.__all__)
    assert not model_names & task_names
    # The former model names still import, as the renamed classes.
    assert models.FillMask is models.MaskedLM and models.BertFillMask is models.BertMaskedLM
    assert models.ExtractiveQA is models.ExtractiveQuestionAnswerer
    assert models.CausalLMTextGeneration is CausalLM


def test_folders_saved_under_the_former_class_names_still_load(tmp_path):
    for preset, former, cls in (("bert-tiny-squad", "ExtractiveQA", models.ExtractiveQuestionAnswerer),
                                ("bert-tiny-fill-mask", "BertFillMask", models.BertMaskedLM)):
        model = AutoModel.from_pretrained(preset)
        folder = tmp_path / preset
        model.save_to_preset(str(folder))
        task_json = folder / "task.json"
        config = json.loads(task_json.read_text())
        assert config["registered_name"] == f"kerasprop>{cls.__name__}"
        config.update(class_name=former, registered_name=f"kerasprop>{former}")
        task_json.write_text(json.dumps(config))
        restored = models.load_preset(str(folder))
        assert type(restored) is cls


def test_list_models_is_json_equal_to_backprops_lists():
    listed = AutoModel.list_models(return_dict=True)
    assert json.loads(json.dumps(listed)) == listed
    assert all(isinstance(info["tasks"], list) for info in listed.values())
    assert listed["t5-small"]["aliases"]["summarisation"] == ["english-small"]


def assert_reloads_the_same(model, tmp_path, prompt, **generate_kwargs):
    model.compile(sampler="greedy")
    before = model.generate(prompt, **generate_kwargs)
    model.save_to_preset(str(tmp_path / "saved"))
    restored = type(model).from_preset(str(tmp_path / "saved"))
    restored.compile(sampler="greedy")
    assert type(restored) is type(model)
    assert restored.generate(prompt, **generate_kwargs) == before


def test_seq2seqlm_documentation_example(tmp_path):
    model = Seq2SeqLM.from_preset("t5-tiny-multitask")
    assert isinstance(model, keras_hub.models.Seq2SeqLM)
    model.compile(sampler="top_k")
    single = model.generate("summarise: The town opened a new library on Monday.", max_length=16)
    batch = model.generate(["emotion: I love this.", "summarise: Rain fell all day."], max_length=16)
    assert isinstance(single, str) and isinstance(batch, list) and len(batch) == 2
    features = {"encoder_text": ["emotion: I love this.", "emotion: This is awful."] * 4,
                "decoder_text": ["love", "disgust"] * 4}
    before = [np.array(w) for w in model.backbone.get_weights()]
    history = model.fit(tf.data.Dataset.from_tensor_slices(features).batch(4), epochs=1)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.backbone.get_weights()))
    assert_reloads_the_same(model, tmp_path, ["emotion: I love this.", "summarise: Rain fell all day."],
                            max_length=12)


def test_causallm_documentation_example(tmp_path):
    model = CausalLM.from_preset("gpt2-tiny-pydocs")
    assert isinstance(model, keras_hub.models.CausalLM) and isinstance(model, CausalLM)
    model.compile(sampler="top_k")
    single = model.generate("A list is", max_length=16)
    batch = model.generate(["A list is", "The function"], max_length=16)
    assert isinstance(single, str) and single.startswith("A list is")
    assert isinstance(batch, list) and len(batch) == 2
    texts = ["A list is a mutable sequence.", "A tuple is an immutable sequence."] * 4
    before = [np.array(w) for w in model.backbone.get_weights()]
    history = model.fit(tf.data.Dataset.from_tensor_slices(texts).batch(4), epochs=1)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.backbone.get_weights()))
    assert_reloads_the_same(model, tmp_path, ["A list is", "The function"], max_length=14)
