"""Presets that hold only what they add to a base backbone (LoRA adapters and a head).

The base here is a tiny Hugging Face BERT written by the test (the bundled MiniLM presets
use the same code path with the real all-MiniLM-L6-v2 as their base).
"""

import json
import pathlib

import numpy as np
import pytest

import kerasprop
from kerasprop.models import ExtractiveQuestionAnswerer
from kerasprop.models.base_backbone import ADAPTERS_FILE, BASE_FILE, LORA_LAYERS, attach_base, base_weights
from kerasprop.models.tokens.extractive_qa import question_with_history
from kerasprop.training import finetune
from span_checkpoints import write_checkpoint

QUESTIONS = ["Where does Bob live?", "Who works for Acme?"]
CONTEXTS = ["Bob lives in London and visits Berlin.", "Alice Smith works for Acme in Paris."]
PARAMS = {"questions": QUESTIONS * 8, "contexts": CONTEXTS * 8, "answers": ["London", "Alice Smith"] * 8}


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    write_checkpoint(folder, "bert", "extractive-qa")
    return folder


@pytest.fixture(scope="module")
def adapted(base_folder):
    model = ExtractiveQuestionAnswerer.from_preset(str(base_folder))
    before = {w.path: np.array(w) for w in model.backbone.weights}
    attach_base(model, str(base_folder), lora_rank=4)
    finetune(model, PARAMS, "extractive-qa", validation_split=0.0, epochs=3, batch_size=8, max_length=32)
    return model, before


def answers(model):
    return model({"question": QUESTIONS, "context": CONTEXTS}, task="extractive-qa")


def test_training_changes_only_the_adapters_and_the_head(adapted):
    model, before = adapted
    lora = [w for w in model.backbone.weights if "lora" in w.path]
    assert lora and all(w.trainable for w in lora)
    assert {w.path for w in model.trainable_weights} - {w.path for w in lora} == {
        w.path for w in model.output_dense.weights}
    for weight in model.backbone.weights:
        if weight.path in before:  # every base weight, biases of the adapted layers included
            np.testing.assert_array_equal(np.array(weight), before[weight.path])


def test_the_preset_holds_no_backbone_weights_and_reloads_the_same(adapted, base_folder, tmp_path):
    model, _ = adapted
    model.save_to_preset(str(tmp_path / "delta"))
    files = {p.name for p in (tmp_path / "delta").iterdir()}
    assert {BASE_FILE, ADAPTERS_FILE, "task.weights.h5", "task.json", "config.json"} <= files
    assert "model.weights.h5" not in files
    settings = json.loads((tmp_path / "delta" / BASE_FILE).read_text())
    assert settings == {"preset": str(base_folder), "lora_rank": 4, "lora_layers": list(LORA_LAYERS)}
    restored = ExtractiveQuestionAnswerer.from_preset(str(tmp_path / "delta"))
    for got, want in zip(answers(restored), answers(model)):
        assert got["answer"] == want["answer"] and got["score"] == pytest.approx(want["score"], abs=1e-5)
    # kerasprop.save / load take the same path.
    folder = kerasprop.save(model, name="lora-qa")
    assert not (pathlib.Path(folder) / "model.weights.h5").exists()
    assert answers(kerasprop.load("lora-qa")) == answers(restored)


def test_adapters_change_the_answers_of_the_base(adapted, base_folder):
    model, _ = adapted
    base = ExtractiveQuestionAnswerer.from_preset(str(base_folder))
    windows = [w for per_input in model.encode(QUESTIONS, CONTEXTS) for w in per_input]
    difference = max(np.abs(a - b).max() for a, b in zip(base.token_logits(windows), model.token_logits(windows)))
    assert difference > 1e-2


def test_base_weights_are_read_once_per_process(base_folder):
    assert base_weights(str(base_folder)) is base_weights(str(base_folder))


def test_qa_joins_history_and_answers_empty_when_the_context_has_none(adapted):
    model, _ = adapted
    assert question_with_history("And her age?", ["Who works for Acme?", "Where?"], ["Alice Smith.", "Paris"]) == \
        "Who works for Acme? Alice Smith. Where? Paris. And her age?"
    answer = model({"question": "Where does Bob live?", "context": CONTEXTS[0]}, task="qa")
    extractive = model({"question": "Where does Bob live?", "context": CONTEXTS[0], "handle_impossible_answer": True},
                       task="extractive-qa")
    assert answer == extractive["answer"] and isinstance(answer, str)
