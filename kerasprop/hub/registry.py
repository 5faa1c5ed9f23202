"""Where kerasprop's model classes live, and how a saved folder's class name becomes a class.

The hub layer (save, load) finds model classes through this table and Keras'
registry, never by importing `kerasprop.models`: `resolve_model_class` imports only
the module this table names for one of kerasprop's classes. `kerasprop.models`
exports the same classes lazily from the same table.
"""

import importlib

#: `kerasprop.models`' public names (its model classes and their helpers) -> the module that defines them.
MODEL_CLASSES = {
    "BaseModel": "kerasprop.models.base",
    "PathModel": "kerasprop.models.base",
    "KerasHubModel": "kerasprop.models.base",
    "KerasTaskModel": "kerasprop.models.task_model",
    "AutoModel": "kerasprop.models.auto",
    "load_preset": "kerasprop.models.families",
    "CausalLM": "kerasprop.models.generative.causal_lm",
    "GPT2TextGenerator": "kerasprop.models.gpt2.gpt2_text_generator",
    "GenerationSampler": "kerasprop.models.runtime.generation",
    "BeamSampler": "kerasprop.models.runtime.generation",
    "CLIP": "kerasprop.models.clip.clip_image_text",
    "CLIPImageTextPreprocessor": "kerasprop.models.clip.clip_image_text",
    "SupervisedImageClassifier": "kerasprop.models.classifiers.image_classifier",
    "SentenceEmbedder": "kerasprop.models.sentences.text_embedder",
    "SentenceEmbedderPreprocessor": "kerasprop.models.sentences.text_embedder",
    "SentenceClassifier": "kerasprop.models.sentences.sentence_classifier",
    "ExtractiveSummariser": "kerasprop.models.sentences.sentence_heads",
    "ImageTextEmbedder": "kerasprop.models.sentences.image_text_embedder",
    "NLIZeroShotClassifier": "kerasprop.models.classifiers.nli",
    "BartNLIZeroShotClassifier": "kerasprop.models.classifiers.nli",
    "RobertaNLIZeroShotClassifier": "kerasprop.models.classifiers.nli",
    "XLMRobertaNLIZeroShotClassifier": "kerasprop.models.classifiers.nli",
    "DebertaV3NLIZeroShotClassifier": "kerasprop.models.classifiers.nli",
    "SupervisedTextClassifier": "kerasprop.models.classifiers.text_classifier",
    "BertSupervisedTextClassifier": "kerasprop.models.classifiers.text_classifier",
    "DebertaV3SupervisedTextClassifier": "kerasprop.models.classifiers.text_classifier",
    "DistilBertSupervisedTextClassifier": "kerasprop.models.classifiers.text_classifier",
    "RobertaSupervisedTextClassifier": "kerasprop.models.classifiers.text_classifier",
    "XLMRobertaSupervisedTextClassifier": "kerasprop.models.classifiers.text_classifier",
    "Seq2SeqLM": "kerasprop.models.generative.seq2seq",
    "T5MultiTask": "kerasprop.models.t5.t5_multitask",
    "BartMultiTask": "kerasprop.models.bart.bart_multitask",
    "WhisperSpeechRecognizer": "kerasprop.models.whisper.whisper_speech",
    "WhisperAudioClassifier": "kerasprop.models.whisper.whisper_speech",
    "MoonshineSpeechRecognizer": "kerasprop.models.moonshine.moonshine_speech_recognizer",
    "MaskedLM": "kerasprop.models.tokens.masked_lm",
    "BertMaskedLM": "kerasprop.models.tokens.masked_lm",
    "DistilBertMaskedLM": "kerasprop.models.tokens.masked_lm",
    "RobertaMaskedLM": "kerasprop.models.tokens.masked_lm",
    "TokenHeadTask": "kerasprop.models.tokens.token_heads",
    "TokenClassifier": "kerasprop.models.tokens.token_classifier",
    "ExtractiveQuestionAnswerer": "kerasprop.models.tokens.extractive_qa",
}
#: Former names, kept for one release (the model classes' names were easy to confuse with the task classes').
FORMER_NAMES = {
    "FillMask": "kerasprop.models.tokens.masked_lm",
    "BertFillMask": "kerasprop.models.tokens.masked_lm",
    "DistilBertFillMask": "kerasprop.models.tokens.masked_lm",
    "RobertaFillMask": "kerasprop.models.tokens.masked_lm",
    "ExtractiveQA": "kerasprop.models.tokens.extractive_qa",
    "CausalLMTextGeneration": "kerasprop.models.generative.causal_lm",
}


def is_model_class(cls):
    """Whether `cls` is a kerasprop model class (the backprop model contract: tasks and `predict_task`)."""
    return isinstance(cls, type) and callable(getattr(cls, "predict_task", None)) and hasattr(cls, "finetunable_tasks")


def is_model(value):
    """Whether `value` is a kerasprop model."""
    return is_model_class(type(value))


def registered_name(cls):
    """The name a saved folder records for a model class: Keras' registered name (`kerasprop>Class`)."""
    import keras

    return keras.saving.get_registered_name(cls)


def resolve_model_class(name, allowed_classes=()):
    """The model class a saved folder names, resolved without importing anything the folder chooses.

    `name` is a registered name (`kerasprop>Seq2SeqLM`) or, in folders saved
    before registered names were recorded, a `module:Class` path of a kerasprop
    module. Only kerasprop's own model classes resolve, model classes already
    registered with Keras in this process (by code the user imported), and the
    classes the caller lists in `allowed_classes` (like Keras'
    `custom_objects`): a tampered folder cannot make `load` import a module of
    its choice. Returns `None` when `name` is none of these.

    Example:
    >>> from kerasprop.hub.registry import resolve_model_class
    >>> resolve_model_class("kerasprop>Seq2SeqLM").__name__
    'Seq2SeqLM'
    """
    import keras

    if not isinstance(name, str):
        return None
    from kerasprop.hub.catalog import class_path

    for cls in allowed_classes:
        if name in (registered_name(cls), class_path(cls)):
            return cls
    if ">" in name:
        package, _, class_name = name.partition(">")
    else:  # module:Class, of a kerasprop module
        module, _, class_name = name.partition(":")
        package = module.partition(".")[0]
    if package == "kerasprop" and class_name in {**MODEL_CLASSES, **FORMER_NAMES}:
        importlib.import_module(MODEL_CLASSES.get(class_name) or FORMER_NAMES[class_name])  # registers the class
        name = f"kerasprop>{class_name}"
    registered = keras.saving.get_registered_object(name) if ">" in name else None
    # Registered by kerasprop, or in this process by code the user imported.
    return registered if isinstance(registered, type) and is_model_class(registered) else None
