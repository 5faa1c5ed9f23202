"""Sentence embeddings: `SentenceEmbedder` serves text vectors and zero-shot text classification.

A `SentenceEmbedder` is a keras-hub `TextEmbedder` over any BERT-family
backbone (BERT, RoBERTa, DistilBERT, XLM-RoBERTa, ...) with the
sentence-transformers head: masked mean (or CLS, or max) pooling, an optional
dense projection, and optional L2 normalisation. It loads sentence-transformers
folders (local or `hf://`), reading `modules.json`, `1_Pooling`, `2_Dense` and
`sentence_bert_config.json`, as well as its own saved presets.

Inference is fast by construction: texts are tokenised once, sorted by length,
cut into batches padded to a few length buckets, and each (batch, length)
bucket runs a function compiled once (`jax.jit`, `tf.function`, or eager
no-grad torch); the vectors come back in the caller's order.

Zero-shot classification embeds each text and a hypothesis per label ("This
example is {label}."), and turns cosine similarities into probabilities with a
softmax at temperature 0.05, i.e. the scale of 20 of the in-batch softmax
(MultipleNegativesRankingLoss) that sentence-transformers models such as
all-MiniLM-L6-v2 were trained with.
"""

import keras
import keras_hub
import numpy as np
from keras import ops

from kerasprop.compat import (
    SafetensorLoader,
    TransformersPresetLoader,
    preprocessing_function,
    preset_utils,
)
from kerasprop.models.base_backbone import is_delta_preset, load_delta
from kerasprop.models.runtime.deferred_init import deferred_initialisation
from kerasprop.models.sentences.extractive_summary import centrality, summarise
from kerasprop.models.families import is_saved_as
from kerasprop.models.runtime.inference import (
    compiled_forward,
    power_of_two_bucket,
    resolve_matmul_precision,
    softmax,
    vector_rows,
)
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.models.sentences.vector_finetuning import PAIR_KEYS, pair_batch, vector_loss
from kerasprop.schemas import get_schema
from kerasprop.schemas.specs import describe

POOLING_MODES = ("mean", "cls", "max")
#: An ensemble of zero-shot hypotheses (pass it as `hypothesis_template`): a label's vector is their mean.
ZERO_SHOT_TEMPLATES = ("This example is {label}.", "This text is about {label}.", "{label}")
#: sentence-transformers activation classes -> Keras activations.
_ACTIVATIONS = {"Tanh": "tanh", "Identity": None, "ReLU": "relu", "GELU": "gelu", "Sigmoid": "sigmoid"}


def _bucket_length(length):
    """Rounds `length` up to a multiple of a quarter of its highest power of two (at least 8).

    Padding stays under a quarter of the length (under 8 tokens below 64) with a
    handful of buckets, hence few compilations.
    """
    step = max(8, 2 ** (int(length).bit_length() - 3))
    return -(-int(length) // step) * step


@keras.saving.register_keras_serializable(package="kerasprop")
class SentenceEmbedderPreprocessor(keras_hub.models.TextEmbedderPreprocessor):
    """Tokenises and packs text for a `SentenceEmbedder`, whatever its tokenizer.

    As a layer it serves `fit` (and `predict`): strings become `token_ids`,
    `padding_mask` (and `segment_ids` when the backbone takes them), padded to
    `sequence_length`. A dict of two string batches (`PAIR_KEYS`) becomes one
    batch of both, first halves then second halves, for pair losses.
    For inference, `tokenize` and `bucketed_batches` pad to length buckets instead.

    Args:
        tokenizer: a keras-hub tokenizer with start, end and pad tokens.
        sequence_length: the longest sequence, in tokens with start and end.
        segment_ids: whether the backbone takes `segment_ids`.

    Example:
    >>> from kerasprop.hub.catalog import bundled_path
    >>> import keras_hub
    >>> tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(str(bundled_path("all-minilm-l6-v2")))
    >>> preprocessor = SentenceEmbedderPreprocessor(tokenizer, sequence_length=16)
    >>> preprocessor(["A short sentence."])["token_ids"].shape
    (1, 16)
    """

    def __init__(self, tokenizer, sequence_length=256, truncate="round_robin", segment_ids=True, **kwargs):
        super().__init__(tokenizer, sequence_length=sequence_length, truncate=truncate, **kwargs)
        self.segment_ids = segment_ids

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        if isinstance(x, dict):
            import tensorflow as tf  # tf.data preprocessing, on every backend

            x = tf.concat([x[PAIR_KEYS[0]], x[PAIR_KEYS[1]]], axis=0)
        return super().call(x, y=y, sample_weight=sample_weight)

    def _format_output(self, token_ids, segment_ids):
        features = {"token_ids": token_ids, "padding_mask": token_ids != self.tokenizer.pad_token_id}
        if self.segment_ids:
            features["segment_ids"] = segment_ids
        return features

    def tokenize(self, texts):
        """Token ids of each text, with start and end tokens, truncated to `sequence_length`."""
        ids = self.tokenizer(list(texts))
        if hasattr(ids, "to_list"):  # a tf.RaggedTensor on the TensorFlow backend
            ids = ids.to_list()
        start, end = self.tokenizer.start_token_id, self.tokenizer.end_token_id
        keep = self.sequence_length - 2
        return [np.asarray([start, *list(t)[:keep], end], dtype="int32") for t in ids]

    def bucketed_batches(self, token_ids, batch_size):
        """Yields `(positions, features)`: batches of similar length, padded to buckets.

        `positions` index `token_ids`; features have a power-of-two number of
        rows (repeats of the last row fill the gap) and a bucketed length.
        """
        lengths = np.array([len(t) for t in token_ids])
        order = np.argsort(-lengths, kind="stable")
        pad = self.tokenizer.pad_token_id
        for begin in range(0, len(order), batch_size):
            positions = order[begin : begin + batch_size]
            rows = np.concatenate(
                [positions, np.repeat(positions[-1], power_of_two_bucket(len(positions), limit=batch_size) - len(positions))]
            )
            width = min(_bucket_length(lengths[positions[0]]), self.sequence_length)
            ids = np.full((len(rows), width), pad, dtype="int32")
            mask = np.zeros((len(rows), width), dtype="int32")
            for row, position in enumerate(rows):
                ids[row, : lengths[position]] = token_ids[position]
                mask[row, : lengths[position]] = 1
            features = {"token_ids": ids, "padding_mask": mask}
            if self.segment_ids:
                features["segment_ids"] = np.zeros_like(ids)
            yield positions, features

    def get_config(self):
        config = super().get_config()
        config["segment_ids"] = self.segment_ids
        return config


def pool(sequence, padding_mask, mode):
    """Pools token vectors `(batch, length, dim)` into one vector per text, ignoring padding."""
    if mode == "cls":
        return sequence[:, 0, :]
    mask = ops.expand_dims(ops.cast(padding_mask, sequence.dtype), -1)
    if mode == "max":
        return ops.max(ops.where(mask > 0, sequence, ops.cast(-1e9, sequence.dtype)), axis=1)
    return ops.sum(sequence * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1e-9)


@keras.saving.register_keras_serializable(package="kerasprop")
class SentenceEmbedder(KerasTaskModel, keras_hub.models.TextEmbedder):
    """Sentence vectors and embedding zero-shot text classification.

    Tasks: "text-vectorisation" (a list of floats per text, or a tensor with
    `return_tensor=True`), "text-classification" (zero-shot: label ->
    probability, most probable first) and "summarisation" (extractive: the
    text's own most central sentences, see `kerasprop.models.sentences.extractive_summary`).
    Finetunable for "text-vectorisation" (variants "triplet" and "cosine_similarity").

    Args:
        backbone: a keras-hub BERT-family backbone.
        preprocessor: a `SentenceEmbedderPreprocessor` or `None`.
        pooling_mode: "mean" (masked mean, the default), "cls" or "max".
        projection_dim: size of a dense projection after pooling (`None`: none).
        projection_activation: activation of the projection.
        projection_bias: whether the projection has a bias.
        normalize: whether vectors are L2-normalised.
        hypothesis_template: zero-shot hypothesis (`{label}` is replaced by the label), or a list of
            them: a label's vector is then the mean of its hypotheses' vectors (an ensemble, as CLIP's
            prompt ensembles). `ZERO_SHOT_TEMPLATES` measured 20 of 20 on a hand-written topic set
            (the default template 19) but lowered sentiment accuracy in `tests/test_text_embedder.py`
            (0.67 against 0.8 or more), so the single template stays the default.
        temperature: zero-shot softmax temperature over cosine similarities.
        matmul_precision: "float32" (the default), "bfloat16" (matrix products
            on bfloat16 operands with float32 accumulation, JAX only: about
            1.5x faster on CPUs with bfloat16 dot instructions, vectors within
            cosine 0.9999 of float32 on the bundled model) or "auto" (bfloat16
            where the CPU has those instructions); inference only.

    Example:
    >>> from kerasprop.models import AutoModel
    >>> model = AutoModel.from_pretrained("all-minilm-l6-v2")
    >>> len(model({"text": "kerasprop turns text into vectors"}, task="text-vectorisation"))
    384
    >>> scores = model({"text": "I burnt the onions", "labels": ["cooking", "sport"]}, task="text-classification")
    >>> list(scores)[0]
    'cooking'
    """

    default_tasks = ("text-vectorisation", "text-classification", "summarisation")
    default_description = "Sentence vectors, embedding zero-shot text classification and extractive summaries."
    finetunable_tasks = ("text-vectorisation",)
    #: Texts per compiled forward pass at inference.
    batch_size = 32

    def __init__(
        self,
        backbone,
        preprocessor=None,
        pooling_mode="mean",
        projection_dim=None,
        projection_activation="tanh",
        projection_bias=True,
        normalize=True,
        hypothesis_template="This example is {label}.",
        temperature=0.05,
        matmul_precision="float32",
        **kwargs,
    ):
        if pooling_mode not in POOLING_MODES:
            raise ValueError(f"'pooling_mode' must be one of {POOLING_MODES}, got {describe(pooling_mode)}.")
        hypothesis_template = _check_templates(hypothesis_template)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature <= 0:
            raise ValueError(f"'temperature' must be a positive number, got {describe(temperature)}.")
        resolve_matmul_precision(matmul_precision)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.projection = None
        if projection_dim:
            self.projection = keras.layers.Dense(
                projection_dim,
                activation=projection_activation,
                use_bias=projection_bias,
                dtype=backbone.dtype_policy,
                name="projection",
            )

        # === Functional Model ===
        inputs = backbone.input
        outputs = backbone(inputs)
        sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
        vectors = pool(sequence, inputs["padding_mask"], pooling_mode)
        if self.projection is not None:
            vectors = self.projection(vectors)
        if normalize:
            vectors = ops.normalize(vectors, axis=-1)
        super().__init__(inputs=inputs, outputs=self.head_outputs(vectors), **kwargs)

        # === Config ===
        self.pooling_mode = pooling_mode
        self.projection_dim = projection_dim
        self.projection_activation = projection_activation
        self.projection_bias = projection_bias
        self.normalize = normalize
        self.hypothesis_template = hypothesis_template
        self.temperature = float(temperature)
        self.matmul_precision = matmul_precision
        self._forward = None

    def head_outputs(self, vectors):
        """The model's outputs from its sentence vectors: the vectors themselves (subclasses add a head)."""
        return vectors

    def get_config(self):
        config = super().get_config()
        config.update(
            pooling_mode=self.pooling_mode,
            projection_dim=self.projection_dim,
            projection_activation=self.projection_activation,
            projection_bias=self.projection_bias,
            normalize=self.normalize,
            hypothesis_template=self.hypothesis_template,
            temperature=self.temperature,
            matmul_precision=self.matmul_precision,
        )
        return config

    @classmethod
    @deferred_initialisation()
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a saved `SentenceEmbedder`, a sentence-transformers folder or a backbone preset.

        Sentence-transformers settings (pooling, projection, normalisation,
        maximum length) come from the folder; keyword arguments override them.
        """
        from kerasprop.hub.catalog import resolve_handle

        preset = str(resolve_handle(preset))
        if is_delta_preset(preset):
            return load_delta(cls, preset, **kwargs)
        loader = preset_utils.get_preset_loader(preset)
        if is_saved_as(preset, cls):
            return loader.load_task(cls, load_weights, True, **kwargs)
        settings = _sentence_transformers_settings(preset)
        projection = settings.pop("projection", None)
        backbone = _load_backbone(loader, preset, load_weights)
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
        preprocessor = SentenceEmbedderPreprocessor(
            tokenizer,
            sequence_length=min(settings.pop("sequence_length", None) or np.inf, backbone.max_sequence_length),
            segment_ids="segment_ids" in backbone.input,
        )
        model = cls(backbone=backbone, preprocessor=preprocessor, **{**settings, **kwargs})
        if projection is not None and load_weights and model.projection is not None:
            _load_projection(model.projection, preset, projection)
        return model

    # --- inference -----------------------------------------------------------------

    def encode_text(self, text, batch_size=None, normalize=None):
        """Vectors of a string or a list of strings, as a numpy array `(texts, dim)`.

        Tokenises once, runs length-sorted batches padded to buckets through a
        forward pass compiled once per bucket, and restores the input order.
        `normalize=True` L2-normalises vectors of a model that does not.
        """
        texts = [text] if isinstance(text, str) else list(text)
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"encode_text takes a string or a list of strings, got an item {describe(bad)}.")
        if self.preprocessor is None:
            raise ValueError("encode_text needs a preprocessor; this SentenceEmbedder has none.")
        token_ids = self.preprocessor.tokenize(texts)
        vectors = np.empty((len(texts), self.output.shape[-1]), dtype="float32")
        forward = self._compiled_forward()
        for positions, features in self.preprocessor.bucketed_batches(token_ids, batch_size or self.batch_size):
            vectors[positions] = ops.convert_to_numpy(forward(features))[: len(positions)]
        if normalize and not self.normalize:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
        return vectors

    def _compiled_forward(self):
        """`features -> vectors`, compiled once per input shape (the backend seam)."""
        if self._forward is None:
            self._forward = compiled_forward(self, self.matmul_precision)
        return self._forward

    def predict_text_vectorisation(self, request):
        return vector_rows(self.encode_text(request.inputs["text"]), request, normalized=self.normalize)

    def predict_summarisation(self, request):
        """Extractive summaries: the text's most central, least redundant sentences, in its order."""
        def rank(sentences):
            vectors = self.encode_text(sentences, normalize=True)
            return centrality(vectors), vectors @ vectors.T

        return [summarise(text, rank) for text in request.inputs["text"]]

    def predict_text_classification(self, request):
        texts, label_lists = request.inputs["text"], request.inputs["labels"]
        for i, labels in enumerate(label_lists):
            if labels is None:
                where = f" for text {i}" if request.batched else ""
                raise ValueError(
                    f"Zero-shot text classification with '{self.name}' needs 'labels'{where}: "
                    "give a list of labels (one list for all texts, or one per text)."
                )
        distinct = list(dict.fromkeys(label for labels in label_lists for label in labels))
        templates = [self.hypothesis_template] if isinstance(self.hypothesis_template, str) else self.hypothesis_template
        hypotheses = [template.format(label=label) for label in distinct for template in templates]
        vectors = self.encode_text(texts + hypotheses, normalize=True).astype("float64")
        text_vectors = vectors[: len(texts)]
        label_vectors = vectors[len(texts):].reshape(len(distinct), len(templates), -1).mean(axis=1)
        label_vectors /= np.maximum(np.linalg.norm(label_vectors, axis=-1, keepdims=True), 1e-12)
        index = {label: i for i, label in enumerate(distinct)}
        top_k = request.options["top_k"]
        results = []
        for vector, labels in zip(text_vectors, label_lists):
            logits = label_vectors[[index[label] for label in labels]] @ vector / self.temperature
            ranked = sorted(zip(labels, softmax(logits).tolist()), key=lambda pair: -pair[1])
            results.append(dict(ranked[:top_k] if top_k else ranked))
        return results

    # --- finetuning ------------------------------------------------------------------

    def for_finetuning(self, task, params):
        """The model a finetune trains: supervised text classification trains a `SentenceClassifier` head on
        this encoder (frozen), summarisation an `ExtractiveSummariser`'s sentence scorer; vectors train this model."""
        if not isinstance(params, dict):
            return self
        from kerasprop.models.sentences import sentence_classifier, sentence_heads

        if task == "text-classification" and "labels" in params:
            from kerasprop.models.classifiers.text_classifier import label_mapping

            return sentence_classifier.SentenceClassifier.from_sentence_embedder(
                self, class_names=label_mapping(list(params["labels"])))
        if task == "summarisation":
            return sentence_heads.ExtractiveSummariser.from_sentence_embedder(self).for_finetuning(task, params)
        return self

    def process_batch(self, params, task="text-vectorisation", variant=None, seed=0, **options):
        """Turns validated finetuning params into `(x, y)` for `fit`.

        `x` is a pair batch `{"first": texts, "second": texts}` (the
        preprocessor embeds both halves in one pass), `y` the target
        similarities or the groups (see `kerasprop.models.sentences.vector_finetuning`).
        """
        self.check_finetunable(task)
        pairs, y = pair_batch(params, variant or get_schema(task).default_variant, ("texts",), seed)
        return dict(zip(PAIR_KEYS, pairs["texts"])), y

    def finetuning_compile_kwargs(self, task="text-vectorisation", variant=None):
        """The loss to compile with for a finetuning variant."""
        self.check_finetunable(task)
        return {"loss": vector_loss(variant or get_schema(task).default_variant)}


def _check_templates(templates):
    """A template string, or a non-empty list of them (kept as a list), each checked."""
    if isinstance(templates, (list, tuple)) and templates:
        return [_check_template(template) for template in templates]
    return _check_template(templates)


def _check_template(template):
    if not isinstance(template, str) or "{label}" not in template:
        raise ValueError(f"'hypothesis_template' must be a string containing '{{label}}', got {describe(template)}.")
    try:
        template.format(label="x")
    except (IndexError, KeyError, ValueError) as error:
        raise ValueError(f"'hypothesis_template' {template!r} is not a valid format string: {error}.") from None
    return template


# --- loading ---------------------------------------------------------------------------


def _modules(preset):
    """The sentence-transformers modules of a folder: `(class name, path)` pairs, or `[]`."""
    if not preset_utils.check_file_exists(preset, "modules.json"):
        return []
    return [(m["type"].rsplit(".", 1)[-1], m.get("path", "")) for m in preset_utils.load_json(preset, "modules.json")]


def _sentence_transformers_settings(preset):
    """SentenceEmbedder arguments from a sentence-transformers folder (none for other presets)."""
    modules = _modules(preset)
    if not modules:
        return {}
    settings = {"normalize": any(name == "Normalize" for name, _ in modules)}
    settings["sequence_length"] = _max_seq_length(preset)
    for name, path in modules:
        if name == "Pooling":
            settings["pooling_mode"] = _pooling_mode(preset_utils.load_json(preset, f"{path}/config.json"))
        elif name == "Dense":
            if settings.get("projection"):
                raise ValueError(f"The sentence-transformers model at {preset!r} has several Dense modules; one is supported.")
            config = preset_utils.load_json(preset, f"{path}/config.json")
            activation = config.get("activation_function", "torch.nn.modules.activation.Tanh").rsplit(".", 1)[-1]
            if activation not in _ACTIVATIONS or config.get("use_residual"):
                raise ValueError(f"Unsupported Dense module in {preset!r}: activation {activation!r}.")
            settings.update(
                projection_dim=config["out_features"],
                projection_activation=_ACTIVATIONS[activation],
                projection_bias=config.get("bias", True),
                projection=path,
            )
        elif name not in ("Transformer", "Normalize"):
            raise ValueError(f"The sentence-transformers module {name!r} in {preset!r} is not supported.")
    return settings


def _max_seq_length(preset):
    """sentence-transformers' `max_seq_length`, or (since v5) the tokenizer's `model_max_length`."""
    for file, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        if preset_utils.check_file_exists(preset, file):
            length = preset_utils.load_json(preset, file).get(key)
            if isinstance(length, int) and length < 1_000_000:  # transformers writes 1e30 for "no limit"
                return length
    return None


def _pooling_mode(config):
    """The pooling mode of a `1_Pooling/config.json`, old (flags) or new (`pooling_mode`) style."""
    mode = config.get("pooling_mode")
    if mode is None:
        flags = [m for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens") if config.get(f"pooling_mode_{m}")]
        mode = {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max"}.get(flags[0] if len(flags) == 1 else "", flags)
    if mode not in POOLING_MODES:
        raise ValueError(f"Unsupported sentence-transformers pooling {mode!r}; supported: {POOLING_MODES}.")
    return mode


class _BareModelSafetensorLoader(SafetensorLoader):
    """Also reads checkpoints of bare `RobertaModel`/`DistilBertModel`s, whose keys lack the
    `roberta.`/`distilbert.` prefix that keras-hub's converters ask for (sentence-transformers saves these)."""

    def get_prefixed_key(self, hf_weight_key, dict_like):
        bare = hf_weight_key.partition(".")[2]
        if hf_weight_key not in dict_like.keys() and bare in dict_like.keys():
            return bare
        return super().get_prefixed_key(hf_weight_key, dict_like)


def _load_backbone(loader, preset, load_weights):
    if not isinstance(loader, TransformersPresetLoader):
        return keras_hub.models.Backbone.from_preset(preset, load_weights=load_weights)
    backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=False)
    if load_weights:
        with _BareModelSafetensorLoader(preset) as weights:
            loader.converter.convert_weights(backbone, weights, loader.config)
            if loader.config["model_type"] == "roberta":
                _fold_token_type_embedding(backbone, weights)
    return backbone


def _fold_token_type_embedding(backbone, weights):
    """Adds RoBERTa's `token_type_embeddings[0]` to the position embeddings.

    Hugging Face adds it to every token; keras-hub's RoBERTa converter drops it
    (its XLM-RoBERTa converter folds it in like this). It is zero in roberta-base
    but not in models trained further, such as msmarco-distilroberta-base-v2.
    """
    positions = backbone.embeddings.position_embedding.position_embeddings
    token_type = weights.get_tensor("roberta.embeddings.token_type_embeddings.weight")[0]
    positions.assign(ops.convert_to_numpy(positions) + token_type)


def _load_projection(layer, preset, path):
    """Loads the sentence-transformers `Dense` module in `path` (`linear.weight`, `linear.bias`) into `layer`."""
    if preset_utils.check_file_exists(preset, f"{path}/model.safetensors"):
        from safetensors.numpy import load_file

        state = load_file(preset_utils.get_file(preset, f"{path}/model.safetensors"))
    else:
        import torch  # older sentence-transformers folders only have pytorch_model.bin

        state = {
            k: v.numpy()
            for k, v in torch.load(
                preset_utils.get_file(preset, f"{path}/pytorch_model.bin"), map_location="cpu", weights_only=True
            ).items()
        }
    layer.set_weights([state["linear.weight"].T] + ([state["linear.bias"]] if layer.use_bias else []))
