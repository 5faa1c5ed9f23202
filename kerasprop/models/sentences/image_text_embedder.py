"""`ImageTextEmbedder`: an image tower trained against a locked sentence encoder (LiT).

The text side is a `SentenceEmbedder` (all-MiniLM-L6-v2 for the bundled
`minilm-shapes-lit`) held frozen; a small convolutional image tower learns to
put each picture where the encoder puts its caption ("locked-text tuning", the
LiT recipe with the text side locked). Because the text side is a real
sentence encoder, zero-shot labels need not be the words the tower was
trained with: "a drawing of a red circle" lands near "a red circle".

A preset of this model holds the image tower only and names its encoder as its
base backbone (see `kerasprop.models.base_backbone`).
"""

import keras
from keras import ops

from kerasprop.models.runtime.image_inputs import fit_images
from kerasprop.models.runtime.inference import (
    compiled_forward,
    forward_in_batches,
    joint_vector_rows,
    vector_rows,
    zero_shot_image_rows,
)
from kerasprop.models.sentences.text_embedder import SentenceEmbedder
from kerasprop.models.sentences.vector_finetuning import PAIR_KEYS, pair_batch, vector_loss
from kerasprop.schemas import get_schema
from kerasprop.schemas.specs import describe


def image_tower(image_size, filters, output_dim, dtype=None):
    """A small CNN: uint8 `(image_size, image_size, 3)` pictures -> L2-normalised `output_dim` vectors.

    Each entry of `filters` is a 3x3 convolution (ReLU) followed by 2x2 max pooling;
    the last feature map is averaged and projected.
    """
    images = keras.Input(shape=(image_size, image_size, 3), name="images")
    x = keras.layers.Rescaling(1 / 255, dtype=dtype, name="rescaling")(images)
    for i, width in enumerate(filters):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", dtype=dtype, name=f"conv_{i}")(x)
        x = keras.layers.MaxPooling2D(2, dtype=dtype, name=f"pool_{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(dtype=dtype, name="average")(x)
    x = keras.layers.Dense(output_dim, dtype=dtype, name="projection")(x)
    vectors = keras.layers.UnitNormalization(dtype=dtype, name="normalise")(x)
    return keras.Model(images, vectors, name="image_tower")


@keras.saving.register_keras_serializable(package="kerasprop")
class ImageTextEmbedder(SentenceEmbedder):
    """Images and texts in one vector space: an image tower against a locked sentence encoder.

    Tasks: "image-classification" (zero-shot: softmax over the image's cosine
    similarity to each label's vector, divided by `temperature`),
    "image-vectorisation", "text-vectorisation" (the encoder's own vectors) and
    "image-text-vectorisation" (image and text vectors concatenated, then
    L2-normalised, as backprop did). Finetunable for "image-vectorisation"
    (variants "triplet" and "cosine_similarity"): the image tower trains, the
    text side stays locked, so the text vectors never move.

    Args:
        backbone, preprocessor and the `SentenceEmbedder` arguments (the locked text side).
        image_size: the side of the square pictures the tower reads; images are
            fitted to it (aspect kept, padded).
        image_filters: the width of each convolution block of the tower.

    Example:
    >>> from PIL import Image
    >>> model = ImageTextEmbedder.from_preset("minilm-shapes-lit")
    >>> picture = Image.new("RGB", (64, 64), "white")
    >>> picture.paste((220, 30, 30), (16, 16, 48, 48))
    >>> scores = model({"image": picture, "labels": ["a red square", "a blue circle"]}, task="image-classification")
    >>> max(scores, key=scores.get)
    'a red square'
    """

    default_tasks = ("image-classification", "image-vectorisation", "image-text-vectorisation", "text-vectorisation")
    default_description = "Zero-shot image classification and image, text and joint vectors (locked text encoder)."
    finetunable_tasks = ("image-vectorisation",)

    def __init__(self, backbone, preprocessor=None, image_size=64, image_filters=(16, 32, 64, 128), **kwargs):
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 2 ** len(image_filters):
            raise ValueError(f"'image_size' must be a whole number of at least {2 ** len(image_filters)}, "
                             f"got {describe(image_size)}.")
        output_dim = kwargs.get("projection_dim") or backbone.hidden_dim
        super().__init__(backbone=backbone, preprocessor=preprocessor, **kwargs)
        # Not part of the encoder's functional graph: assigned after it, so every backend tracks its weights.
        self.image_encoder = image_tower(image_size, tuple(image_filters), output_dim, dtype=backbone.dtype_policy)
        # `call` takes images as well as the encoder's token inputs, so the encoder's input spec cannot hold.
        self.input_spec = None
        self.image_size = image_size
        self.image_filters = tuple(image_filters)
        self._image_forward = None

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, image_filters=list(self.image_filters))
        return config

    def call(self, inputs, training=None):
        """Image vectors of `{"images": ...}` (or of a pair batch of them); otherwise the encoder's text vectors."""
        if PAIR_KEYS[0] in inputs:
            return self.image_encoder(ops.concatenate([inputs[key]["images"] for key in PAIR_KEYS]), training=training)
        if "images" in inputs:
            return self.image_encoder(inputs["images"], training=training)
        return super().call(inputs, training=training)

    @classmethod
    def from_sentence_embedder(cls, embedder, **kwargs):
        """A new image tower on a sentence encoder (a preset name), which stays frozen and is named as the base."""
        from kerasprop.models.base_backbone import attach_base

        encoder = SentenceEmbedder.from_preset(embedder)
        config = {key: value for key, value in encoder.get_config().items()
                  if key in ("pooling_mode", "normalize", "temperature")}
        model = cls(backbone=encoder.backbone, preprocessor=encoder.preprocessor, **{**config, **kwargs})
        return attach_base(model, embedder)

    # --- inference ---------------------------------------------------------------------

    def fit_images(self, images):
        """A uint8 `(n, image_size, image_size, 3)` array of RGB `PIL.Image`s, fitted to the tower's size."""
        return fit_images(images, (self.image_size, self.image_size))

    def encode_image(self, images):
        """Unit vectors `(n, dim)` of RGB `PIL.Image`s (numpy)."""
        if self._image_forward is None:
            self._image_forward = compiled_forward(self.image_encoder, self.matmul_precision)
        return forward_in_batches(self._image_forward, self.fit_images(images), self.batch_size)

    def predict_image_vectorisation(self, request):
        return vector_rows(self.encode_image(request.inputs["image"]), request, normalized=True)

    def predict_image_text_vectorisation(self, request):
        return joint_vector_rows(
            self.encode_image(request.inputs["image"]), self.encode_text(request.inputs["text"], normalize=True),
            request,
        )

    def predict_image_classification(self, request):
        return zero_shot_image_rows(request, self.name, self.encode_image, self.encode_text, 1 / self.temperature)

    # --- finetuning --------------------------------------------------------------------

    def process_batch(self, params, task="image-vectorisation", variant=None, seed=0, **options):
        """Turns validated finetuning params into a pair batch of fitted images and the pair targets."""
        self.check_finetunable(task)
        pairs, y = pair_batch(params, variant or get_schema(task).default_variant, ("images",), seed)
        first, second = (self.fit_images(part) for part in pairs["images"])
        return {PAIR_KEYS[0]: {"images": first}, PAIR_KEYS[1]: {"images": second}}, y

    def preprocess_samples(self, x, y=None, sample_weight=None):
        # `process_batch` fits the images; `fit` gets them ready to use.
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def finetuning_compile_kwargs(self, task="image-vectorisation", variant=None):
        """The loss to compile with for a finetuning variant."""
        self.check_finetunable(task)
        return {"loss": vector_loss(variant or get_schema(task).default_variant)}
