"""Marshmallow fields derived from the task schemas.

DEEPaaS describes a model's HTTP arguments and its response with marshmallow
fields. Nothing here restates a task: `spec_field` converts one value spec of
`kerasprop.schemas` into a field, and the argument and response builders walk a
`TaskSchema`. Each derived argument also runs the spec's own `check`, so the
HTTP layer refuses exactly what the Python API refuses, with the same message.

Example:
>>> from kerasprop.schemas import get_schema
>>> sorted(predict_arguments(get_schema("text-classification")))
['labels', 'text', 'top_k']
"""

import marshmallow
from marshmallow import fields, validate

from kerasprop.schemas import BATCH, Field, Image
from kerasprop.schemas.audio import Audio
from kerasprop.schemas.specs import (
    AnyOf,
    Boolean,
    Choice,
    DictOf,
    ListOf,
    Number,
    Record,
    Spec,
    Text,
    TupleOf,
)

#: Inputs sent as uploaded files (never as server-side paths).
FILE_SPECS = (Image, Audio)
#: Options that cannot travel over JSON (a tensor is not a JSON value).
NOT_SERVED = frozenset({"return_tensor"})


class SpecCheck(validate.Validator):
    """Runs a spec's `check` on a deserialised value; its errors become a `ValidationError`."""

    def __init__(self, key, spec):
        self.key = key
        self.spec = spec

    def __call__(self, value):
        try:
            self.spec.check(self.key, value)
        except (TypeError, ValueError) as error:
            raise marshmallow.ValidationError(str(error)) from None
        return True


class WholeNumber(fields.Integer):
    """An integer as JSON sends it, or as digits in a query or form value: never a float cut short, never a boolean."""

    def _validated(self, value):
        if isinstance(value, (bool, float)) or (isinstance(value, str) and not value.strip().lstrip("+-").isdigit()):
            raise self.make_error("invalid")
        return super()._validated(value)


class RealNumber(fields.Float):
    """A number (JSON) or a numeric query/form value; never a boolean."""

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


#: The spellings of a boolean that JSON, query strings and forms use; nothing else (no 1, 'yes', 'on').
TRUTHY = frozenset({True, "true", "True"})
FALSY = frozenset({False, "false", "False"})


class Inputs(fields.List):
    """The inputs of a request: a list, or one input alone (as the Python API takes one text or a list)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, (list, tuple)):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


class Either(fields.Field):
    """A value that any one of several fields accepts (the first that does wins)."""

    def __init__(self, *choices, **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    def _deserialize(self, value, attr, data, **kwargs):
        messages = []
        for choice in self.choices:
            try:
                return choice.deserialize(value, attr, data, **kwargs)
            except marshmallow.ValidationError as error:
                messages.append(error.messages)
        raise marshmallow.ValidationError(messages)


class Upload(fields.Field):
    """A file sent as multipart/form-data.

    Predict uploads stay files: DEEPaaS stores them in a temporary file for
    the worker. With `read=True` the file is read here instead and becomes an
    `UploadedText`, because DEEPaaS hands train arguments to its worker as they
    are, and an open file cannot travel there.
    """

    def __init__(self, read=False, **kwargs):
        metadata = {"type": "file", "location": "form", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.read = read

    def _deserialize(self, value, attr, data, **kwargs):
        from aiohttp import web

        if not isinstance(value, web.FileField):
            raise marshmallow.ValidationError(
                f"'{attr}' must be a file uploaded as multipart/form-data, got a {type(value).__name__}."
            )
        if not self.read:
            return value
        try:
            text = value.file.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise marshmallow.ValidationError(f"'{attr}' must be a UTF-8 text file.") from None
        return UploadedText(value.filename or "", text, value.content_type or "")


class UploadedText(str):
    """The content of an uploaded text file, as `.text`.

    The string itself is the file's name: DEEPaaS echoes train arguments in
    every training status, and the name is what should be echoed.
    """

    def __new__(cls, filename, text, content_type=""):
        upload = super().__new__(cls, filename)
        upload.text = text
        upload.content_type = content_type
        return upload

    def __reduce__(self):
        return type(self), (str(self), self.text, self.content_type)


def spec_field(spec, max_text_length=None, validators=(), **kwargs):
    """The marshmallow field for values of a spec.

    `max_text_length` bounds every string inside the value (a serving limit,
    not part of the task). `validators` and extra keyword arguments go to the
    outer field.
    """
    kwargs["validate"] = list(validators)
    if isinstance(spec, Text):
        if max_text_length:
            kwargs["validate"].insert(0, validate.Length(max=max_text_length))
        return fields.String(**kwargs)
    if isinstance(spec, Number):
        return (WholeNumber if spec.integer else RealNumber)(**kwargs)
    if isinstance(spec, Boolean):
        return fields.Boolean(truthy=TRUTHY, falsy=FALSY, **kwargs)
    if isinstance(spec, Choice):
        kwargs["validate"].insert(0, validate.OneOf(spec.options))
        return fields.String(**kwargs)
    if isinstance(spec, ListOf):
        return fields.List(spec_field(spec.item, max_text_length), **kwargs)
    if isinstance(spec, TupleOf):
        return fields.Tuple(tuple(spec_field(s, max_text_length) for s in spec.items), **kwargs)
    if isinstance(spec, DictOf):
        return fields.Dict(keys=fields.String(), values=spec_field(spec.value, max_text_length), **kwargs)
    if isinstance(spec, Record):
        nested = {k: spec_field(s, max_text_length, required=True) for k, s in spec.fields.items()}
        return fields.Nested(marshmallow.Schema.from_dict(nested), **kwargs)
    if isinstance(spec, AnyOf):
        return Either(*(spec_field(s, max_text_length) for s in spec.options), **kwargs)
    if isinstance(spec, FILE_SPECS):
        return Upload(**kwargs)
    if isinstance(spec, Spec):
        return fields.Raw(**kwargs)
    raise TypeError(f"spec_field() takes a kerasprop spec, got {type(spec).__name__}.")


def argument(field, many=False, max_items=None, max_text_length=None, limit=None):
    """The HTTP argument for one schema `Field`.

    `many=True` makes a list argument (one value per input; a query string or
    form repeats the key); `max_items` bounds its length. `limit` is the
    server's largest value for a numeric option (a bound on work, not part of
    the task).
    """
    metadata = {"description": field.description or field.spec.expected}
    if field.default is not None:
        metadata["default"] = field.default
    options = {"required": field.required, "metadata": metadata}
    if field.default is not None:
        options["load_default"] = field.default
    if isinstance(field.spec, FILE_SPECS):
        metadata["description"] = f"{field.key} file (multipart/form-data): one per request"
        return spec_field(field.spec, **options)
    if many:
        item = spec_field(field.spec, max_text_length, validators=[SpecCheck(field.key, field.spec)])
        return Inputs(item, validate=validate.Length(min=1, max=max_items), **options)
    validators = [SpecCheck(field.key, field.spec)]
    if limit is not None:
        metadata["description"] += f" (at most {limit} on this server)"
        validators.append(validate.Range(max=limit, error=f"'{field.key}' is at most {limit} on this server."))
    return spec_field(field.spec, max_text_length, validators=validators, **options)


def uploads_inputs(task_schema):
    """Whether a task's inputs are uploaded files (then a request carries one input)."""
    return any(f.role == BATCH and isinstance(f.spec, FILE_SPECS) for f in task_schema.fields)


def predict_arguments(task_schema, max_items=None, max_text_length=None, limits=None):
    """The predict arguments of a task: a dict of key -> marshmallow field.

    Input keys take one value per input as a list, except for tasks that take
    files, where a request carries one input. Per-input keys (`labels`,
    `prev_q`, ...) hold the value for one input and apply to every input of
    the request. Options keep their defaults and descriptions; `limits`
    (option -> largest value) bounds the work a request may ask for.
    """
    many = not uploads_inputs(task_schema)
    limits = limits or {}
    return {
        f.key: argument(f, many=many and f.role == BATCH, max_items=max_items, max_text_length=max_text_length,
                        limit=limits.get(f.key))
        for f in task_schema.fields
        if f.key not in NOT_SERVED
    }


def train_arguments(task_schema, extra_fields=()):
    """The train arguments of a task: an upload of the params, the variant, the options.

    `extra_fields` are further `Field`s (the training engine's options).
    Returns `{}` for tasks that cannot be finetuned.
    """
    if not task_schema.finetunable:
        return {}
    layouts = "; ".join(
        f"{name or 'default'}: " + ", ".join(f.key for f in variant.fields)
        for name, variant in task_schema.finetune.items()
    )
    args = {
        "data": Upload(
            read=True,
            required=True,
            metadata={
                "description": "JSON file of the finetuning params (key -> list, one entry per example) "
                f"or CSV file with one column per key. Keys by variant: {layouts}."
            },
        )
    }
    variants = [name for name in task_schema.finetune if name is not None]
    if variants:
        choice = Field(
            "variant", Choice(variants), default=task_schema.default_variant, description="finetuning variant"
        )
        args["variant"] = argument(choice)
    options = {}
    for variant in task_schema.finetune.values():
        for option in variant.options:
            options.setdefault(option.key, option)
    for option in (*options.values(), *extra_fields):
        args[option.key] = argument(option)
    return args


def response_schema(task_schema):
    """The marshmallow schema of a predict response: task, model and one prediction per input."""
    output = task_schema.output
    prediction = spec_field(output, validators=[SpecCheck("prediction", output)])
    description = task_schema.output_description or output.expected
    name = "".join(part.capitalize() for part in task_schema.task.split("-")) + "Response"
    return marshmallow.Schema.from_dict(
        {
            "task": fields.String(required=True, metadata={"description": "the task served"}),
            "model": fields.String(required=True, metadata={"description": "the model that answered"}),
            "predictions": fields.List(
                prediction, required=True, metadata={"description": f"one per input: {description}"}
            ),
        },
        name=name,
    )


__all__ = ["argument", "predict_arguments", "response_schema", "spec_field", "train_arguments"]
