"""One `TaskSpec` per task: the facts about a task that are not its input and output schema.

A task's schema (`kerasprop/schemas/tasks.py`) says what it takes and gives; its spec says
which task class serves it in Python, which bundled model it uses by default and which hub
model backprop used, how finetuning it starts (optimiser, where the labels are), and an
example input. The task classes, the finetune engine, the catalog checks and the demo all
read `TASK_SPECS`; nothing else lists tasks.

Example:
>>> from kerasprop.schemas.task_specs import task_spec
>>> spec = task_spec("qa")
>>> spec.task_class, spec.default_model, spec.hub_model
('QA', 'minilm-qa', 't5-base-qa-summary-emotion')
"""

import dataclasses

#: Media the examples name instead of holding them (the demo makes them).
DEMO_MEDIA = ("circle", "speech", "tone")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What kerasprop declares about one task besides its schema.

    Args:
        task: the task string (its schema is `get_schema(task)`).
        task_class: the name of its class in `kerasprop.tasks` (e.g. "QA").
        default_model: the bundled catalog model `Task()` uses when no model is named.
        hub_model: backprop's default, a hub model loaded when named; `None` if backprop had none.
        optimizer: the finetuning default, `(name, learning rate)` with name "adafactor", "adamw" or "sgd".
        label_key: the finetuning params key the engine builds the label set from (classification tasks).
        example: an input for the demo and the docs; `example_media` maps its keys to `DEMO_MEDIA`.
        example_shown: how the demo prints the media of the example.
        streams: whether its output can be read piece by piece while it is generated (`stream=True`).
    """

    task: str
    task_class: str
    default_model: str
    hub_model: str = None
    optimizer: tuple = ("adamw", 1e-5)
    label_key: str = None
    example: dict = dataclasses.field(default_factory=dict)
    example_media: dict = dataclasses.field(default_factory=dict)
    example_shown: str = None
    streams: bool = False


_SEQ2SEQ = ("adafactor", 1e-3)
_CLASSIFIER = ("adamw", 2e-5)
_SALLY = {"question": "Where does Sally live?", "context": "Sally lives in London with her two cats."}

#: Every task, in the order the demo runs them.
TASK_SPECS = {spec.task: spec for spec in (
    TaskSpec("text-vectorisation", "TextVectorisation", "all-minilm-l6-v2", "msmarco-distilroberta-base-v2",
             example={"text": "kerasprop brings backprop's tasks to Keras."}),
    TaskSpec("text-classification", "TextClassification", "all-minilm-l6-v2", "bart-large-mnli", _CLASSIFIER,
             label_key="labels",
             example={"text": "My order arrived broken and nobody answers my emails.",
                      "labels": ["complaint", "praise", "question"]}),
    TaskSpec("emotion", "Emotion", "minilm-emotion", "t5-base-qa-summary-emotion", _SEQ2SEQ,
             example={"text": "I am so happy you came to visit!"}),
    TaskSpec("summarisation", "Summarisation", "all-minilm-l6-v2", "t5-base-qa-summary-emotion", _SEQ2SEQ,
             example={"text": "The city council met on Monday and voted to build a new library next to the park. "
                              "The library will open in two years and will have a large room for children."}),
    TaskSpec("qa", "QA", "minilm-qa", "t5-base-qa-summary-emotion", _SEQ2SEQ,
             example={**_SALLY, "prev_q": [], "prev_a": []}),
    TaskSpec("text-generation", "TextGeneration", "gpt2-tiny-pydocs", "gpt2-medium", _SEQ2SEQ,
             example={"text": "A good friend is", "max_length": 20, "temperature": 0.0, "repetition_penalty": 1.3},
             streams=True),
    TaskSpec("extractive-qa", "ExtractiveQA", "minilm-qa", None, _CLASSIFIER, example=dict(_SALLY)),
    TaskSpec("token-classification", "TokenClassification", "minilm-ner", None, _CLASSIFIER, label_key="tags",
             example={"text": "Alice Smith works for Acme Corporation in Paris."}),
    TaskSpec("image-classification", "ImageClassification", "minilm-shapes-lit", "clip", ("sgd", 0.1),
             label_key="labels", example={"labels": ["a red circle", "a blue square"]},
             example_media={"image": "circle"}, example_shown="a drawn red circle"),
    TaskSpec("image-vectorisation", "ImageVectorisation", "minilm-shapes-lit", "clip",
             example_media={"image": "circle"}, example_shown="a drawn red circle"),
    TaskSpec("image-text-vectorisation", "ImageTextVectorisation", "minilm-shapes-lit", "clip",
             example={"text": "a red circle"}, example_media={"image": "circle"},
             example_shown="a drawn red circle + text"),
    TaskSpec("speech-recognition", "SpeechRecognition", "whisper-tiny-commands", "whisper-tiny-en",
             example_media={"audio": "speech"},
             example_shown='"turn on the kitchen light", spoken by an espeak-ng voice the model never heard'),
    TaskSpec("audio-classification", "AudioClassification", "whisper-tiny-tones", None, label_key="labels",
             example_media={"audio": "tone"}, example_shown="a generated rising tone"),
    TaskSpec("fill-mask", "FillMask", "bert-tiny-fill-mask", "bert-base-uncased", _CLASSIFIER,
             example={"text": "Paris is the [MASK] of France.", "top_k": 3}),
    TaskSpec("translation", "Translation", "t5-tiny-translation", "t5-small", _SEQ2SEQ,
             example={"text": "I see the red circle", "source_language": "English", "target_language": "German"}),
    TaskSpec("text-pair-classification", "TextPairClassification", "minilm-pairs", "bart-large-mnli",
             _CLASSIFIER, label_key="labels",
             example={"text": "My phone battery is dead.", "text_pair": "My phone has run out of battery."}),
)}


def task_spec(task):
    """The `TaskSpec` of a task string; a `ValueError` naming close matches if the task is unknown."""
    from kerasprop.schemas import get_schema

    get_schema(task)
    if task not in TASK_SPECS:
        raise ValueError(f"Task '{task}' has a schema but no TaskSpec yet.")
    return TASK_SPECS[task]
