"""Zero-shot text classification with natural-language-inference models.

Each (text, label) pair becomes a premise and a hypothesis ("This example is
{label}.") and goes through a sequence-classification model trained on
MNLI/XNLI. A label's score is the probability of entailment against
contradiction (multi-label, the default, as in backprop), or the softmax of
the entailment logits across the labels of a text (`multi_label=False`).

`NLIZeroShotClassifier` is the family's mixin; `from_preset` on it picks the
class for the checkpoint's backbone: BART (e.g. facebook/bart-large-mnli), RoBERTa
(roberta-large-mnli), XLM-RoBERTa (joeddav/xlm-roberta-large-xnli) or DeBERTa-v3
(MoritzLaurer/DeBERTa-v3-base-mnli). Hugging Face checkpoints load with their
classification head and `id2label`.
"""

import keras
import keras_hub
import numpy as np

from kerasprop.models.runtime.inference import softmax
from kerasprop.models.classifiers.text_classifier import ClassifierTask, backbone_family, ranked

DEFAULT_HYPOTHESIS_TEMPLATE = "This example is {label}."


class NLIZeroShotClassifier(ClassifierTask):
    """Scores any labels for a text with an NLI model.

    Args:
        backbone, num_classes, preprocessor: as for the keras-hub `TextClassifier`
            of the backbone; the preprocessor packs (premise, hypothesis) pairs.
        class_names: the NLI class of each logit; must name "entailment" and
            "contradiction" (read from `id2label` for Hugging Face checkpoints).
        hypothesis_template: the hypothesis for a label, with `{label}` (or `{}`)
            where the label goes.
        multi_label: score each label on its own (entailment against
            contradiction), or normalise entailment across a text's labels.

    Example:
    >>> from kerasprop.models import NLIZeroShotClassifier
    >>> model = NLIZeroShotClassifier.from_preset("hf://facebook/bart-large-mnli")  # doctest: +SKIP
    >>> model({"text": "I love my new phone", "labels": ["tech", "food"]}, task="text-classification")  # doctest: +SKIP
    {'tech': 0.97, 'food': 0.01}
    """

    default_description = "Zero-shot text classification with a natural-language-inference model."

    def __init__(self, *args, hypothesis_template=DEFAULT_HYPOTHESIS_TEMPLATE, multi_label=True, **kwargs):
        super().__init__(*args, **kwargs)
        template = hypothesis_template
        if not isinstance(template, str) or not ("{label}" in template or "{}" in template):
            raise ValueError(
                f"'hypothesis_template' must be a string with '{{label}}' where the label goes, got {template!r}."
            )
        if not isinstance(multi_label, bool):
            raise TypeError(f"'multi_label' must be True or False, got {multi_label!r}.")
        self.hypothesis_template = hypothesis_template
        self.multi_label = multi_label
        if self.class_names is not None:
            self.entailment_index, self.contradiction_index = nli_indices(self.class_names)

    def hypothesis(self, label):
        return self.hypothesis_template.format(label, label=label)

    def predict_text_classification(self, request):
        texts, label_lists = request.inputs["text"], request.inputs["labels"]
        if any(labels is None for labels in label_lists):
            raise ValueError(
                f"Model '{self.name}' classifies zero-shot: give 'labels' to score "
                "(one list for all texts or a list per text)."
            )
        if self.class_names is None:
            raise ValueError(f"Model '{self.name}' has no NLI class names: load it from an NLI checkpoint.")
        premises = [text for text, labels in zip(texts, label_lists) for _ in labels]
        hypotheses = [self.hypothesis(label) for labels in label_lists for label in labels]
        logits = self.class_logits(premises, hypotheses)
        entailment = logits[:, self.entailment_index]
        outputs, start = [], 0
        for labels in label_lists:
            rows = slice(start, start + len(labels))
            start += len(labels)
            if self.multi_label:
                scores = 1.0 / (1.0 + np.exp(logits[rows, self.contradiction_index] - entailment[rows]))
            else:
                scores = softmax(entailment[rows])
            outputs.append(ranked(zip(labels, scores), request.options["top_k"]))
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(hypothesis_template=self.hypothesis_template, multi_label=self.multi_label)
        return config


def nli_indices(class_names):
    """The (entailment, contradiction) class indices, found by name."""
    lowered = [str(name).lower() for name in class_names]

    def find(prefix):
        matches = [i for i, name in enumerate(lowered) if name.startswith(prefix)]
        if len(matches) != 1:
            raise ValueError(
                f"An NLI model needs exactly one class named '{prefix}...' among its classes {list(class_names)}."
            )
        return matches[0]

    return find("entail"), find("contradict")


@keras.saving.register_keras_serializable(package="kerasprop")
class BartTextClassifierPreprocessor(keras_hub.models.RobertaTextClassifierPreprocessor):
    """Packs texts or text pairs for BART as Hugging Face does: `<s> a </s></s> b </s>`."""

    backbone_cls = keras_hub.models.BartBackbone
    tokenizer_cls = keras_hub.models.BartTokenizer


@keras.saving.register_keras_serializable(package="kerasprop")
class BartNLIZeroShotClassifier(NLIZeroShotClassifier, keras_hub.models.TextClassifier):
    """`NLIZeroShotClassifier` on BART, with the head of `BartForSequenceClassification`.

    The encoder reads the pair, the decoder reads it shifted right, and the
    decoder state at the final `</s>` goes through dense, tanh and the output
    projection.
    """

    backbone_cls = keras_hub.models.BartBackbone
    preprocessor_cls = BartTextClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, dropout=0.0, decoder_start_token_id=2, **kwargs):
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooled_dropout = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy, name="pooled_dropout")
        self.pooled_dense = keras.layers.Dense(
            backbone.hidden_dim, activation="tanh", dtype=backbone.dtype_policy, name="pooled_dense"
        )
        self.output_dropout = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy, name="output_dropout")
        self.output_dense = keras.layers.Dense(num_classes, dtype=backbone.dtype_policy, name="logits")

        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        start = keras.ops.ones_like(token_ids[:, :1]) * decoder_start_token_id
        sequence = backbone(
            {
                "encoder_token_ids": token_ids,
                "encoder_padding_mask": padding_mask,
                "decoder_token_ids": keras.ops.concatenate([start, token_ids[:, :-1]], axis=1),
                # Right padding: every position up to the final </s> is real in the shifted sequence too.
                "decoder_padding_mask": padding_mask,
            }
        )["decoder_sequence_output"]
        last = keras.ops.sum(keras.ops.cast(padding_mask, "int32"), axis=1, keepdims=True) - 1
        x = keras.ops.take_along_axis(sequence, keras.ops.expand_dims(last, -1), axis=1)[:, 0, :]
        x = self.pooled_dropout(x)
        x = self.pooled_dense(x)
        x = self.output_dropout(x)
        outputs = self.output_dense(x)
        super().__init__(inputs={"token_ids": token_ids, "padding_mask": padding_mask}, outputs=outputs, **kwargs)

        self.num_classes = num_classes
        self.dropout = dropout
        self.decoder_start_token_id = decoder_start_token_id

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, dropout=self.dropout, decoder_start_token_id=self.decoder_start_token_id
        )
        return config


RobertaNLIZeroShotClassifier = backbone_family(NLIZeroShotClassifier, keras_hub.models.RobertaTextClassifier)
XLMRobertaNLIZeroShotClassifier = backbone_family(NLIZeroShotClassifier, keras_hub.models.XLMRobertaTextClassifier)
DebertaV3NLIZeroShotClassifier = backbone_family(NLIZeroShotClassifier, keras_hub.models.DebertaV3TextClassifier)
