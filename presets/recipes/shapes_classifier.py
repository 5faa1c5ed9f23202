"""Builds `presets/resnet-tiny-shapes`: a small supervised image classifier of coloured shapes.

A small ResNet (`SupervisedImageClassifier` on keras-hub's `ResNetBackbone`)
learns the 24 labels "{colour} {shape}" from pictures drawn by
`synthetic_images`. It is trained through the finetuning path every kerasprop
model offers (`pre_finetuning`, `process_batch`, `compile`, `fit` on tf.data
with the model's own preprocessor), so it stays finetunable on new labels.

Run from the repository root (about 10 minutes on 2 idle CPU cores):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.shapes_classifier

`--evaluate-only` re-measures a built preset and rewrites its card and
`expected.json` without training.
"""

import sys
import random

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from presets.recipes import common
from presets.recipes import synthetic_images

NAME = "resnet-tiny-shapes"
SEED = 20261121
TRAIN_PICTURES = 4000
EPOCHS = 4
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
HELDOUT_PICTURES = 240
RECORDED = 8


def build_model():
    from kerasprop.models.classifiers.image_classifier import SupervisedImageClassifier

    size = synthetic_images.IMAGE_SIZE
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 64, 128],
        stackwise_num_blocks=[1, 1, 1], stackwise_num_strides=[1, 2, 2], block_type="basic_block",
        image_shape=(size, size, 3),
    )
    converter = keras_hub.layers.ResNetImageConverter(image_size=(size, size), scale=1 / 255.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    labels = synthetic_images.labels()
    return SupervisedImageClassifier(
        backbone=backbone, preprocessor=preprocessor, num_classes=len(labels), labels=labels
    )


def build_and_train(folder):
    stopwatch = common.Stopwatch()
    model = build_model()
    pictures = synthetic_images.pictures(random.Random(SEED), TRAIN_PICTURES)
    params = {"images": [p.image for p in pictures], "labels": [p.label for p in pictures]}
    model.pre_finetuning(labels=synthetic_images.labels())
    x, y = model.process_batch(params, task="image-classification")
    model.compile(optimizer=keras.optimizers.AdamW(LEARNING_RATE, weight_decay=0.01))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=SEED).batch(BATCH_SIZE)
    model.fit(dataset, epochs=EPOCHS, verbose=2)
    train_seconds = stopwatch()
    model.save_to_preset(folder)
    return train_seconds


def evaluate(folder):
    """Accuracy on held-out pictures through `model(task_input, task="image-classification")`."""
    from kerasprop.models.classifiers.image_classifier import SupervisedImageClassifier

    model = SupervisedImageClassifier.from_preset(str(folder))
    pictures = synthetic_images.pictures(random.Random(SEED + 1), HELDOUT_PICTURES)
    scores = model({"image": [p.image for p in pictures], "top_k": 1}, task="image-classification")
    predicted = [next(iter(s)) for s in scores]
    records = {
        "seed": SEED + 1,
        "quality": {
            "accuracy_24_labels": float(np.mean([y == p.label for y, p in zip(predicted, pictures)])),
            "heldout_pictures": HELDOUT_PICTURES,
        },
        "image-classification": [
            {"picture": i, "top": predicted[i], "top_score": scores[i][predicted[i]]} for i in range(RECORDED)
        ],
    }
    return model, records


def write_card(folder, model, records, train_seconds):
    quality = records["quality"]
    config = model.backbone.get_config()
    common.write_card(
        folder,
        f"{NAME}: a small supervised classifier of coloured shapes (bundled, offline)",
        "A finetunable `ImageClassification` model that needs no download: it names the colour and shape "
        "in pictures like those of `clip-tiny-shapes`, over 24 labels, and is a small starting point for "
        "finetuning on your own labels (`ImageClassification(\"resnet-tiny-shapes\").finetune(...)`).",
        [
            ("Tasks", "- `image-classification` over its labels: "
             + ", ".join(f"`{label}`" for label in model.labels)),
            ("Architecture and size",
             f"ResNet (`SupervisedImageClassifier` on keras-hub's `ResNetBackbone`): basic blocks "
             f"{config['stackwise_num_blocks']} with {config['stackwise_num_filters']} filters on "
             f"{config['image_shape'][0]}x{config['image_shape'][1]} pictures, average pooling and a dense softmax "
             f"head; {model.count_params():,} parameters, {common.folder_size_mb(folder):.1f} MB on disk."),
            ("Data and licence",
             f"{TRAIN_PICTURES} pictures generated with PIL by `presets/recipes/synthetic_images.py`; no external "
             "data; released with kerasprop under Apache-2.0. Held-out pictures are drawn with another seed."),
            ("How it was built",
             f"`{common.command_line(__spec__.name)}`\n\nSeed {SEED}; {EPOCHS} epochs of batches of {BATCH_SIZE} "
             f"through the model's finetuning path (AdamW, learning rate {LEARNING_RATE}); training took "
             f"{train_seconds / 60:.1f} minutes on the build machine (2 shared CPU cores)."),
            ("Quality on held-out data",
             f"Accuracy {quality['accuracy_24_labels']:.3f} over the 24 labels on {quality['heldout_pictures']} "
             "held-out pictures. `expected.json` records the top label of the first held-out pictures, which "
             "`tests/test_presets.py` re-checks on every backend."),
        ],
    )


if __name__ == "__main__":
    common.run_recipe(sys.modules[__name__])
