"""Keras Task subclasses (one module per model family) and the backprop model contract."""

import importlib

_LAZY = {
    "BaseModel": "kerasprop.models.base",
    "PathModel": "kerasprop.models.base",
    "KerasHubModel": "kerasprop.models.base",
    "KerasTaskModel": "kerasprop.models.task_model",
    "AutoModel": "kerasprop.models.auto",
    "Seq2SeqLM": "kerasprop.models.seq2seq",
    "T5MultiTask": "kerasprop.models.t5",
    "BartMultiTask": "kerasprop.models.bart",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasprop.models' has no attribute {name!r}")
