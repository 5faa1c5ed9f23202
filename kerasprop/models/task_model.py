"""`KerasTaskModel`: the mixin that makes a keras-hub `Task` a backprop model.

Put it first among the bases of a keras-hub Task subclass:

    @keras.saving.register_keras_serializable(package="kerasprop")
    class T5MultiTask(KerasTaskModel, keras_hub.models.T5Seq2SeqLM):
        default_tasks = ("summarisation", "emotion", "qa")

        def predict_summarisation(self, request):
            ...

The class stays a Keras `Task` (`from_preset`, `compile`, `fit`, `generate`,
`save_to_preset`), and also answers the backprop form
`model({"text": ...}, task="summarisation")`, dispatching to
`predict_<task>(request)` after validation by the task's schema. The contract's
`tasks`, `description` and `details` are part of the Keras config, so they
survive `save_to_preset` / `from_preset`.
"""

import keras
from keras_hub.src.utils.python_utils import classproperty

from kerasprop.hub import catalog as _catalog
from kerasprop.models.deferred_init import deferred_initialisation
from kerasprop.models.base import BaseModel, check_name
from kerasprop.schemas import BATCH, get_schema, task_names


def _task_input_keys():
    return {f.key for t in task_names() for f in get_schema(t).fields if f.role == BATCH}


class KerasTaskModel(BaseModel):
    """Mixin for keras-hub `Task` subclasses that serve backprop tasks."""

    #: Tasks the family serves when none are given.
    default_tasks = ()
    #: Description used when none is given.
    default_description = ""

    def __init__(self, *args, tasks=None, description=None, details=None, **kwargs):
        # Skip BaseModel.__init__: the next class after BaseModel in the MRO is
        # the keras-hub Task, which takes the Keras arguments.
        super(BaseModel, self).__init__(*args, **kwargs)
        self.model = None
        self.set_contract(
            name=_contract_name(self.name),
            tasks=list(tasks) if tasks is not None else list(self.default_tasks),
            description=description or self.default_description or None,
            details=details,
        )

    @classproperty
    def presets(cls):
        """keras-hub's presets for this class, plus the catalog names it loads (bundled ones included)."""
        presets = dict(super(BaseModel, cls).presets)
        path = _catalog.class_path(cls)
        for entry in _catalog.all_entries().values():
            if entry.model_class == path:
                presets[entry.name] = {"metadata": {"description": entry.description, "handle": entry.handle,
                                                    "offline": entry.offline}}
        return presets

    @classmethod
    @deferred_initialisation()
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a catalog name, bundled preset, keras-hub preset name, `kaggle://`/`hf://` handle or folder.

        Catalog names resolve to their handle; a local copy (bundled preset,
        saved model, cache) wins over a download.
        """
        entry = _catalog.find_entry(preset) if isinstance(preset, str) else None
        model = super(BaseModel, cls).from_preset(_catalog.resolve_handle(preset), load_weights=load_weights, **kwargs)
        if entry is not None and isinstance(model, KerasTaskModel):
            model.set_contract(name=entry.name, tasks=list(entry.tasks), description=entry.description)
        return model

    def __call__(self, *args, task=None, **kwargs):
        if task is not None or (len(args) == 1 and not kwargs and self.is_task_input(args[0])):
            return BaseModel.__call__(self, args[0], task=task)
        return super(BaseModel, self).__call__(*args, **kwargs)

    @staticmethod
    def is_task_input(value):
        """Whether `value` is a backprop task-input dict rather than Keras inputs."""
        return (
            isinstance(value, dict)
            and all(isinstance(k, str) for k in value)
            and bool(set(value) & _task_input_keys())
        )

    def predict_task(self, task, request):
        method = getattr(self, "predict_" + task.replace("-", "_"), None)
        if method is None:
            raise NotImplementedError(f"{type(self).__name__} has no predict_{task.replace('-', '_')}.")
        return method(request)

    def num_parameters(self):
        return int(self.count_params())

    def training_step(self, batch, task):
        """The loss of one `(x, y, sample_weight)` batch of raw features, as `fit` computes it."""
        self.check_finetunable(task)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        if self.preprocessor is not None:
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(self.preprocess_samples(x, y, sample_weight))
        y_pred = super(BaseModel, self).__call__(x, training=True)
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(tasks=list(self.tasks), description=self.description, details=dict(self.details))
        return config


def _contract_name(keras_name):
    """A contract-valid name from a Keras layer name (e.g. `t5_multi_task`)."""
    name = keras_name.lower()
    try:
        return check_name(name)
    except ValueError:
        cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:100]
        return check_name(cleaned if len(cleaned) >= 3 else cleaned + "-model")
