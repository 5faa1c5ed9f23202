"""A lexical check for sentence pairs that differ only by opposite words or by a negation.

Models that read two sentences through sentence vectors see "I lost my keys on
the bus." and "I found my keys on the bus." as near neighbours: the words are
related, the facts opposite. `OppositeWordsCheck` decides such pairs from the
words alone, and only those: it compares the content words of the two
sentences (function words and negations set aside, inflections reduced to their
lemma), and speaks when what differs is a negation, one pair of antonyms, or
both:

- the same content words, one side negated: different ("I will call you." /
  "I won't call you.");
- one antonym pair, negated on neither or both sides: different ("We won the
  match." / "We lost the match.");
- one antonym pair, negated on one side: the same ("The exam was easy." / "The
  exam wasn't difficult.");
- two or more antonym pairs and nothing else, with the same negation: different.

For antonyms, the words the sentences share must also come in the same order,
and a passive agent ("by Emma") must be on both sides or neither: "Jack sold
his bike to Emma." / "Emma bought Jack's bike." and "... / Jack's bike was
bought by Emma." swap the roles with the verb (buy and sell are converses
there, not opposites) and are left to the model. Antonyms are taken as
complementary: "The coffee isn't hot." / "The coffee is cold." counts as the
same, which is looser than strict reading. Every other pair is left to the
model. The antonyms are WordNet 3.0's (a table that
`presets/recipes/everyday_pairs.py` extracts), with their irregular forms
("lost" -> "lose"); regular inflections are reduced by suffix rules.
"""

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


class OppositeWordsCheck:
    """Decides sentence pairs that differ only by antonyms or a negation; `None` for every other pair.

    Args:
        antonyms: pairs of lemmas `[word, opposite]`.
        irregular_forms: inflected form -> its lemmas, for forms suffix rules
            miss (`{"lost": ["lose"], "won": ["win"]}`).
        same, different: the class names of the two verdicts.
        confidence: the probability given to a verdict the check makes, unless
            the model already gives it more.

    Example:
    >>> check = OppositeWordsCheck([["find", "lose"]], {"lost": ["lose"], "found": ["find"]})
    >>> check.verdict("I lost my keys on the bus.", "I found my keys on the bus.")
    'not_paraphrase'
    >>> check.verdict("I will call you.", "I won't call you.")
    'not_paraphrase'
    >>> check.verdict("The shop closes at six.", "The store shuts at 6.") is None
    True
    """

    def __init__(self, antonyms, irregular_forms, same="paraphrase", different="not_paraphrase", confidence=0.9):
        if not 0.5 <= confidence <= 1:
            raise ValueError(f"'confidence' must be between 0.5 and 1, got {confidence}.")
        self.antonyms = sorted({tuple(sorted(pair)) for pair in antonyms})
        self.irregular_forms = {form: sorted(lemmas) for form, lemmas in irregular_forms.items()}
        self.same, self.different, self.confidence = same, different, confidence
        self._opposite = {}
        for word, opposite in self.antonyms:
            self._opposite.setdefault(word, set()).add(opposite)
            self._opposite.setdefault(opposite, set()).add(word)

    def verdict(self, text, text_pair):
        """`same`, `different` or None (the words alone do not decide)."""
        words, negated, agent = self._read(text)
        pair_words, pair_negated, pair_agent = self._read(text_pair)
        shared, only = _split(words, pair_words)
        pair_shared, pair_only = _split(pair_words, words)
        flipped = negated != pair_negated
        if not only and not pair_only:
            return self.different if flipped else None
        opposed = [(a, b) for a in only for b in pair_only if any(self._opposite.get(lemma, set()) & b for lemma in a)]
        paired = {id(a) for a, _ in opposed}, {id(b) for _, b in opposed}
        if paired != ({id(a) for a in only}, {id(b) for b in pair_only}):
            return None  # something other than antonyms differs
        if agent != pair_agent or not _same_order(shared, pair_shared):
            return None  # "Jack sold his bike to Emma." / "Emma bought Jack's bike.": converses, not opposites
        if len(only) == 1 and len(pair_only) == 1:
            return self.same if flipped else self.different
        return None if flipped else self.different

    def apply(self, text, text_pair, probabilities):
        """`probabilities` (class name -> probability, two classes) with the check's verdict, if it makes one."""
        decided = self.verdict(text, text_pair)
        if decided is None or set(probabilities) != {self.same, self.different}:
            return probabilities
        other = self.different if decided == self.same else self.same
        kept = max(probabilities[decided], self.confidence)
        return {decided: kept, other: 1 - kept}

    def _read(self, text):
        """(one set of candidate lemmas per content word, whether the sentence is negated an odd number of
        times, whether it names a passive agent: "by")."""
        text = _INTERJECTION.sub("", text.lower().replace("\u2019", "'"))
        for contraction, full in _CONTRACTIONS.items():
            text = text.replace(contraction, full)
        text = _SUFFIX.sub(lambda found: _SUFFIXES[found.group(1)], text)
        tokens = [token.removesuffix("'s") for token in _TOKEN.findall(text)]
        negated = sum(token in NEGATIONS for token in tokens) % 2 == 1
        words = [self._lemmas(token) for token in tokens if token not in NEGATIONS and token not in FUNCTION_WORDS]
        return words, negated, "by" in tokens

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
        return {"antonyms": [list(pair) for pair in self.antonyms], "irregular_forms": self.irregular_forms,
                "same": self.same, "different": self.different, "confidence": self.confidence}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _split(words, others):
    """(the words that match one of `others`, the words that match none), each in sentence order."""
    matched = [any(word & other for other in others) for word in words]
    return [w for w, m in zip(words, matched) if m], [w for w, m in zip(words, matched) if not m]


def _same_order(shared, pair_shared):
    """Whether the words two sentences share come in the same order in both (a longest common
    subsequence that holds every shared word of the sentence with fewer)."""
    longest = [[0] * (len(pair_shared) + 1) for _ in range(len(shared) + 1)]
    for i, word in enumerate(shared):
        for j, other in enumerate(pair_shared):
            longest[i + 1][j + 1] = (longest[i][j] + 1 if word & other
                                     else max(longest[i][j + 1], longest[i + 1][j]))
    return longest[-1][-1] == min(len(shared), len(pair_shared))
