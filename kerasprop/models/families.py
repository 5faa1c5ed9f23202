"""Which kerasprop class loads a preset: by its saved class, or by its architecture and the task.

A folder saved from a kerasprop class (its `task.json` names the registered
class) loads with that class. A Hugging Face folder or handle (`config.json`
with `model_type`) or a keras-hub backbone preset (`config.json` naming the
backbone class) loads with the family registered for its architecture and the
requested task; a Hugging Face sequence-classification head picks the
classifier families.
"""

import json
import os

import keras

from kerasprop.hub.catalog import GENERATIVE_TASKS, import_class
from kerasprop.hub.registry import resolve_model_class
from kerasprop.schemas.specs import describe


class Family:
    """A kerasprop class, the architectures it loads and the tasks it serves."""

    def __init__(self, model_class, architectures, tasks, head=None, nli=None):
        self.model_class = model_class
        self.architectures = tuple(architectures)
        self.tasks = tuple(tasks)
        #: Hugging Face architecture suffix the checkpoint must have (e.g. "ForSequenceClassification").
        self.head = head
        #: For heads: whether the checkpoint's labels must (True) or must not (False) be NLI labels.
        self.nli = nli

    def matches(self, config, task):
        architecture, hf_architectures = architecture_of(config)
        if architecture not in self.architectures or (task is not None and task not in self.tasks):
            return False
        if self.head is None:
            return True
        if not any(a.endswith(self.head) for a in hf_architectures):
            return False
        labels = {str(v).lower() for v in (config.get("id2label") or {}).values()}
        return self.nli is None or self.nli == ("entailment" in labels)

    def load_class(self):
        return import_class(self.model_class)


_CLASSIFICATION_TASKS = ("text-classification", "text-pair-classification")
_ENCODERS = ("bert", "roberta", "distilbert", "xlm-roberta", "xlm_roberta", "deberta-v2", "deberta_v3")

#: Most specific first: a checkpoint with a classification head is a classifier before it is an encoder.
FAMILIES = [
    Family("kerasprop.models.tokens.token_classifier:TokenClassifier", ("bert", "roberta", "distilbert"),
           ("token-classification",), head="ForTokenClassification"),
    Family("kerasprop.models.tokens.extractive_qa:ExtractiveQuestionAnswerer", ("bert", "roberta", "distilbert"), ("extractive-qa",),
           head="ForQuestionAnswering"),
    Family("kerasprop.models.classifiers.nli:NLIZeroShotClassifier", ("bart",) + _ENCODERS, _CLASSIFICATION_TASKS,
           head="ForSequenceClassification", nli=True),
    Family("kerasprop.models.classifiers.text_classifier:SupervisedTextClassifier", _ENCODERS, _CLASSIFICATION_TASKS,
           head="ForSequenceClassification", nli=False),
    Family("kerasprop.models.tokens.masked_lm:MaskedLM", ("bert", "roberta", "distilbert"), ("fill-mask",),
           head="ForMaskedLM"),
    Family("kerasprop.models.gpt2.gpt2_text_generator:GPT2TextGenerator", ("gpt2",), ("text-generation",)),
    Family("kerasprop.models.t5.t5_multitask:T5MultiTask", ("t5",), GENERATIVE_TASKS + ("translation",)),
    Family("kerasprop.models.bart.bart_multitask:BartMultiTask", ("bart",), GENERATIVE_TASKS + ("translation",)),
    Family("kerasprop.models.sentences.text_embedder:SentenceEmbedder", _ENCODERS,
           ("text-vectorisation", "text-classification")),
    Family("kerasprop.models.clip.clip_image_text:CLIP", ("clip",),
           ("image-classification", "image-vectorisation", "image-text-vectorisation", "text-vectorisation")),
    Family("kerasprop.models.classifiers.image_classifier:SupervisedImageClassifier",
           ("resnet", "efficientnet", "mobilenet", "vgg", "densenet", "cspnet"), ("image-classification",)),
    Family("kerasprop.models.whisper.whisper_speech:WhisperSpeechRecognizer", ("whisper",), ("speech-recognition",)),
    Family("kerasprop.models.whisper.whisper_speech:WhisperAudioClassifier", ("whisper",), ("audio-classification",)),
    Family("kerasprop.models.moonshine.moonshine_speech_recognizer:MoonshineSpeechRecognizer", ("moonshine",), ("speech-recognition",)),
]


def read_config(preset, name="config.json"):
    """A preset's JSON config (local, cached or fetched by keras-hub), or `None` if it has none."""
    preset = str(preset)
    if os.path.isdir(preset) or (os.sep in preset and "://" not in preset):
        path = os.path.join(preset, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)
    from kerasprop.compat import check_file_exists, load_json

    if not check_file_exists(preset, name):
        return None
    return load_json(preset, name)


def architecture_of(config):
    """(architecture, Hugging Face architectures) of a config.json."""
    if "model_type" in config:
        return config["model_type"], list(config.get("architectures") or [])
    class_name = str(config.get("class_name") or config.get("registered_name", "")).split(">")[-1]
    return class_name.removesuffix("Backbone").lower(), []


def saved_class(preset):
    """The registered Keras class named by a preset's task.json, or `None` (no task.json, or no class Keras knows).

    kerasprop's own classes resolve by their registered name (`kerasprop>Class`), whatever module they lived in
    when the folder was saved: the module is imported from `hub/registry.py`'s table.
    """
    try:
        task_config = read_config(preset, "task.json")
    except (ValueError, OSError):
        return None
    if not isinstance(task_config, dict):
        return None
    name = task_config.get("registered_name")
    cls = resolve_model_class(name) or keras.saving.get_registered_object(name)
    return cls if isinstance(cls, type) else None


def is_saved_as(preset, cls):
    """Whether `preset` is a folder saved from `cls` or one of its subclasses."""
    saved = saved_class(preset)
    return saved is not None and issubclass(saved, cls)


def class_for(preset, task=None):
    """The kerasprop class to load `preset` with for `task`."""
    cls = saved_class(preset)
    if cls is not None and hasattr(cls, "predict_task"):
        return cls
    config = read_config(preset)
    if config is None:
        raise ValueError(f"{describe(preset)} is not a preset: it has no config.json.")
    for family in FAMILIES:
        if family.matches(config, task):
            return family.load_class()
    architecture, _ = architecture_of(config)
    for_task = f" for the task '{task}'" if task else ""
    raise ValueError(f"kerasprop has no model family for the architecture '{architecture}'{for_task}.")


def load_preset(preset, task=None, **kwargs):
    """Loads a folder or handle with the kerasprop class for its architecture and `task`."""
    return class_for(preset, task).from_preset(preset, **kwargs)
