"""Heads on a sentence encoder's vectors: the shared base and the finetunable extractive summariser.

`SentenceHead` is a `SentenceEmbedder` whose outputs are what a small layer on its
sentence vectors computes; `from_sentence_embedder` puts a fresh head on a (frozen)
encoder such as all-MiniLM-L6-v2, and a saved preset then holds the head alone (see
`kerasprop.models.base_backbone`). `SentenceClassifier`
(`kerasprop.models.sentences.sentence_classifier`) and `ExtractiveSummariser` are the two heads.
"""

import keras
import numpy as np

from kerasprop.models.base_backbone import attach_base
from kerasprop.models.sentences.extractive_summary import (
    SHARE,
    content_words,
    split_sentences,
    summarise,
    word_overlap,
)
from kerasprop.models.sentences.text_embedder import SentenceEmbedder
from kerasprop.schemas.specs import describe


class SentenceHead(SentenceEmbedder):
    """A `SentenceEmbedder` with a head on its (normalised) sentence vectors; subclasses define `head_outputs`."""

    @classmethod
    def from_sentence_embedder(cls, embedder, lora_rank=None, **kwargs):
        """A new head on a sentence encoder (a `SentenceEmbedder` or a preset name); `kwargs` go to the head.

        When the encoder is a catalog, bundled or saved preset, the new model names
        it as its base backbone, so its own preset holds only the head (and adapters).
        """
        from kerasprop.hub.catalog import find_entry, local_path

        base = embedder if isinstance(embedder, str) else embedder.name
        if isinstance(embedder, str):
            embedder = SentenceEmbedder.from_preset(embedder)
        if embedder.projection is not None:
            raise ValueError(f"'{embedder.name}' has a projection layer; {cls.__name__} heads sit on plain encoders.")
        config = {key: value for key, value in embedder.get_config().items()
                  if key in ("pooling_mode", "normalize", "hypothesis_template", "temperature")}
        model = cls(backbone=embedder.backbone, preprocessor=embedder.preprocessor, **{**config, **kwargs})
        if find_entry(base) is None and local_path(base) is None:  # no preset to name: the whole encoder is saved
            embedder.backbone.trainable = False
            return model
        return attach_base(model, base, lora_rank=lora_rank)

    def for_finetuning(self, task, params):
        return self

    def pack(self, texts):
        """Token features of `texts`, padded to the longest of them (not to the sequence length)."""
        rows = self.preprocessor.tokenize(texts)
        token_ids = np.full((len(rows), max(len(row) for row in rows)), self.preprocessor.tokenizer.pad_token_id,
                            "int32")
        for i, row in enumerate(rows):
            token_ids[i, : len(row)] = row
        features = {"token_ids": token_ids, "padding_mask": token_ids != self.preprocessor.tokenizer.pad_token_id}
        if self.preprocessor.segment_ids:
            features["segment_ids"] = np.zeros_like(token_ids)
        return features

    def preprocess_samples(self, x, y=None, sample_weight=None):
        # `process_batch` tokenises; `fit` gets the features ready to use.
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def head_optimizer(self):
        """A head on a frozen encoder (or on adapters) learns fast; a whole encoder needs backprop's 2e-5."""
        frozen = not self.backbone.trainable or bool((getattr(self, "base_backbone", None) or {}).get("lora_rank"))
        return keras.optimizers.AdamW(1e-2 if frozen else 2e-5)


def overlap_scores(sentences, reference):
    """How much of each sentence the reference says: the share of its content words found in `reference`."""
    reference_words = content_words(reference)
    return [len(words & reference_words) / len(words) if words else 0.0
            for words in map(content_words, sentences)]


#: A source sentence counts as part of a reference summary when this share of its content words is in it.
IN_SUMMARY = 0.5


@keras.saving.register_keras_serializable(package="kerasprop")
class ExtractiveSummariser(SentenceHead):
    """Extractive summaries whose sentences a learnt scorer picks: what finetuning a summariser on MiniLM trains.

    Each source sentence gets a score from a dense layer on its sentence vector;
    sentences are chosen by maximal marginal relevance (the score, less the word
    overlap with sentences already chosen) and kept in the text's order, so a summary
    never says a word the text does not. Finetuning on backprop's `{"input_text",
    "output_text"}` pairs teaches the scorer which sentences references keep: every
    source sentence is an example whose target is the share of its content words
    found in the reference (`overlap_scores`), and the summary's length follows the
    references' (`summary_share`: the mean share of source sentences they keep).
    `SentenceEmbedder`'s "summarisation" finetune returns one of these.

    Args:
        backbone, preprocessor and the `SentenceEmbedder` arguments.
        summary_share: the share of a text's sentences a summary keeps (at least one).

    Example:
    >>> from kerasprop.models import ExtractiveSummariser
    >>> model = ExtractiveSummariser.from_sentence_embedder("all-minilm-l6-v2")
    >>> model({"text": "The vote passed. It rained. Fans cheered."}, task="summarisation")  # doctest: +ELLIPSIS
    '...'
    """

    default_tasks = ("summarisation",)
    finetunable_tasks = ("summarisation",)
    default_description = "Extractive summaries whose sentences a finetuned scorer picks."

    def __init__(self, backbone, preprocessor=None, summary_share=SHARE, **kwargs):
        if isinstance(summary_share, bool) or not isinstance(summary_share, (int, float)) or \
                not 0 < summary_share <= 1:
            raise ValueError(f"'summary_share' must be a number in (0, 1], got {describe(summary_share)}.")
        self.scorer = keras.layers.Dense(1, dtype=backbone.dtype_policy, name="sentence_scorer")
        super().__init__(backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.summary_share = float(summary_share)

    def head_outputs(self, vectors):
        return self.scorer(vectors)

    def get_config(self):
        config = super().get_config()
        config.update(summary_share=self.summary_share)
        return config

    def sentence_scores(self, sentences):
        """The scorer's probability that each sentence belongs in a summary."""
        return 1 / (1 + np.exp(-self.encode_text(list(sentences))[:, 0].astype("float64")))

    def predict_summarisation(self, request):
        def rank(sentences):
            return self.sentence_scores(sentences), word_overlap(sentences)

        return [summarise(text, rank, self.summary_share) for text in request.inputs["text"]]

    # --- finetuning --------------------------------------------------------------------

    def for_finetuning(self, task, params):
        """This model, its `summary_share` set from the references in `params` (the whole set, before any split)."""
        if task == "summarisation" and isinstance(params, dict) and "input_text" in params:
            self.summary_share = summary_share(params["input_text"], params["output_text"])
        return self

    def process_batch(self, params, task="summarisation", **options):
        """`(token features, targets)` for `fit`: one example per source sentence, its target its overlap score."""
        self.check_finetunable(task)
        sentences, targets = [], []
        for text, reference in zip(params["input_text"], params["output_text"]):
            split = split_sentences(text)
            sentences += split
            targets += overlap_scores(split, reference)
        return self.pack(sentences), np.array(targets, "float32")[:, None]

    def finetuning_compile_kwargs(self, task="summarisation", variant=None):
        return {"loss": keras.losses.BinaryCrossentropy(from_logits=True), "optimizer": self.head_optimizer()}


def summary_share(texts, references):
    """The mean share of a text's sentences that its reference keeps (`IN_SUMMARY`), at least one per text."""
    shares = []
    for text, reference in zip(texts, references):
        sentences = split_sentences(text) or [text]
        kept = sum(score >= IN_SUMMARY for score in overlap_scores(sentences, reference))
        shares.append(max(kept, 1) / len(sentences))
    return float(np.mean(shares)) if shares else SHARE
