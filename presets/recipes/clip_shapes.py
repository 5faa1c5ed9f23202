"""Builds `presets/clip-tiny-shapes`: a small CLIP trained on generated pictures of shapes.

Pictures and captions come from `synthetic_images`; the BPE vocabulary holds
every caption word (other words fall back to characters). The model is
trained from scratch with CLIP's contrastive loss. The card reports zero-shot
accuracy on held-out pictures over the 24 labels "a {colour} {shape}".

Run from the repository root (about 15 minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.clip_shapes

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import sys
import random

import keras
import keras_hub
import numpy as np

from presets.recipes import common
from presets.recipes import synthetic_images

NAME = "clip-tiny-shapes"
SEED = 20261121
TRAIN_PICTURES = 5000
EPOCHS = 4
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
HELDOUT_PICTURES = 240
RECORDED = 8
SEQUENCE_LENGTH = 24
WIDTH = 96
#: OpenAI CLIP's pixel normalisation.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def caption_words():
    """Every word a caption can use."""
    rng = random.Random(SEED)
    return sorted({w.strip(",") for p in synthetic_images.pictures(rng, 3000) for w in p.caption.split()})


def bpe_vocabulary(words):
    """A byte-level BPE vocabulary holding `words` whole, and its merges (CLIP's `</w>` format).

    The end token gets the largest id: CLIP's text pooler takes the argmax of the ids.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    characters = list(bytes_to_unicode().values())
    vocabulary, merges = characters + [c + "</w>" for c in characters], []
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocabulary.append(pieces[0])
    vocabulary = list(dict.fromkeys(vocabulary)) + ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(vocabulary)}, list(dict.fromkeys(merges))


def build_model():
    from kerasprop.models.clip.clip_image_text import CLIP, CLIPImageTextPreprocessor

    vocabulary, merges = bpe_vocabulary(caption_words())
    tokenizer = keras_hub.models.CLIPTokenizer(vocabulary=vocabulary, merges=merges)
    size = synthetic_images.IMAGE_SIZE
    image_converter = keras_hub.layers.CLIPImageConverter(
        image_size=(size, size),
        scale=[1 / (255 * s) for s in CLIP_STD],
        offset=[-m / s for m, s in zip(CLIP_MEAN, CLIP_STD)],
    )
    preprocessor = CLIPImageTextPreprocessor(tokenizer, image_converter, sequence_length=SEQUENCE_LENGTH)
    backbone = keras_hub.models.CLIPBackbone(
        vision_encoder=keras_hub.models.CLIPVisionEncoder(
            patch_size=8, hidden_dim=WIDTH, num_layers=3, num_heads=4, intermediate_dim=2 * WIDTH,
            image_shape=(size, size, 3),
        ),
        text_encoder=keras_hub.models.CLIPTextEncoder(
            vocabulary_size=len(vocabulary), embedding_dim=WIDTH, hidden_dim=WIDTH, num_layers=2, num_heads=4,
            intermediate_dim=2 * WIDTH, max_sequence_length=SEQUENCE_LENGTH,
        ),
        projection_dim=WIDTH,
    )
    return CLIP(backbone=backbone, preprocessor=preprocessor)


def build_and_train(folder):
    stopwatch = common.Stopwatch()
    model = build_model()
    pictures = synthetic_images.pictures(random.Random(SEED), TRAIN_PICTURES)
    converter = model.preprocessor.image_converter
    pixels = np.concatenate(
        [keras.ops.convert_to_numpy(converter(np.stack([np.asarray(p.image, "float32") for p in pictures[i:i + 500]])))
         for i in range(0, len(pictures), 500)]
    )
    token_ids = model.preprocessor.pack_texts([p.caption for p in pictures])
    print(f"{len(pictures)} pictures, tokens {token_ids.shape}, {stopwatch():.0f}s", flush=True)

    backbone = model.backbone
    steps = EPOCHS * (len(pictures) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - steps // 20, warmup_target=LEARNING_RATE, warmup_steps=steps // 20
    )
    # CLIP's loss: each picture's caption is the right class among the batch's captions, and back.
    backbone.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.05),
        loss={
            "vision_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "text_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
    )
    targets = np.arange(BATCH_SIZE, dtype="int32")
    order = np.random.default_rng(SEED)
    for epoch in range(EPOCHS):
        losses = []
        permutation = order.permutation(len(pictures))
        for start in range(0, len(pictures) - BATCH_SIZE + 1, BATCH_SIZE):
            batch = permutation[start : start + BATCH_SIZE]
            x = {"images": pixels[batch], "token_ids": token_ids[batch]}
            losses.append(backbone.train_on_batch(x, {"vision_logits": targets, "text_logits": targets})[0])
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}, {stopwatch():.0f}s", flush=True)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def zero_shot_labels():
    return [f"a {label}" for label in synthetic_images.labels()]


def evaluate(folder):
    """Zero-shot accuracy on held-out pictures over all 24 labels, through `model(task_input, task=...)`."""
    from kerasprop.models.clip.clip_image_text import CLIP

    model = CLIP.from_preset(str(folder))
    pictures = synthetic_images.pictures(random.Random(SEED + 1), HELDOUT_PICTURES)
    labels = zero_shot_labels()
    scores = model({"image": [p.image for p in pictures], "labels": [labels] * len(pictures)},
                   task="image-classification")
    predicted = [max(s, key=s.get) for s in scores]
    pair = ["a red circle", "a blue square"]
    pair_pictures = [p for p in pictures if f"a {p.label}" in pair]
    pair_scores = model({"image": [p.image for p in pair_pictures], "labels": [pair] * len(pair_pictures)},
                        task="image-classification")
    quality = {
        "zero_shot_accuracy_24_labels": float(np.mean([y == f"a {p.label}" for y, p in zip(predicted, pictures)])),
        "zero_shot_accuracy_red_circle_vs_blue_square": float(
            np.mean([max(s, key=s.get) == f"a {p.label}" for s, p in zip(pair_scores, pair_pictures)])
        ),
        "red_circle_vs_blue_square_pictures": len(pair_pictures),
        "heldout_pictures": HELDOUT_PICTURES,
    }
    records = {
        "seed": SEED + 1,
        "quality": quality,
        "image-classification": [
            {"picture": i, "top": predicted[i], "top_score": max(scores[i].values())}
            for i in range(RECORDED)
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    vision = model.backbone.vision_encoder.get_config()
    text = model.backbone.text_encoder.get_config()
    common.write_card(
        folder,
        f"{NAME}: a small CLIP trained on generated pictures of shapes (bundled, offline)",
        "No longer a default (`minilm-shapes-lit` is): a tiny CLIP for `ImageClassification` (zero-shot), `ImageVectorisation` and "
        "`ImageTextVectorisation`. It knows coloured shapes on simple backgrounds (colours: "
        f"{', '.join(synthetic_images.COLOURS)}; shapes: {', '.join(synthetic_images.SHAPES)}; counts, sizes and "
        "places), and nothing else: a demonstration model that needs no download.",
        [
            ("Tasks", "- `image-classification` (zero-shot over any labels, e.g. \"a red circle\")\n"
             "- `image-vectorisation`, `text-vectorisation`, `image-text-vectorisation`"),
            ("Architecture and size",
             f"CLIP (`CLIP` on keras-hub's `CLIPBackbone`): a ViT image tower on {vision['image_shape'][0]}x"
             f"{vision['image_shape'][1]} pictures (patches of {vision['patch_size']}, {vision['num_layers']} layers, "
             f"width {vision['hidden_dim']}), a text tower of {text['num_layers']} layers (width {text['hidden_dim']}, "
             f"{text['vocabulary_size']} BPE tokens), {model.backbone.projection_dim}-dimensional vectors; "
             f"{model.count_params():,} parameters, {common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{TRAIN_PICTURES} pictures and captions generated with PIL by "
             "`presets/recipes/synthetic_images.py` (one to three shapes, colour, size, place, plain/striped/"
             "dotted background); no external data; released with kerasprop under Apache-2.0. Held-out pictures "
             "are drawn with another seed."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} with CLIP's "
             f"contrastive loss (AdamW, peak learning rate {LEARNING_RATE}, cosine decay); training took "
             f"{train_seconds / 60:.1f} minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             common.table(
                 [
                     ("zero-shot accuracy, 24 labels \"a {colour} {shape}\"",
                      f"{quality['zero_shot_accuracy_24_labels']:.3f}", quality["heldout_pictures"]),
                     ("zero-shot accuracy, \"a red circle\" vs \"a blue square\"",
                      f"{quality['zero_shot_accuracy_red_circle_vs_blue_square']:.3f}",
                      quality["red_circle_vs_blue_square_pictures"]),
                 ],
                 ("measure", "value", "pictures"),
             )
             + "\n\n`expected.json` records the top label of the first held-out pictures, which "
             "`tests/test_presets.py` re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
