"""Supervised text classification on keras-hub `TextClassifier`s.

`SupervisedTextClassifier.from_preset(...)` picks the subclass for the
preset's backbone (BERT, RoBERTa, DistilBERT, DeBERTa-v3, XLM-R), as
`keras_hub.models.TextClassifier.from_preset` does. The class names it learnt
are part of its config, so `save_to_preset`/`from_preset` keep them. Hugging
Face `...ForSequenceClassification` checkpoints load with their head and
`id2label` names.

`SupervisedTextClassifier` is the family's mixin and entry point; the
classes it loads are `backbone_family` subclasses of it and of the keras-hub
classifier (a mixin rather than a `Task` subclass, because Keras cannot
build a functional model whose class inherits `Task` along two paths).
`ClassifierTask` holds what this family shares with the NLI zero-shot
classifiers (`kerasprop.models.classifiers.nli`): class names in the config, Hugging Face
heads, and batched logits over length buckets.
"""

import keras
import keras_hub
import numpy as np

from kerasprop.hub.converters import (
    classification_heads,
    deberta_v3,  # noqa: F401 (registers the deberta-v2 converter)
)
from kerasprop.models.classifiers.pair_similarity import SimilarityBlend
from kerasprop.models.classifiers.word_differences import WordDifferenceCheck
from kerasprop.models.runtime.deferred_init import deferred_initialisation
from kerasprop.models.runtime.inference import MIN_LENGTH_BUCKET, power_of_two_bucket, softmax
from kerasprop.models.task_model import KerasTaskModel

#: Examples per forward pass at inference.
INFERENCE_BATCH_SIZE = 32


class ClassifierTask(KerasTaskModel):
    """Mixin for classifiers over keras-hub `TextClassifier`s: class names, batched logits and text pairs.

    Text pairs (`"text-pair-classification"`: paraphrase, entailment, ...) are
    packed as the tokenizer's pair encoding (`[CLS] a [SEP] b [SEP]` for BERT,
    `<s> a </s></s> b </s>` for RoBERTa) and scored over the model's classes.
    With `similarity` (a `SimilarityBlend` or its config), the probability of
    "same" is averaged with the similarity of the two sentences' vectors; with
    `word_check` (a `WordDifferenceCheck` or its config), pairs whose words
    alone decide (antonyms, a negation, synonyms, one word swapped, two roles
    exchanged) get the check's verdict. Both are part of the config, so presets
    keep them, and both speak only while the model's classes are their two labels.
    """

    default_tasks = ("text-classification", "text-pair-classification")

    def __init__(self, *args, class_names=None, similarity=None, word_check=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_names = list(class_names) if class_names is not None else None
        self.similarity = SimilarityBlend.from_config(similarity) if isinstance(similarity, dict) else similarity
        self.word_check = WordDifferenceCheck.from_config(word_check) if isinstance(word_check, dict) else word_check

    @classmethod
    @deferred_initialisation()
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a keras-hub preset, or a Hugging Face checkpoint with its classification head.

        On a family mixin, picks the family's class for the preset's backbone.
        """
        from kerasprop.hub.catalog import resolve_handle

        if not issubclass(cls, keras_hub.models.Task):
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        name, preset = preset, resolve_handle(preset)
        hf_config = classification_heads.transformers_config(preset)
        if hf_config is None:
            return super().from_preset(name, load_weights=load_weights, **kwargs)
        with_head = "num_classes" not in kwargs and classification_heads.has_classification_head(hf_config)
        if with_head:
            kwargs["num_classes"] = len(kwargs.setdefault("class_names", classification_heads.label_names(hf_config)))
        model = super().from_preset(name, load_weights=load_weights, **kwargs)
        if load_weights:
            classification_heads.port_token_type_embedding(model.backbone, preset, hf_config)
            if with_head:
                classification_heads.port_head(model, preset, hf_config)
        return model

    def class_logits(self, *segments):
        """Logits, one row per example, for lists of texts (one list per segment: 1 or 2).

        Examples are sorted by length and run in batches, each padded to a
        power-of-two bucket rather than to the preprocessor's sequence length.
        """
        features = self.preprocessor(x=tuple(segments))
        features = {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in features.items()}
        lengths = features["padding_mask"].astype(bool).sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        logits = np.zeros((len(lengths), self.num_classes), dtype="float32")
        for start in range(0, len(order), INFERENCE_BATCH_SIZE):
            rows = order[start:start + INFERENCE_BATCH_SIZE]
            width = power_of_two_bucket(lengths[rows].max(), MIN_LENGTH_BUCKET, features["padding_mask"].shape[1])
            batch = {k: v[rows, :width] for k, v in features.items()}
            logits[rows] = self.predict_features(batch)
        return logits

    def predict_text_pair_classification(self, request):
        if not self.class_names:
            raise ValueError(f"Model '{self.name}' has learnt no labels yet: finetune it first.")
        texts, text_pairs = request.inputs["text"], request.inputs["text_pair"]
        rows = [dict(zip(self.class_names, row.tolist())) for row in softmax(self.class_logits(texts, text_pairs))]
        if self.similarity is not None:
            rows = self.similarity.apply(texts, text_pairs, rows)
        if self.word_check is not None:
            rows = [self.word_check.apply(text, text_pair, row) for text, text_pair, row in zip(texts, text_pairs, rows)]
        return [ranked(row.items(), request.options["top_k"]) for row in rows]

    def get_config(self):
        config = super().get_config()
        config.update(class_names=None if self.class_names is None else list(self.class_names),
                      similarity=None if self.similarity is None else self.similarity.get_config(),
                      word_check=None if self.word_check is None else self.word_check.get_config())
        return config


def ranked(scores, top_k=0):
    """A dict label -> float, most probable first; `top_k` > 0 keeps that many."""
    items = sorted(((label, float(p)) for label, p in scores), key=lambda item: item[1], reverse=True)
    return dict(items[:top_k] if top_k else items)


def label_mapping(labels):
    """Class names (strings, sorted) from a dict index -> label, a label set, or per-example labels.

    A dict keeps its indices; a list (duplicates allowed, as in finetuning
    params) gives its distinct labels in sorted order, numbers numerically.
    """
    if isinstance(labels, dict):
        if sorted(labels) != list(range(len(labels))):
            raise ValueError(
                f"A label dict must map the indices 0..{len(labels) - 1} to labels, got keys {sorted(labels)}."
            )
        names = [str(labels[i]) for i in range(len(labels))]
    elif isinstance(labels, (list, tuple)):
        distinct = set(labels)
        numeric = all(isinstance(label, int) and not isinstance(label, bool) for label in distinct)
        names = [str(label) for label in sorted(distinct, key=None if numeric else str)]
    else:
        raise TypeError(f"'labels' must be a dict index -> label or a list of labels, got {type(labels).__name__}.")
    if len(names) < 2:
        raise ValueError(f"A classifier needs at least 2 distinct labels, got {names}.")
    if len(set(names)) != len(names):
        raise ValueError(f"Labels must be distinct as strings, got {names}.")
    return names


class SupervisedTextClassifier(ClassifierTask):
    """A finetunable text classifier that returns probabilities over the labels it learnt.

    `from_preset` returns the subclass for the preset's backbone, e.g.
    `BertSupervisedTextClassifier` (also a `keras_hub.models.BertTextClassifier`).

    Args:
        backbone, num_classes, preprocessor: as for the keras-hub `TextClassifier`
            of the backbone.
        class_names: the label of each class index; set by `pre_finetuning`.

    Example:
    >>> from kerasprop.models import SupervisedTextClassifier
    >>> model = SupervisedTextClassifier.from_preset("bert_tiny_en_uncased")  # doctest: +SKIP
    >>> model.pre_finetuning(["negative", "positive"])  # doctest: +SKIP
    >>> features = model.process_batch({"texts": ["good", "bad"], "labels": ["positive", "negative"]})  # doctest: +SKIP
    >>> model({"text": "So good!"}, task="text-classification")  # doctest: +SKIP
    {'positive': 0.73, 'negative': 0.27}
    """

    finetunable_tasks = ("text-classification", "text-pair-classification")
    default_description = "A text classifier finetuned on labelled texts or text pairs."

    def __init__(self, backbone, num_classes=2, preprocessor=None, class_names=None, **kwargs):
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names were given for {num_classes} classes.")
        super().__init__(backbone=backbone, num_classes=num_classes, preprocessor=preprocessor,
                         class_names=class_names, **kwargs)

    def pre_finetuning(self, labels, **kwargs):
        """Sets the head to `labels` (a dict index -> label, or a list); keeps it if they are the learnt ones.

        A new label set gets a freshly initialised head on the same backbone.
        Finetuning turns the similarity blend off: the model trained on your
        pairs is scored alone (set `similarity` again to blend it).
        """
        names = label_mapping(labels)
        self.similarity = None
        if names == self.class_names:
            return
        backbone, preprocessor = self.backbone, self.preprocessor
        old_head = [layer for layer in self._layers if not isinstance(layer, keras.layers.InputLayer)
                    and layer is not backbone and layer is not preprocessor]
        config = self.get_config()
        config.update(backbone=backbone, preprocessor=preprocessor, num_classes=len(names), class_names=names)
        type(self).__init__(self, **config)
        # Re-initialising a Keras model under torch drops the sublayers set before Model.__init__.
        self.backbone, self.preprocessor = backbone, preprocessor
        # ...and every backend keeps tracking the old head beside the new one (its weights would be trained,
        # saved, pickled and given optimizer slots), though the new model's graph no longer uses it.
        for layer in old_head:
            self._tracker.untrack(layer)
        if hasattr(self, "_track_variables"):  # torch: the parameters registered for the module
            self._track_variables()

    def process_batch(self, params, task="text-classification", max_length=128, **options):
        """`(texts, class indices)` for `fit`, from params {"texts", "labels"}; sets the sequence length.

        For "text-pair-classification" (params {"texts", "text_pairs", "labels"})
        the features are the pair `(texts, text_pairs)`.
        """
        self.check_finetunable(task)
        if self.class_names is None:
            self.pre_finetuning(params["labels"])
        index = {name: i for i, name in enumerate(self.class_names)}
        unknown = sorted({str(label) for label in params["labels"]} - set(index))
        if unknown:
            raise ValueError(
                f"The labels {unknown} are not among the model's classes {self.class_names}; "
                "call pre_finetuning(labels) with the full label set first."
            )
        # Never past the backbone's position embeddings.
        self.preprocessor.sequence_length = min(max_length, getattr(self.backbone, "max_sequence_length", max_length))
        features = list(params["texts"])
        if task == "text-pair-classification":
            features = (features, list(params["text_pairs"]))
        return features, np.array([index[str(label)] for label in params["labels"]], dtype="int32")

    def predict_text_classification(self, request):
        if not self.class_names:
            raise ValueError(f"Model '{self.name}' has learnt no labels yet: finetune it first.")
        logits = self.class_logits(request.inputs["text"])
        index = {name: i for i, name in enumerate(self.class_names)}
        outputs = []
        for row, wanted in zip(logits, request.inputs["labels"]):
            names = self.class_names if wanted is None else wanted
            unknown = [name for name in names if name not in index]
            if unknown:
                raise ValueError(f"Unknown label(s) {unknown}: model '{self.name}' knows {self.class_names}.")
            chosen = row[[index[name] for name in names]]
            outputs.append(ranked(zip(names, softmax(chosen)), request.options["top_k"]))
        return outputs


def backbone_family(family, task_class):
    """The registered Keras class of `family` (a mixin) on a keras-hub `Task` class.

    `backbone_family(SupervisedTextClassifier, keras_hub.models.BertTextClassifier)`
    is `BertSupervisedTextClassifier`: named after the task's backbone and the family.
    """
    name = task_class.backbone_cls.__name__.removesuffix("Backbone") + family.__name__
    namespace = {"__doc__": f"`{family.__name__}` on `{task_class.__name__}`.", "__module__": family.__module__}
    return keras.saving.register_keras_serializable(package="kerasprop")(type(name, (family, task_class), namespace))


_hub = keras_hub.models
BertSupervisedTextClassifier = backbone_family(SupervisedTextClassifier, _hub.BertTextClassifier)
DebertaV3SupervisedTextClassifier = backbone_family(SupervisedTextClassifier, _hub.DebertaV3TextClassifier)
DistilBertSupervisedTextClassifier = backbone_family(SupervisedTextClassifier, _hub.DistilBertTextClassifier)
RobertaSupervisedTextClassifier = backbone_family(SupervisedTextClassifier, _hub.RobertaTextClassifier)
XLMRobertaSupervisedTextClassifier = backbone_family(SupervisedTextClassifier, _hub.XLMRobertaTextClassifier)
