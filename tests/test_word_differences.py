"""`WordDifferenceCheck`: sentence pairs whose words alone decide (antonyms, a negation, synonyms, one word
swapped, two roles exchanged), on small hand-made tables."""

import pytest

from kerasprop.models.classifiers.word_differences import WordDifferenceCheck

SAME, DIFFERENT = "paraphrase", "not_paraphrase"


@pytest.fixture(scope="module")
def check():
    antonyms = [["find", "lose"], ["lose", "win"], ["buy", "sell"], ["easy", "difficult"], ["closed", "open"],
                ["new", "old"], ["early", "late"], ["forget", "remember"]]
    synonyms = [["film", "movie"], ["boring", "dull"], ["close", "shut"], ["shop", "store"], ["6", "six"],
                ["call", "phone"], ["child", "kid"]]
    related = [["dog", "puppy"], ["large", "huge"]]
    return WordDifferenceCheck(antonyms, {"lost": ["lose"], "found": ["find"], "won": ["win"], "bought": ["buy"],
                                          "sold": ["sell"], "children": ["child"], "came": ["come"]},
                               synonyms, related)


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
    # synonyms only: the same, in any order of the rest, and different under one negation
    ("The film was boring.", "The movie was dull.", SAME),
    ("The shop closes at six on Sundays.", "On Sundays the store shuts at 6.", SAME),
    ("I will call you tomorrow.", "I'll phone you tomorrow.", SAME),
    ("The kids are asleep.", "The children are asleep.", SAME),
    ("The film was boring.", "The movie wasn't dull.", DIFFERENT),
    # one word in the same place swapped for an unrelated one: different
    ("The parcel arrived on Tuesday.", "The parcel arrived on Wednesday.", DIFFERENT),
    ("She finished the marathon in under four hours.", "She finished the marathon in over four hours.", DIFFERENT),
    ("The train to Leeds was cancelled.", "The train to York was cancelled.", DIFFERENT),
    ("The film was boring.", "The movie was exciting.", DIFFERENT),  # a synonym beside it changes nothing
    ("The shop closes at six.", "The shop shuts at seven.", DIFFERENT),
    # two words exchanged around one that stays: the roles swap
    ("Tom paid for Lucy's dinner.", "Lucy paid for Tom's dinner.", DIFFERENT),
    ("The children laughed at the clown.", "The clown laughed at the kids.", DIFFERENT),
])
def test_pairs_the_words_alone_decide_are_decided_either_way_round(check, text, text_pair, verdict):
    assert check.verdict(text, text_pair) == verdict
    assert check.verdict(text_pair, text) == verdict


@pytest.mark.parametrize("text, text_pair", [
    ("Anna visits Rome in May.", "Anna leaves Paris in May."),  # two words differ
    ("Jack sold his bike to Emma.", "Emma bought Jack's bike."),  # converses: the roles swap with the verb
    ("Jack sold his bike to Emma.", "Jack's bike was bought by Emma."),  # ... and in the passive
    ("Neither Tom nor Anna came.", "Tom and Anna didn't come."),  # neither ... nor is one negation
    ("No, I can't swim.", "I can't swim."),  # an interjection negates nothing
    ("Please turn off the lights.", "Please leave the lights on."),  # more than the antonym differs
    ("I lost my keys.", "I found my wallet."),
    ("The exam was easy.", "The exam was easy."),  # identical: the model decides
    ("The exam was not easy.", "The exam wasn't difficult and was short."),
    # one word swapped, but for a related word (a hypernym, a similar adjective, the same stem) ...
    ("We saw a dog in the park.", "We saw a puppy in the park."),
    ("The house is large.", "The house is huge."),
    ("The kids are asleep upstairs.", "The kids are sleeping upstairs."),
    # ... or in another place
    ("The meeting has been moved to Thursday.", "We rescheduled the meeting for Thursday."),
    # a swap around a changed word, of neighbours, or with a passive on one side keeps the roles
    ("My brother is scared of spiders.", "Spiders frighten my brother."),
    ("Tom and Lucy went to Paris.", "Lucy and Tom went to Paris."),
    ("Tom paid for Lucy's dinner.", "Lucy's dinner was paid for by Tom."),
])
def test_every_other_pair_is_left_to_the_model(check, text, text_pair):
    assert check.verdict(text, text_pair) is None


def test_a_verdict_lifts_its_class_to_the_confidence_and_never_lowers_it(check):
    model_says = {SAME: 0.8, DIFFERENT: 0.2}
    assert check.apply("I lost my keys.", "I found my keys.", model_says) == {DIFFERENT: 0.9, SAME: pytest.approx(0.1)}
    assert check.apply("I lost my keys.", "I found my keys.", {SAME: 0.03, DIFFERENT: 0.97}) == {
        DIFFERENT: 0.97, SAME: pytest.approx(0.03)}
    assert check.apply("Anna visits Rome in May.", "Anna leaves Paris in May.", model_says) is model_says


def test_a_model_finetuned_on_other_labels_is_left_alone(check):
    """After `pre_finetuning` with new labels the check stays in the config but has no class to speak for."""
    scores = {"entailment": 0.6, "contradiction": 0.4}
    assert check.apply("I lost my keys.", "I found my keys.", scores) is scores


def test_the_config_round_trips_and_bad_settings_are_named(check):
    config = check.get_config()
    assert config["synonyms"].splitlines()[0] == "6 six"  # one line per group: presets stay small
    again = WordDifferenceCheck.from_config(config)
    assert again.get_config() == config
    assert (again.antonyms, again.synonyms, again.related, again.irregular_forms) == (
        check.antonyms, check.synonyms, check.related, check.irregular_forms)
    assert again.verdict("I lost my keys.", "I found my keys.") == DIFFERENT
    assert again.verdict("The film was boring.", "The movie was dull.") == SAME
    with pytest.raises(ValueError, match="'confidence' must be between 0.5 and 1, got 0.3"):
        WordDifferenceCheck([], {}, confidence=0.3)
