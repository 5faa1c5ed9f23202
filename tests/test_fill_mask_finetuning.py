"""Fill-mask finetuning: BERT's masking recipe, learning on a tiny checkpoint, and the finetuned model's round trip.

The checkpoint is `test_fill_mask`'s tiny random `BertForMaskedLM` (hidden size 32, 2 layers,
a vocabulary of 18 tokens); the corpus says which city is the capital of which country and
which is a city in it, and one such sentence is held out of training.
"""

import keras
import numpy as np
import pytest

import kerasprop
from kerasprop.models import MaskedLM
from kerasprop.models.tokens.masked_lm import MASK_TOKEN_RATE, RANDOM_TOKEN_RATE
from kerasprop.training import finetune
from test_fill_mask import write_checkpoint

TRAINING = ["paris is the capital of france .", "berlin is the capital of germany .", "paris is a city in france ."]
HELD_OUT = "berlin is a city in germany ."


@pytest.fixture()
def bert(tmp_path):
    write_checkpoint("bert", tmp_path)
    return MaskedLM.from_preset(str(tmp_path))


def right_token_probabilities(model, sentence):
    """The probability the model gives each word of `sentence` when that word alone is masked."""
    words = sentence.split()
    texts = [" ".join(words[:i] + ["[MASK]"] + words[i + 1:]) for i in range(len(words))]
    results = model({"text": texts, "top_k": 18}, task="fill-mask")
    return np.array([next((c["score"] for c in result if c["token_str"] == word), 0.0)
                     for word, result in zip(words, results)])


def candidates(results):
    """The candidates of a batch of fill-mask results, texts with one mask and with several alike."""
    return [c for result in results for per_mask in (result if isinstance(result[0], list) else [result])
            for c in per_mask]


def test_masking_follows_berts_recipe(bert):
    rng = np.random.default_rng(0)
    words = np.array(TRAINING[0].split() + ["berlin", "germany", "a", "city", "in"])
    texts = [" ".join(rng.choice(words, size=rng.integers(5, 40))) for _ in range(600)]
    features, labels, weights = bert.process_batch({"texts": texts}, max_length=32)
    tokenizer = bert.preprocessor.tokenizer
    assert np.array_equal(bert.process_batch({"texts": texts}, max_length=32)[0]["token_ids"], features["token_ids"])

    kept = replaced = randomised = 0
    for row, text in enumerate(texts):
        original = [tokenizer.start_token_id] + bert.token_ids([text])[0][:30] + [tokenizer.end_token_id]
        ids = features["token_ids"][row]
        chosen = int(weights[row].sum())
        assert chosen == max(1, round(0.15 * (len(original) - 2)))
        positions = features["mask_positions"][row, :chosen]
        assert weights[row, :chosen].all() and not weights[row, chosen:].any()
        assert 0 < positions.min() and positions.max() < len(original) - 1  # never the start or end token
        assert labels[row, :chosen].tolist() == [original[p] for p in positions]
        others = np.setdiff1d(np.arange(len(original)), positions)
        assert ids[others].tolist() == [original[p] for p in others]
        assert (ids[len(original):] == tokenizer.pad_token_id).all()
        assert features["padding_mask"][row].sum() == len(original)
        now = ids[positions]
        replaced += int((now == tokenizer.mask_token_id).sum())
        kept += int((now == labels[row, :chosen]).sum())
        randomised += int(((now != tokenizer.mask_token_id) & (now != labels[row, :chosen])).sum())
        assert not np.isin(now[now != tokenizer.mask_token_id], tokenizer.special_token_ids).any()
    total = replaced + kept + randomised
    assert total > 1500
    assert replaced / total == pytest.approx(MASK_TOKEN_RATE, abs=0.04)
    # A random token is the original one 1 time in 14 (the non-special vocabulary).
    assert randomised / total == pytest.approx(RANDOM_TOKEN_RATE * 13 / 14, abs=0.03)
    assert kept / total == pytest.approx(1 - MASK_TOKEN_RATE - RANDOM_TOKEN_RATE * 13 / 14, abs=0.03)


def test_finetuning_raises_held_out_probabilities_and_survives_save_and_load(bert, tmp_path):
    before = right_token_probabilities(bert, HELD_OUT)
    history = kerasprop.FillMask(bert).finetune({"texts": TRAINING * 32}, validation_split=0.0, epochs=12,
                                                batch_size=32, optimizer=keras.optimizers.Adam(5e-3), verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    after = right_token_probabilities(bert, HELD_OUT)
    assert after.mean() > before.mean() + 0.2 and after.mean() > 3 * before.mean(), (before, after)

    text = {"text": ["[MASK] is a city in germany .", "berlin is the [MASK] of [MASK] ."], "top_k": 3}
    expected = bert(text, task="fill-mask")
    bert.save_to_preset(str(tmp_path / "finetuned"))
    restored = MaskedLM.from_preset(str(tmp_path / "finetuned"))
    got, want = candidates(restored(text, task="fill-mask")), candidates(expected)
    assert len(got) == len(want) == 9
    for mine, theirs in zip(got, want):
        assert (mine["token"], mine["sequence"]) == (theirs["token"], theirs["sequence"])
        assert mine["score"] == pytest.approx(theirs["score"], abs=1e-6)


def test_finetuning_params_are_validated(bert):
    with pytest.raises(ValueError, match="Unknown key 'text' .* Did you mean 'texts'"):
        finetune(bert, {"text": ["paris"]}, "fill-mask")
    with pytest.raises(ValueError, match="'texts' is empty"):
        finetune(bert, {"texts": []}, "fill-mask")
    with pytest.raises(TypeError, match=r"'texts\[1\]' must be a string"):
        finetune(bert, {"texts": ["paris", 3]}, "fill-mask")
    with pytest.raises(ValueError, match="'mask_rate' must be greater than 0"):
        finetune(bert, {"texts": ["paris"]}, "fill-mask", mask_rate=0.0)
