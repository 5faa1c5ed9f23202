"""kerasprop.save / load / upload: preset folders, atomic writes, the pickle opt-in."""

import json
import os

import numpy as np
import pytest

import kerasprop
from kerasprop.hub import io
from kerasprop.models import AutoModel, BaseModel
from tiny_models import TinyTextClassifier, tiny_text_classifier

TEXTS = {"text": ["the food was good", "the movie was awful", "fine"]}


class Constant(BaseModel):
    def __init__(self, name="constant-model"):
        super().__init__(name=name, tasks=["emotion"])

    def predict_task(self, task, request):
        return ["joy"] * request.size


def assert_same_scores(got, want):
    for g, w in zip(got, want):
        assert list(g) == list(w)
        np.testing.assert_allclose(list(g.values()), list(w.values()), atol=1e-6)


def test_save_and_load_a_keras_task_model(kerasprop_home):
    model = tiny_text_classifier()
    expected = model(TEXTS, task="text-classification")
    folder = kerasprop.save(model, name="my-classifier", description="A tiny test classifier.",
                            details={"data": "synthetic"})
    assert folder == str(kerasprop_home / "my-classifier")
    meta = json.loads((kerasprop_home / "my-classifier" / "kerasprop.json").read_text())
    assert meta["class"] == "tiny_models:TinyTextClassifier" and meta["storage"] == "preset"
    assert (kerasprop_home / "my-classifier" / "config.json").exists()

    for loaded in (kerasprop.load("my-classifier"), kerasprop.load(folder), AutoModel.from_pretrained("my-classifier")):
        assert type(loaded) is TinyTextClassifier
        assert loaded.name == "my-classifier" and loaded.description == "A tiny test classifier."
        assert loaded.details == {"data": "synthetic"} and loaded.label_names == ["negative", "positive"]
        assert_same_scores(loaded(TEXTS, task="text-classification"), expected)


def test_save_to_a_path_and_overwrite(tmp_path):
    model = tiny_text_classifier()
    target = tmp_path / "out" / "model"
    kerasprop.save(model, path=target)
    kerasprop.save(model, path=target, description="second")
    assert json.loads((target / "kerasprop.json").read_text())["description"] == "second"
    assert [p.name for p in target.parent.iterdir()] == ["model"]  # no staging folders left behind
    with pytest.raises(FileExistsError, match="already saved"):
        kerasprop.save(model, path=target, description="third", overwrite=False)
    assert json.loads((target / "kerasprop.json").read_text())["description"] == "second"
    assert [p.name for p in target.parent.iterdir()] == ["model"]


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    model = tiny_text_classifier()

    def broken(folder):
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write("{")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save_to_preset", broken)
    with pytest.raises(OSError, match="disk full"):
        kerasprop.save(model, path=tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_bad_arguments_before_writing(tmp_path):
    model = tiny_text_classifier()
    with pytest.raises(ValueError, match="3 to 100 characters"):
        kerasprop.save(model, name="Bad Name", path=tmp_path / "x")
    with pytest.raises(TypeError, match="kerasprop model"):
        kerasprop.save(object(), path=tmp_path / "x")
    with pytest.raises(TypeError, match="not JSON serializable"):
        kerasprop.save(model, path=tmp_path / "x", details={"f": object()})
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="a file is in the way"):
        kerasprop.save(model, path=tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_pickled_models_need_an_explicit_opt_in(kerasprop_home):
    kerasprop.save(Constant())
    with pytest.raises(ValueError, match="allow_pickle=True"):
        kerasprop.load("constant-model")
    model = kerasprop.load("constant-model", allow_pickle=True)
    assert model({"text": "hi"}, task="emotion") == "joy"


def test_load_unknown_names_close_matches(kerasprop_home):
    kerasprop.save(Constant())
    with pytest.raises(ValueError, match=r"Model 'constant-modle' not found.*constant-model"):
        kerasprop.load("constant-modle")


def test_upload_packages_the_preset_and_calls_keras_hub(monkeypatch):
    import keras_hub

    calls = []

    def fake_upload(handle, folder):
        calls.append((handle, sorted(os.listdir(folder))))

    monkeypatch.setattr(keras_hub, "upload_preset", fake_upload)
    assert kerasprop.upload(tiny_text_classifier(), "hf://someone/tiny") == "hf://someone/tiny"
    handle, files = calls[0]
    assert handle == "hf://someone/tiny" and {"config.json", "kerasprop.json", "task.json"} <= set(files)
    with pytest.raises(ValueError, match="starts with 'hf://' or 'kaggle://'"):
        kerasprop.upload(tiny_text_classifier(), "s3://bucket")
    with pytest.raises(TypeError, match="Only Keras task models"):
        kerasprop.upload(Constant(), "hf://someone/constant")
