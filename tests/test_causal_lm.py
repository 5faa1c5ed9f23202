"""GPT2TextGenerator: Hugging Face parity, backprop's text-generation options, buckets, save/load, finetuning."""

import json

import dill
import keras
import numpy as np
import pytest
import torch
import transformers

import kerasprop
from kerasprop.models import GPT2TextGenerator
from tiny_models import tiny_gpt2_folder

PROMPTS = ["the cat sat on the", "Keras is a deep learning library for humans and the dog"]


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    return tiny_gpt2_folder(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def hf(hf_folder):
    return transformers.GPT2LMHeadModel.from_pretrained(hf_folder).eval(), transformers.AutoTokenizer.from_pretrained(hf_folder)


@pytest.fixture(scope="module")
def model(hf_folder):
    return GPT2TextGenerator.from_preset(str(hf_folder))


def _hf_generate(hf, text, **kwargs):
    hf_model, tokenizer = hf
    ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(text)["input_ids"]])  # keras-hub starts with <|endoftext|>
    with torch.no_grad():
        out = hf_model.generate(ids, attention_mask=torch.ones_like(ids), pad_token_id=tokenizer.eos_token_id, **kwargs)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_logits_match_transformers(model, hf):
    hf_model, tokenizer = hf
    ids = [tokenizer.eos_token_id] + tokenizer(PROMPTS[1])["input_ids"]
    with torch.no_grad():
        expected = hf_model(torch.tensor([ids])).logits.numpy()
    x = {"token_ids": np.array([ids], "int32"), "padding_mask": np.ones((1, len(ids)), bool)}
    logits = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_greedy_batch_matches_transformers_prompt_by_prompt(model, hf):
    out = model({"text": PROMPTS, "min_length": 3, "max_length": 12, "temperature": 0.0}, task="text-generation")
    assert out == [_hf_generate(hf, p, min_new_tokens=3, max_new_tokens=12, do_sample=False) for p in PROMPTS]
    assert model({"text": PROMPTS[0], "min_length": 3, "max_length": 12, "temperature": 0.0}) == out[0]


def test_repetition_penalty_and_beams_match_transformers(model, hf):
    text = PROMPTS[0]
    options = {"text": text, "min_length": 8, "max_length": 8, "temperature": 0.0}
    penalised = model({**options, "repetition_penalty": 1.5}, task="text-generation")
    assert penalised == _hf_generate(hf, text, max_new_tokens=8, min_new_tokens=8, repetition_penalty=1.5,
                                     do_sample=False)
    # No end token can come before max_length, so HF's finished-beam bookkeeping plays no part.
    beam = model({**options, "num_beams": 3, "do_sample": False}, task="text-generation")
    assert beam == _hf_generate(hf, text, max_new_tokens=8, min_new_tokens=8, num_beams=3, do_sample=False)


def _token_count(model, text):
    return len(model.preprocessor.tokenizer(text))


def test_sampling_options(model):
    keras.utils.set_random_seed(0)
    greedy = model({"text": PROMPTS, "max_length": 10, "min_length": 10, "temperature": 0.0}, task="text-generation")
    assert model({"text": PROMPTS, "max_length": 10, "min_length": 10, "top_k": 1}, task="text-generation") == greedy
    # A prompt that invites repeats: "the the the ..."; the penalty makes fewer repeated tokens.
    prompt = "the " * 12
    plain, penalised = (
        model({"text": [prompt] * 4, "max_length": 16, "min_length": 16, "top_k": 3, "repetition_penalty": p})
        for p in (1.0, 5.0)
    )
    tokenizer = model.preprocessor.tokenizer

    def repeats(texts):
        return sum(len(ids) - len(set(ids)) for ids in (tokenizer(t) for t in texts))

    assert repeats(penalised) < repeats(plain)
    samples = model({"text": PROMPTS, "max_length": 6, "num_generations": 3, "top_p": 0.9})
    assert [len(s) for s in samples] == [3, 3] and all(isinstance(t, str) for s in samples for t in s)
    assert model({"text": PROMPTS[0], "max_length": 6, "num_beams": 3, "num_generations": 2})[0] == model(
        {"text": PROMPTS[0], "max_length": 6, "num_beams": 3})


def test_only_new_text_within_lengths(model):
    out = model({"text": PROMPTS, "min_length": 4, "max_length": 7, "temperature": 0.0})
    for text in out:
        assert 4 <= _token_count(model, text) <= 7
    assert not any(text.startswith(p) for text, p in zip(out, PROMPTS))


def test_similar_prompts_do_not_compile_again(model, backend):
    traces = []
    original = model.generate_step

    def counting_generate_step(*args, **kwargs):
        traces.append(1)
        return original(*args, **kwargs)

    model.generate_step = counting_generate_step
    try:
        options = {"max_length": 5, "temperature": 0.0, "min_length": 2}
        model({"text": ["a b c", "the cat"], **options})
        model({"text": ["the dog sat", "the mat on the"], **options})
    finally:
        del model.generate_step
    # JAX and TensorFlow trace once per (options, bucket); torch runs eagerly, once per call.
    assert len(traces) == (2 if backend == "torch" else 1)


def test_keras_generate_and_preset_round_trip(model, tmp_path):
    model.compile(sampler="greedy")
    before = model.generate(PROMPTS, max_length=24)
    options = {"text": PROMPTS, "max_length": 8, "temperature": 0.0}
    new_text = model(options, task="text-generation")
    assert model.generate(PROMPTS, max_length=24) == before  # task calls leave compile(sampler=...) alone
    folder = kerasprop.save(model, path=str(tmp_path / "gpt2"))
    loaded = kerasprop.load(folder)
    assert type(loaded) is GPT2TextGenerator and loaded.tasks == ["text-generation"]
    assert loaded(options, task="text-generation") == new_text
    loaded.compile(sampler="greedy")
    assert loaded.generate(PROMPTS, max_length=24) == before
    pickled = dill.loads(dill.dumps(model))
    assert pickled(options, task="text-generation") == new_text


def test_finetuning_batch_trains_on_the_continuation_only(model):
    params = {"input_text": ["the cat sat on", "Keras is"], "output_text": ["the mat.", "a library."]}
    x = model.process_batch(params, task="text-generation", max_input_length=8, max_output_length=4)
    inputs, labels, weights = model.preprocess_samples(x)
    weights, labels = np.asarray(weights), np.asarray(labels)
    tokenizer = model.preprocessor.tokenizer
    for i, (prompt, output) in enumerate(zip(params["input_text"], params["output_text"])):
        expected = list(tokenizer(output)) + [tokenizer.end_token_id]
        assert labels[i][weights[i] > 0].tolist() == expected
    assert np.asarray(inputs["token_ids"]).shape[1] == 8 + 4 + 1
    loss = float(keras.ops.convert_to_numpy(model.training_step((x,), task="text-generation")))
    assert np.isfinite(loss) and loss > 0


def test_bad_options_are_named(model):
    with pytest.raises(ValueError, match="min_length"):
        model({"text": "a", "min_length": 9, "max_length": 3}, task="text-generation")
    with pytest.raises(ValueError, match="top_p"):
        model({"text": "a", "top_p": 1.5}, task="text-generation")
    with pytest.raises(ValueError, match="num_beams"):
        model({"text": "a", "num_beams": 0}, task="text-generation")
    with pytest.raises(ValueError, match="num_generations"):
        model({"text": "a", "num_generations": 2, "do_sample": False}, task="text-generation")
    with pytest.raises(ValueError, match="max_length"):
        model({"text": "a " * 100, "max_length": 60}, task="text-generation")
