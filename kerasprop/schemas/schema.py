"""`TaskSchema`: the declarative description of one task string.

A schema lists the keys of the task's input dict, the task's finetuning params
(per variant) and the shape of its output. Everything that takes input from a
user (task classes, the model shim, the CLI, the HTTP adapter) parses it with
the task's schema, so validation and error messages live here only.

Input keys come in three roles:

- `"batch"`: the inputs proper (`text`, `image`, `question`, ...). Each is a
  single value or a list; a single value gives a single result and a list gives
  a list of results of the same length. All batch keys of one call agree.
- `"item"`: one value per input (`prev_q`, `labels`). For a batched call it is a
  list with one entry per input; when `broadcast=True` a single entry is shared
  by every input.
- `"option"`: one value for the whole call (`top_k`, `max_length`).
"""

import dataclasses
from typing import Any

from kerasprop.schemas.specs import Spec, describe

BATCH, ITEM, OPTION = "batch", "item", "option"


@dataclasses.dataclass(frozen=True)
class Field:
    """One key of a task input or of finetuning params."""

    key: str
    spec: Spec
    role: str = OPTION
    required: bool = False
    default: Any = None
    description: str = ""
    broadcast: bool = False

    def json_schema(self, batched=False):
        schema = self.spec.json_schema()
        if self.role == BATCH:
            schema = {"anyOf": [schema, {"type": "array", "items": schema, "minItems": 1}]}
        elif self.role == ITEM:
            schema = {"anyOf": [schema, {"type": "array", "items": schema}]}
        if self.description:
            schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        return schema


@dataclasses.dataclass
class Request:
    """A parsed task input.

    `inputs` maps each batch and item key to a list with one value per input
    (missing item keys hold `None` per input); `options` maps option keys to
    their value or default. `batched` records whether the caller passed lists.
    """

    task: str
    inputs: dict
    options: dict
    batched: bool
    size: int
    #: The option keys the caller set (the others hold defaults).
    given: frozenset = frozenset()

    def items(self):
        """One dict of batch and item values per input."""
        return [{k: v[i] for k, v in self.inputs.items()} for i in range(self.size)]

    def result(self, outputs):
        """Returns `outputs` (one per input) as a list, or the single output."""
        outputs = list(outputs)
        if len(outputs) != self.size:
            raise RuntimeError(
                f"The model returned {len(outputs)} result(s) for {self.size} input(s) of task '{self.task}'."
            )
        return outputs if self.batched else outputs[0]


@dataclasses.dataclass(frozen=True)
class FinetuneSchema:
    """The params of one finetuning variant: keys that each hold a list, all of one length."""

    fields: tuple
    options: tuple = ()
    description: str = ""
    #: Hook for cross-field rules; receives the parsed params and raises on bad ones.
    check: Any = None

    def parse(self, params, task, variant=None):
        label = f"finetuning params of '{task}'" + (f" (variant '{variant}')" if variant else "")
        if not isinstance(params, dict):
            raise TypeError(f"The {label} must be a dict, got {describe(params)}.")
        known = {f.key for f in self.fields}
        _refuse_unknown(params, known, label)
        out, length, length_key = {}, None, None
        for field in self.fields:
            if field.key not in params or params[field.key] is None:
                if field.required:
                    raise ValueError(f"The {label} need the key '{field.key}' ({field.description or field.spec.expected}).")
                continue
            value = field.spec.check(field.key, params[field.key])
            if len(value) == 0:
                raise ValueError(f"'{field.key}' is empty: finetuning needs at least one example.")
            if length is None:
                length, length_key = len(value), field.key
            elif len(value) != length:
                raise ValueError(
                    f"'{field.key}' has {len(value)} items but '{length_key}' has {length}: "
                    "every list in the params must have one entry per example."
                )
            out[field.key] = value
        if self.check is not None:
            self.check(out)
        return out

    def json_schema(self):
        return {
            "type": "object",
            "properties": {f.key: f.json_schema() for f in self.fields},
            "required": [f.key for f in self.fields if f.required],
            "additionalProperties": False,
        }


@dataclasses.dataclass(frozen=True)
class TaskSchema:
    """The description of one task string.

    Example:
    >>> from kerasprop.schemas import get_schema
    >>> request = get_schema("emotion").parse({"text": ["I love it", "I hate it"]})
    >>> request.inputs["text"], request.batched
    (['I love it', 'I hate it'], True)
    """

    task: str
    description: str
    fields: tuple
    output: Spec
    output_description: str = ""
    finetune: dict = dataclasses.field(default_factory=dict)
    default_variant: str = None
    #: Hook for cross-field rules; receives the `Request` and raises on bad input.
    check: Any = None

    @property
    def batch_keys(self):
        return [f.key for f in self.fields if f.role == BATCH]

    @property
    def finetunable(self):
        return bool(self.finetune)

    def field(self, key):
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def parse(self, task_input):
        """Validates and normalises a task input dict into a `Request`."""
        if not isinstance(task_input, dict):
            raise TypeError(f"The input of task '{self.task}' must be a dict, got {describe(task_input)}.")
        _refuse_unknown(task_input, {f.key for f in self.fields}, f"input of task '{self.task}'")

        batched, size, size_key = None, None, None
        inputs, options = {}, {}
        for field in self.fields:
            if field.role != BATCH:
                continue
            value = task_input.get(field.key)
            if value is None:
                if field.required:
                    raise ValueError(
                        f"The input of task '{self.task}' needs the key '{field.key}' "
                        f"({field.description or field.spec.expected})."
                    )
                continue
            is_list = isinstance(value, (list, tuple))
            if batched is not None and is_list != batched:
                raise ValueError(
                    f"'{field.key}' and '{size_key}' must both be single values or both be lists."
                )
            batched = is_list
            values = list(value) if is_list else [value]
            if is_list and not values:
                raise ValueError(f"'{field.key}' is an empty list: give at least one input.")
            if size is not None and len(values) != size:
                raise ValueError(
                    f"'{field.key}' has {len(values)} items but '{size_key}' has {size}: "
                    "batched inputs must have the same length."
                )
            size, size_key = len(values), field.key
            key = (lambda i: f"{field.key}[{i}]") if is_list else (lambda i: field.key)
            inputs[field.key] = [field.spec.check(key(i), v) for i, v in enumerate(values)]
        if size is None:
            raise ValueError(f"The input of task '{self.task}' needs one of the keys {self.batch_keys}.")
        for field in self.fields:
            if field.role == BATCH and field.key not in inputs:
                inputs[field.key] = [None] * size

        for field in self.fields:
            value = task_input.get(field.key)
            if field.role == ITEM:
                inputs[field.key] = self._parse_item(field, value, batched, size)
            elif field.role == OPTION:
                options[field.key] = field.default if value is None else field.spec.check(field.key, value)

        given = frozenset(k for k in options if task_input.get(k) is not None)
        request = Request(self.task, inputs, options, batched, size, given)
        if self.check is not None:
            self.check(request)
        return request

    def _parse_item(self, field, value, batched, size):
        if value is None:
            if field.required:
                raise ValueError(f"The input of task '{self.task}' needs the key '{field.key}'.")
            return [None] * size
        if not batched:
            return [field.spec.check(field.key, value)]
        if field.broadcast and isinstance(value, (list, tuple)) and not any(
            isinstance(v, (list, tuple)) for v in value
        ):
            return [field.spec.check(field.key, value)] * size
        if not isinstance(value, (list, tuple)):
            raise TypeError(
                f"'{field.key}' must be a list with one entry per input for a batched call, got {describe(value)}."
            )
        if len(value) != size:
            raise ValueError(
                f"'{field.key}' has {len(value)} entries but the batch has {size} inputs: give one entry per input."
            )
        return [None if v is None else field.spec.check(f"{field.key}[{i}]", v) for i, v in enumerate(value)]

    def variant(self, variant=None):
        """The `FinetuneSchema` of a variant (the default one when `None`)."""
        if not self.finetune:
            raise ValueError(f"Task '{self.task}' cannot be finetuned.")
        variant = variant or self.default_variant
        if variant not in self.finetune:
            raise ValueError(
                f"Task '{self.task}' has no finetuning variant {variant!r}; choose one of {sorted(self.finetune)}."
            )
        return self.finetune[variant]

    def parse_finetune(self, params, variant=None):
        """Validates finetuning params; returns a dict of equal-length lists."""
        variant = variant or self.default_variant
        return self.variant(variant).parse(params, self.task, variant)

    def check_output(self, value, batched=False):
        """Checks a result against the output spec; returns it unchanged."""
        if batched:
            if not isinstance(value, list):
                raise TypeError(f"A batched '{self.task}' result must be a list, got {describe(value)}.")
            for i, v in enumerate(value):
                self.output.check(f"output[{i}]", v)
        else:
            self.output.check("output", value)
        return value

    def json_schema(self):
        """JSON schema of the input dict."""
        return {
            "title": self.task,
            "description": self.description,
            "type": "object",
            "properties": {f.key: f.json_schema() for f in self.fields},
            "required": [f.key for f in self.fields if f.required],
            "additionalProperties": False,
        }


def _refuse_unknown(given, known, label):
    unknown = [k for k in given if k not in known]
    if unknown:
        bad = unknown[0]
        raise ValueError(
            f"Unknown key {bad!r} in the {label}; the known keys are {sorted(known)}."
            + _suggest(bad, known)
        )


def _suggest(word, options):
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
