"""`ImageTextEmbedder` (an image tower against the locked MiniLM): finetuning the tower leaves the text
side untouched, saves only the tower and loads back to the same vectors; bad arguments and inputs are
refused by name. The bundled preset's quality is re-measured in `tests/test_presets.py`."""

import pathlib
import random

import numpy as np
import pytest

from kerasprop.models.sentences.image_text_embedder import ImageTextEmbedder
from kerasprop.tasks import ImageClassification, ImageVectorisation
from presets.recipes import synthetic_images


@pytest.fixture(scope="module")
def pictures():
    return synthetic_images.pictures(random.Random(7), 24)


@pytest.fixture(scope="module")
def finetuned(pictures, tmp_path_factory):
    """The bundled preset finetuned for one epoch on pictures grouped by shape (colour ignored), and saved."""
    task = ImageVectorisation("minilm-shapes-lit")
    before = np.array(task.model({"image": [p.image for p in pictures]}, task="image-vectorisation"))
    text_before = np.array(task.model({"text": ["a red circle"]}, task="text-vectorisation"))
    shapes = sorted({p.shape for p in pictures})
    task.finetune({"images": [p.image for p in pictures], "groups": [shapes.index(p.shape) for p in pictures]},
                  epochs=2, batch_size=8)
    folder = task.save(path=str(tmp_path_factory.mktemp("saved") / "shapes-by-kind"))
    return task, before, text_before, folder


def _similarity_gap(vectors, groups):
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    same = np.equal.outer(groups, groups) & ~np.eye(len(groups), dtype=bool)
    different = ~np.equal.outer(groups, groups)
    return similarity[same].mean() - similarity[different].mean()


def test_finetuning_moves_the_image_vectors_towards_the_new_groups(finetuned, pictures):
    task, before, _, _ = finetuned
    after = np.array(task.model({"image": [p.image for p in pictures]}, task="image-vectorisation"))
    groups = np.array([p.shape for p in pictures])
    assert not np.allclose(after, before)
    assert _similarity_gap(after, groups) > _similarity_gap(before, groups)


def test_finetuning_leaves_the_locked_text_side_alone(finetuned):
    task, _, text_before, _ = finetuned
    text_after = np.array(task.model({"text": ["a red circle"]}, task="text-vectorisation"))
    np.testing.assert_allclose(text_after, text_before, atol=1e-6)


def test_the_saved_preset_holds_the_tower_only_and_loads_to_the_same_vectors(finetuned, pictures):
    task, _, _, folder = finetuned
    files = {p.name for p in pathlib.Path(folder).iterdir()}
    assert "model.weights.h5" not in files and {"task.weights.h5", "base_backbone.json"} <= files
    assert sum(p.stat().st_size for p in pathlib.Path(folder).iterdir() if p.is_file()) < 2 * 2**20
    loaded = ImageVectorisation(str(folder))
    images = [p.image for p in pictures[:4]]
    np.testing.assert_allclose(
        np.array(loaded.model({"image": images}, task="image-vectorisation")),
        np.array(task.model({"image": images}, task="image-vectorisation")), atol=1e-5,
    )


def test_zero_shot_without_labels_is_refused_by_name(finetuned, pictures):
    task = ImageClassification(finetuned[0].model)
    with pytest.raises(ValueError, match="'labels'"):
        task(pictures[0].image)


@pytest.mark.parametrize("size", [0, 8, 64.0, True])
def test_a_bad_image_size_is_refused_by_name(finetuned, size):
    encoder = finetuned[0].model
    with pytest.raises(ValueError, match="'image_size'"):
        ImageTextEmbedder(backbone=encoder.backbone, preprocessor=encoder.preprocessor, image_size=size)
