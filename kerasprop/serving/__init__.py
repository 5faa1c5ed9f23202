"""Serving kerasprop models over HTTP with DEEPaaS (the `serve` extra).

`DeepaasModel` implements the DEEPaaS V2 model API for any task and model;
`add_serve_command` adds `kerasprop serve --task T [--model M]` to the CLI.
Plain `deepaas-run` works too: `KERASPROP_TASK=T KERASPROP_MODEL=M deepaas-run
--model-name kerasprop`. The API lives under `/v2/models/kerasprop/`:
`predict/` takes the task's inputs as lists (JSON body, form or repeated
query keys; image tasks: one multipart file per request) and answers
`{"task", "model", "predictions": [one per input]}`; `train/` takes the
finetuning params as a JSON or CSV file and saves the finetuned model.
`kerasprop serve` adds the operations of `kerasprop.serving.operations`
(`ServerSettings`: a bounded queue, a training limit, a body deadline, a
bearer token, `/health` and `/metrics`).

Versions: DEEPaaS 2.6.0 needs marshmallow 3, webargs 5, apispec 3,
aiohttp-apispec 2 and Werkzeug < 3. Checked beside keras 3.15, keras-hub 0.32,
tensorflow 2.21, jax 0.10 and torch 2.13 (a venv with --system-site-packages):
deepaas 2.6.0, marshmallow 3.26.2, webargs 5.5.3, apispec 3.3.2,
aiohttp-apispec 2.2.3, aiohttp 3.14.5, Werkzeug 2.3.8. The Werkzeug pin
conflicts only with Flask 3 (not part of the Keras stack).

Example:
>>> from kerasprop.serving import DeepaasModel
>>> DeepaasModel("summarisation", "t5-small").get_metadata()["id"]
't5-small'
"""

import importlib

_LAZY = {
    "DeepaasModel": "kerasprop.serving.adapter",
    "InvalidInput": "kerasprop.serving.adapter",
    "ServerSettings": "kerasprop.serving.settings",
    "add_serve_command": "kerasprop.serving.command",
    "serve_command": "kerasprop.serving.command",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasprop.serving' has no attribute {name!r}")
