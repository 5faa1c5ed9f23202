"""CLIP: the Hugging Face converter, the task, its preprocessing and its contract.

The reference is a tiny random `CLIPModel` with a tiny BPE vocabulary, written
with `transformers` into a Hugging Face folder that both sides load.
"""

import json

import dill
import keras
import numpy as np
import pytest
import torch
from PIL import Image

import kerasprop
from tiny_models import tiny_clip_folder
from kerasprop.models.clip.clip_image_text import CLIP
from kerasprop.models.runtime.image_inputs import to_pixels

TEXTS = ["a photo of a cat", "Dog!", "the DOG and the cat, a photo"]
LABELS = ["cat", "dog", "a photo of the dog"]
SIZES = [(40, 50), (64, 33), (32, 32)]  # (height, width): wide, tall, exact


@pytest.fixture(scope="module")
def hf_clip(tmp_path_factory):
    """A tiny random Hugging Face CLIP folder: (folder, model, tokenizer, image processor)."""
    folder = tmp_path_factory.mktemp("hf-clip")
    return (folder, *tiny_clip_folder(folder))


@pytest.fixture(scope="module")
def clip(hf_clip):
    return CLIP.from_preset(str(hf_clip[0]))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in SIZES]


def _features(output):
    return getattr(output, "pooler_output", output).numpy()


def _reference_image_features(hf_clip, images):
    _, model, _, processor = hf_clip
    pixels = processor(images, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return _features(model.get_image_features(pixel_values=pixels))


def _reference_text_features(hf_clip, texts):
    _, model, tokenizer, _ = hf_clip
    with torch.no_grad():
        return _features(model.get_text_features(**tokenizer(texts, padding=True, return_tensors="pt")))


def test_pixels_match_clip_image_processor(hf_clip, clip, images):
    reference = hf_clip[3](images, return_tensors="np")["pixel_values"].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(to_pixels(images, clip.preprocessor.image_converter), reference, atol=1e-5)


def test_token_ids_match_clip_tokenizer(hf_clip, clip):
    reference = hf_clip[2](TEXTS)["input_ids"]
    packed = clip.preprocessor.pack_texts(TEXTS)
    assert packed.shape[1] % 8 == 0
    for ids, row in zip(reference, packed):
        assert row[: len(ids)].tolist() == ids


def test_image_and_text_features_match_transformers(hf_clip, clip, images):
    np.testing.assert_allclose(clip.embed_images(images), _reference_image_features(hf_clip, images), atol=1e-4)
    np.testing.assert_allclose(clip.embed_texts(TEXTS), _reference_text_features(hf_clip, TEXTS), atol=1e-4)


def test_keras_hub_loads_hf_clip_folders_once_registered(hf_clip, clip):
    import keras_hub

    backbone = keras_hub.models.CLIPBackbone.from_preset(str(hf_clip[0]))
    logit_scale = keras.ops.convert_to_numpy(backbone.clip_head.logit_scale)
    np.testing.assert_allclose(logit_scale, hf_clip[1].logit_scale.item(), rtol=1e-6)


def test_vectorisation_tasks(hf_clip, clip, images):
    image_vectors = _reference_image_features(hf_clip, images)
    text_vectors = _reference_text_features(hf_clip, TEXTS)

    out = clip({"image": images}, task="image-vectorisation")
    assert len(out) == 3 and all(isinstance(v, float) for v in out[0])
    np.testing.assert_allclose(out, image_vectors, atol=1e-4)
    single = clip({"image": images[1]}, task="image-vectorisation")
    np.testing.assert_allclose(single, image_vectors[1], atol=1e-4)

    np.testing.assert_allclose(clip({"text": TEXTS[0]}, task="text-vectorisation"), text_vectors[0], atol=1e-4)

    joint = np.concatenate([image_vectors, text_vectors], axis=-1)
    joint /= np.linalg.norm(joint, axis=-1, keepdims=True)
    out = clip({"image": images, "text": TEXTS}, task="image-text-vectorisation")
    assert np.asarray(out).shape == (3, 32)
    np.testing.assert_allclose(out, joint, atol=1e-5)


def test_return_tensor_gives_tensors(clip, images):
    out = clip({"image": images, "return_tensor": True}, task="image-vectorisation")
    assert len(out) == 3 and keras.ops.is_tensor(out[0]) and tuple(out[0].shape) == (16,)


def test_zero_shot_classification_matches_transformers(hf_clip, clip, images):
    _, model, tokenizer, processor = hf_clip
    with torch.no_grad():
        logits = model(
            pixel_values=processor(images, return_tensors="pt")["pixel_values"],
            **tokenizer(LABELS, padding=True, return_tensors="pt"),
        ).logits_per_image
    reference = logits.softmax(-1).numpy()

    out = clip({"image": images, "labels": LABELS}, task="image-classification")
    for scores, expected in zip(out, reference):
        assert list(scores) == [LABELS[i] for i in np.argsort(-expected)]  # most probable first
        assert all(type(p) is float for p in scores.values())
        np.testing.assert_allclose([scores[label] for label in LABELS], expected, atol=1e-4)

    top = clip({"image": images[0], "labels": LABELS, "top_k": 2}, task="image-classification")
    assert list(top) == list(out[0])[:2]
    assert list(top.values()) == pytest.approx(list(out[0].values())[:2], abs=1e-6)


def test_zero_shot_labels_per_image(clip, images):
    per_image = [["cat", "dog"], ["a photo of the dog", "cat", "dog"]]
    out = clip({"image": images[:2], "labels": per_image}, task="image-classification")
    assert [set(o) for o in out] == [set(labels) for labels in per_image]
    assert all(abs(sum(o.values()) - 1.0) < 1e-5 for o in out)
    shared = clip({"image": images[1], "labels": per_image[1]}, task="image-classification")
    assert list(shared) == list(out[1]) and shared == pytest.approx(out[1], abs=1e-6)


def test_bad_input_errors(clip, images):
    with pytest.raises(ValueError, match="'labels'"):
        clip({"image": images[0]}, task="image-classification")
    with pytest.raises(ValueError, match=r"image\[1\]"):
        clip({"image": [images[0], b"not an image", images[2]]}, task="image-vectorisation")
    with pytest.raises(TypeError, match=r"image\[2\]"):
        clip({"image": [images[0], images[1], 42], "labels": LABELS}, task="image-classification")
    with pytest.raises(ValueError, match="'text' has 1 items"):
        clip({"image": images[:2], "text": ["one"]}, task="image-text-vectorisation")
    with pytest.raises(ValueError, match="does not support the task 'summarisation'"):
        clip({"text": "hi"}, task="summarisation")


def test_keras_call_gives_the_task_embeddings(clip, images):
    pixels = np.stack([np.asarray(image.resize((32, 32), Image.BICUBIC)) for image in images])
    out = clip.predict_on_batch({"images": pixels, "prompts": TEXTS})  # preprocessed by the task
    exact = [image.resize((32, 32), Image.BICUBIC) for image in images]
    np.testing.assert_allclose(out["image_embeddings"], clip.embed_images(exact), atol=1e-4)
    np.testing.assert_allclose(out["text_embeddings"][:1], clip.embed_texts(TEXTS[:1]), atol=1e-4)


def test_save_load_round_trip(clip, images, tmp_path):
    folder = kerasprop.save(clip, path=tmp_path / "saved")
    reloaded = kerasprop.load(folder)
    assert type(reloaded) is CLIP and reloaded.tasks == clip.tasks
    with open(tmp_path / "saved" / "kerasprop.json") as f:
        assert json.load(f)["class"] == "kerasprop>CLIP"  # the registered name, never a module path
    task_input = {"image": images, "labels": LABELS}
    assert reloaded(task_input, task="image-classification") == pytest.approx(
        clip(task_input, task="image-classification"), abs=1e-6
    )
    np.testing.assert_allclose(reloaded.embed_texts(TEXTS), clip.embed_texts(TEXTS), atol=1e-6)


def test_dill_round_trip(clip, images):
    copy = dill.loads(dill.dumps(clip))
    assert type(copy) is CLIP and copy.name == clip.name
    np.testing.assert_allclose(copy.embed_images(images), clip.embed_images(images), atol=1e-6)
