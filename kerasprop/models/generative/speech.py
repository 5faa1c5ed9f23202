"""Helpers shared by the speech recognisers (Whisper, Moonshine): long audio in overlapping windows.

A recogniser cuts audio longer than its window into windows that overlap by
`CHUNK_OVERLAP`, transcribes them in batches of at most `MAX_BATCH_SIZE` and
joins the token sequences of a clip where they overlap.
"""

import numpy as np

from kerasprop.models.runtime.inference import power_of_two_bucket

#: Windows (chunks of audio) per forward pass.
MAX_BATCH_SIZE = 16
#: Consecutive windows of long audio overlap by this fraction of a window.
CHUNK_OVERLAP = 1 / 6


def audio_windows(samples, size, overlap=0):
    """Cuts `samples` into windows of `size` (the last may be shorter) starting every `size - overlap`.

    Example:
    >>> [len(w) for w in audio_windows(np.zeros(25), 10, overlap=2)]
    [10, 10, 9]
    """
    step = size - overlap
    starts = range(0, max(len(samples) - overlap, 1), step)
    return [samples[start : start + size] for start in starts]


def merge_overlapping(sequences):
    """Joins token sequences of overlapping windows where they agree best.

    For each next sequence, the overlap length that aligns the most tokens
    (more than one) with the end of the text so far wins; the first half of
    the overlap comes from the left window and the rest from the right one,
    each being more reliable away from its cut. Without such an alignment the
    sequences are concatenated.

    Example:
    >>> merge_overlapping([[1, 2, 3, 4, 5], [4, 5, 6, 7]])
    [1, 2, 3, 4, 5, 6, 7]
    """
    merged = list(sequences[0]) if sequences else []
    for sequence in sequences[1:]:
        sequence = list(sequence)
        best_score, best_overlap = 0.0, 0
        for overlap in range(1, min(len(merged), len(sequence)) + 1):
            matches = sum(a == b for a, b in zip(merged[-overlap:], sequence[:overlap]))
            score = matches / overlap + overlap * 1e-4
            if matches > 1 and score > best_score:
                best_score, best_overlap = score, overlap
        keep = best_overlap // 2
        merged = merged[: len(merged) - best_overlap + keep] + sequence[keep:]
    return merged


def padded_batch(windows, num_samples):
    """Windows zero-padded to `num_samples`, the batch padded to a power of two (repeating the last).

    Powers of two keep the number of compiled batch shapes small.

    Example:
    >>> padded_batch([np.ones(3), np.ones(2), np.ones(1)], 4).shape
    (4, 4)
    """
    size = power_of_two_bucket(len(windows))
    batch = np.zeros((size, num_samples), dtype="float32")
    for i in range(size):
        window = windows[min(i, len(windows) - 1)][:num_samples]
        batch[i, : len(window)] = window
    return batch


