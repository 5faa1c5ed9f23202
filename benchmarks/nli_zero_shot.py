"""Zero-shot text classification: 64 texts x 4 labels through an NLI RoBERTa.

kerasprop's `NLIZeroShotClassifier` against the transformers
"zero-shot-classification" pipeline (multi-label, batch 32), in one process,
on one random RoBERTa checkpoint (hidden 256, 4 layers) written here with
transformers. Prints one line per measurement (pairs/s in steady state, best of
`--repeats`; first-call time including compilation) and a final ratio line.
The figure only counts if every score is within 1e-4 of the reference.

    KERAS_BACKEND=jax python benchmarks/nli_zero_shot.py
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

WORDS = "the a new phone game team city law film market doctor music school price vote goal cloud".split()
LABELS = ["sports", "politics", "technology", "health"]


def texts(count, seed=0):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) for _ in range(count)]


def write_checkpoint(folder):
    import torch
    import transformers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + list(bytes_to_unicode().values()) + ["<mask>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    tokenizer = transformers.RobertaTokenizer(vocab=vocab, merges=[])
    torch.manual_seed(0)
    config = transformers.RobertaConfig(
        vocab_size=len(vocab), hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
        max_position_embeddings=514, num_labels=3, id2label={0: "contradiction", 1: "neutral", 2: "entailment"},
        label2id={"contradiction": 0, "neutral": 1, "entailment": 2},
    )
    model = transformers.RobertaForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    return tokenizer, model


def timed(fn, repeats):
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return result, first, best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import keras
    import torch
    import transformers

    from kerasprop.models import NLIZeroShotClassifier

    inputs = texts(args.texts)
    pairs = len(inputs) * len(LABELS)
    with tempfile.TemporaryDirectory() as folder:
        tokenizer, model = write_checkpoint(folder)
        pipeline = transformers.pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device="cpu")
        classifier = NLIZeroShotClassifier.from_preset(folder)

    def reference():
        with torch.no_grad():
            return pipeline(inputs, candidate_labels=LABELS, multi_label=True, batch_size=32,
                            hypothesis_template="This example is {}.")

    def ours():
        return classifier({"text": inputs, "labels": LABELS}, task="text-classification")

    expected, ref_first, ref_best = timed(reference, args.repeats)
    actual, our_first, our_best = timed(ours, args.repeats)
    error = max(abs(result[label] - dict(zip(want["labels"], want["scores"]))[label])
                for result, want in zip(actual, expected) for label in LABELS)
    backend = keras.backend.backend()
    print(f"transformers pipeline  first call {ref_first:.2f}s  steady {pairs / ref_best:.1f} pairs/s")
    print(f"kerasprop ({backend})  first call {our_first:.2f}s  steady {pairs / our_best:.1f} pairs/s")
    print(f"max score difference {error:.2e} ({'ok' if error < 1e-4 else 'MISMATCH: figure does not count'})")
    print(f"ratio kerasprop/transformers steady: {ref_best / our_best:.2f}x")


if __name__ == "__main__":
    main()
