"""kerasprop.save / load / upload: preset folders, atomic writes, the pickle opt-in."""

import json
import os
import shutil
import sys

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
    assert meta["class"] == "kerasprop_tests>TinyTextClassifier" and meta["storage"] == "preset"
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

    monkeypatch.setattr(model, "write_preset", broken)  # the writer kerasprop.save calls
    with pytest.raises(OSError, match="disk full"):
        kerasprop.save(model, path=tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_the_next_save_removes_what_interrupted_saves_left(tmp_path):
    gone = 2**22 + 12345  # above Linux's default pid_max: no process has it
    abandoned = [tmp_path / f".model.staging-{gone}-x1y2", tmp_path / f".model.old-{gone}"]
    running = tmp_path / f".model.staging-{os.getpid()}-a1b2"  # a save still in progress here
    for folder in (*abandoned, running):
        folder.mkdir()
    kerasprop.save(tiny_text_classifier(), path=tmp_path / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, "model"])


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


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    """A saved tiny classifier; tests tamper with copies of it."""
    return kerasprop.save(tiny_text_classifier(), path=tmp_path_factory.mktemp("saved") / "classifier")


def tampered_copy(saved, tmp_path, edit_meta=None):
    folder = tmp_path / "copy"
    shutil.copytree(saved, folder)
    if edit_meta:
        meta = json.loads((folder / "kerasprop.json").read_text())
        edit_meta(meta)
        (folder / "kerasprop.json").write_text(json.dumps(meta))
    return folder


def test_a_tampered_class_name_is_never_imported(saved_classifier, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Model: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for named in ("evil_module:Model", "os:system", "kerasprop.hub.io:load", "kerasprop>NoSuchModel", "evil>Model"):
        folder = tampered_copy(saved_classifier, tmp_path, lambda meta: meta.update({"class": named}))
        with pytest.raises(ValueError, match=rf"names the class '{named}', which is not a kerasprop model class.*allowed_classes"):
            kerasprop.load(folder)
        shutil.rmtree(folder)
    # The same for the classes Keras deserialises from keras-hub's files, at the top and nested.
    evil = {"module": "evil_module", "class_name": "Model", "registered_name": "evil_module>Model"}
    edits = {"task.json": lambda config: config.update(evil), "config.json": lambda config: config.update(evil),
             "task.json backbone": lambda config: config["config"]["backbone"].update(evil),
             "preprocessor.json tokenizer": lambda config: config["config"]["tokenizer"].update(evil)}
    for where, edit in edits.items():
        folder = tampered_copy(saved_classifier, tmp_path)
        path = folder / where.split()[0]
        config = json.loads(path.read_text())
        edit(config)
        path.write_text(json.dumps(config))
        for load in (kerasprop.load, TinyTextClassifier.from_preset):
            with pytest.raises(ValueError, match="evil_module") as raised:
                load(str(folder))
            assert str(folder) in str(raised.value), where
        shutil.rmtree(folder)
    assert not marker.exists() and "evil_module" not in sys.modules


def test_classes_resolve_by_registered_name_and_from_former_paths(saved_classifier, tmp_path):
    from kerasprop.models import ExtractiveQuestionAnswerer, T5MultiTask, resolve_model_class

    assert resolve_model_class("kerasprop>T5MultiTask") is T5MultiTask
    assert resolve_model_class("kerasprop.models.t5.t5_multitask:T5MultiTask") is T5MultiTask  # format 1 folders
    assert resolve_model_class("kerasprop.models.moved_away:T5MultiTask") is T5MultiTask  # modules may move
    assert resolve_model_class("kerasprop>ExtractiveQA") is ExtractiveQuestionAnswerer  # former names
    assert resolve_model_class("kerasprop>BaseModel") is None  # not a registered model class
    # A class of the user's own saved by module path loads only when allowed.
    folder = tampered_copy(saved_classifier, tmp_path, lambda meta: meta.update({"class": "tiny_models:TinyTextClassifier"}))
    with pytest.raises(ValueError, match="allowed_classes"):
        kerasprop.load(folder)
    assert type(kerasprop.load(folder, allowed_classes=[TinyTextClassifier])) is TinyTextClassifier


def _write(name, text):
    return lambda folder: (folder / name).write_text(text)


def _truncate(name):
    return lambda folder: (folder / name).write_bytes((folder / name).read_bytes()[:1000])


def _drop_weights_group(folder):
    import h5py

    with h5py.File(folder / "model.weights.h5", "a") as f:
        del f["layers"]


def _drop_config_entry(name, key):
    def edit(folder):
        config = json.loads((folder / name).read_text())
        del config[key]
        (folder / name).write_text(json.dumps(config))

    return edit


def _drop_vocabulary(folder):
    shutil.rmtree(folder / "assets")


BROKEN = {
    "kerasprop.json not JSON": (_write("kerasprop.json", "{not json"), "kerasprop.json.*not valid JSON"),
    "kerasprop.json a list": (_write("kerasprop.json", "[1, 2]"), "kerasprop.json.*JSON object"),
    "kerasprop.json without class": (_drop_config_entry("kerasprop.json", "class"), "kerasprop.json.*'class'"),
    "config.json missing": (lambda folder: (folder / "config.json").unlink(), "no config.json"),
    "config.json not JSON": (_write("config.json", '{"class_name": '), "config.json.*not valid JSON"),
    "task.json without config": (_drop_config_entry("task.json", "config"), "task.json.*not a saved Keras object"),
    "weights missing": (lambda folder: (folder / "model.weights.h5").unlink(), "no weights file"),
    "weights truncated": (_truncate("model.weights.h5"), "model.weights.h5.*not an HDF5|broken or incomplete"),
    "weights without layers": (_drop_weights_group, "broken or incomplete"),
    "vocabulary missing": (_drop_vocabulary, "broken or incomplete"),
}


@pytest.mark.parametrize("damage", sorted(BROKEN))
def test_a_broken_folder_names_itself_and_the_broken_part(saved_classifier, tmp_path, damage):
    folder = tampered_copy(saved_classifier, tmp_path)
    break_it, message = BROKEN[damage]
    break_it(folder)
    # from_preset reads only keras-hub's files; kerasprop.json is kerasprop.load's.
    loaders = [kerasprop.load] if damage.startswith("kerasprop.json") else [kerasprop.load, TinyTextClassifier.from_preset]
    for load in loaders:
        with pytest.raises(ValueError, match=message) as raised:
            load(str(folder))
        assert str(folder) in str(raised.value)
