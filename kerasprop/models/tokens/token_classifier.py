"""Named entities: `TokenClassifier` labels every token and groups word pieces into entities.

Outputs are those of the transformers `token-classification` pipeline, with its
aggregation strategies: `"none"` (one entry per token: entity, score, index, word,
start, end), `"simple"` (adjacent tokens of one entity type grouped, B-/I- tags
respected), and the word-level `"first"`, `"average"`, `"max"` (a word's pieces
agree on one label, then words are grouped). `start`/`end` are character offsets
into the text; labels in `ignore_labels` (default `["O"]`) are left out.

A text longer than the sequence length is truncated, unless `stride` is given: then
it is read in overlapping windows of the sequence length, consecutive windows sharing
`stride` tokens, and the entities of all windows are merged as the pipeline merges them.
"""

import keras
import numpy as np

from kerasprop.models.runtime.inference import softmax
from kerasprop.models.tokens.offsets import decode_tokens
from kerasprop.models.classifiers.text_classifier import label_mapping
from kerasprop.models.tokens.token_heads import TokenHeadTask


@keras.saving.register_keras_serializable(package="kerasprop")
class TokenClassifier(TokenHeadTask):
    """A token classifier for named entities (BERT, RoBERTa or DistilBERT backbone).

    Args:
        backbone: a keras-hub `BertBackbone`, `RobertaBackbone` or `DistilBertBackbone`.
        class_names: the tag of each class index, e.g. `["O", "B-PER", "I-PER"]`.
        preprocessor: the backbone's keras-hub `TextClassifierPreprocessor` (its tokenizer).

    Example:
    >>> from kerasprop.models import TokenClassifier
    >>> model = TokenClassifier.from_preset("bert-tiny-ner")  # doctest: +SKIP
    >>> model({"text": "Alice works for Acme in Paris."}, task="token-classification")  # doctest: +SKIP
    [{'entity_group': 'PER', 'score': 0.98, 'word': 'alice', 'start': 0, 'end': 5}, ...]
    """

    hf_head = "ForTokenClassification"
    default_tasks = ("token-classification",)
    finetunable_tasks = ("token-classification",)
    default_description = "A token classifier that finds named entities."

    def __init__(self, backbone, class_names=("O",), preprocessor=None, **kwargs):
        self.class_names = [str(name) for name in class_names]
        super().__init__(backbone=backbone, num_outputs=len(self.class_names), preprocessor=preprocessor, **kwargs)

    @classmethod
    def head_config(cls, hf_config):
        from kerasprop.hub.converters.classification_heads import label_names

        return {"class_names": label_names(hf_config)}

    def predict_token_classification(self, request):
        aggregation, ignore = request.options["aggregation"], set(request.options["ignore_labels"])
        texts, stride = request.inputs["text"], request.options["stride"]
        if stride is not None:
            self.check_stride(stride)
        windows = self.encode(texts, stride=stride)
        windows = windows if stride is not None else [[encoding] for encoding in windows]
        logits = iter(self.token_logits([window for per_text in windows for window in per_text]))
        outputs = []
        for text, per_text in zip(texts, windows):
            entities = []
            for encoding in per_text:
                window_logits = next(logits)
                found = self.aggregate(self.tokens(text, encoding, softmax(window_logits)), aggregation)
                entities += [e for e in found if e.get("entity", e.get("entity_group")) not in ignore]
            outputs.append(merge_overlapping(entities) if len(per_text) > 1 else entities)
        return outputs

    def check_stride(self, stride):
        """Raises a `ValueError` unless windows of the sequence length can share `stride` tokens."""
        room = self.sequence_length - self.fast_tokenizer.num_special_tokens_to_add(False)
        if stride >= room:
            raise ValueError(
                f"'stride' must be less than the {room} text tokens of a window (the sequence length "
                f"{self.sequence_length} less the special tokens), got {stride}."
            )

    def tokens(self, text, encoding, scores):
        """One dict per non-special token: word piece, scores, character span, index, whether it continues a word."""
        wordpiece = self.fast_tokenizer.model.__class__.__name__ == "WordPiece"
        unknown = getattr(self.fast_tokenizer.model, "unk_token", None)
        tokens = []
        for index, (piece, (start, end), special) in enumerate(
            zip(encoding.tokens, encoding.offsets, encoding.special_tokens_mask)
        ):
            if special:
                continue
            reference = text[start:end]
            if piece == unknown:
                piece, continues = reference, False
            elif wordpiece:
                continues = len(piece) != len(reference)
            else:
                continues = start > 0 and " " not in text[start - 1:start + 1]
            tokens.append({"word": piece, "scores": scores[index], "start": start, "end": end, "index": index,
                           "is_subword": continues})
        return tokens

    def aggregate(self, tokens, aggregation):
        """Entities from the tokens of one text, as the transformers pipeline aggregates them."""
        if aggregation in ("none", "simple"):
            entities = [self.entity(t["scores"], word=t["word"], start=t["start"], end=t["end"], index=t["index"])
                        for t in tokens]
        else:
            words = []
            for token in tokens:
                if words and token["is_subword"]:
                    words[-1].append(token)
                else:
                    words.append([token])
            entities = [self.word_entity(word, aggregation) for word in words]
        if aggregation == "none":
            return [{"entity": e["entity"], "score": e["score"], "index": e["index"], "word": e["word"],
                     "start": e["start"], "end": e["end"]} for e in entities]
        return self.group(entities)

    def entity(self, scores, **fields):
        best = int(np.argmax(scores))
        return {"entity": self.class_names[best], "score": float(scores[best]), **fields}

    def word_entity(self, pieces, aggregation):
        if aggregation == "first":
            scores = pieces[0]["scores"]
        elif aggregation == "max":
            scores = max(pieces, key=lambda piece: piece["scores"].max())["scores"]
        else:
            scores = np.nanmean(np.stack([piece["scores"] for piece in pieces]), axis=0)
        word = decode_tokens(self.fast_tokenizer, [piece["word"] for piece in pieces])
        return self.entity(scores, word=word, start=pieces[0]["start"], end=pieces[-1]["end"])

    def group(self, entities):
        """Adjacent entities of one type become one group; a `B-` tag starts a new group."""
        groups, current = [], []
        for entity in entities:
            prefix, tag = _split_tag(entity["entity"])
            if current and (tag != _split_tag(current[-1]["entity"])[1] or prefix == "B"):
                groups.append(self.group_of(current))
                current = []
            current.append(entity)
        if current:
            groups.append(self.group_of(current))
        return groups

    def group_of(self, entities):
        return {
            "entity_group": entities[0]["entity"].split("-", 1)[-1],
            "score": float(np.nanmean([e["score"] for e in entities])),
            "word": decode_tokens(self.fast_tokenizer, [e["word"] for e in entities]),
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    # === Finetuning ===

    def pre_finetuning(self, labels, **kwargs):
        """Sets the head to the tags `labels` (a dict index -> tag, or a list) and the `I-` tag of each `B-` tag
        (a word's later pieces learn it); keeps the head when it already has all of them."""
        names = label_mapping(labels)
        names += sorted({"I-" + name[2:] for name in names if name.startswith("B-")} - set(names))
        if set(names) <= set(self.class_names):
            return
        backbone, preprocessor = self.backbone, self.preprocessor
        config = self.get_config()
        config.update(backbone=backbone, preprocessor=preprocessor, class_names=names)
        type(self).__init__(self, **config)
        # Re-initialising a Keras model under torch drops the sublayers set before Model.__init__.
        self.backbone, self.preprocessor = backbone, preprocessor

    def process_batch(self, params, task="token-classification", max_length=128, **options):
        """`(features, tags, weights)` for `fit` from params {"tokens", "tags"} (a list of words and tags per example).

        Each word's first piece carries its tag and its other pieces the matching `I-` tag (when the
        model has it, else the same tag), so every aggregation, "simple" included, sees whole words;
        special tokens have weight 0.
        """
        self.check_finetunable(task)
        index = {name: i for i, name in enumerate(self.class_names)}
        unknown = sorted({tag for tags in params["tags"] for tag in tags} - set(index))
        if unknown:
            raise ValueError(
                f"The tags {unknown} are not among the model's classes {self.class_names}; "
                "call pre_finetuning(labels) with the full tag set first."
            )
        texts, word_starts = [], []
        for words in params["tokens"]:
            texts.append(" ".join(words))
            word_starts.append(np.cumsum([0] + [len(word) + 1 for word in words[:-1]]))
        encodings = self.encode(texts, max_length=max_length)
        features = self.pack(encodings, max_length)
        labels = np.zeros((len(texts), max_length), dtype="int32")
        weights = np.zeros((len(texts), max_length), dtype="float32")
        for row, (encoding, starts, tags) in enumerate(zip(encodings, word_starts, params["tags"])):
            previous = None
            for position, ((start, _), special) in enumerate(zip(encoding.offsets, encoding.special_tokens_mask)):
                if special or position >= max_length:
                    continue
                # The given word that holds this piece (the tokenizer may split a word at punctuation too).
                word = int(np.searchsorted(starts, start, side="right")) - 1
                tag = tags[word] if word != previous else _continuation(tags[word], index)
                labels[row, position], weights[row, position] = index[tag], 1.0
                previous = word
        return features, labels, weights

    def finetuning_compile_kwargs(self, task, variant=None):
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}

    def get_config(self):
        config = super().get_config()
        config.update(class_names=list(self.class_names))
        return config


def merge_overlapping(entities):
    """The entities of a text read in overlapping windows, one per stretch of text.

    As in the transformers pipeline: in order of their start, an entity that starts
    inside the one kept before it replaces that one when it is longer, or as long
    and more probable.
    """
    merged = []
    for entity in sorted(entities, key=lambda e: e["start"]):
        kept = merged[-1] if merged else None
        if kept is None or not kept["start"] <= entity["start"] < kept["end"]:
            merged.append(entity)
        elif (entity["end"] - entity["start"], entity["score"]) > (kept["end"] - kept["start"], kept["score"]):
            merged[-1] = entity
    return merged


def _continuation(tag, index):
    """The tag of a word's second and later pieces: `I-X` for a `B-X` word when the model has `I-X`."""
    inside = "I-" + tag[2:] if tag.startswith("B-") else tag
    return inside if inside in index else tag


def _split_tag(name):
    if name.startswith(("B-", "I-")):
        return name[0], name[2:]
    return "I", name
