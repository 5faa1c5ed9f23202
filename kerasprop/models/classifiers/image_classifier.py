"""Supervised image classification on keras-hub `ImageClassifier`s, with label names."""

import functools
import pathlib

import keras
import keras_hub
import numpy as np

from kerasprop.compat import get_preset_loader
from kerasprop.models.runtime.deferred_init import deferred_initialisation
from kerasprop.models.families import is_saved_as
from kerasprop.models.classifiers.heads import resize_dense
from kerasprop.models.runtime.image_inputs import center_fit, to_pixels
from kerasprop.models.runtime.inference import softmax
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.schemas.models import label_names, preview_labels

IMAGENET_LABELS_FILE = pathlib.Path(__file__).with_name("imagenet_labels.txt")


@functools.cache
def imagenet_labels():
    """The 1000 ImageNet class names, in class-index order.

    Label names must be unique, so ImageNet's two "crane" classes are
    "crane (bird)" (134) and "crane (machine)" (517).
    """
    return tuple(IMAGENET_LABELS_FILE.read_text(encoding="utf-8").splitlines())


def default_labels(num_classes):
    """ImageNet's names for 1000 classes, otherwise the class indices as strings."""
    return list(imagenet_labels()) if num_classes == 1000 else [str(i) for i in range(num_classes)]


@keras.saving.register_keras_serializable(package="kerasprop")
class SupervisedImageClassifier(KerasTaskModel, keras_hub.models.ImageClassifier):
    """An image classifier over named labels, on any keras-hub image backbone with a feature map.

    `labels` are the class names (ImageNet's 1000 names by default for
    1000 classes). `multi_label=True` scores each label independently
    (sigmoid, binary cross-entropy); otherwise the labels share a softmax.
    `from_preset` also takes keras-hub `ImageClassifier` presets with the
    standard pooling-and-dense head (EfficientNet, ResNet).

    Example:
    >>> model = SupervisedImageClassifier.from_preset("efficientnet_b0_ra_imagenet")  # doctest: +SKIP
    >>> model({"image": "cat.jpg", "top_k": 3}, task="image-classification")  # doctest: +SKIP
    {'tabby, tabby cat': 0.61, 'tiger cat': 0.22, 'Egyptian cat': 0.09}
    """

    preprocessor_cls = keras_hub.models.ImageClassifierPreprocessor
    default_tasks = ("image-classification",)
    default_description = "A supervised image classifier over named labels."
    finetunable_tasks = ("image-classification",)
    #: Images per forward pass.
    batch_size = 32

    def __init__(self, backbone, num_classes, labels=None, multi_label=False, **kwargs):
        labels = label_names(labels) if labels is not None else default_labels(num_classes)
        _check_count(labels, num_classes)
        self.labels = labels
        self.multi_label = bool(multi_label)
        super().__init__(backbone=backbone, num_classes=num_classes, **kwargs)
        if self.multi_label:
            self.compile()  # keras-hub compiled during __init__, before the activation was known

    @classmethod
    @deferred_initialisation()
    def from_preset(cls, preset, load_weights=True, labels=None, num_classes=None, **kwargs):
        """Loads a saved `SupervisedImageClassifier`, or converts a keras-hub `ImageClassifier` preset.

        `labels` (or `num_classes`) different from the preset's give a new,
        randomly initialised head (see `pre_finetuning`).
        """
        from kerasprop.hub.catalog import resolve_handle

        preset = resolve_handle(preset)
        if is_saved_as(preset, cls):
            model = get_preset_loader(preset).load_task(cls, load_weights, True, **kwargs)
        else:
            model = cls._from_image_classifier(preset, load_weights, labels, num_classes, **kwargs)
        if labels is not None or num_classes is not None:
            model.pre_finetuning(labels=labels, num_classes=num_classes)
        return model

    @classmethod
    def _from_image_classifier(cls, preset, load_weights, labels, num_classes, **kwargs):
        size = num_classes or (len(labels) if labels is not None else None)
        options = {"num_classes": size} if size is not None else {}
        try:
            source = keras_hub.models.ImageClassifier.from_preset(preset, load_weights=load_weights, **options)
        except TypeError as error:
            raise ValueError(
                f"The preset {preset!r} has no classification head: give 'labels' or 'num_classes' for a new one."
            ) from error
        if type(source).__init__ is not keras_hub.models.ImageClassifier.__init__:
            raise ValueError(
                f"{type(source).__name__} has its own kind of head, which SupervisedImageClassifier does not "
                "reproduce; it supports backbones with a feature map and the standard pooling-and-dense head "
                "(EfficientNet, ResNet, MobileNet backbones)."
            )
        model = cls(
            backbone=source.backbone,
            preprocessor=source.preprocessor,
            num_classes=source.num_classes,
            pooling=source.pooling,
            activation=source.activation,
            dropout=source.dropout,
            **kwargs,
        )
        model.output_dense.set_weights(source.output_dense.get_weights())
        return model

    def pre_finetuning(self, labels=None, num_classes=None):
        """Sets the labels (a list, or backprop's `{index: name}` dict); a different number of
        classes gets a new, randomly initialised head."""
        if labels is None and num_classes is None:
            raise ValueError("pre_finetuning() needs 'labels' or 'num_classes'.")
        if labels is not None:
            labels = label_names(labels)
        num_classes = num_classes if num_classes is not None else len(labels)
        labels = labels if labels is not None else default_labels(num_classes)
        _check_count(labels, num_classes)
        if num_classes != self.num_classes:
            self._replace_head(num_classes)
        self.labels = labels

    def _replace_head(self, num_classes):
        resize_dense(self.output_dense, num_classes)
        self.num_classes = num_classes
        self.predict_function = self.train_function = self.test_function = None

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """`ImageClassifier.compile`, with binary cross-entropy and accuracy for multi-label models."""
        if getattr(self, "multi_label", False):
            from_logits = keras.activations.get(getattr(self, "activation", None)) != keras.activations.sigmoid
            loss = keras.losses.BinaryCrossentropy(from_logits=from_logits) if loss == "auto" else loss
            metrics = [keras.metrics.BinaryAccuracy(threshold=0.0 if from_logits else 0.5)] if metrics == "auto" else metrics
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def probabilities(self, images):
        """Class probabilities (numpy, `(n, num_classes)`) of RGB `PIL.Image`s."""
        pixels = to_pixels(images, self.preprocessor.image_converter)
        outputs = [self.predict_features(pixels[i:i + self.batch_size]) for i in range(0, len(pixels), self.batch_size)]
        outputs = np.concatenate(outputs).astype("float64")
        activation = self.probability_activation()
        if activation == "sigmoid":
            return 1 / (1 + np.exp(-outputs))
        return softmax(outputs) if activation == "softmax" else outputs

    def probability_activation(self):
        """What turns the head's outputs into probabilities: "softmax", "sigmoid", or `None` when the head
        applies one itself."""
        if keras.activations.get(self.activation) in (keras.activations.softmax, keras.activations.sigmoid):
            return None
        return "sigmoid" if self.multi_label else "softmax"

    def predict_image_classification(self, request):
        index = {label: i for i, label in enumerate(self.labels)}
        wanted = request.inputs["labels"]
        for i, labels in enumerate(wanted):
            unknown = [label for label in labels or () if label not in index]
            if unknown:
                where = f" for image {i}" if request.batched else ""
                raise ValueError(
                    f"'labels' names {unknown} that model '{self.name}' does not know{where}; "
                    f"its labels are {preview_labels(self.labels)}."
                )
        top_k = request.options["top_k"] or None
        outputs = []
        for probabilities, labels in zip(self.probabilities(request.inputs["image"]), wanted):
            classes = [index[label] for label in labels] if labels else range(len(self.labels))
            ranked = sorted(classes, key=lambda c: -probabilities[c])[:top_k]
            outputs.append({self.labels[c]: float(probabilities[c]) for c in ranked})
        return outputs

    def process_batch(self, params, task="image-classification", **options):
        """`(images, labels)` for `fit`: images fitted to the model's size (uint8), labels as
        class indices, or as multi-hot rows when each image has a list of labels."""
        self.check_finetunable(task)
        images, labels = params["images"], params["labels"]
        self.multi_label = any(isinstance(label, (list, tuple)) for label in labels)
        height, width = self.preprocessor.image_converter.image_size
        interpolation = self.preprocessor.image_converter.interpolation
        x = np.stack([np.asarray(center_fit(image, height, width, interpolation)) for image in images])
        if self.multi_label:
            y = np.zeros((len(labels), self.num_classes), dtype="float32")
            for row, image_labels in enumerate(labels):
                y[row, [self._class_index(label, f"labels[{row}]") for label in image_labels]] = 1.0
        else:
            y = np.array([self._class_index(label, f"labels[{i}]") for i, label in enumerate(labels)], dtype="int32")
        return x, y

    def _class_index(self, label, key):
        if isinstance(label, str):
            if label not in self.labels:
                raise ValueError(
                    f"'{key}' is {label!r}, which is not one of the model's labels {preview_labels(self.labels)}; "
                    "call pre_finetuning(labels=...) to classify new labels."
                )
            return self.labels.index(label)
        if not 0 <= label < self.num_classes:
            raise ValueError(f"'{key}' is class index {label}, but the model has {self.num_classes} classes.")
        return int(label)

    def get_config(self):
        config = super().get_config()
        config.update(labels=list(self.labels), multi_label=self.multi_label)
        return config


def _check_count(labels, num_classes):
    if len(labels) != num_classes:
        raise ValueError(f"Got {len(labels)} label names for {num_classes} classes: give one name per class.")
