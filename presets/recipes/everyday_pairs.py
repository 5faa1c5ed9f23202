"""Generated everyday sentence pairs for the `minilm-pairs` recipe: paraphrases and near-misses.

Two sources, mixed:

- 30 hand-written fact frames, each with three wordings of one fact and contrasts that change it (an
  antonym, another action, roles swapped), filled with `faker` names and cities, days, hours and numbers.
  Paraphrases pair two wordings of the same filled frame; near-misses change one slot, swap the two people,
  or pair a wording with a contrast.
- Example sentences from WordNet's glosses (Debian `wordnet-base`, read from `/usr/share/wordnet`): one
  word replaced by a common synonym (paraphrase) or by an antonym or a sibling under the same hypernym
  (Thursday -> Friday, Leeds -> York: a near-miss), a negation added or removed, or another example sentence
  that shares a word with it (a near-miss on the topic).

None of the facts of `heldout/pairs_everyday.json` is a frame here.
"""

import collections
import pathlib
import random
import re

WORDNET_FOLDER = pathlib.Path("/usr/share/wordnet")
LABELS = ("not_paraphrase", "paraphrase")

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = ("seven", "eight", "nine", "ten", "eleven", "two", "three", "four", "five")
NUMBERS = ("two", "three", "four", "five", "six", "twenty", "fifty", "a hundred")
YEARS = tuple(str(year) for year in range(1995, 2024))
CITIES = ("Manchester", "Bristol", "Glasgow", "Cardiff", "Dublin", "Boston", "Chicago", "Denver", "Toronto",
          "Sydney", "Madrid", "Lisbon", "Berlin", "Munich", "Vienna", "Prague", "Oslo", "Nairobi", "Mumbai", "Osaka")
FOODS = ("peanuts", "shellfish", "eggs", "strawberries", "milk", "wheat", "sesame")

#: (wordings of one fact, contrasts: same slots, another fact)
FRAMES = (
    (("{p} moved to {city} in {year}.", "In {year}, {p} relocated to {city}.",
      "{p} has lived in {city} since moving there in {year}."),
     ("{p} left {city} in {year}.", "{p} visited {city} in {year}.")),
    (("{p} is allergic to {food}.", "{food} give {p} an allergic reaction.",
      "{p} can't eat {food} because of an allergy."),
     ("{p} loves {food}.", "{p} cooked {food} for dinner.")),
    (("The flight to {city} was delayed by {n} hours.", "The {city} flight left {n} hours late.",
      "Our plane to {city} took off {n} hours behind schedule."),
     ("The flight to {city} arrived {n} hours early.", "The flight to {city} was cancelled.")),
    (("{p} teaches maths at the local school.", "At the local school, {p} works as a maths teacher.",
      "{p} is a maths teacher at the school nearby."),
     ("{p} studies maths at the local school.", "{p} teaches music at the local school.")),
    (("{p} forgot {q}'s birthday.", "{q}'s birthday slipped {p}'s mind.",
      "{p} didn't remember that it was {q}'s birthday."),
     ("{p} remembered {q}'s birthday.", "{p} celebrated {q}'s birthday.")),
    (("{p} gave {q} a lift to the station.", "{p} drove {q} to the station.",
      "{q} got a ride to the station from {p}."),
     ("{p} walked {q} to the station.", "{p} met {q} at the station.")),
    (("The museum is free on {day}s.", "On {day}s you can visit the museum without paying.",
      "There is no entry fee at the museum on {day}s."),
     ("The museum is closed on {day}s.", "The museum is expensive on {day}s.")),
    (("{p} started a new job on {day}.", "{p} began working at a new company on {day}.",
      "{day} was {p}'s first day at the new job."),
     ("{p} quit the job on {day}.", "{p} applied for a new job on {day}.")),
    (("The library opens at {h} in the morning.", "The library's doors open at {h} a.m.",
      "You can get into the library from {h} in the morning."),
     ("The library closes at {h} in the morning.", "The library opens at {h} in the evening.")),
    (("{p} is taller than {q}.", "{q} is shorter than {p}.", "Of the two, {p} is the taller one."),
     ("{p} is shorter than {q}.", "{p} is older than {q}.")),
    (("It rained all day on {day}.", "On {day} the rain never stopped.", "{day} was wet from morning to night."),
     ("It was sunny all day on {day}.", "It rained for an hour on {day}.")),
    (("{p} passed the driving test.", "{p} got through the driving test.",
      "The driving test went well for {p}, who passed it."),
     ("{p} failed the driving test.", "{p} booked the driving test.")),
    (("The soup is too salty.", "There is far too much salt in the soup.", "The soup tastes much too salty."),
     ("The soup needs more salt.", "The soup is too cold.")),
    (("{p} has two cats and a dog.", "{p} owns a dog and two cats.", "{p}'s pets are two cats and a dog."),
     ("{p} has two dogs and a cat.", "{p} is afraid of cats and dogs.")),
    (("The concert starts at {h} o'clock.", "The concert begins at {h}.", "At {h} o'clock the concert gets under way."),
     ("The concert ends at {h} o'clock.", "The concert was cancelled at {h} o'clock.")),
    (("{p} apologised to {q} for being late.", "{p} said sorry to {q} for arriving late.",
      "{p} told {q} that they were sorry for turning up late."),
     ("{p} complained to {q} about being late.", "{p} thanked {q} for being on time.")),
    (("The printer on the second floor is broken.", "The second-floor printer doesn't work.",
      "The printer upstairs on floor two is out of order."),
     ("The printer on the second floor was repaired.", "The printer on the third floor is broken.")),
    (("{p} borrowed {n} pounds from {q}.", "{q} lent {p} {n} pounds.", "{p} owes {q} the {n} pounds borrowed from them."),
     ("{p} lent {n} pounds to {q}.", "{p} paid {q} {n} pounds.")),
    (("Our team scored {n} goals in the final.", "In the final, our team got {n} goals.",
      "We put {n} goals past them in the final."),
     ("Our team conceded {n} goals in the final.", "Our team scored {n} goals in the semi-final.")),
    (("The baby woke up at {h} in the night.", "At {h} in the night the baby was awake.",
      "The baby's sleep ended at {h} in the night."),
     ("The baby fell asleep at {h} in the night.", "The baby cried at {h} in the night.")),
    (("{p} is learning to play the guitar.", "{p} is taking guitar lessons.", "{p} has started learning the guitar."),
     ("{p} is learning to play the piano.", "{p} has stopped playing the guitar.")),
    (("The road to {city} is blocked by snow.", "Snow has closed the road to {city}.",
      "You can't drive to {city} because of the snow on the road."),
     ("The road to {city} has been cleared of snow.", "The road to {city} is busy with traffic.")),
    (("{p} arrived before {q}.", "{q} got there after {p}.", "{p} was there earlier than {q}."),
     ("{p} arrived after {q}.", "{p} arrived with {q}.")),
    (("The price of bread has doubled.", "Bread now costs twice as much as before.",
      "Bread is two times more expensive than it was."),
     ("The price of bread has halved.", "The price of milk has doubled.")),
    (("{p} is afraid of flying.", "Flying scares {p}.", "{p} gets nervous on planes."),
     ("{p} loves flying.", "{p} is afraid of dogs.")),
    (("The dishwasher is full of clean plates.", "The plates in the dishwasher are clean.",
      "Everything in the dishwasher has been washed."),
     ("The dishwasher is full of dirty plates.", "The dishwasher is empty.")),
    (("{p} sent {q} a postcard from {city}.", "{q} got a postcard from {p} in {city}.",
      "From {city}, {p} mailed a postcard to {q}."),
     ("{p} sent {q} a parcel from {city}.", "{p} phoned {q} from {city}.")),
    (("Most of the students passed the exam.", "The majority of the students got through the exam.",
      "Only a few of the students failed the exam."),
     ("Most of the students failed the exam.", "Most of the students missed the exam.")),
    (("{p} always walks to work.", "{p} goes to work on foot every day.", "Every day {p} walks to the office."),
     ("{p} always drives to work.", "{p} sometimes walks to work.")),
    (("The hotel room had a view of the sea.", "From the hotel room we could see the sea.",
      "Our hotel room looked out over the sea."),
     ("The hotel room had a view of the car park.", "The hotel room had no window.")),
)

STOPWORDS = set("""a an the and or but if of to in on at by for with from as is are was were be been being am do does
did have has had not no it its this that these those there their they them he she his her him we our us you your i
my me so than then too very can could will would shall should may might must just also only up down out over into
about after before again all any each few more most other some such own same what which who whom when where why how
""".split())
NEGATABLE = ("is", "are", "was", "were", "can", "will", "could", "would", "should", "has", "have", "had", "does",
             "did", "must")


def _inflect(lemma, form, irregular):
    """`lemma` in the form of the word it replaces: 'base', 's' (plural, third person), 'ed', 'ing'."""
    if form == "base":
        return lemma
    if form == "ed" and lemma in irregular:
        return irregular[lemma]
    if form == "s":
        return lemma + ("es" if lemma.endswith(("s", "x", "z", "ch", "sh")) else "s")
    stem = lemma[:-1] if lemma.endswith("e") and not lemma.endswith("ee") else lemma
    return stem + ("ed" if form == "ed" else "ing")


class WordNet:
    """The parts of WordNet 3.0 the generator uses: synsets of common words, antonyms, siblings, examples.

    Example:
        wordnet = WordNet()
        key = ("n", wordnet.senses[("thursday", "n")][0])
        wordnet.siblings(key, "thursday")  # -> ["monday", "tuesday", ...]
    """

    def __init__(self, folder=WORDNET_FOLDER):
        folder = pathlib.Path(folder)
        if not (folder / "data.noun").exists():
            raise FileNotFoundError(f"WordNet is not at {folder}: install it with `apt-get install wordnet-base`")
        self.synsets, self.examples = {}, []
        for pos in ("noun", "verb", "adj", "adv"):
            for line in (folder / f"data.{pos}").read_text(errors="replace").splitlines():
                if line.startswith(" "):
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                count = int(fields[3], 16)
                words = [re.sub(r"\(.*\)$", "", w).lower() for w in fields[4:4 + 2 * count:2]]
                pointer_count = int(fields[4 + 2 * count])
                pointers = [fields[5 + 2 * count + 4 * i:9 + 2 * count + 4 * i] for i in range(pointer_count)]
                key = (fields[2].replace("s", "a"), fields[0])
                self.synsets[key] = (words, pointers)
                self.examples += [(key, example) for example in re.findall(r'"([^"]+)"', gloss)]
        self.senses, self.tagged = {}, collections.Counter()
        for pos, short in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
            for line in (folder / f"index.{pos}").read_text().splitlines():
                if line.startswith(" "):
                    continue
                fields = line.split()
                synset_count = int(fields[2])
                self.senses[(fields[0], short)] = fields[-synset_count:]
                self.tagged[fields[0]] += int(fields[-synset_count - 1])
        self.lemmas = {}
        self.past = {}
        for line in (folder / "verb.exc").read_text().splitlines():
            form, lemma = line.split()[:2]
            self.lemmas[form] = lemma
            if not form.endswith("ing") and (lemma not in self.past or not form.endswith("n")):
                self.past[lemma] = form
        for pos in ("noun", "adj"):
            for line in (folder / f"{pos}.exc").read_text().splitlines():
                form, lemma = line.split()[:2]
                self.lemmas.setdefault(form, lemma)
        self.lemma_forms = set(self.lemmas.values())

    def common(self, word):
        """A single word that SemCor tagged at least once (WordNet's sense counts)."""
        return "_" not in word and self.tagged[word] >= 1

    def synonyms(self, key, lemma):
        """Other words of the synset `key` (the sense `lemma` has in a sentence), and for adjectives the heads
        of similar synsets."""
        words, pointers = self.synsets[key]
        similar = [self.synsets[("a", p[1])][0][0] for p in pointers if p[0] == "&" and ("a", p[1]) in self.synsets]
        return [w for w in words + similar if w != lemma and self.common(w)]

    def antonyms(self, key, lemma):
        found = [self.synsets[(p[2].replace("s", "a"), p[1])][0][0] for p in self.synsets[key][1] if p[0] == "!"]
        return [w for w in found if "_" not in w]

    def siblings(self, key, lemma):
        """Other hyponyms of the synset's hypernyms: Thursday -> Friday, Leeds -> York."""
        found = []
        for pointer in self.synsets[key][1]:
            if pointer[0] in ("@", "@i"):
                for child in self.synsets[(key[0], pointer[1])][1]:
                    if child[0] in ("~", "~i") and child[1] != key[1]:
                        word = self.synsets[(key[0], child[1])][0][0]
                        if "_" not in word and (child[0] == "~i" or self.common(word)):
                            found.append(word)
        return found

    def analyse(self, word):
        """Every (lemma, part of speech, form) reading of a lower-case word that WordNet knows."""
        readings = []
        candidates = [(word, "base")]
        if word in self.lemmas:
            candidates.append((self.lemmas[word], "ed" if word not in self.lemma_forms else "s"))
        if word.endswith("s"):
            candidates += [(word[:-1], "s"), (word[:-2], "s")]
        if word.endswith("ed"):
            candidates += [(word[:-2], "ed"), (word[:-1], "ed"), (word[:-3], "ed")]
        if word.endswith("ing"):
            candidates += [(word[:-3], "ing"), (word[:-3] + "e", "ing"), (word[:-4], "ing")]
        for lemma, form in candidates:
            for pos in ("n", "v", "a"):
                if (lemma, pos) in self.senses and (form == "base" or pos == "v" or (pos, form) == ("n", "s")):
                    readings.append((lemma, pos, form))
        return readings


#: A word is a synonym of another only in one of its most frequent senses (WordNet's sense order).
SYNONYM_SENSES = 3


def word_check_table(wordnet, senses=SYNONYM_SENSES):
    """`WordDifferenceCheck` arguments from WordNet.

    - antonyms: WordNet's antonym pairs among common single words, each extended to the other words of
      its synsets (indirect antonyms: hard / easy through difficult), never two words that share a synset;
    - synonyms: the single words of each synset that is among the `senses` most frequent senses of each
      of them (learn / teach share only learn's fifth sense);
    - related: each synset's single words with those of its hypernyms, and each adjective with those of
      the adjectives it is similar to (dog / puppy, huge / large), in any sense;
    - irregular forms of all those words ("lost" -> "lose", "children" -> "child").
    """
    def single(words):
        return {word for word in words if "_" not in word}

    antonyms, related = set(), set()
    synsets_of = collections.defaultdict(set)  # "force" is both push's synonym and pull's: not an antonym of either
    for key, (words, pointers) in wordnet.synsets.items():
        for word in single(words):
            synsets_of[word].add(key)
        for pointer in pointers:
            other = wordnet.synsets.get((pointer[2].replace("s", "a"), pointer[1]))
            if pointer[0] == "!":
                antonyms.update(tuple(sorted((a, b))) for a in words for b in other[0]
                                if a != b and wordnet.common(a) and wordnet.common(b))
            elif pointer[0] in ("@", "@i", "&") and other:
                related.add(tuple(sorted(single(words) | single(other[0]))))
    antonyms = {pair for pair in antonyms if not synsets_of[pair[0]] & synsets_of[pair[1]]}
    synonyms = {tuple(sorted(word for word in single(words) if key[1] in wordnet.senses.get((word, key[0]), ())[:senses]))
                for key, (words, _) in wordnet.synsets.items()}
    lemmas = set(synsets_of) | {word for pair in antonyms for word in pair}
    irregular = {}
    for form, lemma in wordnet.lemmas.items():
        if lemma in lemmas and form != lemma:
            irregular.setdefault(form, []).append(lemma)
    return {"antonyms": sorted(list(pair) for pair in antonyms), "irregular_forms": irregular,
            "synonyms": sorted(list(group) for group in synonyms if len(group) > 1),
            "related": sorted(list(group) for group in related if len(group) > 1)}


def _people(fake):
    first, second = fake.first_name(), fake.first_name()
    while second == first:
        second = fake.first_name()
    return first, second


def _slots(fake, rng):
    p, q = _people(fake)
    return {"p": p, "q": q, "city": rng.choice(CITIES) if rng.random() < 0.5 else fake.city(),
            "day": rng.choice(DAYS), "h": rng.choice(HOURS), "n": rng.choice(NUMBERS), "year": rng.choice(YEARS),
            "food": rng.choice(FOODS)}


def _change_one_slot(template, slots, fake, rng):
    used = [name for name in ("city", "day", "h", "n", "year", "food", "p") if "{" + name + "}" in template]
    if not used:
        return None
    name = rng.choice(used)
    changed = dict(slots)
    while changed[name] == slots[name]:
        changed[name] = _slots(fake, rng)[name]
    return changed


def frame_pair(fake, rng, positive):
    wordings, contrasts = rng.choice(FRAMES)
    slots = _slots(fake, rng)
    first, second = rng.sample(wordings, 2)
    if positive:
        return first.format(**slots), second.format(**slots)
    roll = rng.random()
    if roll < 0.4:
        changed = _change_one_slot(second, slots, fake, rng)
        if changed:
            return first.format(**slots), second.format(**changed)
    if roll < 0.6 and "{q}" in first:
        return first.format(**slots), second.format(**{**slots, "p": slots["q"], "q": slots["p"]})
    return first.format(**slots), rng.choice(contrasts).format(**slots)


class SentenceEditor:
    """One-word edits of WordNet's example sentences, in the sense the example illustrates: synonyms keep the
    meaning; antonyms, siblings and negations change it."""

    def __init__(self, wordnet):
        self.wordnet = wordnet
        self.examples = []
        for key, sentence in wordnet.examples:
            sentence = sentence.strip()
            if 5 <= len(sentence.split()) <= 16 and re.fullmatch(r"[A-Za-z][A-Za-z ,'\-]*[a-z]", sentence):
                found = self._find(key, sentence.split())
                if found:
                    self.examples.append((key, sentence, *found))
        self.by_word = collections.defaultdict(list)
        for index, (_, sentence, *_) in enumerate(self.examples):
            for word in set(sentence.lower().split()) - STOPWORDS:
                self.by_word[word].append(index)

    def _find(self, key, words):
        """(position, lemma, form) of the synset's word in the sentence."""
        lemmas = set(self.wordnet.synsets[key][0])
        for i, word in enumerate(words):
            for lemma, pos, form in self.wordnet.analyse(word.lower()):
                if lemma in lemmas and pos == key[0]:
                    return i, lemma, form
        return None

    def replace(self, example, relation, rng):
        key, sentence, position, lemma, form = example
        options = getattr(self.wordnet, relation)(key, lemma)
        if not options:
            return None
        words = sentence.split()
        return " ".join(words[:position] + [_inflect(rng.choice(options), form, self.wordnet.past)]
                        + words[position + 1:])

    def negate(self, sentence):
        """Removes the first "not"/"never", or puts "not" after the first auxiliary verb; None if neither."""
        words = sentence.split()
        for i, word in enumerate(words):
            if word in ("not", "never"):
                return " ".join(words[:i] + words[i + 1:])
        for i, word in enumerate(words[:-1]):
            if word.lower() in NEGATABLE:
                return " ".join(words[:i + 1] + ["not"] + words[i + 1:])
        return None

    def same_topic(self, sentence, rng):
        words = [w for w in set(sentence.lower().split()) - STOPWORDS if len(self.by_word[w]) > 1]
        if not words:
            return None
        other = self.examples[rng.choice(self.by_word[rng.choice(sorted(words))])][1]
        return other if other != sentence else None

    def pair(self, rng, positive):
        """(sentence, edited sentence); the edit is None when the drawn edit does not apply."""
        example = rng.choice(self.examples)
        sentence = example[1]
        if positive:
            return sentence, self.replace(example, "synonyms", rng)
        roll = rng.random()
        edited = (self.replace(example, "antonyms", rng) if roll < 0.35 else
                  self.replace(example, "siblings", rng) if roll < 0.7 else
                  self.negate(sentence) if roll < 0.85 else self.same_topic(sentence, rng))
        return sentence, edited


def pair_examples(seed, count, frame_share=0.6, wordnet_folder=WORDNET_FOLDER):
    """Finetuning params {"texts", "text_pairs", "labels"}: `count` pairs, half paraphrases, in random order."""
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker(["en_GB", "en_US", "en_IE", "en_AU"])
    fake.seed_instance(seed)
    editor = SentenceEditor(WordNet(wordnet_folder))
    params = {"texts": [], "text_pairs": [], "labels": []}
    while len(params["labels"]) < count:
        positive = len(params["labels"]) % 2 == 0
        pair = frame_pair(fake, rng, positive) if rng.random() < frame_share else editor.pair(rng, positive)
        if pair[1] is None or pair[0] == pair[1]:
            continue
        first, second = pair if rng.random() < 0.5 else pair[::-1]
        params["texts"].append(first)
        params["text_pairs"].append(second)
        params["labels"].append(LABELS[positive])
    order = list(range(count))
    rng.shuffle(order)
    return {key: [values[i] for i in order] for key, values in params.items()}
