"""Fill-mask on keras-hub `MaskedLM` tasks: `FillMask`.

`FillMask.from_preset(...)` picks the class for the preset's backbone (BERT,
RoBERTa, DistilBERT), as `keras_hub.models.MaskedLM.from_preset` does, and
loads Hugging Face `...ForMaskedLM` checkpoints with their head (keras-hub's
converters load the backbone only).

A text marks each word to fill with `[MASK]` or `<mask>`; either spelling is
read as the model's own mask token. As in transformers' fill-mask pipeline,
a text with one mask gives one list of candidates, and a text with several
masks gives one list per mask, each scored independently.
"""

import re

import keras
import keras_hub
import numpy as np

from kerasprop.hub.converters import bert as _bert_converter  # noqa: F401  (BertForMaskedLM checkpoints)
from kerasprop.hub.converters import classification_heads, masked_lm_heads
from kerasprop.models.task_model import KerasTaskModel
from kerasprop.models.text_classifier import INFERENCE_BATCH_SIZE, backbone_family, family_member, padded_length
from kerasprop.schemas.tasks import MASK_SPELLINGS

_MASK = re.compile("|".join(re.escape(mask) for mask in MASK_SPELLINGS))


class FillMask(KerasTaskModel):
    """Fills the masks in texts with a masked language model.

    `from_preset` returns the subclass for the preset's backbone, e.g.
    `BertFillMask` (also a `keras_hub.models.BertMaskedLM`).

    Example:
    >>> from kerasprop.models import FillMask
    >>> model = FillMask.from_preset("hf://google-bert/bert-base-uncased")  # doctest: +SKIP
    >>> model({"text": "Paris is the [MASK] of France.", "top_k": 1}, task="fill-mask")  # doctest: +SKIP
    [{'sequence': 'Paris is the capital of France.', 'score': 0.99, 'token': 3007, 'token_str': 'capital'}]
    """

    default_tasks = ("fill-mask",)
    default_description = "Fills masked words with a masked language model."

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a keras-hub preset, or a Hugging Face checkpoint with its masked-LM head.

        On the family mixin, picks the family's class for the preset's backbone.
        """
        from kerasprop.hub.catalog import resolve_handle

        preset = resolve_handle(preset)
        if not issubclass(cls, keras_hub.models.Task):
            return family_member(cls, preset).from_preset(preset, load_weights=load_weights, **kwargs)
        hf_config = classification_heads.transformers_config(preset)
        if hf_config is not None:
            masked_lm_heads.check_masked_lm_head(hf_config)
        model = super().from_preset(preset, load_weights=load_weights, **kwargs)
        if hf_config is not None and load_weights:
            classification_heads.port_token_type_embedding(model.backbone, preset, hf_config)
            masked_lm_heads.port_head(model, preset, hf_config)
        return model

    def masked_token_ids(self, text):
        """The token ids of `text` between the start and end tokens, and the indices of its masks.

        The text is tokenised between its masks; a mask takes the whitespace
        before it, as Hugging Face's `<mask>` token does.
        """
        tokenizer = self.preprocessor.tokenizer
        pieces = _MASK.split(text)
        pieces = [piece.rstrip() if i < len(pieces) - 1 else piece for i, piece in enumerate(pieces)]
        tokenised = tokenizer([piece for piece in pieces if piece])
        tokenised = iter(tokenised.to_list() if hasattr(tokenised, "to_list") else tokenised)
        ids, positions = [tokenizer.start_token_id], []
        for i, piece in enumerate(pieces):
            if piece:
                ids += [int(t) for t in next(tokenised)]
            if i < len(pieces) - 1:
                positions.append(len(ids))
                ids.append(tokenizer.mask_token_id)
        ids.append(tokenizer.end_token_id)
        limit = min(self.preprocessor.sequence_length, self.backbone.max_sequence_length)
        if len(ids) > limit:
            raise ValueError(
                f"A text has {len(ids)} tokens, more than the model's limit of {limit}: {text[:60]!r}..."
            )
        return ids, positions

    def mask_logits(self, texts):
        """Logits over the vocabulary at each mask: a list with one (masks, vocabulary) array per text.

        Texts are sorted by length and run in batches, each padded to a
        power-of-two bucket.
        """
        rows = [self.masked_token_ids(text) for text in texts]
        lengths = np.array([len(ids) for ids, _ in rows])
        order = np.argsort(lengths, kind="stable")
        pad = self.preprocessor.tokenizer.pad_token_id
        logits = [None] * len(rows)
        for start in range(0, len(order), INFERENCE_BATCH_SIZE):
            batch_rows = order[start:start + INFERENCE_BATCH_SIZE]
            width = padded_length(int(lengths[batch_rows].max()), self.backbone.max_sequence_length)
            masks = max(len(rows[i][1]) for i in batch_rows)
            token_ids = np.full((len(batch_rows), width), pad, dtype="int32")
            mask_positions = np.zeros((len(batch_rows), masks), dtype="int32")
            for j, i in enumerate(batch_rows):
                ids, positions = rows[i]
                token_ids[j, :len(ids)] = ids
                mask_positions[j, :len(positions)] = positions
            features = {
                "token_ids": token_ids,
                "padding_mask": (np.arange(width) < lengths[batch_rows, None]).astype("int32"),
                "mask_positions": mask_positions,
            }
            if "segment_ids" in self.backbone.input:
                features["segment_ids"] = np.zeros_like(token_ids)
            # keras.Model's own predict_on_batch: the features are already preprocessed.
            out = keras.ops.convert_to_numpy(keras.Model.predict_on_batch(self, features))
            for j, i in enumerate(batch_rows):
                logits[i] = out[j, :len(rows[i][1])]
        return logits

    def token_string(self, token_id):
        """A token as text, as transformers' `tokenizer.decode([token_id])` writes it."""
        tokenizer = self.preprocessor.tokenizer
        if isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
            return tokenizer.id_to_token(token_id)
        text = tokenizer.detokenize([token_id])
        text = text if isinstance(text, str) else keras.ops.convert_to_numpy(text).item()
        return text.decode("utf-8") if isinstance(text, bytes) else text

    def predict_fill_mask(self, request):
        top_k = request.options["top_k"]
        outputs = []
        for text, logits in zip(request.inputs["text"], self.mask_logits(request.inputs["text"])):
            logits = logits.astype("float64")
            probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
            probabilities /= probabilities.sum(axis=-1, keepdims=True)
            per_mask = []
            for index, row in enumerate(probabilities):
                best = np.argsort(-row, kind="stable")[:top_k]
                per_mask.append([self._candidate(text, index, int(t), float(row[t])) for t in best])
            outputs.append(per_mask[0] if len(per_mask) == 1 else per_mask)
        return outputs

    def _candidate(self, text, index, token_id, score):
        token_str = self.token_string(token_id)
        masks = list(_MASK.finditer(text))
        start, end = masks[index].span()
        if token_str[:1].isspace():
            start = len(text[:start].rstrip())
        return {"sequence": text[:start] + token_str + text[end:], "score": score, "token": token_id,
                "token_str": token_str}


_hub = keras_hub.models
BertFillMask = backbone_family(FillMask, _hub.BertMaskedLM)
DistilBertFillMask = backbone_family(FillMask, _hub.DistilBertMaskedLM)
RobertaFillMask = backbone_family(FillMask, _hub.RobertaMaskedLM)
