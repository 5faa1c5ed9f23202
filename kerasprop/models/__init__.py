"""Keras Task subclasses (one package per model family and per kind of head) and the backprop model contract."""

import importlib

from kerasprop.hub.registry import FORMER_NAMES as _FORMER
from kerasprop.hub.registry import MODEL_CLASSES as _LAZY
from kerasprop.hub.registry import registered_name, resolve_model_class  # noqa: F401  (part of this module's API)

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY or name in _FORMER:
        return getattr(importlib.import_module(_LAZY.get(name) or _FORMER[name]), name)
    raise AttributeError(f"module 'kerasprop.models' has no attribute {name!r}")
