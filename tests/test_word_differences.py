"""`WordDifferenceCheck`: sentence pairs whose words alone decide (antonyms, a negation, synonyms, one word
swapped, two roles exchanged), on small hand-made tables."""

import pytest

from kerasprop.models.classifiers.word_differences import WordDifferenceCheck

SAME, DIFFERENT = "paraphrase", "not_paraphrase"


@pytest.fixture(scope="module")
def check():
    antonyms = [["find", "lose"], ["lose", "win"], ["buy", "sell"], ["easy", "difficult"], ["closed", "open"],
                ["new", "old"], ["early", "late"], ["forget", "remember"], ["borrow", "lend"]]
    synonyms = [["film", "movie"], ["boring", "dull"], ["close", "shut"], ["shop", "store"], ["6", "six"],
                ["call", "phone"], ["child", "kid"]]
    related = [["dog", "puppy"], ["large", "huge"]]
    return WordDifferenceCheck(antonyms, {"lost": ["lose"], "found": ["find"], "won": ["win"], "bought": ["buy"],
                                          "sold": ["sell"], "children": ["child"], "came": ["come"],
                                          "lent": ["lend"]},
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
    # ... through personal pronouns and possessives (roles), or two runs of two words
    ("Peter borrowed my umbrella yesterday.", "I borrowed Peter's umbrella yesterday.", DIFFERENT),
    ("My sister taught me to drive.", "I taught my sister to drive.", DIFFERENT),
    ("Jack sold his bike to Emma.", "Emma sold her bike to Jack.", DIFFERENT),
    ("The bakery moved into the old post office.", "The post office moved into the old bakery.", DIFFERENT),
    # a day, month, colour or clock time on each side, none shared, or another number of the same thing
    ("The plumber is coming on Monday morning.", "The electrician is coming on Friday evening.", DIFFERENT),
    ("Our holiday starts in July.", "Our holiday starts in August this year.", DIFFERENT),
    ("She wore a red dress to the party.", "She wore a green coat to the wedding.", DIFFERENT),
    ("The film starts at 7:30.", "The film starts at 8:45 tonight.", DIFFERENT),
    ("We need three eggs for the cake.", "We need 5 eggs for the pancakes.", DIFFERENT),
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
    # a converse through pronouns, a pronoun moved past an antonym, runs longer than two, runs side by side
    ("Sara lent me her bike.", "I borrowed Sara's bike."),
    ("The exam wasn't difficult for me.", "For me, the exam was easy."),
    ("The museum is a ten-minute walk from the station.", "From the station you can walk to the museum in ten minutes."),
    ("I gave my mum flowers.", "I gave flowers to my mum."),
    # numbers of different things, a time in words and in digits, a day on one side only
    ("Rachel has worked there for twenty years.", "Rachel has worked there for two decades."),
    ("The bus leaves at ten to six.", "The bus leaves at 5:50."),
    ("The gym is open every weekday.", "The gym is open Monday to Friday."),
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
