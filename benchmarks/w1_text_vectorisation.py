"""W1: text-vectorisation of 512 sentences of 15-25 words, all-MiniLM-L6-v2, batch 32.

kerasprop's `SentenceEmbedder` against sentence-transformers `encode`, in one
process, on the bundled real weights. Prints one line per measurement (texts/s
in steady state, best of `--repeats`; first-call time including compilation;
peak memory growth of each phase) and a ratio line per kerasprop
`matmul_precision` (float32, and bfloat16 operands with float32 accumulation).
A figure only counts if every vector is within cosine 0.9999 of the reference.

    KERAS_BACKEND=jax python benchmarks/w1_text_vectorisation.py
"""

import argparse
import os
import random
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

WORDS = (
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night point "
    "home water room mother area money story fact month lot right study book eye job word business issue "
    "side kind head house service friend father power hour game line end member law car city community "
    "name president team minute idea kid body information back parent face others level office door health "
    "person art war history party result change morning reason research girl guy moment air teacher force "
    "education good new first last long great little own other old right big high different small large "
    "next early young important few public bad same able make go know take see come think look want give "
    "use find tell ask seem feel try leave call keep let begin help show hear play run move like live "
    "believe bring happen write sit stand lose pay meet include continue set learn lead understand watch"
).split()


def sentences(count=512, seed=0):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(15, 25))).capitalize() + "." for _ in range(count)]


class PeakMemory:
    """Peak resident-memory growth (MiB) of this process while the block runs, sampled every 5 ms."""

    def __enter__(self):
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.growth = (max(self.peak, _rss()) - self.start) / 2**20


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def best_rate(fn, texts, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(texts)
        times.append(time.perf_counter() - start)
    return len(texts) / min(times)


def flops_per_text(lengths, batch_size, hidden=384, intermediate=1536, layers=6):
    """Multiply-adds x 2 of all-MiniLM-L6-v2 on these token counts, each length-sorted batch padded to its longest."""
    lengths = sorted(lengths)
    total = 0
    for i in range(0, len(lengths), batch_size):
        batch = lengths[i : i + batch_size]
        padded = max(batch)
        dense = 2 * (4 * hidden * hidden + 2 * hidden * intermediate)
        attention = 4 * padded * hidden
        total += len(batch) * padded * layers * (dense + attention)
    return total / len(lengths)


def matmul_gflops(rows=32 * 24, hidden=384, intermediate=1536, seconds=2.0):
    """float32 matmul throughput of this machine through JAX, on the model's feed-forward shape."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((rows, hidden), "float32")
    b = jnp.ones((hidden, intermediate), "float32")
    step = jax.jit(lambda a, b: (a @ b)[:, :hidden] * 1e-3 + a)
    a = step(a, b).block_until_ready()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a = step(a, b)
        count += 1
    a.block_until_ready()
    return count * 2 * rows * hidden * intermediate / (time.perf_counter() - start) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--matmul-precision", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16", "auto"], help="kerasprop rows to measure")
    parser.add_argument("--int8", action="store_true",
                        help="also measure the model with int8 weights (quantize='int8'; counts at cosine >= 0.99)")
    args = parser.parse_args()
    texts = sentences(args.texts)

    import keras
    import keras_hub  # noqa: F401  (imported before the phases: memory figures exclude imports)
    import torch
    from sentence_transformers import SentenceTransformer

    from kerasprop.hub.catalog import bundled_path
    from kerasprop.models import AutoModel

    folder = str(bundled_path("all-minilm-l6-v2"))
    backend = keras.backend.backend()
    print(f"W1 text-vectorisation: {len(texts)} sentences, batch {args.batch_size}, keras backend {backend}, "
          f"torch threads {torch.get_num_threads()}")

    rates, vectors = {}, {}
    rows = list(args.matmul_precision) + (["int8"] if args.int8 else [])
    for precision in rows:
        with PeakMemory() as kp_memory:
            if precision == "int8":
                model = AutoModel.from_pretrained("all-minilm-l6-v2")
                model.quantize("int8")
            else:
                model = AutoModel.from_pretrained("all-minilm-l6-v2", matmul_precision=precision)
            start = time.perf_counter()
            vectors[precision] = model.encode_text(texts, batch_size=args.batch_size)
            first = time.perf_counter() - start
            rates[precision] = best_rate(lambda t: model.encode_text(t, batch_size=args.batch_size), texts, args.repeats)
            api_rate = best_rate(lambda t: model({"text": t}, task="text-vectorisation"), texts, args.repeats)
        name = f"kerasprop ({backend}, {'int8 weights' if precision == 'int8' else 'matmul_precision=' + precision})"
        print(f"{name} first call (tokenise + compile + run): {first:.2f} s")
        print(f"{name} encode_text: {rates[precision]:.1f} texts/s")
        print(f"{name} task API (plain JSON lists): {api_rate:.1f} texts/s")
        print(f"{name} peak memory growth (load + runs, imports excluded): {kp_memory.growth:.0f} MiB")

    with PeakMemory() as st_memory:
        reference = SentenceTransformer(folder, device="cpu")
        start = time.perf_counter()
        expected = reference.encode(texts, batch_size=args.batch_size)
        st_first = time.perf_counter() - start
        st_rate = best_rate(lambda t: reference.encode(t, batch_size=args.batch_size), texts, args.repeats)
    print(f"sentence-transformers first call: {st_first:.2f} s")
    print(f"sentence-transformers encode: {st_rate:.1f} texts/s")
    print(f"sentence-transformers peak memory growth (load + runs, imports excluded): {st_memory.growth:.0f} MiB")

    lengths = [len(ids) for ids in reference.tokenizer(texts)["input_ids"]]
    gflops = matmul_gflops()
    limit = gflops * 1e9 / flops_per_text(lengths, args.batch_size)
    print(f"compute limit: {limit:.0f} texts/s ({flops_per_text(lengths, args.batch_size) / 1e9:.3f} GFLOP per text, "
          f"{np.mean(lengths):.1f} tokens on average; float32 matmul {gflops:.0f} GFLOP/s through JAX); "
          f"reference at {st_rate / limit:.0%} of it")
    for precision, ours in vectors.items():
        cosine = (ours * expected).sum(-1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(expected, axis=-1)
        needed = 0.99 if precision == "int8" else 0.9999
        verdict = "counts" if cosine.min() > needed else "DOES NOT COUNT"
        row = "int8 weights" if precision == "int8" else f"matmul_precision={precision}"
        print(f"ratio kerasprop/sentence-transformers ({backend}, {row}): "
              f"{rates[precision] / st_rate:.2f}x (target >= 1.25x); {rates[precision] / limit:.0%} of the float32 "
              f"limit; min cosine to reference {cosine.min():.6f} ({verdict})")


if __name__ == "__main__":
    main()
