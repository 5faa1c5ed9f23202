"""Predictions on preprocessed features: `predict_features` against Keras' `predict_on_batch` on a fresh load.

Keras runs a model eagerly before its predict function while any layer is
unbuilt, and a loaded keras-hub task's preprocessor layers are unbuilt, so
`keras.Model.predict_on_batch` on a freshly loaded model runs every batch twice.
`KerasTaskModel.predict_features` (what kerasprop's classifiers, token heads,
fill-mask, image and audio classifiers call) builds them once. MiniLM
classifier, batch 32 x 128 tokens; best of `--repeats`; outputs must be equal.

    KERAS_BACKEND=jax python benchmarks/predict_features.py
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")


def best_seconds(fn, repeats):
    fn()  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import keras
    import numpy as np

    from kerasprop.hub.catalog import bundled_path
    from kerasprop.models import SupervisedTextClassifier

    folder = str(bundled_path("all-minilm-l6-v2"))
    rng = np.random.default_rng(0)
    features = {"token_ids": rng.integers(1000, 20000, (32, 128)).astype("int32"),
                "padding_mask": np.ones((32, 128), bool), "segment_ids": np.zeros((32, 128), "int32")}
    fresh = SupervisedTextClassifier.from_preset(folder, num_classes=4)
    before = best_seconds(lambda: keras.Model.predict_on_batch(fresh, features), args.repeats)
    expected = keras.ops.convert_to_numpy(keras.Model.predict_on_batch(fresh, features))
    model = SupervisedTextClassifier.from_preset(folder, num_classes=4)
    model.set_weights(fresh.get_weights())  # the same head
    after = best_seconds(lambda: model.predict_features(features), args.repeats)
    difference = np.abs(model.predict_features(features) - expected).max()
    print(f"keras.Model.predict_on_batch on a fresh load ({keras.backend.backend()}): {before:.3f} s per batch")
    print(f"predict_features: {after:.3f} s per batch; max abs difference {difference:.1e}")
    print(f"ratio: {before / after:.2f}x faster")


if __name__ == "__main__":
    main()
