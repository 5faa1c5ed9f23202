"""A lexical check for sentence pairs whose words alone say whether they state the same fact.

Models that read two sentences through sentence vectors see "I lost my keys on
the bus." and "I found my keys on the bus." as near neighbours: the words are
related, the facts opposite. `WordDifferenceCheck` decides such pairs from the
words, and only those: it compares the content words of the two sentences
(function words and negations set aside, inflections reduced to their lemma)
and speaks when what differs is one of these:

- a negation alone: different ("I will call you." / "I won't call you.");
- one antonym pair, negated on neither or both sides: different ("We won the
  match." / "We lost the match."); negated on one side: the same ("The exam was
  easy." / "The exam wasn't difficult."); two or more antonym pairs and nothing
  else, with the same negation: different;
- synonyms only: the same ("The film was boring." / "The movie was dull."),
  different if one side is negated;
- one word in the same place swapped for an unrelated one (not a synonym, a
  related word such as a hypernym, or a word of the same stem): different ("The parcel arrived on Tuesday." / "The parcel
  arrived on Wednesday.", "... in under four hours." / "... in over four
  hours.");
- the same words with two of them, or two runs of them, changing places around
  words that stay: different ("Tom paid for Lucy's dinner." / "Lucy paid for
  Tom's dinner.", "My sister taught me to drive." / "I taught my sister to
  drive.", "The library moved to the old post office." / "The post office
  moved to the old library.");
- a day, month, colour or clock time on each side, none of them shared, or
  a different number of the same thing: different ("... on Thursday
  afternoon." / "... on Friday morning.", "... painted the kitchen yellow." /
  "... painted the bedroom blue.", "... at seven every weekday." / "... at six
  every weekend."). A number counts only beside the same next word ("two
  sisters" / "three sisters", never "twenty years" / "two decades").

Personal pronouns are no content words, but they are kept as roles (I, me and
my as one): the words and roles the sentences share must come in the same order
(except in the swap rule), and a passive agent ("by Emma") must be on
both sides or neither: "Jack
sold his bike to Emma." / "Emma bought Jack's bike." swaps the roles with the
verb (buy and sell are converses there, not opposites) and is left to the
model. Antonyms are taken as complementary: "The coffee isn't hot." / "The
coffee is cold." counts as the same, which is looser than strict reading; a
paraphrase that moves a pronoun past an antonym ("The exam wasn't difficult for
me." / "For me, the exam was easy.") is left to the model. A
verb that relates two people both ways ("Tom met Lucy." / "Lucy met Tom.") is
read as a swap of roles. Every other pair is left to the model. Antonyms and
synonyms are WordNet 3.0's (tables that `presets/recipes/everyday_pairs.py`
extracts), with their irregular forms ("lost" -> "lose"); regular inflections
are reduced by suffix rules.
"""

import collections
import re

NEGATIONS = frozenset("not never no nobody nothing none neither nowhere".split())  # neither ... nor: once
#: Words that carry no fact of their own for this comparison.
FUNCTION_WORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being am
do does did have has had it its this that these those there their they them he she his her him we our us you your i my
me so than then too very can could will would shall should may might must just also only into about all any each
more most other some such own same what which who whom when where why how yet still already again now ever even
really actually please nor""".split()) - NEGATIONS
_CONTRACTIONS = {"won't": "will not", "can't": "can not", "cannot": "can not", "shan't": "shall not"}
_SUFFIXES = {"n't": " not", "'ll": " will", "'ve": " have", "'m": " am", "'re": " are", "'d": " would"}
_SUFFIX = re.compile(r"(?<=[a-z])(n't|'ll|'ve|'m|'re|'d)\b")
_TOKEN = re.compile(r"[a-z0-9]+(?:'s)?")
_INTERJECTION = re.compile(r"^\W*(no|yes)\W*[,!.;]")  # "No, I can't swim." negates nothing on its own
#: A word this long or longer inside another marks the two as one stem ("sleep" in "asleep"), never unrelated.
_STEM_LENGTH = 4

#: Personal pronouns, by the person they name: kept as roles, not content words.
_PERSONS = {form: "@" + person for person, forms in (
    ("i", "i me my mine myself"), ("we", "we us our ours ourselves"), ("you", "you your yours yourself yourselves"),
    ("he", "he him his himself"), ("she", "she her hers herself"), ("they", "they them their theirs themselves"),
) for form in forms.split()}
#: Closed sets of words a pair cannot differ in without stating another fact, by kind.
_KINDS = {word: kind for kind, words in (
    ("day", "monday tuesday wednesday thursday friday saturday sunday"),
    ("month", "january february april june july august september october november december"),  # not may, march
    ("colour", "red orange yellow green blue purple pink brown black white grey gray"),
) for word in words.split()}
_NUMBERS = {word: value for value, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBERS.update({word: value for value, word in enumerate("first second third fourth fifth sixth seventh eighth "
                                                          "ninth tenth".split(), start=1)})
_NUMBERS.update(thirty=30, forty=40, fifty=50, sixty=60, seventy=70, eighty=80, ninety=90, hundred=100,
                thousand=1000, million=10**6)
#: The most words a run that changes places may have (a swap of longer runs is often a paraphrase: "The museum is
#: a ten-minute walk from the station." / "From the station you can walk to the museum in ten minutes.").
_RUN = 2
_CLOCK_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")

_Reading = collections.namedtuple("_Reading", "words negated agent roles facts")


class WordDifferenceCheck:
    """Decides sentence pairs that differ only by antonyms, synonyms, a negation, one word or swapped roles.

    `verdict` is `None` for every other pair (see the module docstring for the rules).

    Args:
        antonyms: pairs of lemmas `[word, opposite]`.
        irregular_forms: inflected form -> its lemmas, for forms suffix rules
            miss (`{"lost": ["lose"], "won": ["win"]}`).
        synonyms: groups of words that share a meaning (WordNet's synsets).
        related: groups of words too close in meaning for a swap between them to
            be surely another fact (a word and its hypernyms, similar adjectives).
        same, different: the class names of the two verdicts.
        confidence: the probability given to a verdict the check makes, unless
            the model already gives it more.

    Example:
    >>> check = WordDifferenceCheck([["find", "lose"]], {"lost": ["lose"], "found": ["find"]}, [["film", "movie"]])
    >>> check.verdict("I lost my keys on the bus.", "I found my keys on the bus.")
    'not_paraphrase'
    >>> check.verdict("The film starts at six.", "The movie starts at six.")
    'paraphrase'
    >>> check.verdict("The film starts at six.", "The film starts at seven.")
    'not_paraphrase'
    >>> check.verdict("The film starts at six.", "At six the show begins.") is None
    True
    """

    def __init__(self, antonyms, irregular_forms, synonyms=(), related=(), same="paraphrase",
                 different="not_paraphrase", confidence=0.9):
        if not 0.5 <= confidence <= 1:
            raise ValueError(f"'confidence' must be between 0.5 and 1, got {confidence}.")
        self.antonyms = sorted({tuple(sorted(pair)) for pair in antonyms})
        self.irregular_forms = {form: sorted(lemmas) for form, lemmas in irregular_forms.items()}
        self.synonyms = _groups(synonyms)
        self.related = _groups(related)
        self.same, self.different, self.confidence = same, different, confidence
        self._opposite = {}
        for word, opposite in self.antonyms:
            self._opposite.setdefault(word, set()).add(opposite)
            self._opposite.setdefault(opposite, set()).add(word)
        self._synonym_groups, self._related_groups = _memberships(self.synonyms), _memberships(self.related)

    def verdict(self, text, text_pair):
        """`same`, `different` or None (the words alone do not decide)."""
        first, second = self._read(text), self._read(text_pair)
        for rule in (self._opposites, self._synonyms_or_one_word, self._swapped_roles, self._other_facts):
            decided = rule(first, second)
            if decided is not None:
                return decided
        return None

    def apply(self, text, text_pair, probabilities):
        """`probabilities` (class name -> probability, two classes) with the check's verdict, if it makes one."""
        decided = self.verdict(text, text_pair)
        if decided is None or set(probabilities) != {self.same, self.different}:
            return probabilities
        other = self.different if decided == self.same else self.same
        kept = max(probabilities[decided], self.confidence)
        return {decided: kept, other: 1 - kept}

    # --- the rules ---------------------------------------------------------------

    def _opposites(self, first, second):
        """A negation alone, or antonyms and nothing else."""
        only, pair_only = _unmatched(first.words, second.words), _unmatched(second.words, first.words)
        flipped = first.negated != second.negated
        if not only and not pair_only:
            return self.different if flipped else None
        if first.agent != second.agent:
            return None  # "Jack sold his bike to Emma." / "Jack's bike was bought by Emma.": roles swap with the verb
        opposed = [(a, b) for a in only for b in pair_only if any(self._opposite.get(lemma, set()) & b for lemma in a)]
        paired = {id(a) for a, _ in opposed}, {id(b) for _, b in opposed}
        if paired != ({id(a) for a in only}, {id(b) for b in pair_only}) or not _same_order(first, second):
            return None  # something other than antonyms differs, or the roles moved
        if len(only) == 1 and len(pair_only) == 1:
            return self.same if flipped else self.different
        return None if flipped else self.different

    def _synonyms_or_one_word(self, first, second):
        """Synonyms only (the same fact), or one word in the same place replaced by an unrelated word."""
        only, pair_only = _unmatched(first.words, second.words), _unmatched(second.words, first.words)
        if not only or not pair_only or first.agent != second.agent or not _same_order(first, second):
            return None
        rest = [a for a in only if not any(self._synonymous(a, b) for b in pair_only)]
        pair_rest = [b for b in pair_only if not any(self._synonymous(a, b) for a in only)]
        flipped = first.negated != second.negated
        if not rest and not pair_rest:
            return self.different if flipped else self.same
        if flipped or len(rest) != 1 or len(pair_rest) != 1 or len(first.words) != len(second.words):
            return None
        (word,), (pair_word,) = rest, pair_rest
        same_place = _index(first.words, word) == _index(second.words, pair_word)
        return self.different if same_place and self._unrelated(word, pair_word) else None

    def _swapped_roles(self, first, second):
        """The same words (or words and roles), two of them or two runs of them exchanged around words that stay."""
        if first.negated != second.negated or first.agent != second.agent:
            return None  # "Tom paid Lucy." / "Lucy was paid by Tom." keeps the roles
        # With roles: "Peter borrowed my umbrella." / "I borrowed Peter's umbrella."; without, pronouns that follow
        # the people they name do not hide the swap: "Jack sold his bike to Emma." / "Emma sold her bike to Jack."
        readings = [(first.words, second.words)]
        if (first.roles, second.roles) != readings[0]:  # the same lists when neither sentence has a pronoun
            readings.append((first.roles, second.roles))
        for words, pair_words in readings:
            if len(words) == len(pair_words) and _exchanged(words, pair_words, self._same_word):
                return self.different
        return None

    def _other_facts(self, first, second):
        """A day, month, colour or clock time on each side and none shared, or another number of the same thing."""
        if first.negated != second.negated:
            return None
        for kind in first.facts.keys() & second.facts.keys():
            if not first.facts[kind] & second.facts[kind]:
                return self.different
        return None

    # --- reading words -------------------------------------------------------------

    def _synonymous(self, word, other):
        return _share_a_group(self._synonym_groups, word, other)

    def _same_word(self, word, other):
        return bool(word & other) or self._synonymous(word, other)

    def _unrelated(self, word, other):
        """No lemma, synonym, relation or stem in common ("asleep" / "sleeping" share a stem)."""
        if word & other or self._synonymous(word, other) or _share_a_group(self._related_groups, word, other):
            return False
        return not any(len(short) >= _STEM_LENGTH and short in long
                       for a in word for b in other for short, long in (sorted((a, b), key=len),) if a != b)

    def _read(self, text):
        """The sentence's content words (one set of candidate lemmas each), whether it is negated an odd number
        of times, whether it names a passive agent ("by"), its content words and personal pronouns in order
        (roles), and the days, months, colours, clock times and counted numbers it names (facts)."""
        text = _INTERJECTION.sub("", text.lower().replace("\u2019", "'"))
        for contraction, full in _CONTRACTIONS.items():
            text = text.replace(contraction, full)
        text = _SUFFIX.sub(lambda found: _SUFFIXES[found.group(1)], text)
        facts = {}
        for clock_time in _CLOCK_TIME.findall(text):
            facts.setdefault("clock time", set()).add(clock_time)
        text = _CLOCK_TIME.sub(" ", text)
        tokens = [token.removesuffix("'s") for token in _TOKEN.findall(text)]
        negated = sum(token in NEGATIONS for token in tokens) % 2 == 1
        words, roles = [], []
        for place, token in enumerate(tokens):
            if token in _PERSONS:
                roles.append({_PERSONS[token]})
            elif token not in NEGATIONS and token not in FUNCTION_WORDS:
                words.append(self._lemmas(token))
                roles.append(words[-1])
            singular = token.removesuffix("s")
            if singular in _KINDS:
                facts.setdefault(_KINDS[singular], set()).add(singular)
            number = int(token) if token.isdigit() else _NUMBERS.get(token)
            if number is not None:  # numbers count apart what they count: "two sisters", "ten." (a time)
                counted = tokens[place + 1].removesuffix("s") if place + 1 < len(tokens) else ""
                facts.setdefault(("number of", counted), set()).add(number)
        return _Reading(words, negated, "by" in tokens, roles, facts)

    def _lemmas(self, word):
        """The word and the lemmas it may be an inflection of."""
        lemmas = {word, *self.irregular_forms.get(word, ())}
        for suffix, replacements in (("ies", ("y",)), ("es", ("",)), ("s", ("",)), ("ied", ("y",)),
                                     ("ed", ("", "e")), ("ing", ("", "e"))):
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                stem = word[:-len(suffix)]
                lemmas.update(stem + ending for ending in replacements)
                if suffix in ("ed", "ing") and len(stem) > 2 and stem[-1] == stem[-2]:
                    lemmas.add(stem[:-1])  # stopped -> stop
        return lemmas

    def get_config(self):
        """The tables as lines of space-separated words (a pair or group per line; an irregular form, then its
        lemmas): a preset's `task.json` stays a few MB instead of one JSON line per word."""
        return {"antonyms": _lines(self.antonyms), "synonyms": _lines(self.synonyms), "related": _lines(self.related),
                "irregular_forms": _lines([form, *lemmas] for form, lemmas in sorted(self.irregular_forms.items())),
                "same": self.same, "different": self.different, "confidence": self.confidence}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("antonyms", "synonyms", "related", "irregular_forms"):
            config[key] = [line.split(" ") for line in config[key].split("\n") if line]
        config["irregular_forms"] = {form: lemmas for form, *lemmas in config["irregular_forms"]}
        return cls(**config)


def _lines(groups):
    return "\n".join(" ".join(group) for group in groups)


def _groups(groups):
    return sorted({tuple(sorted(set(group))) for group in groups if len(set(group)) > 1})


def _memberships(groups):
    """word -> the indices of the groups it is in."""
    found = {}
    for index, group in enumerate(groups):
        for word in group:
            found.setdefault(word, set()).add(index)
    return found


def _share_a_group(memberships, word, other):
    """Whether a lemma of `word` and one of `other` are in one group."""
    return any(memberships.get(a, set()) & memberships.get(b, set()) for a in word for b in other)


def _unmatched(words, others):
    """The words that match none of `others`, in sentence order."""
    return [word for word in words if not any(word & other for other in others)]


def _index(words, word):
    return next(i for i, other in enumerate(words) if other is word)


def _exchanged(words, pair_words, match):
    """Whether `pair_words` is `words` with two runs of one or two words ("Tom", "my sister", "post office")
    exchanged around words that stay, one of them the same word (not a synonym: "scared of spiders" / "Spiders
    frighten" swaps the roles with the verb)."""
    size = len(words)
    matches = [[match(word, other) for other in pair_words] for word in words]  # each pair compared once
    if all(matches[i][i] for i in range(size)):
        return False
    for start in range(size):
        for middle in range(start + 1, min(start + _RUN, size) + 1):
            for end in range(middle + 1, size):
                for stop in range(end + 1, min(end + _RUN, size) + 1):
                    # words' indices in pair_words' order: the runs exchanged, the words between them in between
                    order = [*range(start), *range(end, stop), *range(middle, end), *range(start, middle),
                             *range(stop, size)]
                    staying = range(start + stop - end, start + stop - middle)  # where the words between land
                    if (all(matches[i][j] for j, i in enumerate(order))
                            and any(words[i] & pair_words[j] for i, j in zip(range(middle, end), staying))):
                        return True
    return False


def _same_order(first, second):
    """Whether the words and roles two readings share come in the same order in both (a longest common
    subsequence that holds every shared one of the reading with fewer)."""
    shared = [role for role in first.roles if any(role & other for other in second.roles)]
    pair_shared = [role for role in second.roles if any(role & other for other in first.roles)]
    longest = [[0] * (len(pair_shared) + 1) for _ in range(len(shared) + 1)]
    for i, word in enumerate(shared):
        for j, other in enumerate(pair_shared):
            longest[i + 1][j + 1] = (longest[i][j] + 1 if word & other
                                     else max(longest[i][j + 1], longest[i + 1][j]))
    return longest[-1][-1] == min(len(shared), len(pair_shared))

