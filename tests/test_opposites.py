"""`OppositeWordsCheck`: sentence pairs that differ only by antonyms or a negation, decided by the words."""

import pytest

from kerasprop.models.classifiers.opposites import OppositeWordsCheck

SAME, DIFFERENT = "paraphrase", "not_paraphrase"


@pytest.fixture(scope="module")
def check():
    antonyms = [["find", "lose"], ["lose", "win"], ["buy", "sell"], ["easy", "difficult"], ["closed", "open"],
                ["new", "old"], ["early", "late"], ["forget", "remember"]]
    return OppositeWordsCheck(antonyms, {"lost": ["lose"], "found": ["find"], "won": ["win"], "bought": ["buy"],
                                         "sold": ["sell"]})


@pytest.mark.parametrize("text, text_pair, verdict", [
    # one antonym, the rest unchanged: different, in any inflection
    ("I lost my keys on the bus.", "I found my keys on the bus.", DIFFERENT),
    ("We won the match by two goals.", "We lost the match by two goals.", DIFFERENT),
    ("She always takes the early train.", "She always takes the late trains.", DIFFERENT),
    # a negation alone: different, however it is written
    ("I will call you tomorrow.", "I won't call you tomorrow.", DIFFERENT),
    ("He can't come to the party.", "He is coming to the party.", DIFFERENT),
    ("The parcel has arrived.", "The parcel has not arrived yet.", DIFFERENT),
    ("The parcel has arrived.", "The parcel hasn\u2019t arrived.", DIFFERENT),
    # an antonym under one negation: the same fact
    ("The exam was easy.", "The exam wasn't difficult.", SAME),
    ("Tom remembered to lock the door.", "Tom didn't forget to lock the door.", SAME),
    ("The pharmacy isn't open yet.", "The pharmacy is still closed.", SAME),
    # two antonyms and nothing else: different
    ("My sister bought a new car.", "My sister sold her old car.", DIFFERENT),
    # double negation is no negation
    ("The door is not open.", "The door is never not open.", DIFFERENT),
    # contractions of every kind, a repeated shared word
    ("I'll call you.", "I won't call you.", DIFFERENT),
    ("It's not easy.", "It is difficult.", SAME),
    ("Anna won the game, so Anna is happy.", "Anna lost the game, so Anna is happy.", DIFFERENT),
    ("Anna won the game, so Anna is happy.", "Anna lost the game, so she is happy.", DIFFERENT),
])
def test_pairs_that_differ_only_by_opposites_or_a_negation_are_decided(check, text, text_pair, verdict):
    assert check.verdict(text, text_pair) == verdict
    assert check.verdict(text_pair, text) == verdict


@pytest.mark.parametrize("text, text_pair", [
    ("The shop closes at six.", "The store shuts at 6."),  # no antonym, no negation
    ("Jack sold his bike to Emma.", "Emma bought Jack's bike."),  # converses: the roles swap with the verb
    ("Jack sold his bike to Emma.", "Jack's bike was bought by Emma."),  # ... and in the passive
    ("Neither Tom nor Anna came.", "Tom and Anna didn't come."),  # neither ... nor is one negation
    ("No, I can't swim.", "I can't swim."),  # an interjection negates nothing
    ("Please turn off the lights.", "Please leave the lights on."),  # more than the antonym differs
    ("I lost my keys.", "I found my wallet."),
    ("The exam was easy.", "The exam was easy."),  # identical: the model decides
    ("The exam was not easy.", "The exam wasn't difficult and was short."),
])
def test_every_other_pair_is_left_to_the_model(check, text, text_pair):
    assert check.verdict(text, text_pair) is None


def test_a_verdict_lifts_its_class_to_the_confidence_and_never_lowers_it(check):
    model_says = {SAME: 0.8, DIFFERENT: 0.2}
    assert check.apply("I lost my keys.", "I found my keys.", model_says) == {DIFFERENT: 0.9, SAME: pytest.approx(0.1)}
    assert check.apply("I lost my keys.", "I found my keys.", {SAME: 0.03, DIFFERENT: 0.97}) == {
        DIFFERENT: 0.97, SAME: pytest.approx(0.03)}
    assert check.apply("The shop closes at six.", "The store shuts at 6.", model_says) is model_says


def test_a_model_finetuned_on_other_labels_is_left_alone(check):
    """After `pre_finetuning` with new labels the check stays in the config but has no class to speak for."""
    scores = {"entailment": 0.6, "contradiction": 0.4}
    assert check.apply("I lost my keys.", "I found my keys.", scores) is scores


def test_the_config_round_trips_and_bad_settings_are_named(check):
    again = OppositeWordsCheck.from_config(check.get_config())
    assert again.get_config() == check.get_config()
    assert again.verdict("I lost my keys.", "I found my keys.") == DIFFERENT
    with pytest.raises(ValueError, match="'confidence' must be between 0.5 and 1, got 0.3"):
        OppositeWordsCheck([], {}, confidence=0.3)
