"""Cosine similarity between vectors."""

import numpy as np

from kerasprop.schemas.specs import describe


def _as_matrix(value, key):
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise TypeError(f"'{key}' must be a vector or a list of vectors of numbers, got {describe(value)}.") from None
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(f"'{key}' must be a vector or a list of vectors, got shape {array.shape}.")
    return array


def cosine_similarity(vec, vec_or_list):
    """Cosine similarity of `vec` with a vector (a float) or with each of a list of vectors (a list).

    Example:
    >>> from kerasprop import cosine_similarity
    >>> cosine_similarity([1.0, 0.0], [[1.0, 0.0], [0.0, 2.0]])
    [1.0, 0.0]
    """
    a = _as_matrix(vec, "vec")
    if a.ndim != 1:
        raise ValueError(f"'vec' must be a single vector, got shape {a.shape}.")
    b = _as_matrix(vec_or_list, "vec_or_list")
    if b.shape[-1] != a.shape[0]:
        raise ValueError(f"Vectors of different sizes: {a.shape[0]} and {b.shape[-1]}.")
    norms = np.linalg.norm(b, axis=-1) * np.linalg.norm(a)
    dots = b @ a
    sims = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return float(sims) if b.ndim == 1 else [float(s) for s in sims]
