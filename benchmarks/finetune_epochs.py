"""Seconds each extra epoch adds to a one-call `finetune`, against Keras iterating the data afresh every epoch.

`Task.finetune` hands Keras datasets that repeat, with the steps of one epoch, so `fit` keeps one `tf.data`
iterator for the whole run. The reference is the same finetuning on datasets Keras iterates afresh each epoch
(what `fit` does with a plain dataset): every new iterator instantiates the preprocessing graph keras-hub maps
over the data, and Keras makes two per epoch for training and two for validation. This finetunes the bundled
text-generation default (gpt2-tiny-pydocs) on 24 prompt/response pairs for 1 and for `--epochs` epochs, both
ways, each from a freshly loaded model, and prints the seconds per extra epoch and the ratio.

    KERAS_BACKEND=tensorflow python benchmarks/finetune_epochs.py [--epochs 5]
"""

import argparse
import importlib
import time

PARAMS = {
    "input_text": [f"The {animal} sat on the {place}" for animal in ("cat", "dog", "bird", "fox")
                   for place in ("mat", "log", "roof", "wall", "step", "chair")],
    "output_text": ["and then it went to sleep."] * 24,
}


def fresh_iterators(repeating):
    """The reference: kerasprop's dataset cut to one pass, so Keras makes new iterators every epoch."""

    def dataset(*args, **kwargs):
        data, steps = repeating(*args, **kwargs)
        return data.take(steps), None

    return dataset


def finetune_seconds(epochs):
    import kerasprop

    task = kerasprop.TextGeneration("gpt2-tiny-pydocs")
    start = time.perf_counter()
    task.finetune(PARAMS, validation_split=0.25, epochs=epochs, batch_size=6, early_stopping_epochs=0, verbose=0)
    return time.perf_counter() - start


def per_extra_epoch(epochs):
    return (finetune_seconds(epochs) - finetune_seconds(1)) / (epochs - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2")
    import keras

    finetuning = importlib.import_module("kerasprop.training.finetune")
    finetune_seconds(1)  # compiles and warms the caches both ways share
    kerasprop_epoch = per_extra_epoch(args.epochs)
    repeating = finetuning._dataset
    finetuning._dataset = fresh_iterators(repeating)
    try:
        reference_epoch = per_extra_epoch(args.epochs)
    finally:
        finetuning._dataset = repeating
    print(f"finetune gpt2-tiny-pydocs ({keras.config.backend()}), seconds per extra epoch: kerasprop "
          f"{kerasprop_epoch:.2f}, fresh iterators every epoch {reference_epoch:.2f}: "
          f"{reference_epoch / kerasprop_epoch:.1f}x")


if __name__ == "__main__":
    main()
