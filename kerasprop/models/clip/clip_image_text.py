"""CLIP as a keras-hub `Task`: image and text vectors, and zero-shot image classification."""

import functools

import keras
import keras_hub
import numpy as np
from keras_hub.layers import StartEndPacker

import kerasprop.hub.converters.clip  # noqa: F401  (registers the Hugging Face CLIP converter)
from kerasprop.compat import preprocessing_function
from kerasprop.models.runtime.image_inputs import fit_images
from kerasprop.models.runtime.inference import (
    compiled_forward,
    forward_in_batches,
    joint_vector_rows,
    resolve_matmul_precision,
    vector_rows,
    zero_shot_image_rows,
)
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.models.sentences.vector_finetuning import PAIR_KEYS, pair_batch, vector_loss
from kerasprop.schemas import get_schema

#: Texts are padded to a multiple of this many tokens, so few shapes get compiled.
TOKEN_BUCKET = 8


@keras.saving.register_keras_serializable(package="kerasprop")
class CLIPImageTextPreprocessor(keras_hub.models.Preprocessor):
    """Turns `{"images": ..., "prompts": ...}` (either key optional) into CLIP inputs.

    Images go through a `CLIPImageConverter` (resize and normalise); prompts
    are tokenised and packed between the start and end tokens (`token_ids`
    packed already pass through). A pair batch
    `{"first": {...}, "second": {...}}` (vector finetuning) becomes one batch
    of both halves, first then second.

    Example:
    >>> import numpy as np
    >>> preprocessor = CLIPImageTextPreprocessor.from_preset("clip")  # doctest: +SKIP
    >>> preprocessor({"prompts": ["a photo of a cat"], "images": np.ones((1, 300, 200, 3))})  # doctest: +SKIP
    """

    backbone_cls = keras_hub.models.CLIPBackbone
    tokenizer_cls = keras_hub.models.CLIPTokenizer
    image_converter_cls = keras_hub.layers.CLIPImageConverter

    def __init__(self, tokenizer, image_converter=None, sequence_length=77, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.image_converter = image_converter
        self.sequence_length = sequence_length

    def build(self, input_shape):
        self.packer = StartEndPacker(
            start_value=self.tokenizer.start_token_id,
            end_value=self.tokenizer.end_token_id,
            pad_value=self.tokenizer.pad_token_id,
            sequence_length=self.sequence_length,
        )
        self.built = True

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        if PAIR_KEYS[0] in x:  # a pair batch for vector finetuning: first items, then second items
            import tensorflow as tf  # tf.data preprocessing, on every backend

            x = {key: tf.concat([x[PAIR_KEYS[0]][key], x[PAIR_KEYS[1]][key]], axis=0) for key in x[PAIR_KEYS[0]]}
        out = {}
        if x.get("images") is not None:
            out["images"] = self.image_converter(x["images"])
        if x.get("prompts") is not None:
            out["token_ids"] = self.packer(self.tokenizer(x["prompts"]), sequence_length=sequence_length)
        elif x.get("token_ids") is not None:
            out["token_ids"] = x["token_ids"]
        return keras.utils.pack_x_y_sample_weight(out, y, sample_weight)

    def pack_texts(self, texts):
        """Token ids for a list of strings, padded to the longest (rounded up to `TOKEN_BUCKET`)."""
        if not self.built:
            self.build(None)
        tokens = self.tokenizer(list(texts))
        longest = max(len(t) for t in tokens) + 2
        length = min(self.sequence_length, -(-longest // TOKEN_BUCKET) * TOKEN_BUCKET)
        return keras.ops.convert_to_numpy(self.packer(tokens, sequence_length=length)).astype("int32")

    def get_config(self):
        config = super().get_config()
        config.update(sequence_length=self.sequence_length)
        return config


@keras.saving.register_keras_serializable(package="kerasprop")
class CLIP(KerasTaskModel, keras_hub.models.Task):
    """CLIP: image vectors, text vectors, joint vectors and zero-shot image classification.

    Called with `{"images": ..., "token_ids": ...}` it returns the projected
    `image_embeddings` and `text_embeddings` (either input alone gives its
    embeddings alone). As a backprop model it serves "image-vectorisation" and
    "text-vectorisation" (projected embeddings), "image-text-vectorisation"
    (both concatenated, then L2-normalised, as backprop did) and
    "image-classification" (zero-shot: softmax over CLIP's scaled image-label
    similarities). The three vectorisation tasks are finetunable, with the
    variants "triplet" and "cosine_similarity" (`kerasprop.models.sentences.vector_finetuning`).

    Args:
        backbone: a keras-hub `CLIPBackbone`.
        preprocessor: a `CLIPImageTextPreprocessor` or `None`.
        matmul_precision: "float32" (the default), "bfloat16" or "auto": the
            precision of the towers' matrix products at inference (see
            `SentenceEmbedder` and `kerasprop.models.runtime.inference`).

    Example:
    >>> from PIL import Image
    >>> model = CLIP.from_preset("hf://openai/clip-vit-base-patch32")  # doctest: +SKIP
    >>> image = Image.new("RGB", (300, 200), "red")
    >>> model({"image": image, "labels": ["a red square", "a cat"]}, task="image-classification")  # doctest: +SKIP
    {'a red square': 0.99..., 'a cat': 0.00...}
    """

    backbone_cls = keras_hub.models.CLIPBackbone
    preprocessor_cls = CLIPImageTextPreprocessor
    default_tasks = ("image-classification", "image-vectorisation", "image-text-vectorisation", "text-vectorisation")
    default_description = "CLIP: zero-shot image classification and image, text and joint vectors."
    finetunable_tasks = ("image-vectorisation", "text-vectorisation", "image-text-vectorisation")
    #: Images and texts per forward pass.
    batch_size = 32

    def __init__(self, backbone, preprocessor=None, matmul_precision="float32", **kwargs):
        resolve_matmul_precision(matmul_precision)
        self.backbone = backbone
        self.preprocessor = preprocessor
        inputs = {
            "images": keras.Input(shape=backbone.vision_encoder.image_shape, name="images"),
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
        }
        outputs = {
            "image_embeddings": backbone.get_vision_embeddings(inputs["images"]),
            "text_embeddings": backbone.get_text_embeddings(inputs["token_ids"]),
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # Either input may come alone (see `call`).
        self.input_spec = None
        self.matmul_precision = matmul_precision

    def get_config(self):
        config = super().get_config()
        config["matmul_precision"] = self.matmul_precision
        return config

    def call(self, inputs, training=None):
        """The embeddings of the inputs given: `images`, `token_ids` or both."""
        outputs = {}
        if inputs.get("images") is not None:
            outputs["image_embeddings"] = self.backbone.get_vision_embeddings(inputs["images"])
        if inputs.get("token_ids") is not None:
            outputs["text_embeddings"] = self.backbone.get_text_embeddings(inputs["token_ids"])
        return outputs

    # Towers run one modality each and compile once per input shape. They are
    # cached outside Keras' attribute tracking: they share the backbone's
    # weights and are not part of the saved model.
    @functools.cached_property
    def image_tower(self):
        """Fitted uint8 images -> embeddings; the image converter's scale and offset run in the graph,
        fused with the patch embedding, instead of as float passes over the batch on the host."""
        converter = self.preprocessor.image_converter
        images = keras.Input(shape=self.backbone.vision_encoder.image_shape, dtype="uint8", name="images")
        pixels = keras.ops.cast(images, "float32")
        if converter.scale is not None:
            pixels = pixels * np.asarray(converter.scale, dtype="float32")
        if converter.offset is not None:
            pixels = pixels + np.asarray(converter.offset, dtype="float32")
        return keras.Model(images, self.backbone.get_vision_embeddings(pixels), name="image_tower")

    @functools.cached_property
    def text_tower(self):
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        return keras.Model(token_ids, self.backbone.get_text_embeddings(token_ids), name="text_tower")

    def embed_images(self, images):
        """Projected embeddings (numpy, `(n, projection_dim)`) of RGB `PIL.Image`s."""
        converter = self.preprocessor.image_converter
        pixels = fit_images(images, converter.image_size, converter.interpolation)
        return forward_in_batches(self._image_forward, pixels, self.batch_size)

    def embed_texts(self, texts):
        """Projected embeddings (numpy, `(n, projection_dim)`) of strings."""
        return forward_in_batches(self._text_forward, self.preprocessor.pack_texts(texts), self.batch_size)

    @functools.cached_property
    def _image_forward(self):
        return compiled_forward(self.image_tower, self.matmul_precision)

    @functools.cached_property
    def _text_forward(self):
        return compiled_forward(self.text_tower, self.matmul_precision)

    def predict_image_vectorisation(self, request):
        return vector_rows(self.embed_images(request.inputs["image"]), request)

    def predict_text_vectorisation(self, request):
        return vector_rows(self.embed_texts(request.inputs["text"]), request)

    def predict_image_text_vectorisation(self, request):
        return joint_vector_rows(
            self.embed_images(request.inputs["image"]), self.embed_texts(request.inputs["text"]), request
        )

    def predict_image_classification(self, request):
        scale = float(np.exp(keras.ops.convert_to_numpy(self.backbone.clip_head.logit_scale)))
        return zero_shot_image_rows(request, "CLIP", self.embed_images, self.embed_texts, scale)

    # --- finetuning ------------------------------------------------------------------

    def process_batch(self, params, task="image-vectorisation", variant=None, seed=0, **options):
        """Turns validated finetuning params into `(x, y)` for `fit`.

        `x` is a pair batch `{"first": items, "second": items}`, each half a
        dict of `images` (fitted to the model's size, uint8) and/or packed
        `token_ids`, as the task embeds them; `y` the target similarities or the groups
        (see `kerasprop.models.sentences.vector_finetuning`).
        """
        self.check_finetunable(task)
        modalities = _MODALITIES[task]
        pairs, y = pair_batch(params, variant or get_schema(task).default_variant, modalities, seed)
        converter = self.preprocessor.image_converter
        first, second = {}, {}
        if "images" in pairs:
            first["images"], second["images"] = (
                fit_images(part, converter.image_size, converter.interpolation) for part in pairs["images"]
            )
        if "texts" in pairs:  # tokenised once here, not in every epoch's pipeline
            token_ids = self.preprocessor.pack_texts(pairs["texts"][0] + pairs["texts"][1])
            first["token_ids"], second["token_ids"] = np.split(token_ids, 2)
        return {PAIR_KEYS[0]: first, PAIR_KEYS[1]: second}, y

    def finetuning_compile_kwargs(self, task="image-vectorisation", variant=None):
        """The loss to compile with for a finetuning variant."""
        self.check_finetunable(task)
        return {"loss": vector_loss(variant or get_schema(task).default_variant)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The loss on the task's vectors: the image or text embeddings, or both concatenated."""
        if isinstance(y_pred, dict):
            y_pred = keras.ops.concatenate(
                [y_pred[key] for key in ("image_embeddings", "text_embeddings") if key in y_pred], axis=-1
            )
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)


#: Finetuning params' modalities of each task (`vector_finetuning.PARAM_KEYS`).
_MODALITIES = {
    "image-vectorisation": ("images",),
    "text-vectorisation": ("texts",),
    "image-text-vectorisation": ("images", "texts"),
}
