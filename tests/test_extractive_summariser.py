"""Finetuning the offline summariser: `Summarisation().finetune` trains an `ExtractiveSummariser`'s sentence scorer.

Training notes are generated here from templates; the held-out notes
(`tests/data/summaries_decisions.json`) are hand-written in other words.
"""

import json
import pathlib
import random
import re

import pytest

import kerasprop
from kerasprop.models.sentences.sentence_heads import ExtractiveSummariser, overlap_scores, summary_share

HELD_OUT = json.loads((pathlib.Path(__file__).parent / "data" / "summaries_decisions.json").read_text())["texts"]
BODIES = ["council", "board", "committee", "club", "school governors", "residents' association"]
DECISIONS = ["voted to {a}", "agreed to {a}", "approved a plan to {a}", "decided to {a}", "chose to {a}"]
ACTIONS = ["close the swimming pool for repairs", "raise membership fees by five percent", "build a new car park",
           "hire two more teachers", "cancel the summer fair", "plant forty trees along the high street",
           "buy a new minibus", "move the market to Saturdays", "open the library on Sundays",
           "ban parking outside the school gates", "repaint the community hall", "start a recycling scheme"]
FILLER = ["The meeting started at {hour} o'clock in the {room}.", "{count} people attended, and tea was served.",
          "It was raining heavily outside.", "The chair welcomed everyone and thanked the volunteers.",
          "Apologies were received from {name}.", "The minutes of the last meeting were read aloud.",
          "Several members arrived late because of traffic.", "The next meeting will be held in {month}.",
          "{name} brought biscuits for everyone.", "The microphone stopped working twice."]


def meeting_notes(count, seed=0):
    """`{"input_text", "output_text"}`: notes with one decision among 3-5 other sentences; the reference names it."""
    rng = random.Random(seed)
    texts, summaries = [], []
    for _ in range(count):
        body, action = rng.choice(BODIES), rng.choice(ACTIONS)
        sentences = [line.format(hour=rng.randint(6, 9), room=rng.choice(["main hall", "library", "old chapel"]),
                                 count=rng.randint(8, 60), name=rng.choice(["Mrs Patel", "Tom Reed", "Dr Okafor"]),
                                 month=rng.choice(["March", "June", "October"]))
                     for line in rng.sample(FILLER, rng.randint(3, 5))]
        sentences.insert(rng.randint(1, len(sentences)), f"The {body} {rng.choice(DECISIONS).format(a=action)}.")
        texts.append(" ".join(sentences))
        summaries.append(f"{body.capitalize()} to {action}")  # a headline, not a copied sentence
    return {"input_text": texts, "output_text": summaries}


def decisions_kept(summarise):
    summaries = summarise([item["text"] for item in HELD_OUT])
    return sum(item["decision"] in summary for item, summary in zip(HELD_OUT, summaries)), summaries


@pytest.fixture(scope="module")
def finetuned():
    summarise = kerasprop.Summarisation()
    before, _ = decisions_kept(summarise)
    summarise.finetune(meeting_notes(48), epochs=12, batch_size=16, validation_split=0.2, verbose=0)
    return summarise, before


def test_finetuning_teaches_the_summariser_which_sentences_to_keep(finetuned):
    summarise, before = finetuned
    assert isinstance(summarise.model, ExtractiveSummariser)
    kept, summaries = decisions_kept(summarise)
    # Measured on JAX: the default keeps 1 of the 8 decisions (it keeps central, early sentences), finetuned 8 of 8.
    assert before <= 2 and kept >= 7
    for item, summary in zip(HELD_OUT, summaries):
        assert summary and set(re.findall(r"[\w']+", summary)) <= set(re.findall(r"[\w']+", item["text"]))
        assert len(summary.split()) < len(item["text"].split())


def test_the_summary_length_follows_the_references(finetuned):
    summarise, _ = finetuned
    # One decision among 4-6 sentences: the references keep about a fifth of them, so a summary is one sentence.
    assert 0.15 < summarise.model.summary_share < 0.3
    assert all(len(re.findall(r"[.!?](?:\s|$)", s)) == 1 for s in decisions_kept(summarise)[1])


def test_a_saved_summariser_holds_its_scorer_alone_and_reloads_to_the_same_summaries(finetuned, tmp_path):
    summarise, _ = finetuned
    folder = pathlib.Path(summarise.save(path=tmp_path / "decisions"))
    assert (folder / "base_backbone.json").exists() and not (folder / "model.weights.h5").exists()
    assert sum(path.stat().st_size for path in folder.rglob("*")) < 1_000_000  # the scorer, config and vocabulary
    restored = kerasprop.Summarisation(str(folder))
    assert isinstance(restored.model, ExtractiveSummariser)
    assert restored.model.summary_share == summarise.model.summary_share
    texts = [item["text"] for item in HELD_OUT]
    assert restored(texts) == summarise(texts)


def test_overlap_targets_and_summary_share():
    sentences = ["The council voted to close the pool.", "It rained all day.", "Tea was served."]
    scores = overlap_scores(sentences, "Council to close pool")
    assert scores[0] > 0.5 and scores[1:] == [0.0, 0.0]
    assert summary_share([" ".join(sentences)], ["Council to close pool"]) == pytest.approx(1 / 3)
    # A reference that shares no sentence still keeps one sentence per text.
    assert summary_share([" ".join(sentences)], ["Nothing in common"]) == pytest.approx(1 / 3)


def test_summary_share_is_checked_by_name():
    base = kerasprop.Summarisation().model
    for bad in (0, 1.5, True, "half"):
        with pytest.raises(ValueError, match="summary_share"):
            ExtractiveSummariser(backbone=base.backbone, preprocessor=base.preprocessor, summary_share=bad)
