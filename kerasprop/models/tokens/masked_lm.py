"""Fill-mask on keras-hub `MaskedLM` tasks: `MaskedLM`.

`MaskedLM.from_preset(...)` picks the class for the preset's backbone (BERT,
RoBERTa, DistilBERT), as `keras_hub.models.MaskedLM.from_preset` does, and
loads Hugging Face `...ForMaskedLM` checkpoints with their head (keras-hub's
converters load the backbone only).

A text marks each word to fill with `[MASK]` or `<mask>`; either spelling is
read as the model's own mask token. As in transformers' fill-mask pipeline,
a text with one mask gives one list of candidates, and a text with several
masks gives one list per mask, each scored independently.

Finetuning ("fill-mask" params `{"texts": [...]}`) trains the masked-LM head and
the backbone with BERT's masking recipe (`mask_tokens`).
"""

import re

import keras
import keras_hub
import numpy as np

from kerasprop.hub.converters import bert as _bert_converter  # noqa: F401  (BertForMaskedLM checkpoints)
from kerasprop.hub.converters import classification_heads, masked_lm_heads
from kerasprop.models.runtime.inference import MIN_LENGTH_BUCKET, power_of_two_bucket, softmax
from kerasprop.models.task_model import KerasTaskModel, register_former_name
from kerasprop.models.classifiers.text_classifier import INFERENCE_BATCH_SIZE, backbone_family
from kerasprop.schemas.tasks import MASK_SPELLINGS

_MASK = re.compile("|".join(re.escape(mask) for mask in MASK_SPELLINGS))
#: Seed of the masking of finetuning texts: the same texts always get the same masks.
MASKING_SEED = 20260511
#: Of the tokens chosen for the loss, the share replaced by the mask token, and by a random token (BERT's recipe).
MASK_TOKEN_RATE, RANDOM_TOKEN_RATE = 0.8, 0.1


def mask_tokens(token_ids, eligible, mask_rate, mask_token_id, random_ids, rng):
    """BERT's masking of one sequence: `(masked ids, chosen positions, original ids at them)`.

    `round(mask_rate * n)` of the `n` eligible positions (at least one) are chosen;
    each chosen token becomes `mask_token_id` with probability 0.8, a token drawn
    from `random_ids` with probability 0.1, and stays itself otherwise.

    Example:
    >>> import numpy as np
    >>> ids, positions, labels = mask_tokens(np.array([2, 7, 8, 9, 3]), np.array([1, 2, 3]), 0.34, 4,
    ...                                      np.arange(5, 10), np.random.default_rng(0))
    >>> len(positions), ids.tolist()[0], ids.tolist()[-1]  # one of three tokens; start and end kept
    (1, 2, 3)
    """
    count = min(len(eligible), max(1, round(mask_rate * len(eligible))))
    positions = np.sort(rng.choice(eligible, size=count, replace=False))
    labels = token_ids[positions]
    token_ids = token_ids.copy()
    draw = rng.random(count)
    replaced = draw < MASK_TOKEN_RATE
    randomised = (draw >= MASK_TOKEN_RATE) & (draw < MASK_TOKEN_RATE + RANDOM_TOKEN_RATE)
    token_ids[positions[replaced]] = mask_token_id
    token_ids[positions[randomised]] = rng.choice(random_ids, size=int(randomised.sum()))
    return token_ids, positions, labels


class MaskedLM(KerasTaskModel):
    """Fills the masks in texts with a masked language model (the model behind the `FillMask` task).

    `from_preset` returns the subclass for the preset's backbone, e.g.
    `BertMaskedLM` (also a `keras_hub.models.BertMaskedLM`). `FillMask`,
    `BertFillMask`, ... are its former names, kept for one release.

    Example:
    >>> from kerasprop.models import MaskedLM
    >>> model = MaskedLM.from_preset("hf://google-bert/bert-base-uncased")  # doctest: +SKIP
    >>> model({"text": "Paris is the [MASK] of France.", "top_k": 1}, task="fill-mask")  # doctest: +SKIP
    [{'sequence': 'Paris is the capital of France.', 'score': 0.99, 'token': 3007, 'token_str': 'capital'}]
    """

    default_tasks = ("fill-mask",)
    finetunable_tasks = ("fill-mask",)
    default_description = "Fills masked words with a masked language model."

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a keras-hub preset, or a Hugging Face checkpoint with its masked-LM head.

        On the family mixin, picks the family's class for the preset's backbone.
        """
        from kerasprop.hub.catalog import resolve_handle

        if not issubclass(cls, keras_hub.models.Task):
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        name, preset = preset, resolve_handle(preset)
        hf_config = classification_heads.transformers_config(preset)
        if hf_config is not None:
            masked_lm_heads.check_masked_lm_head(hf_config)
        model = super().from_preset(name, load_weights=load_weights, **kwargs)
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
        tokenised = iter(self.token_ids([piece for piece in pieces if piece]))
        ids, positions = [tokenizer.start_token_id], []
        for i, piece in enumerate(pieces):
            if piece:
                ids += next(tokenised)
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

    def token_ids(self, texts):
        """The token ids of each text (no start or end token), as lists of ints."""
        tokenised = self.preprocessor.tokenizer(list(texts))
        tokenised = tokenised.to_list() if hasattr(tokenised, "to_list") else tokenised
        return [[int(t) for t in ids] for ids in tokenised]

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
            width = power_of_two_bucket(lengths[batch_rows].max(), MIN_LENGTH_BUCKET, self.backbone.max_sequence_length)
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
            out = self.predict_features(features)
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
            probabilities = softmax(logits.astype("float64"))
            per_mask = []
            for index, row in enumerate(probabilities):
                best = np.argsort(-row, kind="stable")[:top_k]
                per_mask.append([self._candidate(text, index, int(t), float(row[t])) for t in best])
            outputs.append(per_mask[0] if len(per_mask) == 1 else per_mask)
        return outputs

    # === Finetuning ===

    def process_batch(self, params, task="fill-mask", max_length=128, mask_rate=0.15):
        """`(features, original ids, weights)` for `fit` from params {"texts"}, masked as BERT masks.

        Each text is cut to `max_length` tokens (start and end tokens included) and
        masked by `mask_tokens` with a fixed seed (`MASKING_SEED`); random tokens are
        drawn from the non-special vocabulary. Per text, `mask_positions` lists its
        chosen positions, padded with weight 0: the loss covers the chosen tokens only.
        """
        self.check_finetunable(task)
        tokenizer = self.preprocessor.tokenizer
        max_length = min(max_length, self.backbone.max_sequence_length)
        special = sorted(set(tokenizer.special_token_ids))
        random_ids = np.setdiff1d(np.arange(tokenizer.vocabulary_size()), special)
        rng = np.random.default_rng(MASKING_SEED)
        rows = []
        for ids in self.token_ids(params["texts"]):
            ids = np.array([tokenizer.start_token_id] + ids[:max_length - 2] + [tokenizer.end_token_id])
            eligible = np.flatnonzero(~np.isin(ids, special))
            rows.append(mask_tokens(ids, eligible, mask_rate, tokenizer.mask_token_id, random_ids, rng))
        width = max(len(ids) for ids, _, _ in rows)
        masks = max(len(positions) for _, positions, _ in rows)
        token_ids = np.full((len(rows), width), tokenizer.pad_token_id, dtype="int32")
        padding_mask = np.zeros((len(rows), width), dtype="bool")
        mask_positions = np.zeros((len(rows), masks), dtype="int32")
        labels = np.zeros((len(rows), masks), dtype="int32")
        weights = np.zeros((len(rows), masks), dtype="float32")
        for row, (ids, positions, originals) in enumerate(rows):
            token_ids[row, :len(ids)], padding_mask[row, :len(ids)] = ids, True
            mask_positions[row, :len(positions)], labels[row, :len(positions)] = positions, originals
            weights[row, :len(positions)] = 1.0
        features = {"token_ids": token_ids, "padding_mask": padding_mask, "mask_positions": mask_positions}
        if "segment_ids" in self.backbone.input:
            features["segment_ids"] = np.zeros_like(token_ids)
        return features, labels, weights

    def preprocess_samples(self, x, y=None, sample_weight=None):
        if isinstance(x, dict) and "mask_positions" in x:
            # Masked and packed by `process_batch`: `fit` takes the features as they are.
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        return super().preprocess_samples(x, y=y, sample_weight=sample_weight)

    def finetuning_compile_kwargs(self, task, variant=None):
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def _candidate(self, text, index, token_id, score):
        token_str = self.token_string(token_id)
        masks = list(_MASK.finditer(text))
        start, end = masks[index].span()
        if token_str[:1].isspace():
            start = len(text[:start].rstrip())
        return {"sequence": text[:start] + token_str + text[end:], "score": score, "token": token_id,
                "token_str": token_str}


_hub = keras_hub.models
BertMaskedLM = backbone_family(MaskedLM, _hub.BertMaskedLM)
DistilBertMaskedLM = backbone_family(MaskedLM, _hub.DistilBertMaskedLM)
RobertaMaskedLM = backbone_family(MaskedLM, _hub.RobertaMaskedLM)

# Former names (until the next release): they were easy to confuse with the task class `kerasprop.FillMask`.
FillMask, BertFillMask, DistilBertFillMask, RobertaFillMask = MaskedLM, BertMaskedLM, DistilBertMaskedLM, RobertaMaskedLM
for _cls in (BertMaskedLM, DistilBertMaskedLM, RobertaMaskedLM):
    register_former_name(_cls, _cls.__name__.replace("MaskedLM", "FillMask"))
