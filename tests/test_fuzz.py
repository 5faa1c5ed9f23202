"""Fuzzing the layers that read untrusted input: the task schemas and the HTTP arguments derived from them.

No model runs per example, so hundreds of examples per task cost seconds. The
property: any JSON value, under the task's own keys or others, is either
accepted or refused with the documented error (`TypeError`/`ValueError` in
Python, a marshmallow `ValidationError` over HTTP, then the schema's own
checks, which the adapter answers as 422); nothing else escapes.
HTTP answers for the same properties through DEEPaaS are in test_serving.py.
"""

import marshmallow
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerasprop.schemas import get_schema, task_names
from kerasprop.serving.fields import predict_arguments, train_arguments

#: Any JSON value, with the strings an attacker tries (lone surrogates, NUL, very long ones).
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["\ud800", "\x00", "x" * 5000, "", "2.5", "true"]),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def requests_for(schema):
    """Dicts over the task's own keys (and a stray one), each holding any JSON value."""
    keys = [f.key for f in schema.fields] + ["unknown_key"]
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys))


@pytest.mark.parametrize("task", task_names())
def test_python_schema_refuses_with_type_or_value_errors_only(task):
    schema = get_schema(task)

    @FUZZ
    @given(requests_for(schema))
    def check(request):
        try:
            schema.parse(request)
        except (TypeError, ValueError):
            pass

    check()


@pytest.mark.parametrize("task", task_names())
def test_http_arguments_refuse_with_validation_errors_only(task):
    schema = get_schema(task)
    load = marshmallow.Schema.from_dict(predict_arguments(schema, max_items=8, max_text_length=1000))().load

    @FUZZ
    @given(requests_for(schema))
    def check(request):
        request.pop("unknown_key", None)  # unknown keys are refused by the parser, before the schema
        try:
            loaded = load(request)
        except marshmallow.ValidationError:
            return
        # The adapter then runs the task's own checks (some span keys, e.g. fill-mask's mask token): they too
        # refuse only with the errors it answers as 422 (image and audio inputs travel as uploads, not JSON).
        if not any(type(f.spec).__name__ in ("Image", "Audio") for f in schema.fields):
            try:
                schema.parse(loaded)
            except (TypeError, ValueError):
                pass

    check()


@pytest.mark.parametrize("task", [t for t in task_names() if get_schema(t).finetunable])
def test_finetuning_params_refuse_with_type_or_value_errors_only(task):
    schema = get_schema(task)
    keys = sorted({f.key for variant in schema.finetune.values() for f in variant.fields}) + ["unknown_key"]
    assert train_arguments(schema)  # a finetunable task is trainable over HTTP

    @FUZZ
    @given(st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)))
    def check(params):
        try:
            schema.parse_finetune(params)
        except (TypeError, ValueError):
            pass

    check()
