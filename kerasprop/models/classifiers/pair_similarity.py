"""Blends a sentence-pair classifier's probabilities with the similarity of the two sentences' vectors.

A cross-encoder finetuned on generated pairs reads word overlap well and
everyday paraphrases that share few words badly ("The train to Leeds was
cancelled." / "This morning's Leeds train did not run."); a sentence-vector
model trained on a billion real paraphrase pairs (all-MiniLM-L6-v2) places such
sentences close together, but also places near-misses that change one fact
close together. `SimilarityBlend` averages the two views:

    p(same) = (1 - weight) * p_model(same) + weight * sigmoid(scale * (cosine - midpoint))

where `cosine` is the cosine similarity of the sentences' vectors. The
sentence-vector model is loaded once per process, on first use.
"""

import functools

import numpy as np

from kerasprop.hub.catalog import resolve_handle
from kerasprop.models.families import load_preset


@functools.lru_cache(maxsize=2)
def _embedder(preset):
    """The sentence-vector model of `preset`, with the class its architecture has for text vectors."""
    return load_preset(str(resolve_handle(preset)), task="text-vectorisation")


class SimilarityBlend:
    """Averages a pair classifier's probability of `same` with a sigmoid of the pair's cosine similarity.

    Args:
        embedder: the preset whose sentence vectors are compared (a catalog
            name, bundled preset or folder, loaded for "text-vectorisation").
        midpoint: the cosine at which the similarity alone says 50/50.
        scale: how sharply the similarity's probability rises around `midpoint`.
        weight: the similarity's share of the blend, between 0 and 1.
        same, different: the two class names the blend speaks for; it leaves
            probabilities over other classes alone.

    Example:
    >>> blend = SimilarityBlend("all-minilm-l6-v2")
    >>> rows = [{"paraphrase": 0.1, "not_paraphrase": 0.9}]
    >>> blend.apply(["The shop closes at six."], ["The store shuts at 6."], rows)  # doctest: +SKIP
    [{'paraphrase': 0.46, 'not_paraphrase': 0.54}]
    """

    def __init__(self, embedder="all-minilm-l6-v2", midpoint=0.6, scale=10.0, weight=0.85, same="paraphrase",
                 different="not_paraphrase"):
        if not 0 <= weight <= 1:
            raise ValueError(f"'weight' must be between 0 and 1, got {weight}.")
        if not scale > 0:
            raise ValueError(f"'scale' must be positive, got {scale}.")
        if not -1 <= midpoint <= 1:
            raise ValueError(f"'midpoint' is a cosine similarity, between -1 and 1, got {midpoint}.")
        self.embedder, self.midpoint, self.scale, self.weight = str(embedder), float(midpoint), float(scale), float(weight)
        self.same, self.different = same, different

    def similarities(self, texts, text_pairs):
        """The cosine similarity of each text with its pair, as a numpy array."""
        embedder = _embedder(self.embedder)
        vectors = embedder.encode_text(list(texts) + list(text_pairs), normalize=True)
        first, second = vectors[:len(texts)], vectors[len(texts):]
        return (first * second).sum(axis=-1)

    def apply(self, texts, text_pairs, rows):
        """`rows` (one dict class name -> probability per pair) with `same` blended; other class sets unchanged."""
        if not rows or set(rows[0]) != {self.same, self.different}:
            return rows
        similar = 1 / (1 + np.exp(-self.scale * (self.similarities(texts, text_pairs) - self.midpoint)))
        blended = []
        for row, p_similar in zip(rows, similar.tolist()):
            same = (1 - self.weight) * row[self.same] + self.weight * p_similar
            blended.append({self.same: same, self.different: 1 - same})
        return blended

    def get_config(self):
        return {"embedder": self.embedder, "midpoint": self.midpoint, "scale": self.scale, "weight": self.weight,
                "same": self.same, "different": self.different}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
