"""Serving kerasprop models over HTTP with DEEPaaS (the `serve` extra).

`DeepaasModel` implements the DEEPaaS V2 model API for any task and model;
`add_serve_command` adds `kerasprop serve --task T [--model M]` to the CLI.

Example:
>>> from kerasprop.serving import DeepaasModel
>>> DeepaasModel("summarisation", "t5-small").get_metadata()["id"]
't5-small'
"""

import importlib

_LAZY = {
    "DeepaasModel": "kerasprop.serving.adapter",
    "InvalidInput": "kerasprop.serving.adapter",
    "add_serve_command": "kerasprop.serving.command",
    "serve_command": "kerasprop.serving.command",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasprop.serving' has no attribute {name!r}")
