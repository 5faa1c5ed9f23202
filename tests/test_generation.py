"""Generation controls: parity with Hugging Face's logits processors, per-row lengths, beams, every sampler."""

import keras
import keras_hub
import numpy as np
import pytest
import torch
from keras import ops
from transformers.generation.logits_process import (
    MinLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
)

from kerasprop.models.runtime.generation import (
    BANNED,
    BeamSampler,
    GenerationSampler,
    make_sampler,
    repeat_rows,
    sampler_from_options,
    wants_sampling,
)

END = 7
VOCAB = 8


def _process(sampler, logits, tokens, index, prompt_lengths, stop=(END,)):
    out = sampler.process_logits(
        ops.convert_to_tensor(logits), ops.convert_to_tensor(tokens), index,
        ops.convert_to_tensor(np.asarray(prompt_lengths, "int32")), stop,
    )
    return ops.convert_to_numpy(out)


def _hf(processors, logits, tokens, index):
    ids = torch.tensor(tokens[:, :index], dtype=torch.long)
    scores = torch.tensor(logits)
    for processor in processors:
        scores = processor(ids, scores)
    return np.where(np.isinf(scores.numpy()), BANNED, scores.numpy())


@pytest.mark.parametrize("index", [1, 3, 9])
def test_penalties_match_hugging_face(index):
    rng = np.random.default_rng(index)
    tokens = rng.integers(0, 5, (3, 12)).astype("int32")
    logits = rng.normal(size=(3, VOCAB)).astype("float32")
    sampler = GenerationSampler("greedy", repetition_penalty=1.7, no_repeat_ngram_size=2)
    expected = _hf([RepetitionPenaltyLogitsProcessor(1.7), NoRepeatNGramLogitsProcessor(2)], logits, tokens, index)
    np.testing.assert_allclose(_process(sampler, logits, tokens, index, [1, 1, 1], stop=()), expected, atol=1e-6)


def test_trigram_ban_matches_hugging_face():
    tokens = np.array([[1, 2, 3, 1, 2, 5, 1, 2, 0, 0]], "int32")
    logits = np.zeros((1, VOCAB), "float32")
    out = _process(GenerationSampler("greedy", no_repeat_ngram_size=3), logits, tokens, 8, [2], stop=())
    expected = _hf([NoRepeatNGramLogitsProcessor(3)], logits, tokens, 8)
    np.testing.assert_array_equal(out, expected)
    assert sorted(np.flatnonzero(out[0] == BANNED)) == [3, 5]


def test_min_length_counts_new_tokens_per_row():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, VOCAB)).astype("float32")
    tokens = rng.integers(0, 5, (2, 10)).astype("int32")
    sampler = GenerationSampler("greedy", min_new_tokens=3)
    out = _process(sampler, logits, tokens, 5, prompt_lengths=[3, 1])
    # Row 0 has 2 new tokens (banned), row 1 has 4 (free); as HF with min_length = prompt + 3.
    np.testing.assert_allclose(out[0], _hf([MinLengthLogitsProcessor(6, END)], logits[:1], tokens[:1], 5)[0])
    np.testing.assert_allclose(out[1], _hf([MinLengthLogitsProcessor(4, END)], logits[1:], tokens[1:], 5)[0])
    assert out[0, END] == BANNED and out[1, END] != BANNED


def _fake_next(table):
    """A `next` whose logits depend on the last token only: `table[last]`."""
    table = ops.convert_to_tensor(np.log(np.asarray(table, "float32") + 1e-12))

    def next(prompt, cache, index):
        last = ops.take_along_axis(prompt, ops.broadcast_to(ops.reshape(index - 1, (1, 1)), (ops.shape(prompt)[0], 1)), axis=1)
        return ops.take(table, last[:, 0], axis=0), None, cache

    return next


def _run(sampler, next, prompts, length):
    tokens = np.zeros((len(prompts), length), "int32")
    mask = np.zeros((len(prompts), length), bool)
    for row, prompt in enumerate(prompts):
        tokens[row, : len(prompt)], mask[row, : len(prompt)] = prompt, True
    out = sampler(next, ops.convert_to_tensor(tokens), index=min(map(len, prompts)),
                  mask=ops.convert_to_tensor(mask), stop_token_ids=(END,))
    return ops.convert_to_numpy(out)


def _new_tokens(row, prompt_length):
    new = list(row[prompt_length:])
    return new[: new.index(END) + 1] if END in new else new


def test_rows_of_different_prompt_lengths_get_their_own_min_and_max():
    # The model wants to end at once; min_length holds it off, max_length ends every row.
    eager_end = np.full((VOCAB, VOCAB), 0.01)
    eager_end[:, END] = 0.9
    eager_end[:, 2] = 0.05
    prompts = [[1, 1, 1, 1, 1], [1, 1], [1, 1, 1]]
    out = _run(GenerationSampler("greedy", min_new_tokens=4), _fake_next(eager_end), prompts, 16)
    for row, prompt in zip(out, prompts):
        assert _new_tokens(row, len(prompt)) == [2, 2, 2, 2, END]
    never_end = np.full((VOCAB, VOCAB), 0.01)
    never_end[:, 3] = 0.9
    out = _run(GenerationSampler("greedy", max_new_tokens=3), _fake_next(never_end), prompts, 16)
    for row, prompt in zip(out, prompts):
        assert _new_tokens(row, len(prompt)) == [3, 3, 3, END]


# From the start token 0: end at once (p=.5) or "1" (p=.45); after "1", "1" again (p=.99).
# Ending at once has the best sum of log-probabilities; the long beam the best mean.
SHORT_OR_LONG = np.full((VOCAB, VOCAB), 1e-4)
SHORT_OR_LONG[0, [END, 1]] = 0.5, 0.45
SHORT_OR_LONG[1, 1] = 0.99


@pytest.mark.parametrize("length_penalty, expected", [(0.0, [END]), (1.0, [1] * 6)])
def test_beam_length_penalty(length_penalty, expected):
    sampler = GenerationSampler(BeamSampler(num_beams=2, length_penalty=length_penalty))
    out = _run(sampler, _fake_next(SHORT_OR_LONG), [[0]], 7)
    assert _new_tokens(out[0], 1) == expected


def test_beams_fill_copies_with_the_n_best():
    sampler = GenerationSampler(BeamSampler(num_beams=3, length_penalty=0.0, num_return_sequences=2))
    out = _run(sampler, _fake_next(SHORT_OR_LONG), [[0], [0], [1], [1]], 7)
    assert _new_tokens(out[0], 1) == [END] and _new_tokens(out[1], 1) == [1] * 6
    assert _new_tokens(out[2], 1) == [1] * 6 and _new_tokens(out[3], 1) != [1] * 6


@pytest.mark.parametrize("sampler", ["greedy", "top_k", "top_p", "random", "contrastive", BeamSampler(num_beams=2)])
def test_every_sampler_keeps_lengths_inside_compiled_generate(sampler):
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=32
    )
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    causal_lm.compile(sampler=GenerationSampler(sampler, min_new_tokens=2, max_new_tokens=4, no_repeat_ngram_size=1))
    prompts = [[1, 2, 3, 4], [5, 6]]
    tokens = np.zeros((2, 12), "int32")
    mask = np.zeros((2, 12), bool)
    for row, prompt in enumerate(prompts):
        tokens[row, : len(prompt)], mask[row, : len(prompt)] = prompt, True
    out = causal_lm.generate({"token_ids": tokens, "padding_mask": mask}, stop_token_ids=(END,))
    for row, prompt in zip(out["token_ids"], prompts):
        new = _new_tokens(row, len(prompt))
        assert 2 <= len(new) - (new[-1] == END) <= 4
        words = [t for t in new if t != END]
        assert len(set(words)) == len(words)  # no 1-gram repeats
        assert not set(words) & set(prompt)


def test_config_round_trip():
    sampler = sampler_from_options({"min_length": 3, "max_length": 9, "num_beams": 3, "length_penalty": 2.0,
                                    "num_generations": 2, "repetition_penalty": 1.2}, no_repeat_ngram_size=3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sampler))
    assert restored.get_config() == sampler.get_config()
    assert isinstance(restored.sampler, BeamSampler) and restored.sampler.num_return_sequences == 2


def test_backprop_sampling_rule():
    assert not wants_sampling({}, given=())
    assert wants_sampling({"top_k": 5}, given={"top_k"})
    assert wants_sampling({"repetition_penalty": 1.2}, given={"repetition_penalty"})
    assert not wants_sampling({"temperature": 0.0, "top_k": 5}, given={"temperature", "top_k"})
    assert not wants_sampling({"do_sample": False, "top_p": 0.9}, given={"do_sample", "top_p"})
    assert isinstance(make_sampler(do_sample=True, top_p=0.9, top_k=5), keras_hub.samplers.TopPSampler)
    assert isinstance(make_sampler(do_sample=True, temperature=0.0), keras_hub.samplers.GreedySampler)


def test_bad_generation_counts_are_refused():
    with pytest.raises(ValueError, match="num_generations"):
        make_sampler(num_return_sequences=2)
    with pytest.raises(ValueError, match="num_beams"):
        make_sampler(num_beams=2, num_return_sequences=3)


def test_repeat_rows_is_consecutive():
    out = repeat_rows({"token_ids": np.array([[1], [2]])}, 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(out["token_ids"])[:, 0], [1, 1, 2, 2])
