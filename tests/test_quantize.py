"""int8 weights (`quantize="int8"`, Keras' own quantization) on the bundled models, judged on trained weights.

Quality is measured against the same model in float32 on held-out data: MiniLM vectors of the
W1 sentences, the emotion default's hand-written set, the generator's held-out perplexity, and
translation and QA answers. Speed is measured in benchmarks/, not here.
"""

import json
import pathlib
import sys

import keras
import numpy as np
import pytest

import kerasprop
from kerasprop.hub import catalog
from kerasprop.models import AutoModel
from presets.recipes import common, gpt2_generator, minilm_emotion

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
from w1_text_vectorisation import sentences  # noqa: E402  (the W1 workload's sentences)


@pytest.fixture(scope="module")
def minilm_int8():
    """MiniLM's W1 vectors in float32, and the model after `quantize("int8")`."""
    model = AutoModel.from_pretrained("all-minilm-l6-v2")
    full = model.encode_text(sentences(64))
    model.quantize("int8")
    return full, model


def test_minilm_vectors_in_int8_stay_within_cosine_0_99(minilm_int8):
    full, model = minilm_int8
    low = model.encode_text(sentences(64))
    cosine = (full * low).sum(axis=1) / np.linalg.norm(full, axis=1) / np.linalg.norm(low, axis=1)
    assert cosine.min() >= 0.99  # measured: 0.9955
    assert not np.allclose(full, low)  # the int8 weights are the ones used, not a stale compiled function


def test_the_emotion_default_keeps_its_labels_in_int8():
    full, float_records = minilm_emotion.evaluate(kerasprop.Emotion().model)
    quantized, records = minilm_emotion.evaluate(kerasprop.Emotion(quantize="int8").model)
    same = sum(a["output"] == b["output"] for a, b in zip(records, float_records))
    assert same >= len(records) - 1  # measured: 23 of 24 answers identical
    assert quantized["heldout_right"] >= full["heldout_right"] - 1  # measured: 20 and 19 of 24


def test_the_generator_perplexity_in_int8_is_within_3_percent():
    windows = common.read_expected(catalog.bundled_path("gpt2-tiny-pydocs"))["heldout_windows"]
    generator = kerasprop.TextGeneration()
    full = gpt2_generator.heldout_perplexity(generator.model, windows)
    before = generator("def add(a, b):", max_length=8, temperature=0.0)
    generator.model.quantize("int8")
    low = gpt2_generator.heldout_perplexity(generator.model, windows)
    assert abs(low - full) / full <= 0.03, (full, low)  # measured: 101.89 and 101.98
    generator("def add(a, b):", max_length=8, temperature=0.0)  # generates again with the int8 weights
    assert isinstance(before, str)


def test_t5_decodes_through_its_quantized_embedding():
    sentence = "I see the red circle"
    full = kerasprop.Translation()(sentence, target_language="German")
    quantized = kerasprop.Translation(quantize="int8")
    assert quantized.model.backbone.token_embedding.quantization_mode == "int8"
    assert quantized(sentence, target_language="German") == full  # measured: "ich sehe den roten Kreis"


def test_t5_int8_decoding_head_gives_the_logits_of_the_layers_own_reverse_call():
    """The decoding loop's head transposes the int8 kernel once per generation (the layer did it at every
    step); its logits must stay Keras' int8 reverse call's."""
    model = kerasprop.Translation(quantize="int8").model
    backbone = model.backbone
    hidden = np.random.default_rng(0).normal(size=(3, backbone.hidden_dim)).astype("float32")
    want = backbone.token_embedding(hidden * backbone.hidden_dim**-0.5, reverse=True)
    got = model.decoding_head()(keras.ops.convert_to_tensor(hidden))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), rtol=1e-5, atol=1e-5)


def test_a_quantized_model_saves_its_int8_backbone_and_reloads_the_same(kerasprop_home):
    qa = kerasprop.QA(quantize="int8")
    question, context = "Where does Sally live?", "Sally lives in London with her two cats."
    answer = qa(question, context)
    assert answer == "London"
    folder = pathlib.Path(qa.save("qa-int8"))
    assert not (folder / "base_backbone.json").exists()  # the quantized backbone is the model's own now
    restored = kerasprop.QA("qa-int8")
    assert restored.model.backbone.get_layer("transformer_layer_0")._self_attention_layer._query_dense \
        .quantization_mode == "int8"
    assert restored(question, context) == answer
    weights = (folder / "model.weights.h5").stat().st_size
    assert weights < 30e6  # MiniLM's backbone in int8 (about 24 MB; 90 MB in float32)


def test_quantizing_collects_garbage_once_not_per_dropped_variable(monkeypatch):
    """Keras' layers run `gc.collect()` for every variable they drop (seconds per model on a busy process)."""
    import gc

    from tiny_models import tiny_text_classifier

    model = tiny_text_classifier()
    calls = []
    monkeypatch.setattr(gc, "collect", lambda *args: calls.append(args) or 0)
    model.quantize("int8")
    assert len(calls) == 1
    assert model.backbone.get_layer("transformer_layer_0")._self_attention_layer._query_dense \
        .quantization_mode == "int8"
    gc.collect()
    assert len(calls) == 2  # the collector is back afterwards


def test_bad_quantization_requests_are_refused_by_name(minilm_int8):
    with pytest.raises(ValueError, match="'quantize' must be one of"):
        kerasprop.TextVectorisation(quantize="int3")
    _, model = minilm_int8
    with pytest.raises(ValueError, match="already quantized"):
        model.quantize("int8")
    with pytest.raises(TypeError, match="Did you mean 'quantize'"):
        kerasprop.TextVectorisation(quantise="int8")


def test_the_command_line_quantizes_on_request(capsys):
    from kerasprop import cli

    text = "The quick brown fox jumps over the lazy dog."
    assert cli.main(["run", "text-vectorisation", "--text", text, "--json"]) == 0
    full = json.loads(capsys.readouterr().out)["output"]
    assert cli.main(["run", "text-vectorisation", "--text", text, "--quantize", "int8", "--json"]) == 0
    low = json.loads(capsys.readouterr().out)["output"]
    assert low != full and float(np.dot(full, low)) >= 0.99  # unit vectors: the dot product is the cosine


def test_a_server_serves_quantized_weights_when_asked():
    from kerasprop.serving.adapter import DeepaasModel

    adapter = DeepaasModel.from_environment({"KERASPROP_TASK": "text-vectorisation", "KERASPROP_QUANTIZE": "int8"})
    assert adapter.environment()["KERASPROP_QUANTIZE"] == "int8"  # what its worker processes are given
    assert adapter.model.backbone.get_layer("token_embedding").quantization_mode == "int8"
    with pytest.raises(ValueError, match="'quantize' must be one of"):
        DeepaasModel("text-vectorisation", quantize="int3")
