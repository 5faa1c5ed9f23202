"""The text defaults built on the real all-MiniLM-L6-v2, judged on hand-written everyday English.

Each figure is the one on the preset's card (or, for summaries and zero-shot, in the README),
re-measured here on the hand-written held-out sets in `presets/recipes/heldout/` as a lower
bound, on every backend. Recorded outputs must be reproduced exactly.
"""

import json
import pathlib
import re

import pytest

import kerasprop
from kerasprop.hub import catalog
from presets.recipes import common, minilm_emotion, minilm_ner, minilm_pairs, minilm_qa

HELDOUT = minilm_qa.HELDOUT.parent


def heldout(name):
    return json.loads((HELDOUT / name).read_text())


def expected(name):
    return common.read_expected(catalog.bundled_path(name))


def lower_bound(right, of):
    """A re-measured count may fall one short of the recorded one (a near tie on another backend), never more."""
    return right - 1 if of >= 10 else right


@pytest.fixture(scope="module")
def qa():
    return kerasprop.QA()


@pytest.fixture(scope="module")
def minilm():
    return kerasprop.models.AutoModel.from_pretrained("all-minilm-l6-v2")


def test_qa_default_reproduces_its_recorded_answers(qa):
    records = expected("minilm-qa")["qa"]
    for record in records:
        inputs = record["input"]
        prev = list(zip(inputs.get("prev_q", []), inputs.get("prev_a", [])))
        assert qa(inputs["question"], inputs["context"], prev_qa=prev or None) == record["output"], inputs


def test_qa_default_reaches_its_card_on_hand_written_questions(qa):
    card = expected("minilm-qa")["quality"]
    quality, _ = minilm_qa.evaluate(qa.model)
    for part in ("questions", "unanswerable", "follow_ups", "extractive_qa"):
        assert quality[part]["right"] >= lower_bound(card[part]["right"], card[part]["of"]), part
    assert kerasprop.ExtractiveQA(qa.model)("Where does Sally live?", "Sally lives in London.")["answer"] == "London"


def test_extractive_qa_scores_unanswerable_questions_below_answerable_ones(qa):
    """`qa` answers '' when the context holds no answer; `ExtractiveQA` still gives its best span, with a low score."""
    data = minilm_qa.heldout()

    def scores(items):
        task_input = {"question": [q["question"] for q in items], "context": [q["context"] for q in items]}
        return sorted(found["score"] for found in qa.model(task_input, task="extractive-qa"))

    answerable, unanswerable = scores(data["questions"]), scores(data["unanswerable"])
    assert unanswerable[-1] < answerable[len(answerable) // 4], (unanswerable, answerable)


def test_emotion_default_answers_goemotions_labels_on_hand_written_sentences():
    emotion = kerasprop.Emotion()
    records = expected("minilm-emotion")
    assert emotion([r["input"]["text"] for r in records["emotion"]]) == [r["output"] for r in records["emotion"]]
    quality, _ = minilm_emotion.evaluate(emotion.model)
    card = records["quality"]
    assert quality["heldout_right"] >= lower_bound(card["heldout_right"], card["heldout_of"])
    labels = set(minilm_emotion.everyday_emotion.LABELS)
    assert all(set(answer.split(", ")) <= labels for answer in emotion(["Meh.", "WHAT?!", "ok thanks bye"]))


HOMESICK = {
    "input_text": ["I miss my mum's cooking so much", "I keep thinking about the streets of my home town",
                   "Nothing here feels like home", "I wish I could see my old friends back home tonight",
                   "I long for the smell of rain on our old garden", "Every photo of my village makes me ache",
                   "We won the final, best day ever", "This is the happiest I've been all year",
                   "Thank you so much for the lovely gift", "I really appreciate you helping me move"],
    "output_text": ["homesick"] * 6 + ["joy", "joy", "gratitude", "gratitude"],
}


def test_emotion_default_finetunes_on_a_label_goemotions_lacks_and_round_trips(kerasprop_home):
    emotion = kerasprop.Emotion()
    emotion.finetune(HOMESICK, validation_split=0.0, epochs=20, batch_size=5, early_stopping_epochs=0, verbose=0)
    names = emotion.model.class_names
    assert names[:-1] == list(minilm_emotion.everyday_emotion.LABELS) and names[-1] == "homesick"
    new = ["I miss my family and my own bed back home", "Thanks a lot for fixing my bike"]
    answers = emotion(new)
    assert answers[0].split(", ")[0] == "homesick" and answers[1].split(", ")[0] == "gratitude", answers
    restored = kerasprop.Emotion(emotion.save("emotion-with-homesick"))
    assert restored(new) == answers


def test_entity_default_finds_the_entities_of_hand_written_sentences():
    ner = kerasprop.TokenClassification()
    records = expected("minilm-ner")
    quality, got = minilm_ner.evaluate(ner.model)
    assert [r["output"] for r in got] == [r["output"] for r in records["token-classification"]]
    card = records["quality"]
    assert quality["entities_right"] >= lower_bound(card["entities_right"], card["entities_gold"])
    assert quality["entities_predicted"] <= card["entities_predicted"] + 1


def test_pair_default_tells_paraphrases_from_near_misses_on_hand_written_pairs():
    assert kerasprop.TextPairClassification.choose_default_model() == "minilm-pairs"
    pairs = kerasprop.TextPairClassification()
    model = pairs.model
    records = expected("minilm-pairs")
    quality, got = minilm_pairs.evaluate(model)
    for record, recorded in zip(got, records["text-pair-classification"]):
        assert list(record["output"]) == list(recorded["output"]), record["input"]
        assert record["output"]["paraphrase"] == pytest.approx(recorded["output"]["paraphrase"], abs=1e-3)
    card = records["quality"]
    assert quality["right"] >= lower_bound(card["right"], card["of"])
    # The blend and the word check come with the preset; the card's figure for each part holds on every set.
    similarity, word_check = model.similarity, model.word_check
    assert len(word_check.synonyms) == records["word_check"]["synonym_groups"]
    fairest = {}  # written after the last design choice it judges
    try:
        for part, parts in (("model", (None, None)), ("word_check", (None, word_check)),
                            ("shipped", (similarity, word_check))):
            model.similarity, model.word_check = parts
            for path in minilm_pairs.HAND_WRITTEN:
                got = minilm_pairs.evaluate(model, path)[0]
                assert got["right"] >= lower_bound(records["parts"][part][path.name]["right"], got["of"]), (part, path)
                if path == minilm_pairs.FAIREST:
                    fairest[part] = got["right"]
        # Each part adds right answers there; half its pairs are paraphrases, so one answer for all gets 18 of 36.
        assert fairest["model"] < fairest["word_check"] < fairest["shipped"]
        assert fairest["shipped"] >= 18 + 8
    finally:
        model.similarity, model.word_check = similarity, word_check


#: Measured with the commands in README's "Bundled presets": 7 of 8 facts kept, 19 of 20 zero-shot.
SUMMARY_FACTS_KEPT, ZERO_SHOT_RIGHT, ZERO_SHOT_ENSEMBLE_RIGHT = 7, 19, 20


def test_summaries_use_only_the_texts_words_and_keep_the_main_facts(minilm):
    summarise = kerasprop.Summarisation(minilm)
    texts = heldout("summaries_everyday.json")["texts"]
    summaries = summarise([t["text"] for t in texts])
    kept = 0
    for item, summary in zip(texts, summaries):
        words = set(re.findall(r"[\w'£$€.,-]+", item["text"]))
        assert set(re.findall(r"[\w'£$€.,-]+", summary)) <= words  # no invented word
        assert len(summary.split()) < len(item["text"].split())
        kept += sum(fact in summary for fact in item["facts"])
    assert kept >= SUMMARY_FACTS_KEPT - 1


def zero_shot_right(classify):
    items = heldout("zero_shot_everyday.json")["items"]
    return sum(max(scores, key=scores.get) == item["label"]
               for item, scores in zip(items, [classify(i["text"], i["labels"]) for i in items]))


def test_zero_shot_text_classification_on_hand_written_texts(minilm):
    classify = kerasprop.TextClassification(minilm)
    assert zero_shot_right(classify) >= ZERO_SHOT_RIGHT - 1
    football = classify("The match ended 2-1 after a late goal.", ["sport", "politics", "cooking"])
    assert max(football, key=football.get) == "sport"


def test_zero_shot_template_ensemble_on_hand_written_texts():
    """The ensemble the README offers (not the default: it lowers complaint/praise accuracy, test_text_embedder.py)."""
    from kerasprop.models.sentences.text_embedder import ZERO_SHOT_TEMPLATES

    model = kerasprop.models.AutoModel.from_pretrained("all-minilm-l6-v2", hypothesis_template=list(ZERO_SHOT_TEMPLATES))
    assert model.hypothesis_template == list(ZERO_SHOT_TEMPLATES)
    assert zero_shot_right(kerasprop.TextClassification(model)) >= ZERO_SHOT_ENSEMBLE_RIGHT - 1


SUPPORT = {
    "texts": ["I was charged twice this month", "Refund my payment please", "The invoice total is wrong",
              "Why is my bill so high", "I can't log in", "Password reset link does not work",
              "My account is locked", "The app says wrong password", "Where is my parcel", "Delivery is late again",
              "The courier lost my package", "Tracking number shows nothing"],
    "labels": ["billing"] * 4 + ["login"] * 4 + ["shipping"] * 4,
}


def test_supervised_text_classification_offline_on_minilm(kerasprop_home):
    classify = kerasprop.TextClassification("all-minilm-l6-v2")
    classify.finetune(SUPPORT, validation_split=0.0, epochs=30, batch_size=4)
    assert isinstance(classify.model, kerasprop.models.SentenceClassifier)
    new = ["I paid for the same order twice", "I forgot my password and cannot sign in", "My box never arrived"]
    scores = classify(new)
    assert [max(s, key=s.get) for s in scores] == ["billing", "login", "shipping"]
    folder = classify.save("my-support-labels")
    files = {path.name for path in pathlib.Path(folder).iterdir()}
    assert "base_backbone.json" in files and "model.weights.h5" not in files  # the head only, on MiniLM
    restored = kerasprop.TextClassification("my-support-labels")
    for got, want in zip(restored(new), scores):
        assert got.keys() == want.keys() and all(abs(got[k] - want[k]) < 1e-5 for k in got)
