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
    "ExtractiveSummariser": "kerasprop.models.sentence_heads",
    "ImageTextEmbedder": "kerasprop.models.image_text_embedder",
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
FORMER_NAMES = {
    "FillMask": "kerasprop.models.masked_lm",
    "BertFillMask": "kerasprop.models.masked_lm",
    "DistilBertFillMask": "kerasprop.models.masked_lm",
    "RobertaFillMask": "kerasprop.models.masked_lm",
    "ExtractiveQA": "kerasprop.models.extractive_qa",
    "CausalLMTextGeneration": "kerasprop.models.causal_lm",
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
