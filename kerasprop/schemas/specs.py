"""Value specifications: what one key of a task input may hold.

A spec checks and normalises one value. Every failure is a `TypeError` (wrong
kind of value) or a `ValueError` (right kind, wrong value) whose message names
the key, what was expected and what was given. Specs also describe themselves
as JSON schema, which the CLI, the HTTP adapter and the tests read.
"""

import math
import numbers

import numpy as np


def describe(value, limit=60):
    """A short, safe description of a value for error messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


class Spec:
    """Base class of value specs."""

    #: Words used in error messages, e.g. "a string".
    expected = "a value"

    def check(self, key, value):
        """Returns the normalised value, or raises `TypeError`/`ValueError`."""
        raise NotImplementedError

    def json_schema(self):
        raise NotImplementedError

    def type_error(self, key, value):
        return TypeError(f"'{key}' must be {self.expected}, got {describe(value)}.")

    def value_error(self, key, value, why):
        return ValueError(f"'{key}' {why}, got {describe(value)}.")


class Text(Spec):
    """A string; empty (or whitespace-only) strings are refused unless allowed."""

    expected = "a string"

    def __init__(self, allow_empty=False):
        self.allow_empty = allow_empty

    def check(self, key, value):
        if not isinstance(value, str):
            raise self.type_error(key, value)
        if not self.allow_empty and not value.strip():
            raise self.value_error(key, value, "must be a non-empty string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate: no tokenizer can read it
            raise ValueError(f"'{key}' is not valid text: character {error.start} is a lone surrogate "
                             f"({value[error.start]!r}).") from None
        return value

    def json_schema(self):
        schema = {"type": "string"}
        if not self.allow_empty:
            schema["minLength"] = 1
        return schema


class Number(Spec):
    """A real number (or an integer when `integer=True`) within bounds.

    `minimum`/`maximum` are inclusive; `exclusive_minimum` is strict.
    """

    def __init__(self, minimum=None, maximum=None, exclusive_minimum=None, integer=False):
        self.minimum = minimum
        self.maximum = maximum
        self.exclusive_minimum = exclusive_minimum
        self.integer = integer
        self.expected = "an integer" if integer else "a number"

    def check(self, key, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise self.type_error(key, value)
        if self.integer:
            if isinstance(value, numbers.Integral):
                value = int(value)
            elif float(value).is_integer():
                value = int(value)
            else:
                raise self.type_error(key, value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise self.value_error(key, value, "must be a finite number")
        if self.minimum is not None and value < self.minimum:
            raise self.value_error(key, value, f"must be at least {self.minimum}")
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            raise self.value_error(key, value, f"must be greater than {self.exclusive_minimum}")
        if self.maximum is not None and value > self.maximum:
            raise self.value_error(key, value, f"must be at most {self.maximum}")
        return value

    def json_schema(self):
        schema = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.exclusive_minimum is not None:
            schema["exclusiveMinimum"] = self.exclusive_minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


def Integer(minimum=None, maximum=None):
    """An integer spec (a `Number` with `integer=True`)."""
    return Number(minimum=minimum, maximum=maximum, integer=True)


class Boolean(Spec):
    expected = "a boolean (true or false)"

    def check(self, key, value):
        if not isinstance(value, (bool, np.bool_)):
            raise self.type_error(key, value)
        return bool(value)

    def json_schema(self):
        return {"type": "boolean"}


class Null(Spec):
    """`None` (JSON null), e.g. the end of a segment that has none; use it inside `AnyOf`."""

    expected = "null"

    def check(self, key, value):
        if value is not None:
            raise self.type_error(key, value)
        return None

    def json_schema(self):
        return {"type": "null"}


class Choice(Spec):
    """One of a fixed set of strings."""

    def __init__(self, options):
        self.options = tuple(options)
        self.expected = "one of " + ", ".join(repr(o) for o in self.options)

    def check(self, key, value):
        if not isinstance(value, str):
            raise self.type_error(key, value)
        if value not in self.options:
            raise self.value_error(key, value, f"must be {self.expected}")
        return value

    def json_schema(self):
        return {"type": "string", "enum": list(self.options)}


class ListOf(Spec):
    """A list (or tuple) of items that each match `item`.

    `min_items` bounds the length; `unique=True` refuses duplicates.
    """

    def __init__(self, item, min_items=0, unique=False):
        self.item = item
        self.min_items = min_items
        self.unique = unique
        self.expected = f"a list of {_plural(item.expected)}"

    def check(self, key, value):
        if not isinstance(value, (list, tuple)):
            raise self.type_error(key, value)
        if len(value) < self.min_items:
            raise self.value_error(key, value, f"must hold at least {self.min_items} item(s)")
        items = [self.item.check(f"{key}[{i}]", v) for i, v in enumerate(value)]
        if self.unique:
            seen = set()
            for i, v in enumerate(items):
                if v in seen:
                    raise ValueError(f"'{key}' must not repeat items; {v!r} appears twice (again at index {i}).")
                seen.add(v)
        return items

    def json_schema(self):
        schema = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.unique:
            schema["uniqueItems"] = True
        return schema


class TupleOf(Spec):
    """A fixed-length sequence such as a (question, answer) pair."""

    def __init__(self, *items):
        self.items = items
        self.expected = f"a pair ({', '.join(i.expected for i in items)})"

    def check(self, key, value):
        if not isinstance(value, (list, tuple)) or len(value) != len(self.items):
            raise self.type_error(key, value)
        return tuple(spec.check(f"{key}[{i}]", v) for i, (spec, v) in enumerate(zip(self.items, value)))

    def json_schema(self):
        return {
            "type": "array",
            "prefixItems": [i.json_schema() for i in self.items],
            "minItems": len(self.items),
            "maxItems": len(self.items),
        }


class DictOf(Spec):
    """A mapping from strings to values of one spec (e.g. label -> probability)."""

    def __init__(self, value):
        self.value = value
        self.expected = f"a dict of string keys to {_plural(value.expected)}"

    def check(self, key, value):
        if not isinstance(value, dict):
            raise self.type_error(key, value)
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"'{key}' keys must be strings, got {describe(k)}.")
            out[k] = self.value.check(f"{key}[{k!r}]", v)
        return out

    def json_schema(self):
        return {"type": "object", "additionalProperties": self.value.json_schema()}


class Record(Spec):
    """A dict with fixed keys, each with its own spec (e.g. an extractive QA answer)."""

    def __init__(self, **fields):
        self.fields = fields
        self.expected = "an object with keys " + ", ".join(fields)

    def check(self, key, value):
        if not isinstance(value, dict):
            raise self.type_error(key, value)
        missing = set(self.fields) - set(value)
        if missing:
            raise ValueError(f"'{key}' is missing key(s) {sorted(missing)}.")
        return {k: spec.check(f"{key}.{k}", value[k]) for k, spec in self.fields.items()}

    def json_schema(self):
        return {
            "type": "object",
            "properties": {k: s.json_schema() for k, s in self.fields.items()},
            "required": list(self.fields),
        }


class AnyOf(Spec):
    """The first of several specs that accepts the value."""

    def __init__(self, *options):
        self.options = options
        self.expected = " or ".join(o.expected for o in options)

    def check(self, key, value):
        errors = []
        for option in self.options:
            try:
                return option.check(key, value)
            except (TypeError, ValueError) as error:
                errors.append(error)
        if all(isinstance(e, TypeError) for e in errors):
            raise self.type_error(key, value)
        raise next(e for e in errors if isinstance(e, ValueError))

    def json_schema(self):
        return {"anyOf": [o.json_schema() for o in self.options]}


def _plural(expected):
    for article in ("an ", "a "):
        if expected.startswith(article):
            noun = expected[len(article):]
            first, _, rest = noun.partition(" ")
            return (first + "s " + rest).strip() if not first.endswith("s") else noun
    return expected
