"""Zero-shot text classification: 64 texts x 4 labels through an NLI RoBERTa or DeBERTa-v3.

kerasprop's `NLIZeroShotClassifier` against the transformers
"zero-shot-classification" pipeline (multi-label, batch 32), in one process,
on one random checkpoint (hidden 256, 4 layers; `--architecture roberta` or
`deberta`, the latter with DeBERTa-v3's 256 position buckets) written here with
transformers. The two run in turns, repeat after repeat. Prints one line per
measurement (pairs/s in steady state, best of `--repeats`; first-call time
including compilation) and a final ratio line. The figure only counts if every
score is within 1e-4 of the reference.

    KERAS_BACKEND=jax python benchmarks/nli_zero_shot.py [--architecture deberta]
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


NLI_LABELS = {0: "contradiction", 1: "neutral", 2: "entailment"}
SIZE = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
            max_position_embeddings=512, num_labels=3, id2label=NLI_LABELS,
            label2id={v: k for k, v in NLI_LABELS.items()})


def write_roberta(folder):
    import transformers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    tokens = ["<s>", "<pad>", "</s>", "<unk>"] + list(bytes_to_unicode().values()) + ["<mask>"]
    vocab = {token: i for i, token in enumerate(tokens)}
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    tokenizer = transformers.RobertaTokenizer(vocab=vocab, merges=[])
    config = transformers.RobertaConfig(vocab_size=len(vocab), **{**SIZE, "max_position_embeddings": 514})
    return tokenizer, transformers.RobertaForSequenceClassification(config)


def write_deberta(folder):
    import sentencepiece
    import transformers

    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts(200, seed=1) + [" ".join(LABELS) + " This example is"]),
        model_prefix=os.path.join(folder, "spm"), vocab_size=120, hard_vocab_limit=False, minloglevel=2,
        pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]",
        unk_piece="[UNK]",
    )
    tokenizer = transformers.DebertaV2Tokenizer.from_pretrained(folder)
    tokenizer.save_pretrained(folder)
    config = transformers.DebertaV2Config(
        vocab_size=len(tokenizer), relative_attention=True, position_buckets=256, pos_att_type=["p2c", "c2p"],
        norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False, type_vocab_size=0, **SIZE,
    )
    return tokenizer, transformers.DebertaV2ForSequenceClassification(config)


WRITERS = {"roberta": write_roberta, "deberta": write_deberta}


def write_checkpoint(folder, architecture):
    import torch

    torch.manual_seed(0)
    tokenizer, model = WRITERS[architecture](folder)
    model.eval().save_pretrained(folder)
    return tokenizer, model


def timed_in_turns(functions, repeats):
    """Runs each function once (first call), then all of them in turns `repeats` times.

    Returns, per function, (result, first-call seconds, best steady seconds).
    """
    results, firsts, bests = [], [], [float("inf")] * len(functions)
    for fn in functions:
        start = time.perf_counter()
        results.append(fn())
        firsts.append(time.perf_counter() - start)
    for _ in range(repeats):
        for i, fn in enumerate(functions):
            start = time.perf_counter()
            fn()
            bests[i] = min(bests[i], time.perf_counter() - start)
    return list(zip(results, firsts, bests))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--architecture", choices=sorted(WRITERS), default="roberta")
    args = parser.parse_args()

    import keras
    import torch
    import transformers

    from kerasprop.models import NLIZeroShotClassifier

    inputs = texts(args.texts)
    pairs = len(inputs) * len(LABELS)
    with tempfile.TemporaryDirectory() as folder:
        tokenizer, model = write_checkpoint(folder, args.architecture)
        pipeline = transformers.pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device="cpu")
        classifier = NLIZeroShotClassifier.from_preset(folder)

    def reference():
        with torch.no_grad():
            return pipeline(inputs, candidate_labels=LABELS, multi_label=True, batch_size=32,
                            hypothesis_template="This example is {}.")

    def ours():
        return classifier({"text": inputs, "labels": LABELS}, task="text-classification")

    (expected, ref_first, ref_best), (actual, our_first, our_best) = timed_in_turns([reference, ours], args.repeats)
    error = max(abs(result[label] - dict(zip(want["labels"], want["scores"]))[label])
                for result, want in zip(actual, expected) for label in LABELS)
    backend = keras.backend.backend()
    print(f"{args.architecture}, {len(inputs)} texts x {len(LABELS)} labels")
    print(f"transformers pipeline  first call {ref_first:.2f}s  steady {pairs / ref_best:.1f} pairs/s")
    print(f"kerasprop ({backend})  first call {our_first:.2f}s  steady {pairs / our_best:.1f} pairs/s")
    print(f"max score difference {error:.2e} ({'ok' if error < 1e-4 else 'MISMATCH: figure does not count'})")
    print(f"ratio kerasprop/transformers steady: {ref_best / our_best:.2f}x")


if __name__ == "__main__":
    main()
