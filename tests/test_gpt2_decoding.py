"""GPT2TextGenerator's decoding cache: same logits as the full forward pass, same generations as keras-hub's own path."""

import keras_hub
import numpy as np
import pytest
from keras import ops

from kerasprop.models import GPT2TextGenerator
from kerasprop.models.runtime.generation import BeamSampler, GenerationSampler

END = 11
VOCAB = 40
LENGTH = 12


@pytest.fixture(scope="module")
def model():
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=32
    )
    # Weights far larger than the initialiser's, so that a wrong cache entry changes the tokens.
    rng = np.random.default_rng(0)
    for weight in backbone.weights:
        weight.assign(rng.normal(1.0 if "gamma" in weight.path else 0.0, 0.2, weight.shape))
    return GPT2TextGenerator(backbone=backbone, preprocessor=None)


@pytest.fixture(scope="module")
def keras_hub_model(model):
    """keras-hub's GPT2CausalLM on the very same backbone: its stacked cache and full-length prompt pass."""
    return keras_hub.models.GPT2CausalLM(backbone=model.backbone, preprocessor=None)


def _prompts(rows, length=LENGTH):
    tokens = np.zeros((len(rows), length), "int32")
    mask = np.zeros((len(rows), length), bool)
    for row, prompt in enumerate(rows):
        tokens[row, : len(prompt)], mask[row, : len(prompt)] = prompt, True
    return {"token_ids": tokens, "padding_mask": mask}


def test_prompt_pass_and_steps_give_the_full_forward_logits(model):
    token_ids = np.random.default_rng(0).integers(0, END, (2, LENGTH)).astype("int32")
    expected = ops.convert_to_numpy(model({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids, bool)}))
    cache = model.empty_decoding_cache(2, LENGTH)
    logits, _, cache = model.decode_with_cache(token_ids[:, :5], cache, 0)
    steps = [ops.convert_to_numpy(logits)]
    for index in range(5, LENGTH):
        logits, _, cache = model.decode_with_cache(token_ids[:, index : index + 1], cache, index)
        steps.append(ops.convert_to_numpy(logits))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), expected, atol=1e-5)
    key, value = cache[0]
    assert tuple(key.shape) == tuple(value.shape) == (2, 2, LENGTH, 8)


@pytest.mark.parametrize(
    "sampler, prompts",
    [
        # Rows of different lengths; the prompt pass covers LENGTH - 5 positions.
        (GenerationSampler("greedy", min_new_tokens=1, max_new_tokens=5), [[1, 2, 3, 4], [5, 6], [7, 8, 9, 1, 2, 3, 4]]),
        (GenerationSampler(BeamSampler(num_beams=3), max_new_tokens=6), [[1, 2, 3], [4, 5, 6, 7, 8]]),
        ("contrastive", [[1, 2, 3], [4, 5, 6, 7, 8]]),
        ("greedy", [[1, 2, 3], [4, 5, 6, 7, 8]]),
    ],
    ids=["different-lengths", "beams", "contrastive", "keras-hub-greedy"],
)
def test_generations_match_keras_hub_generate(model, keras_hub_model, sampler, prompts):
    inputs = _prompts(prompts, length=max(LENGTH, len(prompts[0]) + 6))
    model.compile(sampler=sampler)
    keras_hub_model.compile(sampler=sampler)
    ours = model.generate(inputs, stop_token_ids=(END,))
    theirs = keras_hub_model.generate(inputs, stop_token_ids=(END,))
    np.testing.assert_array_equal(ours["token_ids"], theirs["token_ids"])
    np.testing.assert_array_equal(ours["padding_mask"], theirs["padding_mask"])
    for row, prompt in zip(ours["token_ids"], prompts):
        assert row[: len(prompt)].tolist() == prompt


class _LogitsAt(keras_hub.samplers.Sampler):
    """Feeds the prompt up to `position` through the model's `next` and returns the logits there, not tokens."""

    def __init__(self, position, max_new_tokens):
        super().__init__()
        self.position, self.max_new_tokens = position, max_new_tokens

    def __call__(self, next, prompt, cache=None, index=0, **kwargs):
        for i in range(int(ops.convert_to_numpy(index)), self.position + 1):
            logits, _, cache = next(prompt, cache, i)
        return logits


def test_prompts_longer_than_the_prompt_pass_are_read_by_the_loop(model, keras_hub_model):
    # 18-token prompts in 24 positions while the sampler keeps 8 for new tokens: one pass reads 16.
    inputs = _prompts(np.random.default_rng(1).integers(0, END, (3, 18)).tolist(), length=24)
    model.sampler = keras_hub_model.sampler = _LogitsAt(position=18, max_new_tokens=8)
    assert model.prompt_positions(24) == 16
    ours = ops.convert_to_numpy(model.generate_step(inputs)["token_ids"])
    theirs = ops.convert_to_numpy(keras_hub_model.generate_step(inputs)["token_ids"])
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_prompt_positions_leave_room_for_new_tokens_only_when_the_sampler_says_so(model):
    model.compile(sampler=GenerationSampler("greedy", max_new_tokens=5))
    assert model.prompt_positions(LENGTH) == LENGTH - 5
    model.compile(sampler="greedy")
    assert model.prompt_positions(LENGTH) == LENGTH
