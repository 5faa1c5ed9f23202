"""Each task is declared once, in `kerasprop/schemas/task_specs.py`, and everything else agrees with it."""

import keras
import pytest

import kerasprop
from kerasprop import tasks
from kerasprop.demo import examples
from kerasprop.hub.catalog import find_entry
from kerasprop.schemas import get_schema, task_names
from kerasprop.schemas.task_specs import TASK_SPECS, task_spec
from kerasprop.training import default_optimizer


def test_every_task_with_a_schema_has_one_spec_and_a_task_class():
    assert set(TASK_SPECS) == set(task_names())
    for spec in TASK_SPECS.values():
        cls = getattr(kerasprop, spec.task_class)  # exported at the top level
        assert cls is getattr(tasks, spec.task_class) and cls.task == spec.task
        assert tasks.task_class(spec.task) is cls
        assert (cls.default_model, cls.hub_model) == (spec.default_model, spec.hub_model)


@pytest.mark.parametrize("task", list(TASK_SPECS))
def test_the_spec_names_catalog_models_that_serve_the_task(task):
    spec = task_spec(task)
    default = find_entry(spec.default_model)
    assert default is not None and default.offline and task in default.tasks, spec.default_model
    if spec.hub_model is not None:
        hub = find_entry(spec.hub_model)
        assert hub is not None and task in hub.tasks, spec.hub_model


def test_examples_are_valid_inputs_of_their_tasks():
    rows = examples()
    assert [task for task, _, _ in rows] == list(TASK_SPECS)
    for task, task_input, _ in rows:
        get_schema(task).parse(task_input)  # raises on a bad example


def test_finetuning_defaults_and_label_keys_come_from_the_spec():
    for spec in TASK_SPECS.values():
        optimizer = default_optimizer(spec.task)
        name, rate = spec.optimizer
        assert type(optimizer).__name__.lower() == name and float(optimizer.learning_rate) == pytest.approx(rate)
        if spec.label_key is not None:
            schema = get_schema(spec.task)
            keys = {field.key for field in schema.variant(schema.default_variant).fields}
            assert spec.label_key in keys, (spec.task, spec.label_key, keys)
    assert isinstance(default_optimizer("summarisation"), keras.optimizers.Adafactor)


def test_unknown_tasks_are_named_and_subclasses_may_choose_their_default():
    with pytest.raises(ValueError, match="Did you mean 'summarisation'"):
        task_spec("sumarisation")

    class MyQA(kerasprop.QA):
        default_model = "my-own-qa"

    assert MyQA.default_model == "my-own-qa" and MyQA.hub_model == "t5-base-qa-summary-emotion"
