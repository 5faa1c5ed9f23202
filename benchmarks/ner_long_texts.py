"""Named entities in long texts: 16 texts of ~600 tokens read in windows of 128 tokens sharing 32 (`stride`).

kerasprop's `TokenClassifier` against the transformers "token-classification" pipeline
(`stride=32`, `aggregation_strategy="simple"`, batch 32), in one process, on one random
BERT checkpoint (hidden 256, 4 layers) written here with transformers. The two run in turns,
repeat after repeat. Prints one line per measurement (tokens/s in steady state, best of
`--repeats`; first-call time including compilation) and a final ratio line. The figure only
counts if both find the same entities with scores within 1e-4.

    KERAS_BACKEND=jax python benchmarks/ner_long_texts.py
"""

import argparse
import os
import random
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nli_zero_shot import WORDS, timed_in_turns  # noqa: E402

NAMES = ["alice", "bob", "paris", "london", "acme"]
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
WINDOW, STRIDE = 128, 32


def texts(count, words=600, seed=0):
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS + NAMES + [".", ","]) for _ in range(words)) for _ in range(count)]


def write_checkpoint(folder):
    import torch
    import transformers

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","] + WORDS + NAMES
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(vocabulary) + "\n")
    tokenizer = transformers.BertTokenizer(vocab=os.path.join(folder, "vocab.txt"))
    tokenizer.model_max_length = WINDOW
    config = transformers.BertConfig(vocab_size=len(vocabulary), hidden_size=256, num_hidden_layers=4,
                                     num_attention_heads=4, intermediate_size=1024, max_position_embeddings=512,
                                     id2label=dict(enumerate(TAGS)), label2id={t: i for i, t in enumerate(TAGS)})
    torch.manual_seed(0)
    model = transformers.BertForTokenClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return tokenizer, model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import keras
    import torch
    import transformers

    from kerasprop.models import TokenClassifier

    inputs = texts(args.texts)
    with tempfile.TemporaryDirectory() as folder:
        tokenizer, model = write_checkpoint(folder)
        pipeline = transformers.pipeline("token-classification", model=model, tokenizer=tokenizer, device="cpu",
                                         stride=STRIDE, aggregation_strategy="simple")
        classifier = TokenClassifier.from_preset(folder)
    classifier.preprocessor.sequence_length = WINDOW
    tokens = sum(len(tokenizer(text)["input_ids"]) for text in inputs)

    def reference():
        with torch.no_grad():
            return pipeline(inputs, batch_size=32)

    def ours():
        return classifier({"text": inputs, "stride": STRIDE}, task="token-classification")

    (expected, ref_first, ref_best), (actual, our_first, our_best) = timed_in_turns([reference, ours], args.repeats)
    same = all([(e["entity_group"], e["start"], e["end"]) for e in mine]
               == [(e["entity_group"], e["start"], e["end"]) for e in theirs]
               for mine, theirs in zip(actual, expected))
    error = max(abs(e["score"] - float(r["score"])) for mine, theirs in zip(actual, expected)
                for e, r in zip(mine, theirs))
    ok = same and error < 1e-4
    print(f"{len(inputs)} texts, {tokens} tokens, windows of {WINDOW} sharing {STRIDE}")
    print(f"transformers pipeline  first call {ref_first:.2f}s  steady {tokens / ref_best:.1f} tokens/s")
    print(f"kerasprop ({keras.backend.backend()})  first call {our_first:.2f}s  steady {tokens / our_best:.1f} tokens/s")
    print(f"same entities: {same}; max score difference {error:.2e} ({'ok' if ok else 'MISMATCH: figure does not count'})")
    print(f"ratio kerasprop/transformers steady: {ref_best / our_best:.2f}x")


if __name__ == "__main__":
    main()
