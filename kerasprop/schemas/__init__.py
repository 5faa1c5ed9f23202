"""Task schemas: one declarative description per task string.

Example:
>>> from kerasprop.schemas import get_schema
>>> get_schema("text-classification").parse({"text": "Great!", "labels": ["praise", "complaint"]}).options
{'top_k': 0}
"""

import difflib

from kerasprop.schemas.images import Image, load_image
from kerasprop.schemas.schema import (
    BATCH,
    ITEM,
    OPTION,
    Field,
    FinetuneSchema,
    Request,
    TaskSchema,
)
from kerasprop.schemas.specs import describe
from kerasprop.schemas.tasks import SCHEMAS

_REGISTRY = {}


def register(schema):
    """Adds a `TaskSchema` to the registry (replacing one of the same task string)."""
    if not isinstance(schema, TaskSchema):
        raise TypeError(f"register() takes a TaskSchema, got {describe(schema)}.")
    _REGISTRY[schema.task] = schema
    return schema


def get_schema(task):
    """The `TaskSchema` of a task string; `ValueError` naming close matches if unknown."""
    if not isinstance(task, str):
        raise TypeError(f"A task must be a task string, got {describe(task)}.")
    try:
        return _REGISTRY[task]
    except KeyError:
        close = difflib.get_close_matches(task, list(_REGISTRY), n=2)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown task {task!r}; the known tasks are {sorted(_REGISTRY)}.{hint}") from None


def task_names():
    """All registered task strings, in registration order."""
    return list(_REGISTRY)


for _schema in SCHEMAS:
    register(_schema)

__all__ = [
    "BATCH",
    "ITEM",
    "OPTION",
    "Field",
    "FinetuneSchema",
    "Image",
    "Request",
    "TaskSchema",
    "get_schema",
    "load_image",
    "register",
    "task_names",
]
