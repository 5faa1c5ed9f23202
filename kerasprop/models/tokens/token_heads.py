"""`TokenHeadTask`: a dense layer over every token of a keras-hub encoder.

The shared base of the span tasks: named entities (`kerasprop.models.tokens.token_classifier`)
and extractive QA (`kerasprop.models.tokens.extractive_qa`). It holds what both need:

- the functional model: backbone (BERT, RoBERTa, DistilBERT) -> dropout -> `Dense` per token;
- `from_preset` for a saved kerasprop preset, a keras-hub backbone preset, or a Hugging
  Face checkpoint (with its `...ForTokenClassification`/`...ForQuestionAnswering` head);
- tokenisation with character offsets (`kerasprop.models.tokens.offsets`), and batched logits
  over length buckets, compiled once per bucket.

The preprocessor is the backbone's keras-hub `TextClassifierPreprocessor`: it carries the
tokenizer and the sequence length through `save_to_preset`; features are packed from the
offset-aware encodings (`pack`), so `fit` takes them already packed.
"""

import keras
import keras_hub
import numpy as np

from kerasprop.hub.converters import token_heads as hf_heads
from kerasprop.models.base_backbone import is_delta_preset, load_delta
from kerasprop.models.runtime.inference import MIN_LENGTH_BUCKET, power_of_two_bucket
from kerasprop.models.tokens.offsets import fast_tokenizer
from kerasprop.models.task_model import KerasTaskModel

#: Examples per forward pass at inference.
INFERENCE_BATCH_SIZE = 32
#: Longest packed sequence when the backbone allows more (the transformers pipelines' default).
MAX_SEQUENCE_LENGTH = 384

_hub = keras_hub.models
#: Backbone class -> the keras-hub preprocessor that holds its tokenizer.
PREPROCESSORS = {
    _hub.BertBackbone: _hub.BertTextClassifierPreprocessor,
    _hub.RobertaBackbone: _hub.RobertaTextClassifierPreprocessor,
    _hub.DistilBertBackbone: _hub.DistilBertTextClassifierPreprocessor,
}


def preprocessor_for(backbone, tokenizer, sequence_length=None):
    """The keras-hub preprocessor of `backbone`'s family around `tokenizer`."""
    for backbone_cls, preprocessor_cls in PREPROCESSORS.items():
        if isinstance(backbone, backbone_cls):
            length = sequence_length or min(MAX_SEQUENCE_LENGTH, backbone.max_sequence_length)
            return preprocessor_cls(tokenizer=tokenizer, sequence_length=length)
    raise ValueError(
        f"Span tasks run on BERT, RoBERTa and DistilBERT backbones, got {type(backbone).__name__}."
    )


class TokenHeadTask(KerasTaskModel, keras_hub.models.Task):
    """Backbone -> dropout -> `Dense(num_outputs)` on every token: logits of shape (batch, tokens, num_outputs).

    Subclasses set `hf_head` (the Hugging Face architecture suffix whose head they load)
    and pass `num_outputs`.
    """

    hf_head = None

    def __init__(self, backbone, num_outputs, preprocessor=None, dropout=0.1, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy, name="output_dropout")
        self.output_dense = keras.layers.Dense(
            num_outputs, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=backbone.dtype_policy, name="token_logits",
        )
        # === Functional Model ===
        inputs = backbone.input
        hidden = backbone(inputs)
        if isinstance(hidden, dict):
            hidden = hidden["sequence_output"]
        outputs = self.output_dense(self.output_dropout(hidden))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # === Config ===
        self.dropout = dropout
        self._fast_tokenizer = None

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a saved preset, a keras-hub backbone preset, or a Hugging Face checkpoint with its head."""
        from kerasprop.hub.catalog import find_entry, resolve_handle
        from kerasprop.hub.converters import get_preset_loader
        from kerasprop.models.families import saved_class

        handle = resolve_handle(preset)
        if saved_class(handle) is not None:
            if is_delta_preset(handle):
                model = load_delta(cls, handle, **kwargs)
            else:
                # keras-hub's Task.from_preset looks for a subclass per backbone; this family has one class for all.
                model = get_preset_loader(handle).load_task(cls, load_weights, True, **kwargs)
            entry = find_entry(preset) if isinstance(preset, str) else None
            if entry is not None:
                model.set_contract(name=entry.name, tasks=list(entry.tasks), description=entry.description)
            return model
        hf_config = hf_heads.transformers_config(handle)
        if hf_config is not None:
            backbone = hf_heads.load_backbone(handle, load_weights=load_weights)
        else:
            backbone = keras_hub.models.Backbone.from_preset(handle, load_weights=load_weights)
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(handle)
        head = hf_heads.head_prefix(hf_config, cls.hf_head) if hf_config is not None else None
        kwargs.update(cls.head_config(hf_config) if head else {})
        model = cls(backbone=backbone, preprocessor=preprocessor_for(backbone, tokenizer), **kwargs)
        if head and load_weights:
            hf_heads.port_dense(model.output_dense, handle, head)
        return model

    @classmethod
    def head_config(cls, hf_config):
        """Constructor arguments read from a Hugging Face config with this family's head."""
        return {}

    def preprocess_samples(self, x, y=None, sample_weight=None):
        # `process_batch` packs features with offsets; `fit` gets them ready to use.
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    @property
    def sequence_length(self):
        return self.preprocessor.sequence_length

    @property
    def fast_tokenizer(self):
        """The `tokenizers.Tokenizer` that gives this model's token ids with character offsets."""
        if self._fast_tokenizer is None:
            self._fast_tokenizer = fast_tokenizer(self.preprocessor.tokenizer)
        return self._fast_tokenizer

    def encode(self, texts, pairs=None, stride=None, max_length=None):
        """Offset-aware encodings of at most `max_length` tokens (the sequence length by default).

        A text is truncated; with `stride` it is split into overlapping windows instead,
        consecutive windows sharing `stride` tokens, and each input gives a list of
        encodings. With `pairs` the second text of each pair is the one truncated or
        split, and each input always gives a list (of one window when `stride` is `None`).
        """
        fast = self.fast_tokenizer
        fast.no_padding()
        fast.enable_truncation(max_length or self.sequence_length, stride=stride or 0,
                               strategy="only_second" if pairs is not None else "longest_first")
        encodings = fast.encode_batch(list(texts) if pairs is None else list(zip(texts, pairs)))
        if pairs is None and stride is None:
            return encodings
        return [[encoding] + list(encoding.overflowing) for encoding in encodings]

    def pack(self, encodings, width):
        """Backbone features for `encodings`, padded (or cut) to `width` tokens."""
        pad = self.preprocessor.tokenizer.pad_token_id
        token_ids = np.full((len(encodings), width), pad, dtype="int32")
        padding_mask = np.zeros((len(encodings), width), dtype="bool")
        segment_ids = np.zeros((len(encodings), width), dtype="int32")
        for row, encoding in enumerate(encodings):
            n = min(width, len(encoding.ids))
            token_ids[row, :n] = encoding.ids[:n]
            padding_mask[row, :n] = True
            segment_ids[row, :n] = encoding.type_ids[:n]
        features = {"token_ids": token_ids, "padding_mask": padding_mask}
        if "segment_ids" in self.backbone.input:
            features["segment_ids"] = segment_ids
        return features

    def token_logits(self, encodings):
        """Logits per token, one `(tokens, num_outputs)` array per encoding.

        Encodings are sorted by length and run in batches padded to power-of-two buckets.
        """
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        outputs = [None] * len(encodings)
        for start in range(0, len(order), INFERENCE_BATCH_SIZE):
            rows = order[start:start + INFERENCE_BATCH_SIZE]
            width = power_of_two_bucket(lengths[rows].max(), MIN_LENGTH_BUCKET, self.sequence_length)
            batch = self.pack([encodings[i] for i in rows], width)
            logits = np.asarray(self.predict_features(batch), "float32")
            for row, i in enumerate(rows):
                outputs[i] = logits[row, :lengths[i]]
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(dropout=self.dropout)
        return config
