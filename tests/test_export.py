"""`kerasprop export`: SavedModel (raw text), ONNX and LiteRT artifacts, each run with its own runtime.

Exports run on the TensorFlow backend. The TensorFlow suite exports every kind of
model to the formats below and compares each artifact, loaded by TensorFlow,
onnxruntime or ai-edge-litert, with the Keras model; the JAX and PyTorch suites
check the route through a TensorFlow child process against their own backend.
"""

import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

import kerasprop.export
from kerasprop.cli import main
from kerasprop.export import export
from kerasprop.models import AutoModel
from kerasprop.models.runtime.image_inputs import fit_images

TEXTS = ["A man is eating food.", "Café au lait, s'il vous plaît! Naïve résumé.",
         "I paid $1,234.56 for 3 tickets (ugh)...", "日本語のテキスト and emoji 🎉", "don't won't can't",
         "The meeting moved to Thursday because half the team was travelling. " * 40]  # longer than the model reads
IN_TENSORFLOW = keras.backend.backend() == "tensorflow"


def pictures():
    out = []
    for i, colour in enumerate([(220, 30, 30), (30, 30, 220), (30, 160, 30), (240, 200, 0)]):
        picture = Image.new("RGB", (80 + 8 * i, 64), "white")
        picture.paste(colour, (10 + i, 12, 50 + 2 * i, 52))
        out.append(picture)
    return out


def run_artifact(folder, inputs):
    """The artifact's output for `inputs` (token ids, pixels or raw text), from its own runtime."""
    with open(os.path.join(folder, "export.json")) as f:
        meta = json.load(f)
    (name,) = meta["inputs"]
    (output,) = meta["outputs"]
    if meta["format"] == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(folder)
        raw = isinstance(inputs, list)
        signature = loaded.signatures["serve" if raw or meta["signatures"]["serve"] == name else "serve_tensors"]
        return signature(**{"text" if raw else name: tf.constant(inputs)})[output].numpy()
    if meta["format"] == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(os.path.join(folder, meta["file"]))
        assert [i.name for i in session.get_inputs()] == [name]
        return session.run(None, {name: inputs})[0]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=os.path.join(folder, meta["file"])).get_signature_runner()
    (result,) = runner(**{name: inputs}).values()
    return result


def token_ids(folder, texts):
    """Padded token ids from the Hugging Face tokenizer file shipped beside the artifact (no Keras)."""
    from tokenizers import Tokenizer

    return np.array([e.ids for e in Tokenizer.from_file(os.path.join(folder, "tokenizer.json")).encode_batch(texts)],
                    dtype="int32")


CASES = [
    *(("all-minilm-l6-v2", None, fmt) for fmt in ("saved_model", "onnx", "litert")),
    ("minilm-emotion", None, "saved_model"),
    ("minilm-shapes-lit", "image-vectorisation", "litert"),
    *(("resnet-tiny-shapes", None, fmt) for fmt in ("saved_model", "onnx", "litert")),
]
if not IN_TENSORFLOW:
    # The export code is the same on every backend (it runs on TensorFlow); what JAX and PyTorch add is the
    # TensorFlow child process, fed a model object saved for it, and outputs to match on their own backend.
    CASES = [("all-minilm-l6-v2", None, "saved_model"), ("resnet-tiny-shapes", None, "onnx")]


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = AutoModel.from_pretrained(name)
        return cache[name]

    return get


def expected(model, name, task):
    """What the Keras model gives, through kerasprop's own API."""
    if name == "all-minilm-l6-v2":
        return model.encode_text(TEXTS)
    if name == "minilm-emotion":
        return model.probabilities(TEXTS)
    if task == "image-vectorisation":
        return model.encode_image(pictures())
    return model.probabilities(pictures())


def size_of(model, name):
    return model.image_size if name == "minilm-shapes-lit" else model.preprocessor.image_converter.image_size[0]


@pytest.mark.parametrize("name,task,fmt", CASES)
def test_each_artifact_runs_in_its_runtime_and_matches_the_keras_model(models, tmp_path, name, task, fmt):
    model = models(name)
    folder = export(model, tmp_path / "artifact", format=fmt, task=task)
    with open(os.path.join(folder, "export.json")) as f:
        meta = json.load(f)
    want = expected(model, name, task)
    if name.startswith("resnet") or task == "image-vectorisation":
        size = size_of(model, name)
        got = run_artifact(folder, fit_images(pictures(), (size, size)).astype("float32"))
    else:
        got = run_artifact(folder, token_ids(folder, TEXTS))
        # The shipped tokenizer gives kerasprop's ids, truncation included.
        pad = meta["tokenizer"]["pad_token_id"]
        assert [[i for i in row if i != pad] for row in token_ids(folder, TEXTS).tolist()] == \
            [row.tolist() for row in model.preprocessor.tokenize(TEXTS)]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-5)
    if meta.get("labels"):
        assert len(meta["labels"]) == want.shape[1]
        assert meta["labels"] == list(getattr(model, "class_names", None) or model.labels)
    if fmt == "saved_model" and not name.startswith("resnet"):
        # Raw text in: the tokenizer runs inside the SavedModel.
        np.testing.assert_allclose(run_artifact(folder, TEXTS), want, atol=2e-5)


def test_the_command_exports_a_model_by_name(tmp_path, capsys):
    assert main(["export", "resnet-tiny-shapes", "--format", "onnx", "--output", str(tmp_path / "cli")]) == 0
    assert "exported to" in capsys.readouterr().out
    with open(tmp_path / "cli" / "export.json") as f:
        meta = json.load(f)
    assert meta["format"] == "onnx" and meta["task"] == "image-classification" and len(meta["labels"]) == 24
    assert os.path.getsize(tmp_path / "cli" / "model.onnx") > 10_000


def test_bad_requests_are_refused_by_name_and_write_nothing(models, tmp_path, monkeypatch):
    model = models("resnet-tiny-shapes")
    with pytest.raises(ValueError, match="'format' must be one of"):
        export(model, tmp_path / "a", format="tflite")
    with pytest.raises(ValueError, match="'task' must be one of"):
        export(model, tmp_path / "a", task="summarisation")
    with pytest.raises(TypeError, match="takes a kerasprop model"):
        export(42, tmp_path / "a")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export(model, tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(ValueError, match="a file is in the way"):
        export(model, tmp_path / "file")
    with pytest.raises(ValueError, match="cannot be exported"):  # found by the export itself (a TensorFlow child
        export("gpt2-tiny-pydocs", tmp_path / "gpt2")              # process on JAX and PyTorch): the same error
    with pytest.raises(ValueError, match="exports \\['image-classification'\\], not 'text-vectorisation'"):
        export(model, tmp_path / "b", task="text-vectorisation")
    monkeypatch.setitem(kerasprop.export.CONVERTERS, "onnx", ("tf2onnx", "no_such_converter"))
    with pytest.raises(ValueError, match="needs no_such_converter: pip install 'kerasprop\\[export\\]'"):
        export(model, tmp_path / "c", format="onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "taken"]  # nothing half-written, no staging left


def test_overwrite_replaces_an_artifact_whole(models, tmp_path):
    model = models("resnet-tiny-shapes")
    export(model, tmp_path / "art", format="onnx")
    export(model, tmp_path / "art", format="litert", overwrite=True)
    with open(tmp_path / "art" / "export.json") as f:
        assert json.load(f)["format"] == "litert"
    assert sorted(p.name for p in (tmp_path / "art").iterdir()) == ["export.json", "model.tflite"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]
