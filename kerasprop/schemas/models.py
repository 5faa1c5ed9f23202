"""What a model's name and its list of tasks may be (the backprop model contract's checks).

>>> check_name("my-support-labels")
'my-support-labels'
>>> check_tasks(["qa", "summarisation"])
['qa', 'summarisation']
>>> label_names({1: "dog", 0: "cat"})
['cat', 'dog']
"""

import re

from kerasprop.schemas import get_schema, task_names
from kerasprop.schemas.specs import describe

#: Keras' weight quantization modes a model can be loaded with (`quantize=`).
QUANTIZATION_MODES = ("int8", "int4", "float8")


def check_quantization(mode):
    """Validates a `quantize=` value: one of `QUANTIZATION_MODES`, or `None` for float weights."""
    if mode is not None and mode not in QUANTIZATION_MODES:
        raise ValueError(f"'quantize' must be one of {list(QUANTIZATION_MODES)} or None, got {describe(mode)}.")
    return mode


def label_names(labels):
    """A classifier's label names from a list or backprop's `{index: name}` dict: a non-empty list of distinct strings."""
    if isinstance(labels, dict):
        labels = [labels[i] for i in sorted(labels)]
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)) or not labels:
        raise TypeError(f"'labels' must be a non-empty list of label names (or a dict index -> name), "
                        f"got {describe(labels)}.")
    names = [str(label) for label in labels]
    if len(set(names)) != len(names):
        raise ValueError(f"Label names must be unique, got {preview_labels(names)}.")
    return names


def preview_labels(labels, limit=10):
    """The first `limit` labels and how many there are, for error messages."""
    shown = ", ".join(repr(label) for label in labels[:limit])
    return f"[{shown}{', ...' if len(labels) > limit else ''}] ({len(labels)} labels)"


NAME_PATTERN = re.compile(r"^[a-z0-9_-]{3,100}$")


def check_name(name):
    """Validates a model name: 3 to 100 characters of a-z, 0-9, `-` and `_`."""
    if not isinstance(name, str):
        raise TypeError(f"A model name must be a string, got {describe(name)}.")
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"A model name must be 3 to 100 characters of lowercase a-z, digits, '-' and '_', got {name!r}."
        )
    return name


def check_tasks(tasks):
    """Validates a list of task strings against the schema registry."""
    if isinstance(tasks, str) or not isinstance(tasks, (list, tuple)):
        raise TypeError(f"'tasks' must be a list of task strings, got {describe(tasks)}.")
    known = task_names()
    for task in tasks:
        get_schema(task)  # raises a ValueError naming close matches
    duplicates = {t for t in tasks if list(tasks).count(t) > 1}
    if duplicates:
        raise ValueError(f"'tasks' lists {sorted(duplicates)} more than once.")
    return [t for t in known if t in tasks] + [t for t in tasks if t not in known]
