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
>>> vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
>>> select_sentences(centrality(vectors), vectors @ vectors.T, 2)
[0, 2]

A finetuned `ExtractiveSummariser` (`kerasprop.models.sentences.sentence_heads`) ranks the same way
with its learnt sentence scores as relevance and word overlap as redundancy.
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


def centrality(vectors, lead_bonus=LEAD_BONUS):
    """Each unit-length sentence vector's cosine to the text's centroid, the first sentence's raised by `lead_bonus`."""
    vectors = np.asarray(vectors, "float32")
    centroid = vectors.mean(axis=0)
    relevance = vectors @ (centroid / max(np.linalg.norm(centroid), 1e-9))
    relevance[0] += lead_bonus
    return relevance


def word_overlap(sentences):
    """`(sentences, sentences)` Jaccard similarity of the sentences' content words."""
    words = [content_words(sentence) for sentence in sentences]
    return np.array([[len(a & b) / max(len(a | b), 1) for b in words] for a in words], "float32")


#: Words too common to say whether two sentences tell the same thing.
STOP_WORDS = set("a an and are as at be been but by for from had has have he her his i in is it its of on or our "
                 "she so that the their them there they this to was we were which who will with you".split())


def content_words(text):
    """The lower-cased words of `text` that are not `STOP_WORDS`."""
    return {word for word in re.findall(r"[\w']+", text.lower()) if word not in STOP_WORDS}


def select_sentences(relevance, similarity, count):
    """Indices (in text order) of `count` sentences chosen by MMR from their relevance and pairwise similarity."""
    relevance = np.asarray(relevance, "float32")
    chosen = []
    for _ in range(min(count, len(relevance))):
        redundancy = similarity[:, chosen].max(axis=1) if chosen else np.zeros(len(relevance))
        score = RELEVANCE * relevance - (1 - RELEVANCE) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return sorted(chosen)


def summary_length(sentences, share=SHARE):
    """How many sentences a summary of `sentences` keeps: `share` of them, at least one, at most `MAX_SENTENCES`."""
    return max(1, min(MAX_SENTENCES, round(share * len(sentences))))


def summarise(text, rank, share=SHARE):
    """An extractive summary of `text`.

    `rank(list_of_sentences)` gives `(relevance, similarity)`: one score per
    sentence and their pairwise similarity (see `centrality`, `word_overlap`).
    """
    sentences = split_sentences(text)
    if len(sentences) <= 1:
        return " ".join(sentences)
    chosen = select_sentences(*rank(sentences), summary_length(sentences, share))
    kept, words = [], 0
    for index in chosen:
        length = len(sentences[index].split())
        if kept and words + length > MAX_WORDS:
            break
        kept.append(sentences[index])
        words += length
    return " ".join(kept)
