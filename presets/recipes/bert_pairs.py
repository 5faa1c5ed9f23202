"""Builds `presets/bert-tiny-pairs`: a small BERT that tells paraphrases from non-paraphrases.

It starts from the backbone of `presets/bert-tiny-fill-mask` (pretrained with
masked language modelling on the same vocabulary; build that first), as one
finetunes a pretrained BERT: trained from scratch, so small a BERT does not
learn to compare the two texts. Each pair describes a coloured shape twice in two different phrasings (see
`facts.SHAPE_TEMPLATES`): a paraphrase when colour and shape agree, otherwise
one of them differs (hard negatives). The pairs go through the tokenizer's pair
encoding. Colour-shape combinations are split: held-out pairs describe
combinations never seen in training.

Run from the repository root (about 3 minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.bert_pairs
"""

import itertools
import random
import sys

import keras
import keras_hub
import numpy as np

from presets.recipes import bert_fill_mask, common, facts

NAME = "bert-tiny-pairs"
SEED = 20261124
LABELS = ["not_paraphrase", "paraphrase"]
TRAIN_PAIRS = 4000
HELDOUT_PAIRS = 200
EPOCHS = 15
BATCH_SIZE = 32
LEARNING_RATE = 5e-4


def combinations(split):
    pairs = list(itertools.product(facts.COLOURS, facts.SHAPES))
    random.Random(SEED).shuffle(pairs)
    return pairs[::5] if split == "heldout" else [p for i, p in enumerate(pairs) if i % 5]


def pairs(split, size):
    """Finetuning params {"texts", "text_pairs", "labels"}, half of them paraphrases."""
    rng = random.Random(SEED + (split == "heldout"))
    chosen = combinations(split)
    params = {"texts": [], "text_pairs": [], "labels": []}
    for i in range(size):
        colour, shape = rng.choice(chosen)
        other_colour, other_shape = colour, shape
        if i % 2:
            if rng.random() < 0.5:
                other_colour = rng.choice([c for c in facts.COLOURS if c != colour])
            else:
                other_shape = rng.choice([s for s in facts.SHAPES if s != shape])
        first, second = rng.sample(facts.SHAPE_TEMPLATES, 2)
        params["texts"].append(facts.shape_sentence(first, colour, shape))
        params["text_pairs"].append(facts.shape_sentence(second, other_colour, other_shape))
        params["labels"].append(LABELS[i % 2 == 0])
    return params


def build_and_train(folder):
    from kerasprop.models.tokens.masked_lm import MaskedLM
    from kerasprop.models.classifiers.text_classifier import BertSupervisedTextClassifier

    stopwatch = common.Stopwatch()
    pretrained = MaskedLM.from_preset(str(common.PRESETS_DIR / bert_fill_mask.NAME))
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        pretrained.preprocessor.tokenizer, sequence_length=pretrained.backbone.max_sequence_length
    )
    backbone = pretrained.backbone
    model = BertSupervisedTextClassifier(
        backbone=backbone, preprocessor=preprocessor, num_classes=len(LABELS), class_names=LABELS, dropout=0.0,
        tasks=["text-pair-classification"],
        description="A small BERT that tells whether two descriptions of a coloured shape agree.",
    )
    x, y = model.process_batch(pairs("train", TRAIN_PAIRS), task="text-pair-classification",
                               max_length=backbone.max_sequence_length)
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(TRAIN_PAIRS, seed=SEED).batch(BATCH_SIZE)
    steps = EPOCHS * (TRAIN_PAIRS // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 20, warmup_target=LEARNING_RATE, warmup_steps=steps // 20
    )
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(data, epochs=EPOCHS, verbose=2)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def evaluate(folder):
    from kerasprop.models.classifiers.text_classifier import SupervisedTextClassifier

    model = SupervisedTextClassifier.from_preset(str(folder))
    heldout = pairs("heldout", HELDOUT_PAIRS)
    outputs = model({"text": heldout["texts"], "text_pair": heldout["text_pairs"]}, task="text-pair-classification")
    accuracy = float(np.mean([next(iter(out)) == label for out, label in zip(outputs, heldout["labels"])]))
    records = {
        "quality": {"accuracy": accuracy, "examples": HELDOUT_PAIRS},
        "text-pair-classification": [
            {"input": {"text": a, "text_pair": b}, "output": out, "label": label}
            for a, b, out, label in list(zip(heldout["texts"], heldout["text_pairs"], outputs, heldout["labels"]))[:6]
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    config = model.backbone.get_config()
    common.write_card(
        folder,
        f"{NAME}: a small BERT paraphrase classifier (bundled, offline)",
        "No longer a default (`minilm-pairs` is): a tiny `TextPairClassification` model. It tells whether two short descriptions of a coloured "
        "shape say the same (\"the ball is red .\" / \"there is a red ball .\" -> paraphrase); a demonstration "
        "model that needs no download, and a base for finetuning on your own pairs.",
        [
            ("Tasks", "- `text-pair-classification` (labels `paraphrase`, `not_paraphrase`; BERT's pair encoding)"),
            ("Architecture and size",
             "BERT (`BertSupervisedTextClassifier` on keras-hub's `BertTextClassifier`), the backbone of "
             f"`{bert_fill_mask.NAME}` finetuned with a new head: {config['num_layers']} "
             f"layers, hidden size {config['hidden_dim']}, {config['num_heads']} heads, feed-forward "
             f"{config['intermediate_dim']}, a word-level vocabulary of {config['vocabulary_size']} tokens; "
             f"{model.count_params():,} parameters, {common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             "Generated by this recipe from `presets/recipes/facts.py` (five phrasings of 8 colours x 8 shapes), "
             f"no external dataset; released with kerasprop under Apache-2.0. {TRAIN_PAIRS} training pairs; "
             "one colour-shape combination in five is held out of training."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"(AdamW, peak learning rate {LEARNING_RATE}, cosine decay); training took {train_seconds / 60:.1f} "
             "minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table([("accuracy", f"{records['quality']['accuracy']:.3f}", records["quality"]["examples"])],
                          ("measure", "value", "examples"))
             + "\n\nMeasured through `model(task_input, task=\"text-pair-classification\")`; `expected.json` "
             "records inputs and outputs."),
            ("Examples", "\n".join(f"- `{r['input']['text']}` / `{r['input']['text_pair']}` -> "
                                   f"`{next(iter(r['output']))}` (label: `{r['label']}`)"
                                   for r in records["text-pair-classification"])),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
