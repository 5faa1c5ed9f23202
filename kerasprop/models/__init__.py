"""Keras Task subclasses (one module per model family) and the backprop model contract."""

import importlib

_LAZY = {
    "BaseModel": "kerasprop.models.base",
    "PathModel": "kerasprop.models.base",
    "KerasHubModel": "kerasprop.models.base",
    "KerasTaskModel": "kerasprop.models.task_model",
    "AutoModel": "kerasprop.models.auto",
    "load_preset": "kerasprop.models.families",
    "CausalLM": "kerasprop.models.causal_lm",
    "GPT2TextGenerator": "kerasprop.models.gpt2",
    "GenerationSampler": "kerasprop.models.generation",
    "BeamSampler": "kerasprop.models.generation",
    "CLIP": "kerasprop.models.clip",
    "CLIPImageTextPreprocessor": "kerasprop.models.clip",
    "SupervisedImageClassifier": "kerasprop.models.image_classifier",
    "SentenceEmbedder": "kerasprop.models.text_embedder",
    "SentenceEmbedderPreprocessor": "kerasprop.models.text_embedder",
    "SentenceClassifier": "kerasprop.models.sentence_classifier",
    "NLIZeroShotClassifier": "kerasprop.models.nli",
    "BartNLIZeroShotClassifier": "kerasprop.models.nli",
    "RobertaNLIZeroShotClassifier": "kerasprop.models.nli",
    "XLMRobertaNLIZeroShotClassifier": "kerasprop.models.nli",
    "DebertaV3NLIZeroShotClassifier": "kerasprop.models.nli",
    "SupervisedTextClassifier": "kerasprop.models.text_classifier",
    "BertSupervisedTextClassifier": "kerasprop.models.text_classifier",
    "DebertaV3SupervisedTextClassifier": "kerasprop.models.text_classifier",
    "DistilBertSupervisedTextClassifier": "kerasprop.models.text_classifier",
    "RobertaSupervisedTextClassifier": "kerasprop.models.text_classifier",
    "XLMRobertaSupervisedTextClassifier": "kerasprop.models.text_classifier",
    "Seq2SeqLM": "kerasprop.models.seq2seq",
    "T5MultiTask": "kerasprop.models.t5",
    "BartMultiTask": "kerasprop.models.bart",
    "WhisperSpeechRecognizer": "kerasprop.models.whisper",
    "WhisperAudioClassifier": "kerasprop.models.whisper",
    "MoonshineSpeechRecognizer": "kerasprop.models.moonshine",
    "MaskedLM": "kerasprop.models.masked_lm",
    "BertMaskedLM": "kerasprop.models.masked_lm",
    "DistilBertMaskedLM": "kerasprop.models.masked_lm",
    "RobertaMaskedLM": "kerasprop.models.masked_lm",
    "TokenHeadTask": "kerasprop.models.token_heads",
    "TokenClassifier": "kerasprop.models.token_classifier",
    "ExtractiveQuestionAnswerer": "kerasprop.models.extractive_qa",
}
#: Former names, kept for one release (the model classes' names were easy to confuse with the task classes').
_FORMER = {
    "FillMask": "kerasprop.models.masked_lm",
    "BertFillMask": "kerasprop.models.masked_lm",
    "DistilBertFillMask": "kerasprop.models.masked_lm",
    "RobertaFillMask": "kerasprop.models.masked_lm",
    "ExtractiveQA": "kerasprop.models.extractive_qa",
    "CausalLMTextGeneration": "kerasprop.models.causal_lm",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY or name in _FORMER:
        return getattr(importlib.import_module(_LAZY.get(name) or _FORMER[name]), name)
    raise AttributeError(f"module 'kerasprop.models' has no attribute {name!r}")
