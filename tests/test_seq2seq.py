"""T5MultiTask and BartMultiTask: backprop's tasks, the keras-hub Seq2SeqLM contract, save/load, finetuning.

Models are tiny random checkpoints written with transformers (see
test_t5_converter.py); what is checked is behaviour that holds whatever the
weights: prompts, generation settings, shapes, round trips and errors.
"""

import dataclasses

import dill
import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from test_t5_converter import write_tiny_bart, write_tiny_t5

import kerasprop
from kerasprop.models import BartMultiTask, Seq2SeqLM, T5MultiTask
from kerasprop.models.generative.seq2seq import TASK_GENERATION, qa_prompt

TEXTS = ["I love Paris and the quick fox", "Who wrote the book?", "Keras is a library"]


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    return write_tiny_t5(tmp_path_factory.mktemp("t5"), "gated-gelu")


@pytest.fixture(scope="module")
def t5(t5_folder):
    model = T5MultiTask.from_preset(str(t5_folder))
    # Short limits keep generation cheap; they are part of the saved config.
    model.preprocessor.encoder_sequence_length = 64
    model.preprocessor.decoder_sequence_length = 16
    return model


def _greedy(model, inputs, new_tokens, **kwargs):
    if not isinstance(model.sampler, keras_hub.samplers.GreedySampler):
        model.compile(sampler="greedy")
    return model.generate(inputs, max_length=model.decoder_prompt_length + new_tokens, **kwargs)


# === Loading: the right class from every kind of preset ===


def test_from_preset_returns_the_family_class_for_every_preset_kind(t5, t5_folder, tmp_path):
    assert type(Seq2SeqLM.from_preset(str(t5_folder))) is T5MultiTask  # Hugging Face folder
    t5.save_to_preset(str(tmp_path / "kerasprop"))
    assert type(Seq2SeqLM.from_preset(str(tmp_path / "kerasprop"))) is T5MultiTask  # kerasprop preset
    plain = keras_hub.models.T5Seq2SeqLM(backbone=t5.backbone, preprocessor=t5.preprocessor)
    plain.save_to_preset(str(tmp_path / "keras-hub"))
    assert type(Seq2SeqLM.from_preset(str(tmp_path / "keras-hub"))) is T5MultiTask  # keras-hub preset
    bart = tmp_path / "bart"
    write_tiny_bart(bart)
    assert type(Seq2SeqLM.from_preset(str(bart), load_weights=False)) is BartMultiTask
    with pytest.raises(ValueError, match="BartBackbone"):
        T5MultiTask.from_preset(str(bart), load_weights=False)


def test_save_to_preset_round_trips_lengths_prompts_and_outputs(t5, tmp_path):
    t5.preprocessor.encoder_sequence_length, t5.preprocessor.decoder_sequence_length = 48, 12
    model = T5MultiTask(backbone=t5.backbone, preprocessor=t5.preprocessor, task_prefixes={"summarisation": "summarize: "},
                        tasks=["summarisation", "qa"])
    expected = _greedy(model, TEXTS, 8)
    model.save_to_preset(str(tmp_path / "preset"))
    loaded = Seq2SeqLM.from_preset(str(tmp_path / "preset"))
    assert (loaded.preprocessor.encoder_sequence_length, loaded.preprocessor.decoder_sequence_length) == (48, 12)
    assert loaded.task_prefixes["summarisation"] == "summarize: " and loaded.tasks == ["qa", "summarisation"]
    assert _greedy(loaded, TEXTS, 8) == expected
    t5.preprocessor.encoder_sequence_length, t5.preprocessor.decoder_sequence_length = 64, 16


def test_kerasprop_save_load_and_dill_give_the_same_answers(t5, tmp_path):
    expected = t5({"text": TEXTS[:2]}, task="emotion")
    folder = kerasprop.save(t5, name="tiny-t5", path=tmp_path / "saved")
    loaded = kerasprop.load(folder)
    assert type(loaded) is T5MultiTask and loaded.name == "tiny-t5"
    assert loaded({"text": TEXTS[:2]}, task="emotion") == expected
    unpickled = dill.loads(dill.dumps(t5))
    assert unpickled({"text": TEXTS[:2]}, task="emotion") == expected


# === The keras-hub Seq2SeqLM contract ===


def test_generate_takes_a_string_a_list_and_a_dataset(t5):
    outputs = _greedy(t5, TEXTS, 6)
    assert isinstance(outputs, list) and len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
    assert _greedy(t5, TEXTS[1], 6) == outputs[1]
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2)
    assert _greedy(t5, dataset, 6) == outputs


def test_strip_prompt_leaves_the_decoder_prompt_out(t5):
    prompt = {"encoder_text": TEXTS[:2], "decoder_text": ["Paris fox", "book"]}
    full = _greedy(t5, dict(prompt), 8)
    stripped = _greedy(t5, dict(prompt), 8, strip_prompt=True)
    for whole, new, decoder_text in zip(full, stripped, prompt["decoder_text"]):
        assert whole.startswith(decoder_text) and not new.startswith(decoder_text)
        assert whole.replace(" ", "") == (decoder_text + new).replace(" ", "")


def test_stop_token_ids(t5):
    t5.compile(sampler="greedy")
    preprocessor = t5.preprocessor
    x = preprocessor.generate_preprocess(TEXTS, sequence_length=10)
    t5.preprocessor = None
    try:
        with pytest.raises(ValueError, match="stop_token_ids"):
            t5.generate(dict(x))
        run_on = t5.generate(dict(x), stop_token_ids=None)
        end = preprocessor.tokenizer.end_token_id
        stopped = t5.generate(dict(x), stop_token_ids=(end,))
    finally:
        t5.preprocessor = preprocessor
    assert run_on["decoder_padding_mask"].all()
    # Stopping only masks what follows an end token.
    tokens, mask = stopped["decoder_token_ids"], stopped["decoder_padding_mask"]
    for row, row_mask in zip(tokens, mask):
        ends = np.flatnonzero(row[1:] == end)
        assert row_mask.sum() == (ends[0] + 2 if len(ends) else len(row))


@pytest.mark.parametrize("sampler", ["beam", "top_k", keras_hub.samplers.TopPSampler(p=0.9)])
def test_compile_takes_any_sampler(t5, sampler):
    t5.compile(sampler=sampler)
    outputs = t5.generate(TEXTS, max_length=8)
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
    if sampler == "beam":
        assert t5.generate(TEXTS, max_length=8) == outputs


def test_fit_on_a_dataset_of_encoder_and_decoder_text(t5_folder):
    model = T5MultiTask.from_preset(str(t5_folder))
    model.preprocessor.encoder_sequence_length, model.preprocessor.decoder_sequence_length = 16, 8
    features = {"encoder_text": ["emotion: I love it", "emotion: I hate it"], "decoder_text": ["joy", "anger"]}
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before, _ = model.evaluate(dataset, verbose=0)  # without dropout, unlike fit's running loss
    model.fit(dataset, epochs=20, verbose=0)
    after, _ = model.evaluate(dataset, verbose=0)
    assert after < 0.5 * before


def test_generation_compiles_once_per_shape_bucket(t5, backend, monkeypatch):
    """Batches pad to powers of two and encoder inputs to length buckets: two shapes here, not four."""
    shapes = []
    generate_step = t5.generate_step

    def recording_generate_step(inputs, stop_token_ids=None):
        # Runs once per trace under jax and tensorflow, once per call under torch.
        shapes.append(tuple(inputs["encoder_token_ids"].shape) + tuple(inputs["decoder_token_ids"].shape))
        return generate_step(inputs, stop_token_ids)

    monkeypatch.setattr(t5, "generate_step", recording_generate_step)
    t5._task_generators = {}
    t5({"text": TEXTS}, task="emotion")  # 3 inputs -> 4 rows
    t5({"text": ["fox", "book", "Paris", "Ada"]}, task="emotion")  # 4 rows, the same encoder bucket
    t5({"text": TEXTS[0]}, task="emotion")  # 1 row: a second shape
    t5({"text": TEXTS[1]}, task="emotion")
    assert len(set(shapes)) == 2
    if backend != "torch":
        assert len(shapes) == 2


# === backprop's tasks ===


@pytest.fixture
def generate_calls(t5, monkeypatch):
    """Records what the tasks ask `generate` for (prompts, max_length, sampler) instead of generating."""
    calls = []

    def recording_generate(inputs, max_length=None, **kwargs):
        # kerasprop's GenerationSampler wraps a keras-hub sampler and processes its logits.
        sampler = dict(t5.sampler.get_config(), **t5.sampler.sampler.get_config(),
                       sampler=type(t5.sampler.sampler).__name__)
        calls.append({"prompts": list(inputs), "max_length": max_length, "sampler": sampler})
        return [f" out {i} " for i in range(len(inputs))]

    monkeypatch.setattr(t5, "generate", recording_generate)
    return calls


def test_task_prompts_and_generation_settings(t5, generate_calls):
    assert t5({"text": TEXTS}, task="emotion") == ["out 0", "out 1", "out 2"]
    assert t5({"text": TEXTS[0]}, task="summarisation") == "out 0"
    answer = t5({"question": "Who?", "context": TEXTS[0], "prev_q": ["What?"], "prev_a": ["fox"]}, task="qa")
    assert answer == "out 0"
    t5({"question": ["Who?", "Where?"], "context": TEXTS[:2], "prev_q": [["What?"], []], "prev_a": [["fox"], []]},
       task="qa")
    emotion, summary, qa, qa_batch = generate_calls
    assert emotion["prompts"] == [f"emotion: {text}" for text in TEXTS]
    assert emotion["max_length"] == 1 + 30 and emotion["sampler"]["sampler"] == "GreedySampler"
    assert summary["prompts"] == [f"summarise: {TEXTS[0]}"] and summary["max_length"] == 1 + 200
    assert summary["sampler"]["sampler"] == "BeamSampler" and summary["sampler"]["num_beams"] == 4
    assert summary["sampler"]["min_new_tokens"] == 30 and summary["sampler"]["no_repeat_ngram_size"] == 3
    assert qa["prompts"] == [f"q: What? a: fox q: Who? c: {TEXTS[0]}"]
    assert qa["max_length"] == 1 + 96 and qa["sampler"]["sampler"] == "GreedySampler"
    assert qa_batch["prompts"] == [f"q: What? a: fox q: Who? c: {TEXTS[0]}", f"q: Where? c: {TEXTS[1]}"]


def test_text_generation_options(t5, generate_calls):
    t5({"text": TEXTS[:2], "max_length": 5, "min_length": 0}, task="text-generation")
    several = t5({"text": TEXTS[:2], "max_length": 7, "num_generations": 3, "top_k": 5}, task="text-generation")
    t5({"text": TEXTS[0], "temperature": 0.0, "top_k": 5}, task="text-generation")
    t5({"text": TEXTS[0], "num_beams": 3}, task="text-generation")
    greedy, sampled, zero_temperature, beams = generate_calls
    assert greedy["prompts"] == TEXTS[:2] and greedy["max_length"] == 1 + 5
    assert greedy["sampler"]["sampler"] == "GreedySampler"
    assert sampled["prompts"] == [TEXTS[0]] * 3 + [TEXTS[1]] * 3 and sampled["max_length"] == 1 + 7
    assert sampled["sampler"]["sampler"] == "TopKSampler" and sampled["sampler"]["k"] == 5
    assert several == [["out 0", "out 1", "out 2"], ["out 3", "out 4", "out 5"]]
    assert zero_temperature["sampler"]["sampler"] == "GreedySampler"
    assert beams["sampler"]["sampler"] == "BeamSampler" and beams["sampler"]["num_beams"] == 3


def test_the_task_shim_generates_what_generate_does(t5, monkeypatch):
    emotions = t5({"text": TEXTS}, task="emotion")
    assert all(type(e) is str for e in emotions)
    assert emotions == [o.strip() for o in _greedy(t5, [f"emotion: {text}" for text in TEXTS], 30)]
    assert t5({"text": TEXTS[1]}, task="emotion") == emotions[1]
    # Summaries with beam search, shortened: 200 eager steps are slow under torch.
    short = dataclasses.replace(TASK_GENERATION["summarisation"], min_new_tokens=6, max_new_tokens=8)
    monkeypatch.setitem(TASK_GENERATION, "summarisation", short)
    summary = t5({"text": TEXTS[0]}, task="summarisation")
    t5.compile(sampler=short.sampler())
    assert summary == t5.generate(f"summarise: {TEXTS[0]}", max_length=1 + 8).strip()


def test_qa_prompt_format():
    assert qa_prompt("Who?", "Ada wrote it.") == "q: Who? c: Ada wrote it."
    assert (
        qa_prompt("And where?", "Ada wrote it in London.", [("Who?", "Ada"), ("What?", "it")])
        == "q: Who? a: Ada q: What? a: it q: And where? c: Ada wrote it in London."
    )


def test_long_context_is_truncated_with_a_warning(t5):
    long_context = qa_prompt("Who?", " ".join(TEXTS * 30))
    with pytest.warns(UserWarning, match="truncated to the first 64"):
        answer = _greedy(t5, long_context, 4)
    assert answer == _greedy(t5, qa_prompt("Who?", " ".join(TEXTS * 5)), 4)  # the first 64 tokens agree


@pytest.mark.parametrize(
    "task_input, task, error, message",
    [
        ({"text": "  "}, "emotion", ValueError, "non-empty"),
        ({"text": ["fine", ""]}, "summarisation", ValueError, r"text\[1\]"),
        ({"question": "Who?", "context": "c", "prev_q": ["a", "b"], "prev_a": ["x"]}, "qa", ValueError, "pair up"),
        ({"question": "Who?", "context": "c", "prev_q": ["a"]}, "qa", ValueError, "without 'prev_a'"),
        ({"text": 3}, "emotion", TypeError, "must be a string"),
        ({"text": "hi"}, "text-vectorisation", ValueError, "does not support"),
    ],
)
def test_bad_input_is_refused_clearly(t5, task_input, task, error, message):
    with pytest.raises(error, match=message):
        t5(task_input, task=task)


# === Finetuning hooks ===


def test_process_batch_builds_prompts_and_zero_weights_padding(t5_folder):
    model = T5MultiTask.from_preset(str(t5_folder), load_weights=False)
    params = kerasprop.schemas.get_schema("qa").parse_finetune(
        {"questions": ["Who?", "Where?"], "answers": ["Ada", "in London"], "contexts": ["Ada wrote.", "London."],
         "prev_qas": [[("What?", "a book")], []]}
    )
    x = model.process_batch(params, task="qa", max_input_length=24, max_output_length=6)
    assert list(x["encoder_text"]) == ["q: What? a: a book q: Who? c: Ada wrote.", "q: Where? c: London."]
    assert (model.preprocessor.encoder_sequence_length, model.preprocessor.decoder_sequence_length) == (24, 6)
    features, labels, weights = model.preprocessor(x)
    assert np.asarray(features["encoder_token_ids"]).shape == (2, 24) and np.asarray(labels).shape == (2, 6)
    np.testing.assert_array_equal(np.asarray(weights), np.asarray(labels) != model.preprocessor.tokenizer.pad_token_id)
    loss = float(model.training_step(x, task="qa"))
    assert np.isfinite(loss) and loss > 0

    summaries = model.process_batch({"input_text": ["A long text."], "output_text": ["Short."]}, task="summarisation")
    assert list(summaries["encoder_text"]) == ["summarise: A long text."]
    with pytest.raises(ValueError, match="cannot be finetuned for 'text-vectorisation'|does not support"):
        model.process_batch({"texts": ["a"], "groups": [1]}, task="text-vectorisation")


def test_beam_generations_are_transformers_n_best(t5, t5_folder):
    """num_generations with num_beams gives the n best distinct beams, as transformers' num_return_sequences."""
    import sentencepiece
    import torch
    import transformers
    from test_t5_converter import _batch

    reference = transformers.T5ForConditionalGeneration.from_pretrained(t5_folder).eval()
    processor = sentencepiece.SentencePieceProcessor(model_file=str(t5_folder / "spiece.model"))
    # Every beam runs to the same length, where keras-hub's and transformers' beam searches agree.
    ours = t5({"text": TEXTS, "num_beams": 3, "num_generations": 3, "min_length": 6, "max_length": 6},
              task="text-generation")
    x = _batch(t5, TEXTS)
    with torch.no_grad():
        theirs = reference.generate(
            input_ids=torch.tensor(x["encoder_token_ids"]).long(),
            attention_mask=torch.tensor(x["encoder_padding_mask"]).long(),
            num_beams=3, num_return_sequences=3, do_sample=False, min_new_tokens=6, max_new_tokens=6,
        ).numpy()
    expected = [processor.decode([int(t) for t in row if t > 1]).strip() for row in theirs]
    assert ours == [expected[i : i + 3] for i in range(0, 9, 3)]
    assert all(len(set(texts)) == 3 for texts in ours)
    with pytest.raises(ValueError, match=r"'num_generations' \(4\) must not exceed 'num_beams' \(3\)"):
        t5({"text": TEXTS[0], "num_beams": 3, "num_generations": 4}, task="text-generation")


@pytest.mark.parametrize("sampler", ["greedy", "beam"])
@pytest.mark.parametrize("decoder_text", [["", "Paris fox", "book"], ["the", "Paris fox", "book"]])
def test_decoding_loop_gives_keras_hubs_tokens(t5, sampler, decoder_text):
    """kerasprop's T5 decoding loop (encoder once, shared cross-attention) against keras-hub's own loop."""
    keras_hub_loop = T5MultiTask(backbone=t5.backbone, preprocessor=t5.preprocessor)
    keras_hub_loop.has_decoding_hooks = False
    inputs = {"encoder_text": TEXTS, "decoder_text": decoder_text}
    outputs = []
    for model in (t5, keras_hub_loop):
        model.compile(sampler=sampler)
        outputs.append(model.generate(dict(inputs), max_length=12))
    assert outputs[0] == outputs[1]
