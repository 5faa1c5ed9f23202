"""SupervisedImageClassifier on tiny random keras-hub backbones saved as presets."""

import dill
import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kerasprop
from kerasprop.models.classifiers.image_classifier import SupervisedImageClassifier, imagenet_labels
from kerasprop.models.runtime.image_inputs import center_fit
from kerasprop.schemas import get_schema

from tiny_models import IMAGE_SIZE as SIZE
from tiny_models import tiny_resnet_classifier


@pytest.fixture(scope="module")
def imagenet_preset(tmp_path_factory):
    """A keras-hub ResNetImageClassifier preset with 1000 classes, as the ImageNet presets are."""
    keras.utils.set_random_seed(7)
    source = tiny_resnet_classifier(1000)
    folder = tmp_path_factory.mktemp("resnet-imagenet")
    source.save_to_preset(str(folder))
    return str(folder), source


@pytest.fixture(scope="module")
def classifier(imagenet_preset):
    return SupervisedImageClassifier.from_preset(imagenet_preset[0])


def _images(colours, size=(40, 30)):
    return [Image.new("RGB", size, colour) for colour in colours]


def _noise(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (SIZE + 8 * i, SIZE, 3), dtype=np.uint8)) for i in range(n)]


def test_keras_hub_preset_loads_with_its_head_and_imagenet_labels(imagenet_preset, classifier):
    source = imagenet_preset[1]
    assert isinstance(classifier, keras_hub.models.ImageClassifier)
    assert classifier.labels == list(imagenet_labels()) and classifier.labels[0] == "tench, Tinca tinca"
    images = _noise(3)
    fitted = np.stack([np.asarray(center_fit(image, SIZE, SIZE)) for image in images])
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(source.predict_on_batch(fitted)))  # keras-hub preprocesses
    np.testing.assert_allclose(classifier.probabilities(images), expected, atol=1e-5)


def test_predictions_run_the_compiled_function_only(imagenet_preset):
    # Keras runs a model eagerly before its predict function while any layer is unbuilt, and loading leaves the
    # preprocessor's layers unbuilt: after the first call, a prediction runs the model once (PyTorch's predict
    # function is the eager call itself), or not at all outside the compiled function (JAX, TensorFlow).
    model = SupervisedImageClassifier.from_preset(imagenet_preset[0])
    first = model.probabilities(_noise(2))
    assert all(layer.built for layer in model._flatten_layers())
    eager_calls = []
    call = model.call
    model.call = lambda *args, **kwargs: eager_calls.append(1) or call(*args, **kwargs)
    np.testing.assert_allclose(model.probabilities(_noise(2)), first, atol=1e-6)
    assert len(eager_calls) == (1 if keras.backend.backend() == "torch" else 0)


def test_outputs_are_sorted_label_dicts(classifier):
    images = _noise(2)
    full = classifier({"image": images}, task="image-classification")
    assert len(full) == 2 and len(full[0]) == 1000
    assert sum(full[0].values()) == pytest.approx(1.0, abs=1e-4)
    values = list(full[0].values())
    assert values == sorted(values, reverse=True) and all(type(v) is float for v in values)

    top = classifier({"image": images[0], "top_k": 5}, task="image-classification")
    assert list(top) == list(full[0])[:5]

    wanted = ["goldfish, Carassius auratus", "tench, Tinca tinca"]
    some = classifier({"image": images, "labels": wanted}, task="image-classification")
    assert [set(o) for o in some] == [set(wanted)] * 2
    assert some[1] == pytest.approx({k: full[1][k] for k in wanted}, abs=1e-6)


def test_bad_input_errors(classifier):
    with pytest.raises(ValueError, match="'labels' names \\['zebra crossing'\\]"):
        classifier({"image": _noise(1)[0], "labels": ["tench, Tinca tinca", "zebra crossing"]}, task="image-classification")
    with pytest.raises(ValueError, match=r"image\[1\]"):
        classifier({"image": [_noise(1)[0], "bm90IGFuIGltYWdlIGF0IGFsbA=="]}, task="image-classification")
    with pytest.raises(TypeError, match="'top_k' must be an integer"):
        classifier({"image": _noise(1)[0], "top_k": "3"}, task="image-classification")


def test_new_labels_save_load_and_dill(imagenet_preset, tmp_path):
    model = SupervisedImageClassifier.from_preset(imagenet_preset[0], labels=["red", "green", "blue"])
    assert model.num_classes == 3 and model.output_dense.kernel.shape[-1] == 3
    images = _images(["red", "blue"])
    out = model({"image": images}, task="image-classification")
    assert [set(o) for o in out] == [{"red", "green", "blue"}] * 2

    reloaded = kerasprop.load(kerasprop.save(model, path=tmp_path / "saved"))
    assert type(reloaded) is SupervisedImageClassifier and reloaded.labels == ["red", "green", "blue"]
    assert reloaded({"image": images}, task="image-classification") == pytest.approx(out, abs=1e-6)

    copy = dill.loads(dill.dumps(model))
    assert copy.labels == model.labels
    np.testing.assert_allclose(copy.probabilities(images), model.probabilities(images), atol=1e-6)


def test_heads_it_cannot_reproduce_are_refused(tmp_path):
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(SIZE, SIZE, 3), patch_size=16, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16,
    )
    keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=3).save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match="ViTImageClassifier has its own kind of head"):
        SupervisedImageClassifier.from_preset(str(tmp_path))


def _finetune(model, params, variant, epochs):
    """What the training engine does: parse, pre_finetuning, process_batch, compile, fit on tf.data."""
    params = get_schema("image-classification").parse_finetune(params, variant)
    labels = params["labels"]
    names = sorted({label for item in labels for label in (item if isinstance(item, list) else [item])})
    model.pre_finetuning(labels=names, num_classes=len(names))
    x, y = model.process_batch(params, task="image-classification")
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    before = float(model.training_step((x, y), "image-classification"))
    model.fit(dataset, epochs=epochs, verbose=0)
    after = float(model.training_step((x, y), "image-classification"))
    return before, after


def test_single_label_finetuning(imagenet_preset):
    model = SupervisedImageClassifier.from_preset(imagenet_preset[0])
    colours = ["red", "blue"] * 4
    before, after = _finetune(model, {"images": _images(colours), "labels": colours}, "single_label", epochs=15)
    assert model.labels == ["blue", "red"] and not model.multi_label
    assert after < before * 0.5
    out = model({"image": _images(["red", "blue"])}, task="image-classification")
    assert [next(iter(o)) for o in out] == ["red", "blue"]

    with pytest.raises(ValueError, match="'labels\\[1\\]' is 'green'"):
        model.process_batch({"images": _images(["red", "red"]), "labels": ["red", "green"]})


def test_multi_label_finetuning(imagenet_preset):
    model = SupervisedImageClassifier.from_preset(imagenet_preset[0])
    colours = ["red", "blue", "purple", "black"] * 2
    tags = {"red": ["warm"], "blue": ["cool"], "purple": ["warm", "cool"], "black": []}
    before, after = _finetune(
        model, {"images": _images(colours), "labels": [tags[c] for c in colours]}, "multi_label", epochs=20
    )
    assert model.multi_label and model.labels == ["cool", "warm"]
    x, y = model.process_batch({"images": _images(["purple", "black"]), "labels": [["warm", "cool"], []]})
    assert y.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert after < before * 0.5
    purple, black = model({"image": _images(["purple", "black"])}, task="image-classification")
    assert min(purple.values()) > 0.5 > max(black.values())  # independent sigmoids, not a softmax
