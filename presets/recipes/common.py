"""What every recipe shares: seeds, timing, the card and the recorded outputs.

A recipe trains a model, saves it with the kerasprop class's
`save_to_preset`, then measures it on held-out data through the public task
path (`model(task_input, task=...)`) and writes two files beside the weights:
`README.md` (the card) and `expected.json` (the held-out inputs, the outputs
the recipe got for them and the quality figures). The tests load the preset on
every backend and compare against `expected.json`.
"""

import json
import os
import pathlib
import random
import time

PRESETS_DIR = pathlib.Path(__file__).resolve().parent.parent
EXPECTED_FILE = "expected.json"
CARD_FILE = "README.md"


def set_seed(seed):
    """Seeds Python, numpy and the Keras backend."""
    import keras

    random.seed(seed)
    keras.utils.set_random_seed(seed)


def command_line(module):
    """The command that runs the recipe `module` (e.g. "presets.recipes.clip_shapes") from the repository root."""
    backend = os.environ.get("KERAS_BACKEND", "jax")
    return f"KERAS_BACKEND={backend} PYTHONPATH=. python -m {module}"


class Stopwatch:
    """Seconds since it was made."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self):
        return time.perf_counter() - self.start


#: How a recipe may adapt the frozen base backbone to its task (`--compare`): LoRA adapters, the task's head
#: alone, or the head with the top transformer layers finetuned (measured only: a preset cannot store those yet).
ADAPTATIONS = ("lora", "frozen", "top-layers")
TOP_LAYERS = 2


def adapt(model, base, adaptation, lora_rank=8):
    """Marks `model` as sitting on `base` and chooses what trains on it (one of `ADAPTATIONS`)."""
    from kerasprop.models.base_backbone import attach_base

    if adaptation not in ADAPTATIONS:
        raise ValueError(f"'adaptation' must be one of {ADAPTATIONS}, got {adaptation!r}.")
    attach_base(model, base, lora_rank=lora_rank if adaptation == "lora" else None)
    if adaptation == "top-layers":
        model.backbone.trainable = True
        top = model.backbone.transformer_layers[-TOP_LAYERS:]
        for layer in model.backbone.layers:
            layer.trainable = any(layer is t for t in top)
    return model


def add_compare_argument(parser):
    """The recipes' `--compare ADAPTATION`: train it, add its figure to the card, keep the preset."""
    parser.add_argument("--compare", choices=ADAPTATIONS,
                        help="train this adaptation and add its figure to the card; the preset stays")


def record_adaptation(folder, adaptation, steps, learning_rate, quality):
    """Adds one adaptation's figure to the preset's `expected.json` (its card reads them); the preset is unchanged."""
    records = read_expected(folder)
    records.setdefault("adaptations", {})[adaptation] = {"steps": steps, "learning_rate": learning_rate,
                                                         "quality": quality}
    write_expected(folder, records)


def adaptation_comparison(records, right, of, lora_rank=8):
    """The card's sentences on the adaptations `record_adaptation` measured: each one's figure (`right(quality)`
    of `of`) at its number of training steps, and which was best where the steps were equal."""
    measured = records.get("adaptations", {})
    if not measured:
        return ""
    names = {"lora": f"LoRA adapters of rank {lora_rank}", "frozen": "the head alone (backbone frozen)",
             "top-layers": f"the top {TOP_LAYERS} layers finetuned with the head"}
    scores = {name: right(m["quality"]) for name, m in measured.items()}
    steps = {m["steps"] for m in measured.values()}
    text = "Adaptation, each trained the same way and measured on the hand-written set: " + "; ".join(
        f"{names[name]}: {scores[name]} of {of} after {m['steps']} steps (peak learning rate {m['learning_rate']})"
        for name, m in measured.items()) + "."
    if len(steps) == 1 and len(measured) > 1:
        best = max(scores.values())
        text += " Best: " + " and ".join(names[name] for name, score in scores.items() if score == best) + "."
    return text


def folder_size_mb(folder):
    return sum(p.stat().st_size for p in pathlib.Path(folder).rglob("*") if p.is_file()) / 2**20


def write_expected(folder, records):
    """Writes `expected.json`: what the tests re-check on every backend."""
    path = pathlib.Path(folder) / EXPECTED_FILE
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")


def read_expected(folder):
    return json.loads((pathlib.Path(folder) / EXPECTED_FILE).read_text())


def write_card(folder, title, summary, sections):
    """Writes `README.md`: a title, a one-paragraph summary and `(heading, markdown)` sections."""
    parts = [f"# {title}", "", summary.strip(), ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.strip(), ""]
    (pathlib.Path(folder) / CARD_FILE).write_text("\n".join(parts))


def table(rows, header):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_recipe(module):
    """The command line every recipe shares: build (or, with --evaluate-only, re-measure) the preset of
    `module` (its NAME, SEED, build_and_train, evaluate and write_card), then write its card and expected.json."""
    import argparse

    parser = argparse.ArgumentParser(description=module.__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(PRESETS_DIR / module.NAME))
    parser.add_argument("--evaluate-only", action="store_true", help="re-measure a built preset, no training")
    args = parser.parse_args()
    set_seed(module.SEED)
    if args.evaluate_only:
        train_seconds = read_expected(args.output)["train_seconds"]
    else:
        train_seconds = module.build_and_train(args.output)
    model, records = module.evaluate(args.output)
    records["train_seconds"] = round(train_seconds)
    write_expected(args.output, records)
    module.write_card(args.output, model, records, train_seconds)
    print(records["quality"], flush=True)
