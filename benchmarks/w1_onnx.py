"""W1's second anchor: sentence-transformers on its ONNX backend against kerasprop's exported ONNX and native paths.

Same 512 sentences and batch as W1, one run, one machine. sentence-transformers
(`backend="onnx"`, onnxruntime, exported by optimum from the bundled weights)
runs in `--st-python`: optimum needs transformers < 4.58 while the test extra
has transformers 5, so give it a virtual environment of its own, e.g.

    python -m venv --system-site-packages /tmp/stenv
    /tmp/stenv/bin/pip install "optimum[onnxruntime]" "sentence-transformers>=3.2,<5.2"
    KERAS_BACKEND=jax python benchmarks/w1_onnx.py --st-python /tmp/stenv/bin/python

kerasprop's rows: its ONNX export (`kerasprop.export`, token ids from the shipped
tokenizer.json, length-sorted batches padded to their longest text, onnxruntime
with default settings, as sentence-transformers uses it) and the native
`encode_text` in float32 and with int8 weights. A row counts only if every
vector is within cosine 0.9999 (0.99 for int8) of sentence-transformers'
PyTorch vectors.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402

from w1_text_vectorisation import best_rate, sentences  # noqa: E402

ST_ONNX = """
import json, sys, time
import numpy as np
from sentence_transformers import SentenceTransformer
folder, texts_file, out, batch_size, repeats = sys.argv[1:6]
texts = json.load(open(texts_file))
model = SentenceTransformer(folder, device="cpu", backend="onnx")
start = time.perf_counter()
vectors = model.encode(texts, batch_size=int(batch_size))
first = time.perf_counter() - start
best = 0.0
for _ in range(int(repeats)):
    start = time.perf_counter()
    model.encode(texts, batch_size=int(batch_size))
    best = max(best, len(texts) / (time.perf_counter() - start))
np.save(out, vectors)
print(json.dumps({"rate": best, "first": first}))
"""


def sentence_transformers_onnx(python, folder, texts, batch_size, repeats):
    """(texts/s, first-call seconds, vectors) of sentence-transformers' ONNX backend, run by `python`."""
    with tempfile.TemporaryDirectory() as work:
        copy = os.path.join(work, "model")
        shutil.copytree(folder, copy)  # optimum exports beside the weights; the bundled folder stays untouched
        with open(os.path.join(work, "texts.json"), "w") as f:
            json.dump(texts, f)
        env = {**os.environ, "USE_TF": "0", "HF_HUB_OFFLINE": "1"}
        result = subprocess.run([python, "-c", ST_ONNX, copy, os.path.join(work, "texts.json"),
                                 os.path.join(work, "vectors.npy"), str(batch_size), str(repeats)],
                                capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise SystemExit(f"sentence-transformers ONNX leg failed:\n{result.stderr[-2000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        return figures["rate"], figures["first"], np.load(os.path.join(work, "vectors.npy"))


class ExportedEncoder:
    """kerasprop's ONNX export run by onnxruntime: shipped tokenizer, length-sorted batches."""

    def __init__(self, folder, batch_size):
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.tokenizer.no_padding()
        self.session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"))
        self.batch_size = batch_size

    def __call__(self, texts):
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = np.argsort([-len(row) for row in ids], kind="stable")
        vectors = np.empty((len(texts), 384), dtype="float32")
        for begin in range(0, len(order), self.batch_size):
            rows = order[begin:begin + self.batch_size]
            length = max(len(ids[i]) for i in rows)
            batch = np.zeros((len(rows), length), dtype="int32")
            for j, i in enumerate(rows):
                batch[j, :len(ids[i])] = ids[i]
            vectors[rows] = self.session.run(None, {"token_ids": batch})[0]
        return vectors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--st-python", default=sys.executable,
                        help="a Python with sentence-transformers and optimum[onnxruntime] (see above)")
    args = parser.parse_args()
    texts = sentences(args.texts)

    import keras
    from sentence_transformers import SentenceTransformer

    from kerasprop.export import export
    from kerasprop.hub.catalog import bundled_path
    from kerasprop.models import AutoModel

    folder = str(bundled_path("all-minilm-l6-v2"))
    expected = SentenceTransformer(folder, device="cpu").encode(texts, batch_size=args.batch_size)
    print(f"W1 (ONNX anchor): {len(texts)} sentences, batch {args.batch_size}, keras backend {keras.backend.backend()}")

    st_rate, st_first, st_vectors = sentence_transformers_onnx(args.st_python, folder, texts, args.batch_size,
                                                               args.repeats)
    rows = {}
    with tempfile.TemporaryDirectory() as work:
        export("all-minilm-l6-v2", os.path.join(work, "onnx"), format="onnx")
        encoder = ExportedEncoder(os.path.join(work, "onnx"), args.batch_size)
        start = time.perf_counter()
        vectors = encoder(texts)
        first = time.perf_counter() - start
        rows["kerasprop ONNX export (onnxruntime)"] = (best_rate(encoder, texts, args.repeats), first, vectors, 0.9999)
    for label, int8 in (("kerasprop native float32", False), ("kerasprop native int8 weights", True)):
        model = AutoModel.from_pretrained("all-minilm-l6-v2")
        if int8:
            model.quantize("int8")
        start = time.perf_counter()
        vectors = model.encode_text(texts, batch_size=args.batch_size)
        first = time.perf_counter() - start
        rate = best_rate(lambda t: model.encode_text(t, batch_size=args.batch_size), texts, args.repeats)
        rows[label] = (rate, first, vectors, 0.99 if int8 else 0.9999)

    def min_cosine(vectors):
        return float(((vectors * expected).sum(-1) / np.linalg.norm(vectors, axis=-1)
                      / np.linalg.norm(expected, axis=-1)).min())

    print(f"sentence-transformers ONNX backend: {st_rate:.1f} texts/s (first call {st_first:.2f} s; "
          f"min cosine to its PyTorch vectors {min_cosine(st_vectors):.6f})")
    for label, (rate, first, vectors, needed) in rows.items():
        cosine = min_cosine(vectors)
        verdict = "counts" if cosine >= needed else "DOES NOT COUNT"
        print(f"{label}: {rate:.1f} texts/s = {rate / st_rate:.2f}x sentence-transformers ONNX "
              f"(first call {first:.2f} s; min cosine {cosine:.6f}, {verdict})")


if __name__ == "__main__":
    main()
