"""Builds `presets/bert-tiny-squad`: a small cased BERT for extractive QA (SQuAD-style spans).

Contexts and questions come from `synthetic_spans.qa_examples` (two people per
context; questions about a city, job, object, date or age, so answers sit at
varied positions); the WordPiece vocabulary is learnt from them; the model is
trained from scratch through kerasprop's own `finetune`. The card reports exact
match on held-out contexts whose names and cities never occur in training.

Run from the repository root (a few minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.bert_squad

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import collections
import random
import sys

import keras
import numpy as np

from presets.recipes import common
from presets.recipes import synthetic_spans

NAME = "bert-tiny-squad"
SEED = 20261121
TRAIN_EXAMPLES = 6000
HELDOUT_EXAMPLES = 200
RECORDED = 8
VOCABULARY_SIZE = 1000
SEQUENCE_LENGTH = 128
WIDTH = 64
EPOCHS = 4
BATCH_SIZE = 32
LEARNING_RATE = 3e-3


def build_and_train(folder):
    from kerasprop.models.tokens.extractive_qa import ExtractiveQuestionAnswerer
    from kerasprop.training import finetune

    stopwatch = common.Stopwatch()
    examples = synthetic_spans.qa_examples(random.Random(SEED), TRAIN_EXAMPLES)
    vocabulary = synthetic_spans.wordpiece_vocabulary(
        [e["question"] + " " + e["context"] for e in examples], VOCABULARY_SIZE
    )
    backbone, preprocessor = synthetic_spans.tiny_bert(vocabulary, SEQUENCE_LENGTH, width=WIDTH)
    model = ExtractiveQuestionAnswerer(backbone, preprocessor=preprocessor)
    steps = EPOCHS * (TRAIN_EXAMPLES // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 10, warmup_target=LEARNING_RATE, warmup_steps=steps // 10
    )
    params = {"questions": [e["question"] for e in examples], "contexts": [e["context"] for e in examples],
              "answers": [e["answer"] for e in examples], "answer_starts": [e["answer_start"] for e in examples]}
    finetune(model, params, "extractive-qa", validation_split=0.0, epochs=EPOCHS, batch_size=BATCH_SIZE,
             optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01), seed=SEED, verbose=2,
             max_length=SEQUENCE_LENGTH)
    train_seconds = stopwatch()
    synthetic_spans.save_weights_only(model, folder)
    return train_seconds


def heldout_examples(count):
    return synthetic_spans.qa_examples(random.Random(SEED + 1), count, split="heldout")


def question_type(question):
    """"where", "what", "when" or "how old": the kind of answer a question asks for."""
    words = question.lower().split()
    return "how old" if words[:2] == ["how", "old"] else "where" if "city" in words else words[0]


def exact_match(answers, examples):
    """The fraction of answers whose span is exactly the expected one."""
    return float(np.mean([(a["start"], a["end"]) == (e["answer_start"], e["answer_start"] + len(e["answer"]))
                          for a, e in zip(answers, examples)]))


def evaluate(folder):
    """Exact match on held-out contexts (overall and per question type), through `model(..., task="extractive-qa")`."""
    from kerasprop.models.tokens.extractive_qa import ExtractiveQuestionAnswerer

    model = ExtractiveQuestionAnswerer.from_preset(str(folder))
    examples = heldout_examples(HELDOUT_EXAMPLES)
    answers = model({"question": [e["question"] for e in examples], "context": [e["context"] for e in examples]},
                    task="extractive-qa")
    by_type = collections.defaultdict(list)
    for answer, example in zip(answers, examples):
        by_type[question_type(example["question"])].append((answer, example))
    quality = {
        "exact_match": exact_match(answers, examples),
        "exact_match_by_question": {kind: exact_match(*zip(*pairs)) for kind, pairs in sorted(by_type.items())},
        "questions_by_type": {kind: len(pairs) for kind, pairs in sorted(by_type.items())},
        "heldout_examples": HELDOUT_EXAMPLES,
    }
    records = {
        "seed": SEED + 1,
        "quality": quality,
        "extractive-qa": [{"input": {"question": e["question"], "context": e["context"]}, "output": a}
                          for e, a in zip(examples[:RECORDED], answers)],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    config = model.backbone.get_config()
    example = records["extractive-qa"][0]
    common.write_card(
        folder,
        f"{NAME}: a small BERT for extractive question answering (bundled, offline)",
        "No longer a default (`minilm-qa` is): a tiny `ExtractiveQA` model. It answers questions about short English paragraphs in the "
        "shape of its generated training data (where people live, their jobs, what they bought and when, their "
        "age) with a span of the context; a demonstration model that needs no download, not a general-purpose one.",
        [
            ("Tasks", "- `extractive-qa` (SQuAD-style: the answer is a span of the context)\n\n"
             f"Example: `{example['input']['question']}` on `{example['input']['context']}` -> "
             f"`{example['output']['answer']}`"),
            ("Architecture and size",
             f"BERT (`ExtractiveQuestionAnswerer` on keras-hub's `BertBackbone`): {config['num_layers']} layers, hidden size "
             f"{config['hidden_dim']}, {config['num_heads']} heads, feed-forward {config['intermediate_dim']}, "
             f"a cased WordPiece vocabulary of {config['vocabulary_size']} tokens learnt from the training "
             f"texts, {SEQUENCE_LENGTH} positions; {model.count_params():,} parameters, "
             f"{common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{TRAIN_EXAMPLES} questions and contexts generated by `presets/recipes/synthetic_spans.py` (from "
             "`synthetic_text.py`'s paragraphs about two people; half of them with made-up names and cities), no "
             "external dataset; released with kerasprop under Apache-2.0. Held-out contexts use names and cities "
             "that never occur in training."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"through `kerasprop.training.finetune` (AdamW, peak learning rate {LEARNING_RATE}, cosine decay); "
             f"training took {train_seconds / 60:.1f} minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table(
                 [("exact match (span), all questions", f"{quality['exact_match']:.3f}", HELDOUT_EXAMPLES)]
                 + [(f"exact match, \"{kind}\" questions", f"{value:.3f}", quality["questions_by_type"][kind])
                    for kind, value in quality["exact_match_by_question"].items()],
                 ("measure", "value", "questions"),
             )
             + "\n\n`expected.json` records the answers to the first held-out questions, which "
             "`tests/test_presets.py` re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
