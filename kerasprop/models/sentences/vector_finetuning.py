"""Vector finetuning shared by the embedding models: pair batches and their two losses.

Both variants of the vectorisation tasks train on pairs:

- "cosine_similarity": pairs given with a target cosine similarity; the loss is
  the squared error between the pair's cosine similarity and the target.
- "triplet": each item is paired with a positive drawn from its own group; the
  semi-hard triplet loss picks each pair's negative among the other groups of
  the batch.

A model embeds a pair batch as one batch, first items then second items (the
`PAIR_KEYS` halves), and the losses split the vectors in half again. An item
is one input of each of the task's modalities (an image and a text for
"image-text-vectorisation"): the vectors the losses compare are whatever the
model returns for the task.

Example:
>>> pairs, y = pair_batch({"texts": ["a", "b", "c"], "groups": [0, 0, 1]}, "triplet", ("texts",))
>>> pairs["texts"]
(['a', 'b', 'c'], ['b', 'a', 'c'])
>>> y.tolist()
[0.0, 0.0, 1.0]
"""

import keras
import numpy as np
from keras import ops

from kerasprop.schemas.specs import describe

VARIANTS = ("triplet", "cosine_similarity")
#: The two halves of a pair batch.
PAIR_KEYS = ("first", "second")
#: Finetuning param keys of each modality (schemas/tasks.py): the triplet variant's key,
#: then the keys of the first and second items of a "cosine_similarity" pair.
PARAM_KEYS = {"texts": ("texts", "texts1", "texts2"), "images": ("images", "imgs1", "imgs2")}


def positive_indices(groups, seed=0):
    """For each item, the index of another item of its group, drawn at random (its own when alone)."""
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    indices = np.arange(len(groups))
    positives = indices.copy()
    for i, group in enumerate(groups):
        others = np.flatnonzero((groups == group) & (indices != i))
        if len(others):
            positives[i] = rng.choice(others)
    return positives


def pair_batch(params, variant, modalities, seed=0):
    """Pairs for a finetuning variant: `({modality: (first items, second items)}, y)`.

    `params` are validated finetuning params; `modalities` are keys of
    `PARAM_KEYS`. `y` is the target similarity of each pair
    ("cosine_similarity") or the group of its items ("triplet"), as float32.
    """
    if variant == "cosine_similarity":
        pairs = {m: (list(params[PARAM_KEYS[m][1]]), list(params[PARAM_KEYS[m][2]])) for m in modalities}
        return pairs, np.asarray(params["similarity_scores"], "float32")
    if variant != "triplet":
        raise ValueError(f"Vector finetuning variants are {VARIANTS}, got {describe(variant)}.")
    positives = positive_indices(params["groups"], seed)
    pairs = {}
    for modality in modalities:
        items = list(params[PARAM_KEYS[modality][0]])
        pairs[modality] = (items, [items[j] for j in positives])
    return pairs, np.asarray(params["groups"], "float32")


def vector_loss(variant):
    """The loss of a vector finetuning variant."""
    if variant == "cosine_similarity":
        return CosineSimilarityLoss()
    if variant == "triplet":
        return SemiHardTripletLoss()
    raise ValueError(f"Vector finetuning variants are {VARIANTS}, got {describe(variant)}.")


@keras.saving.register_keras_serializable(package="kerasprop")
class CosineSimilarityLoss(keras.losses.Loss):
    """Squared error between each pair's cosine similarity and its target score.

    `y_pred` holds the vectors of a pair batch: first items, then second items.

    Example:
    >>> import numpy as np
    >>> loss = CosineSimilarityLoss()
    >>> float(loss(np.array([1.0]), np.array([[1.0, 0.0], [0.0, 2.0]])))
    1.0
    """

    def __init__(self, name="cosine_similarity_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        first, second = ops.split(y_pred, 2, axis=0)
        similarity = ops.sum(ops.normalize(first, axis=-1) * ops.normalize(second, axis=-1), axis=-1)
        return ops.square(similarity - ops.reshape(y_true, (-1,)))


@keras.saving.register_keras_serializable(package="kerasprop")
class SemiHardTripletLoss(keras.losses.Loss):
    """Semi-hard triplet loss on cosine distance (1 - cosine similarity).

    For every (anchor, positive) of the same group in the batch, the negative
    is the closest one farther than the positive (semi-hard), or the farthest
    negative when none is; the loss is `max(d(a, p) - d(a, n) + margin, 0)`,
    averaged over pairs that have a negative. `y_true` holds the group of each
    pair of a pair batch (`y_pred`: first items, then second items).

    Example:
    >>> import numpy as np
    >>> loss = SemiHardTripletLoss(margin=0.5)
    >>> vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.1, 1.0]])
    >>> round(float(loss(np.array([0.0, 1.0]), vectors)), 4)
    0.0
    """

    def __init__(self, margin=0.5, name="semi_hard_triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = margin

    def call(self, y_true, y_pred):
        groups = ops.reshape(y_true, (-1,))
        groups = ops.concatenate([groups, groups], axis=0)
        vectors = ops.normalize(y_pred, axis=-1)
        distance = 1.0 - ops.matmul(vectors, ops.transpose(vectors))
        same = ops.equal(groups[:, None], groups[None, :])
        positive = ops.logical_and(same, ops.logical_not(ops.eye(ops.shape(groups)[0], dtype="bool")))
        negative = ops.logical_not(same)
        d_ap, d_an = distance[:, :, None], distance[:, None, :]  # (anchor, positive, negative)
        farther = ops.logical_and(negative[:, None, :], d_an > d_ap)
        semi_hard = ops.min(ops.where(farther, d_an, 4.0), axis=-1)
        hardest = ops.max(ops.where(negative, distance, -4.0), axis=-1)[:, None]
        chosen = ops.where(ops.any(farther, axis=-1), semi_hard, hardest)
        valid = ops.logical_and(positive, ops.any(negative, axis=-1)[:, None])
        losses = ops.where(valid, ops.relu(distance - chosen + self.margin), 0.0)
        return ops.sum(losses) / ops.maximum(ops.sum(ops.cast(valid, losses.dtype)), 1.0)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}
