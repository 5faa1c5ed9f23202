"""Time to quantize a loaded model to int8: kerasprop's `model.quantize` vs Keras' own `backbone.quantize`.

Both quantize the same freshly loaded all-MiniLM-L6-v2 backbone with the same layer filter; Keras' layers run a
full garbage collection for every float variable they drop, which kerasprop runs once. Both give the same
vectors afterwards (checked). `--ballast` keeps that many more MiniLM copies alive first, as a serving or
notebook process holds other models: each collection then walks more objects.

    KERAS_BACKEND=jax python benchmarks/quantize_time.py [--repeats 3] [--ballast 2]
"""

import argparse
import statistics
import time

import numpy as np

from kerasprop.models import AutoModel
from kerasprop.models.task_model import _quantizable

TEXTS = ["int8 weights make a model four times smaller.", "The quantized vectors stay close to float32 ones."]


def timed_quantize(quantize):
    model = AutoModel.from_pretrained("all-minilm-l6-v2")
    start = time.perf_counter()
    quantize(model)
    return time.perf_counter() - start, model.encode_text(TEXTS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ballast", type=int, default=0, help="other MiniLM models kept alive in the process")
    args = parser.parse_args()
    ballast = [AutoModel.from_pretrained("all-minilm-l6-v2") for _ in range(args.ballast)]
    legs = {"keras backbone.quantize": lambda m: m.backbone.quantize("int8", filters=_quantizable),
            "kerasprop model.quantize": lambda m: m.quantize("int8")}
    times, vectors = {name: [] for name in legs}, {}
    for _ in range(args.repeats):
        for name, quantize in legs.items():  # interleaved
            seconds, vectors[name] = timed_quantize(quantize)
            times[name].append(seconds)
    for name, found in times.items():
        print(f"{name}: median {statistics.median(found):.2f}s over {args.repeats} (min {min(found):.2f}s)")
    reference, ours = (statistics.median(found) for found in times.values())
    assert np.array_equal(*vectors.values()), "the two quantizations give different vectors"
    print(f"vectors identical; {len(ballast)} other models alive")
    print(f"ratio kerasprop / keras time to quantize: {ours / reference:.3f} (speed-up {reference / ours:.1f}x)")


if __name__ == "__main__":
    main()
