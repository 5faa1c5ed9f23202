"""kerasprop: backprop's one-line tasks on Keras 3 and keras-hub.

Example:
>>> import kerasprop
>>> vectorise = kerasprop.TextVectorisation()  # doctest: +SKIP
>>> len(vectorise("kerasprop turns text into vectors"))  # doctest: +SKIP
384

Importing kerasprop picks the Keras backend when the user chose none (no
`KERAS_BACKEND` and no `backend` in `~/.keras/keras.json`): JAX, the fastest on
CPU by our measurements. Set `KERAS_BACKEND=tensorflow` or `torch` before the
import to choose another. Names are loaded lazily so `import kerasprop` stays
cheap.
"""

import importlib
import json
import os
import sys


def _choose_backend():
    if "KERAS_BACKEND" in os.environ or "keras" in sys.modules:
        return
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
    try:
        with open(config) as f:
            if json.load(f).get("backend"):
                return
    except (OSError, ValueError):
        pass
    os.environ["KERAS_BACKEND"] = "jax"


_choose_backend()

__version__ = "0.1.0"

_LAZY = {
    "QA": "kerasprop.tasks",
    "TextClassification": "kerasprop.tasks",
    "Emotion": "kerasprop.tasks",
    "Summarisation": "kerasprop.tasks",
    "TextGeneration": "kerasprop.tasks",
    "TextVectorisation": "kerasprop.tasks",
    "ImageClassification": "kerasprop.tasks",
    "ImageVectorisation": "kerasprop.tasks",
    "ImageTextVectorisation": "kerasprop.tasks",
    "SpeechRecognition": "kerasprop.tasks",
    "AudioClassification": "kerasprop.tasks",
    "FillMask": "kerasprop.tasks",
    "Translation": "kerasprop.tasks",
    "TextPairClassification": "kerasprop.tasks",
    "ExtractiveQA": "kerasprop.tasks",
    "TokenClassification": "kerasprop.tasks",
    "Task": "kerasprop.tasks",
    "AutoModel": "kerasprop.models.auto",
    "save": "kerasprop.hub.io",
    "load": "kerasprop.hub.io",
    "upload": "kerasprop.hub.io",
    "cosine_similarity": "kerasprop.similarity",
}
_SUBMODULES = ("models", "schemas", "hub", "tasks", "training", "serving", "distributed", "export")

__all__ = sorted(_LAZY) + list(_SUBMODULES)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasprop.{name}")
    raise AttributeError(f"module 'kerasprop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
