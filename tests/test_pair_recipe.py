"""The generator behind `minilm-pairs` (`presets/recipes/everyday_pairs.py`), on a miniature WordNet.

The recipe reads Debian's `wordnet-base`, which CI does not install (users and CI never train): these tests
write a few synsets in WordNet 3.0's file format and run the same parser and editor on them.
"""

import random

import pytest

from kerasprop.models.classifiers.word_differences import WordDifferenceCheck
from presets.recipes import everyday_pairs

DATA = {
    "noun": [
        "00000001 03 n 01 thursday 0 001 @ 00000003 n 0000 | the fifth day; \"the meeting was moved to thursday\"",
        "00000002 03 n 01 friday 0 001 @ 00000003 n 0000 | the sixth day; \"we always leave early on friday\"",
        "00000003 03 n 01 weekday 0 002 ~ 00000001 n 0000 ~ 00000002 n 0000 | any day but saturday or sunday",
    ],
    "verb": [
        "00000020 40 v 02 buy 0 purchase 0 001 ! 00000021 v 0101 | obtain by paying; "
        "\"she bought a new car last week\"",
        "00000021 40 v 01 sell 0 001 ! 00000020 v 0101 | exchange for money; \"he sold his old bike yesterday\"",
        "00000030 38 v 02 push 0 force 0 001 ! 00000031 v 0101 | move away; \"she pushed the cart\"",
        "00000031 38 v 02 pull 0 force 0 001 ! 00000030 v 0101 | move towards you; \"he pulled the rope\"",
    ],
    "adj": [
        "00000010 00 a 01 open 0 001 ! 00000011 a 0101 | not shut; \"the little shop is open on sundays\"",
        "00000011 00 a 01 closed 0 001 ! 00000010 a 0101 | not open; \"the door was closed all day long\"",
    ],
    "adv": [],
}
INDEX = {
    "noun": ["thursday n 1 1 @ 1 5 00000001", "friday n 1 1 @ 1 5 00000002", "weekday n 1 1 ~ 1 3 00000003"],
    "verb": ["buy v 1 1 ! 1 9 00000020", "force v 2 1 ! 2 2 00000030 00000031", "pull v 1 1 ! 1 3 00000031",
             "purchase v 1 0 1 2 00000020", "push v 1 1 ! 1 3 00000030", "sell v 1 1 ! 1 7 00000021"],
    "adj": ["open a 1 1 ! 1 8 00000010", "closed a 1 1 ! 1 6 00000011"],
    "adv": [],
}


@pytest.fixture(scope="module")
def wordnet_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wordnet")
    licence = "  1 This software and database is being provided to you, the LICENSEE, by Princeton University"
    for pos in DATA:
        (folder / f"data.{pos}").write_text("\n".join([licence] + DATA[pos]) + "\n")
        (folder / f"index.{pos}").write_text("\n".join([licence] + INDEX[pos]) + "\n")
    (folder / "verb.exc").write_text("bought buy\nsold sell\n")
    (folder / "noun.exc").write_text("")
    (folder / "adj.exc").write_text("")
    return folder


@pytest.fixture(scope="module")
def editor(wordnet_folder):
    return everyday_pairs.SentenceEditor(everyday_pairs.WordNet(wordnet_folder))


def example(editor, text):
    return next(e for e in editor.examples if e[1] == text)


def test_edits_keep_the_sense_and_the_inflection(editor):
    bought = example(editor, "she bought a new car last week")
    assert editor.replace(bought, "synonyms", random.Random(0)) == "she purchased a new car last week"
    assert editor.replace(bought, "antonyms", random.Random(0)) == "she sold a new car last week"
    thursday = example(editor, "the meeting was moved to thursday")
    assert editor.replace(thursday, "siblings", random.Random(0)) == "the meeting was moved to friday"
    closed = example(editor, "the door was closed all day long")
    assert editor.replace(closed, "antonyms", random.Random(0)) == "the door was open all day long"
    assert editor.replace(closed, "synonyms", random.Random(0)) is None  # no synonym: no pair
    assert editor.negate("the door was closed all day long") == "the door was not closed all day long"
    assert editor.negate("the door was not closed") == "the door was closed"


def test_the_word_check_tables_come_from_the_synsets_their_senses_and_hypernyms(wordnet_folder):
    wordnet = everyday_pairs.WordNet(wordnet_folder)
    table = everyday_pairs.word_check_table(wordnet)
    # purchase shares buy's synset, so it is sell's antonym too; force is in both push's and pull's synsets
    assert table["antonyms"] == [["buy", "sell"], ["closed", "open"], ["pull", "push"], ["purchase", "sell"]]
    assert table["irregular_forms"] == {"bought": ["buy"], "sold": ["sell"]}
    assert table["synonyms"] == [["buy", "purchase"], ["force", "pull"], ["force", "push"]]
    # pull is force's second sense: with one sense per word, only push is force's synonym
    assert everyday_pairs.word_check_table(wordnet, senses=1)["synonyms"] == [["buy", "purchase"], ["force", "push"]]
    # a word and its hypernym are related, two of its hyponyms are not: "thursday" / "friday" stays a different fact
    assert table["related"] == [["friday", "weekday"], ["thursday", "weekday"]]
    check = WordDifferenceCheck(**table)
    assert check.verdict("The meeting was moved to thursday.", "The meeting was moved to friday.") == "not_paraphrase"
    assert check.verdict("The meeting was moved to thursday.", "The meeting was moved to a weekday.") is None
    assert check.verdict("She bought a car.", "She purchased a car.") == "paraphrase"


def test_pairs_are_balanced_reproducible_and_never_identical(wordnet_folder):
    first = everyday_pairs.pair_examples(7, 60, wordnet_folder=wordnet_folder)
    assert first == everyday_pairs.pair_examples(7, 60, wordnet_folder=wordnet_folder)
    assert first != everyday_pairs.pair_examples(8, 60, wordnet_folder=wordnet_folder)
    assert sorted(set(first["labels"])) == sorted(everyday_pairs.LABELS)
    assert first["labels"].count("paraphrase") == 30
    assert all(a != b for a, b in zip(first["texts"], first["text_pairs"]))
    wordings = {w for frame, _ in everyday_pairs.FRAMES for w in frame}
    assert len(wordings) == 3 * len(everyday_pairs.FRAMES)


def test_a_missing_wordnet_names_the_package_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet-base"):
        everyday_pairs.WordNet(tmp_path)
