"""Sentences with persons, places and organisations tagged in CoNLL's BIO scheme, in varied everyday English.

People, companies and cities come from `faker` in ten locales, plus real cities, countries,
newspapers, universities, clubs and charities; sentence shapes cover news, work, travel,
sport and daily life, with entities at the start, middle and end of a sentence, several per
sentence, possessives and leading "the" kept outside organisation names where English
keeps it outside ("the BBC" tags "BBC").
"""

import random
import re

from faker import Faker

from presets.recipes.everyday_qa import LOCALES, REAL_CITIES

TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
COUNTRIES = ("France Germany Spain Italy Portugal Poland Kenya Nigeria Ghana Egypt India Japan China Brazil Peru "
             "Chile Canada Mexico Australia Ireland Scotland Wales Norway Sweden Greece Turkey Vietnam Indonesia").split()
ORG_KINDS = ["Bank", "University", "Hospital", "Museum", "Airlines", "Motors", "Foods", "Press", "Council",
             "Foundation", "Institute", "Rovers", "United", "Records"]
TITLES = {"Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "MBA", "PhD", "DDS", "MD", "DVM", "II", "III", "IV", "Herr", "Frau",
          "Sig", "Sig.ra", "Dott", "Mme", "Mlle", "M", "Sr", "Sra", "Srta", "Dra", "Ing", "Dipl"}
#: Words before a name or organisation that stay outside the entity.
LEADS = {"Dr", "Mr", "Mrs", "Ms", "Professor", "Aunt", "Uncle"}
NEWSPAPERS = ["the Guardian", "the BBC", "the Times", "Reuters", "Le Monde", "Der Spiegel", "the Herald"]

SHAPES = [
    "{PER} works for {ORG} in {LOC}.", "{PER} moved from {LOC} to {LOC} last year.",
    "{ORG} has opened a new office in {LOC}.", "{PER} and {PER} met at a conference in {LOC}.",
    "According to {PRESS}, {ORG} will cut 200 jobs.", "{PER}, who runs {ORG}, lives in {LOC}.",
    "Yesterday {PER} flew to {LOC} to sign a deal with {ORG}.", "{ORG} beat {ORG} 2-0 on Saturday.",
    "I had lunch with {PER} near the station.", "My sister studies at {ORG}.",
    "The mayor of {LOC}, {PER}, opened the bridge.", "{PER} told {PRESS} that prices would rise.",
    "We spent the summer in {LOC} with {PER}.", "{ORG} was founded by {PER} in 1998.",
    "Ask {PER} about the meeting with {ORG}.", "Flights from {LOC} to {LOC} were cancelled.",
    "{PER}'s new book is set in {LOC}.", "Thanks to {PER}, the event in {LOC} was a success.",
    "Shares in {ORG} rose after {PER} resigned.", "She grew up in {LOC} before joining {ORG}.",
    "{PER} scored twice as {ORG} won in {LOC}.", "Prices in {LOC} are higher than in {LOC}.",
    "Send the report to {PER} at {ORG} by Friday.", "The storm hit {LOC} on Tuesday night.",
    "{PER} said {ORG} would build a factory outside {LOC}.", "Nobody at {ORG} had heard of {PER}.",
]


def _entity(kind, fake, rng):
    """(text, tag kind) for a slot."""
    if kind == "PER":
        roll = rng.random()
        name = fake.name() if roll < 0.5 else fake.first_name() if roll < 0.7 else \
            f"{fake.first_name()} {fake.last_name()}"
        words = [w for w in name.split() if "." not in w and w not in TITLES]  # titles and degrees stay out
        if rng.random() < 0.1:
            words = [rng.choice(["Dr", "Mr", "Mrs", "Ms", "Professor", "Aunt", "Uncle"])] + words
        return " ".join(words), "PER"
    if kind == "LOC":
        roll = rng.random()
        return (rng.choice(REAL_CITIES) if roll < 0.4 else rng.choice(COUNTRIES) if roll < 0.6 else fake.city()), "LOC"
    if kind == "PRESS":
        press = rng.choice(NEWSPAPERS)
        return press, "ORG"
    roll = rng.random()
    if roll < 0.5:
        return fake.company(), "ORG"
    return f"{rng.choice([fake.last_name(), fake.city()])} {rng.choice(ORG_KINDS)}", "ORG"


def ner_examples(seed, count):
    """`count` dicts with `tokens` and `tags` (the finetuning params), `text` and gold `entities` [(type, text)]."""
    rng = random.Random(seed)
    fake = Faker(LOCALES)
    Faker.seed(rng.randrange(2**31))
    examples = []
    for _ in range(count):
        shape = rng.choice(SHAPES)
        tokens, tags, entities = [], [], []
        for piece in re.split(r"(\{[A-Z]+\})", shape):
            if not piece:
                continue
            if piece.startswith("{"):
                text, kind = _entity(piece[1:-1], fake, rng)
                words = text.split()
                lead = []
                if words[0].lower() == "the" or words[0] in LEADS:  # "the BBC", "Dr Bello": outside the entity
                    lead, words = [words[0]], words[1:]
                tokens += lead + words
                tags += ["O"] * len(lead) + [f"{'B' if i == 0 else 'I'}-{kind}" for i in range(len(words))]
                entities.append((kind, " ".join(words)))
            else:
                for word in piece.split():
                    # Possessives and punctuation come off as their own tokens, as CoNLL splits them.
                    parts = re.findall(r"'s|[.,!?]|[^\s.,!?']+(?:'[^s\s][^\s]*)?|'", word)
                    tokens += parts
                    tags += ["O"] * len(parts)
        examples.append({"tokens": tokens, "tags": tags, "text": _detokenise(tokens), "entities": entities})
    return examples


def _detokenise(tokens):
    text = ""
    for token in tokens:
        if text and token not in (".", ",", "!", "?", "'s"):
            text += " "
        text += token
    return text
