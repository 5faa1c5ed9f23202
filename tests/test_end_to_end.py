"""Each task class end to end on a test preset: call, finetune through the engine, save, reload."""

import numpy as np
import pytest

import kerasprop
from tiny_models import tiny_gpt2_folder


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    return str(tiny_gpt2_folder(tmp_path_factory.mktemp("tiny-gpt2")))


def test_text_generation_end_to_end(gpt2_folder, tmp_path):
    generate = kerasprop.TextGeneration(gpt2_folder)
    params = {"input_text": [f"the cat sat on the {w}" for w in ("mat", "log", "cat", "dog") * 4],
              "output_text": ["the dog sat on the log."] * 16}
    history = generate.finetune(params, validation_split=0.25, epochs=4, batch_size=4, early_stopping_epochs=0,
                                verbose=0, optimizer=__import__("keras").optimizers.Adam(1e-2))
    losses = history.history["val_loss"]
    assert losses[-1] < losses[0]
    before = generate("the cat sat on the mat", max_length=6, temperature=0.0)
    assert isinstance(before, str)
    reloaded = kerasprop.TextGeneration(generate.save(path=tmp_path / "tuned-gpt2"))
    assert reloaded("the cat sat on the mat", max_length=6, temperature=0.0) == before
    batch = reloaded(["the cat", "the dog sat"], max_length=4, temperature=0.0)
    assert isinstance(batch, list) and len(batch) == 2
    many = reloaded("the cat", max_length=4, num_generations=2, top_k=5)
    assert isinstance(many, list) and len(many) == 2 and all(isinstance(t, str) for t in many)


def _colour_images(n, seed=0):
    """Reddish and bluish squares with noise: an easy two-class problem."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        label = ("red", "blue")[i % 2]
        base = np.array([200, 40, 40] if label == "red" else [40, 40, 200])
        pixels = np.clip(base + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype("uint8")
        images.append(Image.fromarray(pixels))
        labels.append(label)
    return images, labels


@pytest.mark.parametrize("variant", ["single_label", "multi_label"])
def test_image_classification_end_to_end(variant, tmp_path):
    from kerasprop.models import SupervisedImageClassifier
    from tiny_models import tiny_resnet_classifier

    folder = tmp_path / "resnet"
    tiny_resnet_classifier(3).save_to_preset(str(folder))
    classify = kerasprop.ImageClassification(SupervisedImageClassifier.from_preset(str(folder)))
    images, labels = _colour_images(24)
    if variant == "multi_label":
        labels = [[label, "square"] if i % 3 == 0 else [label] for i, label in enumerate(labels)]
    history = classify.finetune({"images": images, "labels": labels}, variant=variant, validation_split=0.25,
                                epochs=5, batch_size=6, early_stopping_epochs=0, verbose=0)
    losses = history.history["val_loss"]
    assert losses[-1] < losses[0]
    expected = {"blue", "red", "square"} if variant == "multi_label" else {"blue", "red"}
    assert set(classify.model.labels) == expected
    test_images, test_labels = _colour_images(8, seed=3)
    predictions = classify(test_images, labels=["red", "blue"])
    assert np.mean([max(p, key=p.get) == t for p, t in zip(predictions, test_labels)]) >= 0.75
    reloaded = kerasprop.ImageClassification(classify.save(path=tmp_path / "tuned"))
    for got, want in zip(reloaded(test_images[:3]), classify(test_images[:3])):
        assert list(got) == list(want)
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-5)


def test_clip_tasks_end_to_end(tmp_path):
    from tiny_models import tiny_clip_folder

    tiny_clip_folder(tmp_path)
    images, _ = _colour_images(3)
    vectorise = kerasprop.ImageVectorisation(str(tmp_path))  # a Hugging Face CLIP folder, by architecture
    vectors = vectorise(images)
    assert len(vectors) == 3 and len(vectors[0]) == 16 and all(type(v) is float for v in vectors[0])
    joint = kerasprop.ImageTextVectorisation(vectorise.model)
    vector = joint(images[0], "a photo of a cat")
    assert len(vector) == 32 and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    classify = kerasprop.ImageClassification(vectorise.model)
    scores = classify(images, labels=["cat", "dog"], top_k=1)
    assert len(scores) == 3 and all(len(s) == 1 for s in scores)
    with pytest.raises(ValueError, match="labels"):
        classify(images[0])
