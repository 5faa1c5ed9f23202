"""Extractive summaries from sentence vectors: the sentences that say most of the text, in its order.

A summary is made of the text's own sentences, so it never says anything the text does
not. Sentences are ranked by maximal marginal relevance (MMR): similarity to the
text's centroid (the mean of its sentence vectors) minus similarity to the sentences
already chosen, so a second sentence that repeats the first loses to one that adds a
new fact. A small bonus for the first sentence follows how news and reports are written.

Example:
>>> import numpy as np
>>> split_sentences("Dr. Ames opened the lab. It cost $2.5 million! Was it worth it? Yes.")
['Dr. Ames opened the lab.', 'It cost $2.5 million!', 'Was it worth it?', 'Yes.']
>>> vectors = np.eye(3)[[0, 0, 1]] + 0.1
>>> select_sentences(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), 2)
[0, 2]
"""

import re

import numpy as np

#: Words ending in a full stop that do not end a sentence.
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "mt", "jr", "sr", "vs", "etc", "e.g", "i.e", "no", "inc",
                 "ltd", "co", "corp", "gen", "gov", "sen", "rep", "rev", "capt", "lt", "col", "sgt", "fig", "approx"}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
#: Weight of relevance against novelty in MMR.
RELEVANCE = 0.7
#: Added to the first sentence's score (the lead of news and reports).
LEAD_BONUS = 0.05
#: A summary keeps about this share of the sentences, at least one, at most `MAX_SENTENCES`.
SHARE = 0.3
MAX_SENTENCES = 5
#: ... and at most this many words when it has more than one sentence.
MAX_WORDS = 120


def split_sentences(text):
    """The sentences of `text`, split after `.`, `!` or `?` before a capital or digit (not after "Dr." etc.)."""
    text = " ".join(text.split())
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start:match.start()].rstrip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
        if last_word in ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        sentences.append(text[start:match.end()].strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def select_sentences(vectors, count, lead_bonus=LEAD_BONUS):
    """Indices (in text order) of `count` sentences chosen by MMR from unit-length sentence `vectors`."""
    vectors = np.asarray(vectors, "float32")
    centroid = vectors.mean(axis=0)
    relevance = vectors @ (centroid / max(np.linalg.norm(centroid), 1e-9))
    relevance[0] += lead_bonus
    similarity = vectors @ vectors.T
    chosen = []
    for _ in range(min(count, len(vectors))):
        redundancy = similarity[:, chosen].max(axis=1) if chosen else np.zeros(len(vectors))
        score = RELEVANCE * relevance - (1 - RELEVANCE) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return sorted(chosen)


def summary_length(sentences):
    """How many sentences a summary of `sentences` keeps."""
    return max(1, min(MAX_SENTENCES, round(SHARE * len(sentences))))


def summarise(text, embed):
    """An extractive summary of `text`; `embed(list_of_sentences)` gives their unit-length vectors."""
    sentences = split_sentences(text)
    if len(sentences) <= 1:
        return " ".join(sentences)
    chosen = select_sentences(embed(sentences), summary_length(sentences))
    kept, words = [], 0
    for index in chosen:
        length = len(sentences[index].split())
        if kept and words + length > MAX_WORDS:
            break
        kept.append(sentences[index])
        words += length
    return " ".join(kept)
