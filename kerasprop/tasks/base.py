"""`Task`: the one-line API over a model (`Summarisation()(text)`).

A task class names its task string and its default models. It resolves the
model (a default, a catalog name or alias, a saved model, or a model object),
checks that the model serves the task, turns the backprop call arguments into
the task-input dict, and runs `finetune` through `kerasprop.training`.
"""

import os
import socket

from kerasprop.hub import catalog as _catalog
from kerasprop.models.base import BaseModel
from kerasprop.schemas import get_schema
from kerasprop.schemas.specs import describe

#: Hosts whose reachability decides between hub defaults and bundled defaults.
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


class Task:
    """Base class of the task classes.

    Subclasses set `task` (the task string), `default_model` (backprop's
    default, loaded when a hub is reachable or it is cached) and
    `offline_models` (bundled presets, best first, used otherwise).
    """

    task = None
    default_model = None
    offline_models = ()

    def __init__(self, model=None, **load_kwargs):
        if model is None:
            model = self.choose_default_model()
        if isinstance(model, str):
            from kerasprop.models.auto import AutoModel

            model = AutoModel.from_pretrained(model, aliases=self.aliases(), task=self.task, **load_kwargs)
        if not isinstance(model, BaseModel):
            raise TypeError(
                f"{type(self).__name__} takes a model name or a kerasprop model, got {describe(model)}."
            )
        if self.task not in model.tasks:
            raise ValueError(
                f"Model '{model.name}' does not support the task '{self.task}'; its tasks are {list(model.tasks)}."
            )
        self.model = model

    @classmethod
    def aliases(cls):
        """alias -> catalog name, for this task."""
        return _catalog.task_aliases(cls.task)

    @classmethod
    def choose_default_model(cls):
        """The default model's name: backprop's default when it can be had, else the best bundled one."""
        entry = _catalog.find_entry(cls.default_model)
        if entry is not None and (entry.offline or hub_reachable()):
            return entry.name
        for name in cls.offline_models:
            offline = _catalog.find_entry(name)
            if offline is not None and offline.offline:
                return name
        if cls.default_model is None and not cls.offline_models:
            reason = f"The task '{cls.task}' has no default model"
        else:
            reason = (f"No model for '{cls.task}' is available offline, and no model hub can be reached for the "
                      f"default '{cls.default_model}'")
        raise RuntimeError(f"{reason}. Pass a model, a saved model name or a preset folder.")

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

    def finetune(self, params, *args, **kwargs):
        """Finetunes the model on backprop-style params; see `kerasprop.training.finetune`."""
        from kerasprop.training import finetune

        return finetune(self.model, params, self.task, *args, **kwargs)

    def save(self, name=None, path=None, description=None, details=None):
        """Saves the task's model (see `kerasprop.save`) and returns its folder."""
        from kerasprop.hub.io import save

        return save(self.model, name=name, path=path, description=description, details=details)

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
