"""Sentence pairs (`text-pair-classification`): parity with transformers' text-classification pipeline on
pairs, on tiny random `...ForSequenceClassification` checkpoints written here (BERT, RoBERTa), and finetuning."""

import functools

import keras
import numpy as np
import pytest
import torch
import transformers

import kerasprop
from kerasprop.models import SupervisedTextClassifier
from kerasprop.schemas import get_schema
from test_fill_mask import BERT_VOCAB, write_wordpiece
from test_nli import write_byte_level_bpe

LABELS = {0: "not_paraphrase", 1: "paraphrase"}
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, num_labels=2,
            id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, initializer_range=0.2,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
FIRST = ["paris is the capital of france.", "berlin is a city", "the city"]
SECOND = ["the capital of france is paris.", "a city in germany", "paris is a city in france and berlin is one"]


def build_bert(folder):
    tokenizer = write_wordpiece(folder, transformers.BertTokenizer)
    config = transformers.BertConfig(vocab_size=len(BERT_VOCAB), max_position_embeddings=64, **TINY)
    return tokenizer, transformers.BertForSequenceClassification(config)


def build_roberta(folder):
    tokenizer = write_byte_level_bpe(folder, transformers.RobertaTokenizer)
    config = transformers.RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=130, **TINY)
    return tokenizer, transformers.RobertaForSequenceClassification(config)


BUILDERS = {"bert": build_bert, "roberta": build_roberta}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def checkpoint(request, tmp_path_factory):
    """(folder, transformers text-classification pipeline) of a tiny sequence classifier."""
    folder = tmp_path_factory.mktemp(request.param)
    torch.manual_seed(0)
    tokenizer, model = BUILDERS[request.param](folder)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, transformers.pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")


@pytest.fixture(scope="module")
def classifier(checkpoint):
    return SupervisedTextClassifier.from_preset(str(checkpoint[0]))


def test_pairs_match_the_pipeline(checkpoint, classifier):
    _, pipeline = checkpoint
    ours = classifier({"text": FIRST, "text_pair": SECOND}, task="text-pair-classification")
    theirs = pipeline([{"text": a, "text_pair": b} for a, b in zip(FIRST, SECOND)], top_k=None)
    for mine, reference in zip(ours, theirs):
        assert list(mine) == [r["label"] for r in reference]
        np.testing.assert_allclose(list(mine.values()), [r["score"] for r in reference], atol=1e-4)
        assert all(type(v) is float for v in mine.values())


def test_pairs_are_packed_with_the_pair_encoding(checkpoint, classifier):
    _, pipeline = checkpoint
    features = classifier.preprocessor(x=(FIRST, SECOND))
    for i, (a, b) in enumerate(zip(FIRST, SECOND)):
        ids = np.asarray(features["token_ids"][i])[np.asarray(features["padding_mask"][i]).astype(bool)]
        assert ids.tolist() == pipeline.tokenizer(a, b)["input_ids"]


def test_single_pair_top_k_and_bad_input(classifier):
    full = classifier({"text": FIRST[0], "text_pair": SECOND[0]}, task="text-pair-classification")
    assert isinstance(full, dict) and sum(full.values()) == pytest.approx(1.0, abs=1e-6)
    top = classifier({"text": FIRST[0], "text_pair": SECOND[0], "top_k": 1}, task="text-pair-classification")
    assert top == {next(iter(full)): full[next(iter(full))]}
    with pytest.raises(ValueError, match="needs the key 'text_pair'"):
        classifier({"text": "a city"}, task="text-pair-classification")
    with pytest.raises(ValueError, match="'text_pair' has 1 items but 'text' has 2"):
        classifier({"text": ["a", "b"], "text_pair": ["c"]}, task="text-pair-classification")


CITIES = ["paris", "berlin"]
COUNTRIES = {"france": "not_paraphrase", "germany": "paraphrase"}


def pair_dataset(size, seed):
    """Labels decided by the second text alone: a classifier that dropped `text_pairs` could not learn them."""
    rng = np.random.default_rng(seed)
    countries = [str(c) for c in rng.choice(sorted(COUNTRIES), size)]
    return {
        "texts": [f"{rng.choice(CITIES)} is a city" for _ in range(size)],
        "text_pairs": [f"a city in {country}" for country in countries],
        "labels": [COUNTRIES[country] for country in countries],
    }


def test_finetuning_reads_the_second_text(tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    torch.manual_seed(0)
    tokenizer, model = build_bert(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    task = kerasprop.TextPairClassification(str(folder))
    task.finetune(pair_dataset(64, seed=0), epochs=8, batch_size=16, validation_split=0.0,
                  optimizer=keras.optimizers.AdamW(1e-3), max_length=16, verbose=0)
    held_out = pair_dataset(20, seed=1)
    predictions = task(held_out["texts"], held_out["text_pairs"])
    accuracy = np.mean([next(iter(p)) == label for p, label in zip(predictions, held_out["labels"])])
    assert accuracy == 1.0, accuracy
    saved = kerasprop.load(kerasprop.save(task.model, path=tmp_path / "saved"))
    again = saved({"text": held_out["texts"], "text_pair": held_out["text_pairs"]}, task="text-pair-classification")
    assert [list(p) for p in again] == [list(p) for p in predictions]
    np.testing.assert_allclose([list(p.values()) for p in again], [list(p.values()) for p in predictions], atol=1e-6)


def test_the_bundled_preset_reproduces_its_recorded_labels():
    from kerasprop.hub import catalog
    from presets.recipes import bert_pairs, common

    recorded = common.read_expected(catalog.bundled_path("bert-tiny-pairs"))
    pairs = kerasprop.TextPairClassification("bert-tiny-pairs")
    records = recorded["text-pair-classification"]
    outputs = pairs([r["input"]["text"] for r in records], [r["input"]["text_pair"] for r in records])
    for output, record in zip(outputs, records):
        assert list(output) == list(record["output"])
        np.testing.assert_allclose(list(output.values()), list(record["output"].values()), atol=1e-3)
    heldout = bert_pairs.pairs("heldout", 60)
    predictions = pairs(heldout["texts"], heldout["text_pairs"])
    accuracy = np.mean([next(iter(p)) == label for p, label in zip(predictions, heldout["labels"])])
    assert accuracy >= recorded["quality"]["accuracy"] - 0.1
