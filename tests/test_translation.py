"""Translation on the Seq2SeqLM family: T5's prompt, parity with transformers' greedy generation on a tiny
random T5 written here, options, finetuning hooks and the task class."""

import importlib

import numpy as np
import pytest
import sentencepiece
import torch
import transformers
from test_t5_converter import write_tiny_t5

import kerasprop
from kerasprop.models import T5MultiTask

TEXTS = ["I love Paris and the quick fox", "Who wrote the book?", "Keras"]
NEW_TOKENS = 10


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    return write_tiny_t5(tmp_path_factory.mktemp("t5"), "gated-gelu")


@pytest.fixture(scope="module")
def t5(t5_folder):
    model = T5MultiTask.from_preset(str(t5_folder))
    model.preprocessor.encoder_sequence_length = 64
    return model


def reference_translations(folder, texts, source, target):
    """transformers' greedy generation on T5's translation prompt, decoded by SentencePiece."""
    processor = sentencepiece.SentencePieceProcessor(model_file=str(folder / "spiece.model"))
    reference = transformers.T5ForConditionalGeneration.from_pretrained(folder).eval()
    outputs = []
    for text in texts:
        ids = processor.encode(f"translate {source} to {target}: {text}") + [reference.config.eos_token_id]
        with torch.no_grad():
            generated = reference.generate(torch.tensor([ids]), do_sample=False, num_beams=1,
                                           max_new_tokens=NEW_TOKENS)[0].tolist()
        outputs.append(processor.decode([t for t in generated if t not in (0, 1)]).strip())
    return outputs


def test_translation_matches_transformers(t5, t5_folder):
    ours = t5({"text": TEXTS, "source_language": "English", "target_language": "French",
               "max_length": NEW_TOKENS}, task="translation")
    assert ours == reference_translations(t5_folder, TEXTS, "English", "French")
    assert len(set(ours)) > 1, "degenerate reference: all outputs alike"
    single = t5({"text": TEXTS[0], "source_language": "English", "target_language": "French",
                 "max_length": NEW_TOKENS}, task="translation")
    assert single == ours[0]
    task = kerasprop.Translation(t5)
    assert task(TEXTS[1], source_language="English", target_language="French", max_length=NEW_TOKENS) == ours[1]


def test_prompts_languages_and_beams(t5, monkeypatch):
    calls = []

    def record(prompts, settings):
        calls.append((prompts, settings))
        return ["out"] * len(prompts)

    monkeypatch.setattr(t5, "generate_texts", record)
    assert t5({"text": "the red circle"}, task="translation") == "out"
    t5({"text": ["a", "b"], "source_language": "German", "target_language": "Romanian", "num_beams": 3,
        "max_length": 7}, task="translation")
    (default, _), (other, settings) = calls
    assert default == ["translate English to German: the red circle"]
    assert other == ["translate German to Romanian: a", "translate German to Romanian: b"]
    assert (settings.num_beams, settings.max_new_tokens) == (3, 7)
    with pytest.raises(ValueError, match="'num_beams' must be at least 1"):
        t5({"text": "a", "num_beams": 0}, task="translation")
    with pytest.raises(ValueError, match="'target_language' must be a non-empty string"):
        t5({"text": "a", "target_language": " "}, task="translation")


def test_finetuning_prompts_carry_the_languages(t5, monkeypatch):
    params = kerasprop.schemas.get_schema("translation").parse_finetune(
        {"input_text": ["the red circle"], "output_text": ["der rote Kreis"]}
    )
    x = t5.process_batch(params, task="translation", source_language="English", target_language="German")
    assert list(x["encoder_text"]) == ["translate English to German: the red circle"]
    assert list(x["decoder_text"]) == ["der rote Kreis"]
    # The engine validates the options and hands them to process_batch.
    seen = []
    monkeypatch.setattr(t5, "process_batch", lambda params, **options: seen.append(options) or {})
    monkeypatch.setattr(importlib.import_module("kerasprop.training.finetune"), "_dataset", lambda *a, **k: ([], 0))
    monkeypatch.setattr(t5, "fit", lambda *args, **kwargs: None)
    monkeypatch.setattr(t5, "compile", lambda *args, **kwargs: None)
    kerasprop.Translation(t5).finetune(params, target_language="French", batch_size=1, validation_split=0.0)
    assert seen == [{"task": "translation", "source_language": "English", "target_language": "French",
                     "max_input_length": 128, "max_output_length": 128}]
    with pytest.raises(ValueError, match="Unknown option 'language'"):
        kerasprop.Translation(t5).finetune(params, language="French")


def test_the_bundled_preset_reproduces_its_recorded_translations():
    from kerasprop.hub import catalog
    from presets.recipes import common, t5_translation

    recorded = common.read_expected(catalog.bundled_path("t5-tiny-translation"))
    translate = kerasprop.Translation("t5-tiny-translation")
    records = recorded["translation"]
    outputs = translate([r["input"]["text"] for r in records], max_length=records[0]["input"]["max_length"])
    assert outputs == [r["output"] for r in records]
    _, measured = t5_translation.evaluate(catalog.bundled_path("t5-tiny-translation"))  # all 52 held-out phrases
    quality = measured["quality"]
    assert quality["examples"] == recorded["quality"]["examples"] == 52
    assert quality["exact_match"] >= recorded["quality"]["exact_match"] - 1 / 52  # the card's figure, re-measured
