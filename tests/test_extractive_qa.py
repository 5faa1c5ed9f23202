"""Extractive QA: parity with transformers on tiny random `...ForQuestionAnswering` checkpoints.

transformers 5 no longer ships `pipeline("question-answering")`, so the reference is
its 4.x decoding written out below (`reference_answers`: the pipeline's preprocess
with overflowing windows, `select_starts_ends`, `decode_spans` and word alignment),
run on the transformers model's own logits and tokenizer. Answers, offsets and
scores must agree within 1e-4.
"""

import numpy as np
import pytest
import torch

import kerasprop
from kerasprop.models import ExtractiveQuestionAnswerer
from kerasprop.training import finetune
from span_checkpoints import write_checkpoint

TOLERANCE = 1e-4
QUESTIONS = ["Who works for Acme?", "Where does Bob live?", "What was the weather in Madrid?"]
CONTEXTS = [
    "Alice Smith works for Acme Corporation in Paris.",
    "Bob lives in London and visits Berlin every summer. Carol lives in Madrid.",
    "The weather in Madrid was sunny, said Carol. " * 6,  # longer than one 32-token window
]


def reference_answers(tokenizer, model, question, context, top_k=1, max_seq_len=384, doc_stride=128,
                      max_answer_len=15, handle_impossible_answer=False):
    """The transformers 4.x question-answering pipeline's answers for one question."""
    max_seq_len = min(max_seq_len, tokenizer.model_max_length)
    doc_stride = min(doc_stride, max_seq_len // 2)
    encoded = tokenizer(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True)
    answers, min_null_score = [], 1000000
    for span in range(len(encoded["input_ids"])):
        ids = encoded["input_ids"][span]
        p_mask = np.array([s != 1 for s in encoded.sequence_ids(span)], dtype=int)
        p_mask[np.array(ids) == tokenizer.cls_token_id] = 0
        inputs = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        if "token_type_ids" in encoded:
            inputs["token_type_ids"] = torch.tensor([encoded["token_type_ids"][span]])
        with torch.no_grad():
            out = model(**inputs)
        start, end = out.start_logits.numpy(), out.end_logits.numpy()
        undesired = np.abs(p_mask - 1)
        start = np.where(undesired == 0, -10000.0, start)
        end = np.where(undesired == 0, -10000.0, end)
        start = np.exp(start - start.max(axis=-1, keepdims=True))
        start = start / start.sum()
        end = np.exp(end - end.max(axis=-1, keepdims=True))
        end = end / end.sum()
        if handle_impossible_answer:
            min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
        start[0, 0] = end[0, 0] = 0.0
        outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
        candidates = np.tril(np.triu(outer), max_answer_len - 1)
        flat = candidates.flatten()
        topk = top_k * 2 + 10
        if len(flat) < topk:
            order = np.argsort(-flat)
        else:
            order = np.argpartition(-flat, topk)[0:topk]
            order = order[np.argsort(-flat[order])]
        starts, ends = np.unravel_index(order, candidates.shape)[1:]
        keep = np.isin(starts, undesired.nonzero()) & np.isin(ends, undesired.nonzero())
        encoding = encoded.encodings[span]
        for s, e in zip(starts[keep], ends[keep]):
            score = candidates[0, s, e].item()
            try:
                begin = encoding.word_to_chars(encoding.token_to_word(s), sequence_index=1)[0]
                finish = encoding.word_to_chars(encoding.token_to_word(e), sequence_index=1)[1]
            except Exception:
                begin, finish = encoding.offsets[s][0], encoding.offsets[e][1]
            same = next((a for a in answers if a["answer"].lower() == context[begin:finish].lower()), None)
            if same:
                same["score"] += score
            else:
                answers.append({"score": score, "start": begin, "end": finish, "answer": context[begin:finish]})
    if handle_impossible_answer:
        answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
    return sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]


@pytest.fixture(scope="module", params=["bert", "roberta", "distilbert"])
def checkpoint(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    tokenizer, model = write_checkpoint(folder, request.param, "extractive-qa")
    return folder, tokenizer, model


@pytest.fixture(scope="module")
def model(checkpoint):
    return ExtractiveQuestionAnswerer.from_preset(str(checkpoint[0]))


def assert_same_answers(ours, reference):
    assert len(ours) == len(reference)
    for got, want in zip(ours, reference):
        assert (got["answer"], got["start"], got["end"]) == (want["answer"], want["start"], want["end"])
        assert isinstance(got["score"], float) and got["score"] == pytest.approx(want["score"], abs=TOLERANCE)


@pytest.mark.parametrize("options", [{}, {"top_k": 3}, {"top_k": 2, "max_seq_len": 32, "doc_stride": 8},
                                     {"handle_impossible_answer": True, "max_answer_len": 4}])
def test_answers_match_transformers(checkpoint, model, options):
    _, tokenizer, hf_model = checkpoint
    ours = model({"question": QUESTIONS, "context": CONTEXTS, **options}, task="extractive-qa")
    assert len(ours) == len(QUESTIONS)
    for question, context, answers in zip(QUESTIONS, CONTEXTS, ours):
        reference = reference_answers(tokenizer, hf_model, question, context, **options)
        if options.get("top_k", 1) == 1:
            assert isinstance(answers, dict)
            answers = [answers]
        assert_same_answers(answers, reference)
        for answer in answers:
            assert context[answer["start"]:answer["end"]] == answer["answer"]


def test_long_contexts_are_read_in_several_windows(model):
    windows = model.encode(QUESTIONS[2:], CONTEXTS[2:], stride=8, max_length=32)[0]
    assert len(windows) > 2 and all(len(w.ids) <= 32 for w in windows)
    context_starts = [next(o[0] for o, s in zip(w.offsets, w.sequence_ids) if s == 1) for w in windows]
    assert context_starts == sorted(context_starts) and context_starts[0] == 0


def test_bad_input_is_refused_with_the_key_named(model):
    with pytest.raises(ValueError, match="needs the key 'context'"):
        model({"question": "Who?"}, task="extractive-qa")
    with pytest.raises(ValueError, match="'top_k' must be at least 1"):
        model({"question": "Who?", "context": "Alice.", "top_k": 0}, task="extractive-qa")
    with pytest.raises(ValueError, match="'context' has 1 items but 'question' has 2"):
        model({"question": ["Who?", "Where?"], "context": ["Alice."]}, task="extractive-qa")


def qa_params(n, seed):
    """Templated (question, context, answer): '<name> lives in <place> .' / 'Where does <name> live ?'"""
    rng = np.random.default_rng(seed)
    names, places = ["alice", "bob", "carol", "eve", "dave"], ["paris", "london", "berlin", "madrid"]
    params = {"questions": [], "contexts": [], "answers": []}
    for _ in range(n):
        a, b = rng.choice(names, 2, replace=False)
        pa, pb = rng.choice(places, 2, replace=False)
        params["contexts"].append(f"{a} lives in {pa} . {b} lives in {pb} .")
        params["questions"].append(f"where does {b} live ?")
        params["answers"].append(str(pb))
    return params


def test_finetuning_learns_to_answer_and_survives_save_and_load(tmp_path):
    import keras

    write_checkpoint(tmp_path, "bert", "extractive-qa")
    model = ExtractiveQuestionAnswerer.from_preset(str(tmp_path))
    finetune(model, qa_params(64, seed=1), "extractive-qa", validation_split=0.0, epochs=10, batch_size=16,
             optimizer=keras.optimizers.Adam(3e-3), verbose=0, max_length=32)
    held_out = qa_params(16, seed=2)
    got = model({"question": held_out["questions"], "context": held_out["contexts"]}, task="extractive-qa")
    assert np.mean([g["answer"] == want for g, want in zip(got, held_out["answers"])]) >= 0.75
    folder = kerasprop.save(model, name="tiny-qa")
    restored = kerasprop.load(folder)
    assert type(restored) is ExtractiveQuestionAnswerer
    again = restored({"question": held_out["questions"], "context": held_out["contexts"]}, task="extractive-qa")
    assert [a["answer"] for a in again] == [a["answer"] for a in got]
    assert np.allclose([a["score"] for a in again], [a["score"] for a in got], atol=1e-5)
    task = kerasprop.ExtractiveQA(str(folder))
    assert task(held_out["questions"][0], held_out["contexts"][0]) == got[0]


def test_finetuning_params_are_validated(model):
    with pytest.raises(ValueError, match="does not occur in contexts\\[0\\]"):
        finetune(model, {"questions": ["Who?"], "contexts": ["Alice."], "answers": ["Bob"]}, "extractive-qa",
                 validation_split=0.0)
    with pytest.raises(ValueError, match="is not at answer_starts\\[0\\]=1"):
        finetune(model, {"questions": ["Who?"], "contexts": ["Alice."], "answers": ["Alice"], "answer_starts": [1]},
                 "extractive-qa", validation_split=0.0)
