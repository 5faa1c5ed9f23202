"""Builds `presets/bert-tiny-ner`: a small cased BERT that finds persons, places and organisations.

Sentences come from `synthetic_spans.ner_examples` (CoNLL-style tags); the
WordPiece vocabulary is learnt from them; the model is trained from scratch
through kerasprop's own `finetune`. The card reports entity-level precision,
recall and F1 on held-out sentences whose names, places and organisations never
occur in training.

Run from the repository root (a few minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.bert_ner

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import random
import sys

import keras
import numpy as np

from presets.recipes import common
from presets.recipes import synthetic_spans

NAME = "bert-tiny-ner"
SEED = 20261121
TRAIN_SENTENCES = 4000
HELDOUT_SENTENCES = 200
RECORDED = 8
VOCABULARY_SIZE = 1000
SEQUENCE_LENGTH = 64
WIDTH = 64
EPOCHS = 6
BATCH_SIZE = 32
LEARNING_RATE = 3e-3


def build_and_train(folder):
    from kerasprop.models.tokens.token_classifier import TokenClassifier
    from kerasprop.training import finetune

    stopwatch = common.Stopwatch()
    examples = synthetic_spans.ner_examples(random.Random(SEED), TRAIN_SENTENCES)
    vocabulary = synthetic_spans.wordpiece_vocabulary([e["text"] for e in examples], VOCABULARY_SIZE)
    backbone, preprocessor = synthetic_spans.tiny_bert(vocabulary, SEQUENCE_LENGTH, width=WIDTH)
    model = TokenClassifier(backbone, class_names=synthetic_spans.NER_TAGS, preprocessor=preprocessor)
    steps = EPOCHS * (TRAIN_SENTENCES // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 10, warmup_target=LEARNING_RATE, warmup_steps=steps // 10
    )
    params = {"tokens": [e["tokens"] for e in examples], "tags": [e["tags"] for e in examples]}
    finetune(model, params, "token-classification", validation_split=0.0, epochs=EPOCHS, batch_size=BATCH_SIZE,
             optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01), seed=SEED, verbose=2,
             max_length=SEQUENCE_LENGTH)
    train_seconds = stopwatch()
    synthetic_spans.save_weights_only(model, folder)
    return train_seconds


def heldout_sentences(count):
    return synthetic_spans.ner_examples(random.Random(SEED + 1), count, split="heldout")


def entity_scores(predicted, sentences):
    """Entity-level precision, recall and F1: an entity counts when its type, start and end are all right."""
    found = {(i, e["entity_group"], e["start"], e["end"]) for i, entities in enumerate(predicted) for e in entities}
    gold = {(i, *entity) for i, sentence in enumerate(sentences) for entity in sentence["entities"]}
    right = len(found & gold)
    precision, recall = right / max(len(found), 1), right / max(len(gold), 1)
    return {"entity_precision": precision, "entity_recall": recall,
            "entity_f1": 2 * precision * recall / max(precision + recall, 1e-9)}


def evaluate(folder):
    """Entity-level scores on held-out sentences, through `model(task_input, task="token-classification")`."""
    from kerasprop.models.tokens.token_classifier import TokenClassifier

    model = TokenClassifier.from_preset(str(folder))
    sentences = heldout_sentences(HELDOUT_SENTENCES)
    predicted = model({"text": [s["text"] for s in sentences], "aggregation": "simple"}, task="token-classification")
    by_word = model({"text": [s["text"] for s in sentences], "aggregation": "average"}, task="token-classification")
    quality = {**entity_scores(predicted, sentences),
               "entity_f1_aggregation_average": entity_scores(by_word, sentences)["entity_f1"],
               "heldout_sentences": HELDOUT_SENTENCES}
    records = {
        "seed": SEED + 1,
        "quality": quality,
        "token-classification": [{"input": {"text": s["text"]}, "output": p}
                                 for s, p in zip(sentences[:RECORDED], predicted)],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    config = model.backbone.get_config()
    example = records["token-classification"][1]
    common.write_card(
        folder,
        f"{NAME}: a small BERT for named entities (bundled, offline)",
        "No longer a default (`minilm-ner` is): a tiny `TokenClassification` model. It tags persons, places and organisations in short "
        "English sentences in the shape of its generated training data; a demonstration model that needs no "
        "download, not a general-purpose one.",
        [
            ("Tasks", "- `token-classification` (named entities; tags "
             f"{', '.join(synthetic_spans.NER_TAGS)}; entity groups PER, LOC, ORG)\n\n"
             f"Example: `{example['input']['text']}` -> "
             + ", ".join(f"{e['entity_group']} `{e['word']}`" for e in example["output"])),
            ("Architecture and size",
             f"BERT (`TokenClassifier` on keras-hub's `BertBackbone`): {config['num_layers']} layers, hidden size "
             f"{config['hidden_dim']}, {config['num_heads']} heads, feed-forward {config['intermediate_dim']}, "
             f"a cased WordPiece vocabulary of {config['vocabulary_size']} tokens learnt from the training "
             f"sentences, {SEQUENCE_LENGTH} positions; {model.count_params():,} parameters, "
             f"{common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{TRAIN_SENTENCES} sentences generated by `presets/recipes/synthetic_spans.py` (templates filled "
             "with names, cities and organisations from `synthetic_text.py`'s pools), no external dataset; "
             "released with kerasprop under Apache-2.0. Held-out sentences use names, cities and organisations "
             "that never occur in training."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"through `kerasprop.training.finetune` (AdamW, peak learning rate {LEARNING_RATE}, cosine decay); "
             f"training took {train_seconds / 60:.1f} minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table(
                 [(name.replace("_", " "), f"{quality[name]:.3f}", quality["heldout_sentences"])
                  for name in ("entity_precision", "entity_recall", "entity_f1")]
                 + [("entity f1, aggregation \"average\" (one label per word)",
                     f"{quality['entity_f1_aggregation_average']:.3f}", quality["heldout_sentences"])],
                 ("measure (exact type and span; aggregation \"simple\" unless named)", "value",
                  "sentences"),
             )
             + "\n\nMost errors are unseen names split into small pieces that get different labels; "
             "`aggregation=\"average\"` gives each word one label."
             + "\n\n`expected.json` records the entities of the first held-out sentences, which "
             "`tests/test_presets.py` re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
