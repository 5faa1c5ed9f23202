"""Builds `presets/minilm-pairs`: paraphrase or not, for everyday sentence pairs, on all-MiniLM-L6-v2.

A `SupervisedTextClassifier` reading both sentences at once (a cross-encoder: `[CLS] a [SEP] b [SEP]`) on
the real all-MiniLM-L6-v2, frozen, with LoRA adapters and a two-class head (the preset holds only those; see
`kerasprop.models.base_backbone`). Training pairs come from `everyday_pairs.pair_examples` (hand-written
frames and WordNet's example sentences, edited). Every `--eval-every` steps the recipe scores
`heldout/pairs_dev.json` and keeps the best checkpoint; the card's figure is measured once, at the end, on
`heldout/pairs_everyday.json`. Both sets are written by hand and never trained on.

    apt-get install -y wordnet-base    # WordNet 3.0 in /usr/share/wordnet
    KERAS_BACKEND=tensorflow PYTHONPATH=. python -m presets.recipes.minilm_pairs [--steps N]   # recipes extra

After training, the preset gets a `SimilarityBlend` (the cross-encoder's probability averaged with the
cosine of the sentences' all-MiniLM-L6-v2 vectors) and a `WordDifferenceCheck` built from WordNet's
antonyms and synonyms (`everyday_pairs.word_check_table`): pairs whose words alone decide are decided by
the words. `--evaluate-only` re-attaches both to the built preset, re-measures it (the model alone, with
the check, with both) and rewrites its card and `expected.json`.
"""

import argparse
import json
import pathlib
import shutil
import sys

import keras

from presets.recipes import common
from presets.recipes import everyday_pairs

NAME = "minilm-pairs"
BASE = "all-minilm-l6-v2"
SEED = 20261207
SEQUENCE_LENGTH = 48
BATCH_SIZE = 32
LORA_RANK = 8
LEARNING_RATE = 1e-3
HELDOUT_FOLDER = pathlib.Path(__file__).resolve().parent / "heldout"
HELDOUT = HELDOUT_FOLDER / "pairs_everyday.json"
DEV = HELDOUT_FOLDER / "pairs_dev.json"
HELDOUT_2 = HELDOUT_FOLDER / "pairs_everyday_2.json"
HELDOUT_3 = HELDOUT_FOLDER / "pairs_everyday_3.json"
HELDOUT_4 = HELDOUT_FOLDER / "pairs_everyday_4.json"
HELDOUT_5 = HELDOUT_FOLDER / "pairs_everyday_5.json"
HELDOUT_6 = HELDOUT_FOLDER / "pairs_everyday_6.json"
HELDOUT_7 = HELDOUT_FOLDER / "pairs_everyday_7.json"
HAND_WRITTEN = (DEV, HELDOUT, HELDOUT_2, HELDOUT_3, HELDOUT_4, HELDOUT_5, HELDOUT_6, HELDOUT_7)
#: The set written last, after every choice it judges: the fairest figure.
FAIREST = HELDOUT_7
#: The similarity blend, chosen on the pairs the word check leaves to the model in pairs_dev and pairs_everyday 1 to 3
#: (never on pairs_everyday_4).
BLEND = {"embedder": BASE, "midpoint": 0.6, "scale": 10.0, "weight": 0.85}


def evaluate(model, path=HELDOUT):
    """Pairs labelled right on a hand-written set, and one record per pair."""
    items = json.loads(pathlib.Path(path).read_text())["items"]
    outputs = model({"text": [i["text"] for i in items], "text_pair": [i["text_pair"] for i in items]},
                    task="text-pair-classification")
    records = [{"input": {"text": i["text"], "text_pair": i["text_pair"]}, "output": out, "label": i["label"]}
               for i, out in zip(items, outputs)]
    right = [next(iter(r["output"])) == r["label"] for r in records]
    by_label = {label: {"right": sum(ok for ok, r in zip(right, records) if r["label"] == label),
                        "of": sum(r["label"] == label for r in records)} for label in everyday_pairs.LABELS}
    return {"right": sum(right), "of": len(items), "by_label": by_label}, records


#: What `build` measured, kept by `--evaluate-only`.
BUILD_FACTS = ("train_seconds", "train_pairs", "steps", "best_step", "dev_curve")


def check_verdicts(check, texts, text_pairs, labels):
    """How often `check` gives a verdict on the pairs, and how often it is right."""
    verdicts = [(check.verdict(a, b), label) for a, b, label in zip(texts, text_pairs, labels)]
    spoken = [(verdict, label) for verdict, label in verdicts if verdict is not None]
    return {"pairs": len(verdicts), "spoke": len(spoken), "right": sum(verdict == label for verdict, label in spoken)}


def check_on_generated_pairs(check, count=6000, seed=SEED + 1):
    """`check_verdicts` on generated pairs of another seed than training's."""
    params = everyday_pairs.pair_examples(seed, count)
    return check_verdicts(check, params["texts"], params["text_pairs"], params["labels"])


def check_on_hand_written_pairs(check):
    """`check_verdicts` on every hand-written set."""
    items = [item for path in HAND_WRITTEN for item in json.loads(path.read_text())["items"]]
    return check_verdicts(check, *zip(*((i["text"], i["text_pair"], i["label"]) for i in items)))


class KeepBestOnDev(keras.callbacks.Callback):
    """Every `every` steps, scores the dev pairs and saves the model when it is the best so far."""

    def __init__(self, task_model, folder, every):
        super().__init__()
        self.task_model, self.folder, self.every = task_model, folder, every
        self.best, self.curve = -1, []

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every:
            return
        right = evaluate(self.task_model, DEV)[0]["right"]
        self.curve.append({"step": batch + 1, "dev_right": right, "loss": round(float(logs["loss"]), 4)})
        print(json.dumps(self.curve[-1]), flush=True)
        if right > self.best:
            self.best, self.best_step = right, batch + 1
            self.task_model.save_to_preset(self.folder)


def build(steps, eval_every, output):
    from kerasprop.models.base_backbone import attach_base
    from kerasprop.models.classifiers.text_classifier import SupervisedTextClassifier
    from kerasprop.training import finetune

    common.set_seed(SEED)
    model = SupervisedTextClassifier.from_preset(BASE, num_classes=2, class_names=list(everyday_pairs.LABELS))
    model.set_contract(name=NAME, tasks=["text-pair-classification"],
                       description="Paraphrase or not, for everyday sentence pairs: a cross-encoder on all-MiniLM-L6-v2.")
    model.preprocessor.sequence_length = SEQUENCE_LENGTH
    attach_base(model, BASE, lora_rank=LORA_RANK)
    params = everyday_pairs.pair_examples(SEED, steps * BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=steps - steps // 10,
                                                      warmup_target=LEARNING_RATE, warmup_steps=steps // 10)
    keep_best = KeepBestOnDev(model, output, eval_every)
    stopwatch = common.Stopwatch()
    finetune(model, params, "text-pair-classification", validation_split=0.0, epochs=1, batch_size=BATCH_SIZE,
             optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01), seed=SEED, verbose=2,
             max_length=SEQUENCE_LENGTH, callbacks=[keep_best])
    return {"train_seconds": round(stopwatch()), "train_pairs": len(params["labels"]), "steps": steps,
            "best_step": keep_best.best_step, "dev_curve": keep_best.curve}


def _right(records, part, path):
    found = records["parts"][part][path.name]
    return f"{found['right']} of {found['of']}"


def _by_label(records, path, label):
    found = records["parts"]["shipped"][path.name]["by_label"][label]
    return f"{found['right']} of {found['of']}"


def write_card(folder, records):
    misses = [r for r in records["text-pair-classification"] if next(iter(r["output"])) != r["label"]]
    check = records["word_check"]
    rows = "\n".join(
        f"| `heldout/{path.name}` | {about} | {_right(records, 'model', path)} | "
        f"{_right(records, 'word_check', path)} | **{_right(records, 'shipped', path)}** |"
        for path, about in (
            (DEV, "chose the training checkpoint"),
            (HELDOUT, "hand-written before this preset; its misses shaped the word check"),
            (HELDOUT_2, "written before the antonym rules, rich in antonyms and negations on purpose"),
            (HELDOUT_3, "written before the synonym, one-word and swap rules; the blend's setting was chosen with it"),
            (HELDOUT_4, "written before the final design was chosen; unseen by every choice but two (below)"),
            (HELDOUT_5, "written after set 4 was measured, before the role and fact rules"),
            (HELDOUT_6, "written after set 5 was measured; its misses prompted the role and fact rules"),
            (HELDOUT_7, "written after set 6 was measured, before those rules were built; measured once with them"),
        ))
    common.write_card(
        folder,
        f"{NAME}: paraphrase or not, for everyday sentence pairs, on all-MiniLM-L6-v2 (bundled, offline)",
        "The default for `TextPairClassification`: `paraphrase` when two sentences say the same thing, "
        "`not_paraphrase` when one fact differs (a place, a day, an antonym, a negation, the roles of two people) "
        "or they say different things. Three parts, each measured on its own below: a cross-encoder on the real "
        "all-MiniLM-L6-v2 (uncased, installed from PyPI; this preset holds only its LoRA adapters and two-class "
        "head), blended with the similarity of the two sentences' all-MiniLM-L6-v2 vectors, and a word check "
        "that decides the pairs whose words alone decide.",
        [
            ("Tasks", "- `text-pair-classification`: `TextPairClassification()(\"The shop closes at six.\", "
             "\"The store shuts at 6.\")` -> `{\"paraphrase\": ..., \"not_paraphrase\": ...}`\n\nFinetunable "
             "(`{\"texts\", \"text_pairs\", \"labels\"}`); finetuning turns the similarity blend off (your pairs "
             "train the model it would outvote) and keeps the word check while the labels are "
             "`paraphrase`/`not_paraphrase`."),
            ("Architecture and size",
             f"`SupervisedTextClassifier` (a cross-encoder: both sentences in one sequence of at most "
             f"{SEQUENCE_LENGTH} tokens) on all-MiniLM-L6-v2 (`{BASE}`, frozen, named in `base_backbone.json`) "
             f"with LoRA adapters of rank {LORA_RANK} on the attention and feed-forward layers and a dense layer over "
             "2 classes. LoRA, as for `minilm-qa`: full finetuning would need all 90 MB of weights in the preset. "
             f"The word check's WordNet tables ({check['antonyms']:,} antonym pairs, {check['synonym_groups']:,} "
             f"synonym groups, {check['related_groups']:,} groups of related words) are in `task.json`: "
             f"{common.folder_size_mb(folder):.1f} MB on disk in all."),
            ("Similarity blend",
             "The cross-encoder was finetuned on generated pairs and reads everyday paraphrases that share few "
             "words badly (alone, it labels 53% to 68% of the hand-written pairs below right, where one answer for "
             "every pair gets 50%). "
             "all-MiniLM-L6-v2's sentence vectors were trained on a billion real paraphrase pairs, so "
             "`SimilarityBlend` (`kerasprop/models/classifiers/pair_similarity.py`) averages the two: "
             f"p(paraphrase) = {1 - BLEND['weight']:.2f} x the cross-encoder's + {BLEND['weight']} x "
             f"sigmoid({BLEND['scale']:g} x (cosine - {BLEND['midpoint']})). The setting was chosen from midpoints "
             "0.55 to 0.75 and weights 0.5 to 0.85 on the pairs the word check leaves to the model in `pairs_dev` "
             "and `pairs_everyday` 1 to 3, and confirmed on sets 1 to 6 with the role and fact rules (the best of "
             "168 settings there scored one pair more of 230, so it was kept). "
             "The similarity places near-misses that stay on a topic close too, so the blend leans to "
             "`paraphrase` for pairs the word check leaves to it: on `pairs_everyday_6` and `_7` it labels "
             f"{_by_label(records, HELDOUT_6, 'paraphrase')} and {_by_label(records, HELDOUT_7, 'paraphrase')} "
             f"paraphrases right, and {_by_label(records, HELDOUT_6, 'not_paraphrase')} and "
             f"{_by_label(records, HELDOUT_7, 'not_paraphrase')} near-misses. Set `model.similarity = None` for the "
             "cross-encoder alone."),
            ("Word check",
             "`WordDifferenceCheck` (`kerasprop/models/classifiers/word_differences.py`) compares the content "
             "words of the two sentences (function words and negations set aside, inflections reduced to their "
             "lemma, WordNet's irregular forms) and decides a pair, with probability at least 0.9, only when what "
             "differs is: a negation alone (different); one antonym pair (different, or the same under one "
             "negation: \"The exam was easy.\" / \"The exam wasn't difficult.\"); synonyms only (the same: "
             "\"The film starts at six.\" / \"The movie starts at 6.\"); one word in the same place swapped for "
             "one that is not its synonym, hypernym, similar adjective or a word of the same stem (different: "
             "\"... on Tuesday.\" / \"... on Wednesday.\", \"... under four hours.\" / \"... over four hours.\"); "
             "two words or two runs of two words exchanged around a word that stays (different: \"Tom paid for "
             "Lucy's dinner.\" / \"Lucy paid for Tom's dinner.\", \"My sister taught me to drive.\" / \"I "
             "taught my sister to drive.\"); or a day, month, colour or clock time on each side with none shared, "
             "or another number of the same thing (different: \"... on Thursday afternoon.\" / \"... on Friday "
             "morning.\", \"... at six every weekday.\" / \"... at seven every weekend.\"; a number counts "
             "only beside the same next word, so \"twenty years\" / \"two decades\" is left to the model). "
             "Personal pronouns are kept as roles (I, me and my as one), so a role swap through a pronoun or a "
             "possessive is seen (\"Peter borrowed my umbrella.\" / \"I borrowed Peter's umbrella.\"). "
             "Words and roles the sentences share must keep their order, and a passive "
             "agent (\"by Emma\") must be on both sides or neither, so converses and passives (\"Jack sold his "
             "bike to Emma.\" / \"Emma bought Jack's bike.\") are left to the model. Synonyms count only in each "
             f"word's {everyday_pairs.SYNONYM_SENSES} most frequent WordNet senses (learn and teach share only "
             "learn's fifth sense); the tables are WordNet 3.0's (`everyday_pairs.word_check_table`). Known "
             "limits: antonyms are taken as complementary (\"The coffee isn't hot.\" / \"The coffee is cold.\" "
             "counts as the same); a verb that relates two people both ways (\"Tom met Lucy.\" / \"Lucy met "
             "Tom.\") reads as a swap of roles; a paraphrase that swaps one word for a near-synonym WordNet does "
             f"not list is called different. On {check['pairs']:,} generated pairs (another seed than "
             f"training's) it spoke on {check['spoke']} and was right on {check['right']}; those pairs are made "
             "with the same WordNet words, so this shows that it does what it says, not that it generalises (the "
             "hand-written sets do that: of the pairs it decided in the eight sets, "
             f"{records['word_check_hand_written']['right']} of {records['word_check_hand_written']['spoke']} were "
             "right). Set `model.word_check = None` to turn it off."),
            ("Data and licence",
             f"{records['train_pairs']} generated pairs, half paraphrases (`presets/recipes/everyday_pairs.py`): "
             f"{len(everyday_pairs.FRAMES)} hand-written fact frames with three wordings and two contrasts each, "
             "filled with `faker` names and cities, days, hours and numbers; and WordNet 3.0's example sentences "
             "with one word replaced by a synonym of the sense the example shows (a paraphrase), by an antonym or a "
             "sibling under the same hypernym, with a negation added or removed, or paired with another example "
             "sharing a word (near-misses). WordNet 3.0 (Princeton University) is under the WordNet licence, "
             "which allows this use; the preset holds no WordNet text, only word lists. Apache-2.0. (The preset was "
             "built before a fix to the negation edit, which had doubled a negation, 'was not not', in 18 of the "
             "38,400 pairs.)"),
            ("How it was built",
             f"`apt-get install -y wordnet-base` then `KERAS_BACKEND=tensorflow PYTHONPATH=. python -m "
             f"presets.recipes.{NAME.replace('-', '_')} --steps {records['steps']}` (needs "
             f"`pip install -e \".[recipes]\"` for faker; `--evaluate-only` re-attaches the blend and the word "
             f"check to the built preset and re-measures it)\n\nSeed {SEED}; one pass in batches of {BATCH_SIZE}, "
             f"AdamW peaking at {LEARNING_RATE} with warm-up and cosine decay; "
             f"{records['train_seconds'] / 60:.1f} minutes on the build machine (2 CPU cores). The checkpoint kept "
             f"is the one that labelled most of the {len(json.loads(DEV.read_text())['items'])} hand-written pairs "
             f"of `heldout/pairs_dev.json` right (step {records['best_step']}, "
             f"{max(p['dev_right'] for p in records['dev_curve'])} right)."),
            ("Quality on held-out data",
             "Eight sets of everyday pairs written by hand, half paraphrases, half near-misses, never trained on "
             "(`presets/recipes/heldout/`); each was written before the part it was first used to judge, and "
             "every set but the last was looked at while the next part was designed:\n\n"
             "| set | its history | cross-encoder alone | + word check | + similarity blend (shipped) |\n"
             "|---|---|---|---|---|\n" + rows + "\n\n"
             "`pairs_everyday_7` is the fairest figure: it was written after the last design choice and measured "
             "once (its author knew it writes one time as \"5:50\"; without reading clock times as one fact the "
             "check would call that paraphrase different, one pair fewer). Two changes to "
             "the word check were made after `pairs_everyday_4` was first "
             "measured: synonyms count only in a word's most frequent senses, because it showed \"learning "
             "Spanish\" / \"teaching Spanish\" called the same, and a word swapped for a related one (a hypernym, "
             "a similar adjective) is left to the model, because generated pairs showed near-synonyms called "
             "different; the figures above are after both changes and equal to those before them. "
             "`bert-tiny-pairs`, the default before `minilm-pairs`, said `paraphrase` to all 34 pairs of "
             "`pairs_everyday` (17 of 34). Better than chance, not reliable: near-misses that stay on a topic "
             "while changing more than one word (\"Rachel has worked at the hospital ...\" / \"Rachel has lived "
             "near the hospital ...\") are mostly called paraphrases. For pairs that matter, finetune it on your "
             "own pairs or name an NLI checkpoint (`bart-large-mnli`). Pairs of `pairs_everyday` it gets wrong: "
             + "; ".join(f"{r['input']['text']!r} / {r['input']['text_pair']!r} (is {r['label']})" for r in misses)
             + "."),
        ],
    )


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--output", default=str(common.PRESETS_DIR / NAME))
    parser.add_argument("--evaluate-only", action="store_true", help="re-measure the built preset, no training")
    args = parser.parse_args(argv)
    if not args.evaluate_only and not 0 < args.eval_every <= args.steps:
        parser.error(f"--eval-every must be between 1 and --steps ({args.steps}): the checkpoint kept is one scored "
                     f"on the dev pairs, got {args.eval_every}")
    from kerasprop.models.classifiers.pair_similarity import SimilarityBlend
    from kerasprop.models.classifiers.text_classifier import SupervisedTextClassifier
    from kerasprop.models.classifiers.word_differences import WordDifferenceCheck

    if args.evaluate_only:
        facts = {k: v for k, v in common.read_expected(args.output).items() if k in BUILD_FACTS}
    else:
        shutil.rmtree(args.output, ignore_errors=True)
        facts = build(args.steps, args.eval_every, args.output)
    model = SupervisedTextClassifier.from_preset(args.output)
    word_check = WordDifferenceCheck(**everyday_pairs.word_check_table(everyday_pairs.WordNet()))
    facts["parts"] = {}
    for part, similarity, check in (("model", None, None), ("word_check", None, word_check),
                                    ("shipped", SimilarityBlend(**BLEND), word_check)):
        model.similarity, model.word_check = similarity, check
        facts["parts"][part] = {path.name: evaluate(model, path)[0] for path in HAND_WRITTEN}
    model.save_to_preset(args.output)
    quality, records = evaluate(model)
    facts["word_check"] = {"antonyms": len(word_check.antonyms), "synonym_groups": len(word_check.synonyms),
                           "related_groups": len(word_check.related), **check_on_generated_pairs(word_check)}
    facts["word_check_hand_written"] = check_on_hand_written_pairs(word_check)
    report = {"seed": SEED, **facts, "quality": quality, "text-pair-classification": records}
    common.write_expected(args.output, report)
    write_card(args.output, report)
    print(json.dumps(facts["parts"], indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
