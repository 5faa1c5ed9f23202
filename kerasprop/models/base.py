"""The backprop model contract: `BaseModel`, `PathModel`, `KerasHubModel`.

A model has a `name`, the `tasks` it serves, a `description` and `details`,
and answers `model(task_input, task=...)` with plain JSON. Models that can be
finetuned implement `process_batch`, `training_step` and optionally
`pre_finetuning` for the tasks they list in `finetunable_tasks`.
"""

import numpy as np

from kerasprop.schemas import get_schema
from kerasprop.schemas.models import check_name, check_tasks
from kerasprop.schemas.specs import describe


def to_json(value):
    """Converts numpy/tensor scalars and arrays, tuples and nested containers to plain JSON types."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return float(value) if isinstance(value, float) else value
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return np.asarray(value).tolist()
    raise TypeError(f"Model output {describe(value)} is not JSON-serialisable.")


class BaseModel:
    """The base class of every kerasprop model.

    Subclasses serve a task either by overriding `__call__` (as in backprop)
    or by implementing `predict_task(task, request)`, which receives a parsed
    and validated `kerasprop.schemas.Request` and returns one output per input.

    Example:
    >>> from kerasprop.models import BaseModel
    >>> class MyModel(BaseModel):
    ...     def __call__(self, task_input, task="emotion"):
    ...         if task == "emotion":
    ...             return "admiration"
    ...         raise ValueError("Unsupported task!")
    >>> MyModel()({"text": "This is pretty cool!"}, task="emotion")
    'admiration'
    """

    #: Tasks for which `process_batch` and `training_step` are implemented.
    finetunable_tasks = ()

    def __init__(self, model=None, name=None, description=None, tasks=None, details=None):
        self.model = model
        self.set_contract(name=name, description=description, tasks=tasks, details=details)

    def set_contract(self, name=None, description=None, tasks=None, details=None):
        """Sets (and validates) the contract's metadata."""
        self.name = check_name(name or getattr(self, "name", None) or "base-model")
        self.description = description or getattr(self, "description", None) or "A kerasprop model."
        self.tasks = check_tasks(tasks if tasks is not None else list(getattr(self, "tasks", None) or []))
        details = details if details is not None else getattr(self, "details", None) or {}
        if not isinstance(details, dict):
            raise TypeError(f"'details' must be a dict, got {describe(details)}.")
        self.details = dict(details)

    def resolve_task(self, task):
        """The task to run: `task`, or the model's only task when `None`."""
        if task is None:
            if len(self.tasks) == 1:
                return self.tasks[0]
            raise ValueError(f"Model '{self.name}' serves the tasks {self.tasks}: name one with task=...")
        get_schema(task)
        if task not in self.tasks:
            raise ValueError(
                f"Model '{self.name}' does not support the task '{task}'; its tasks are {self.tasks}."
            )
        return task

    def __call__(self, task_input, task=None):
        task = self.resolve_task(task)
        request = get_schema(task).parse(task_input)
        outputs = self.predict_task(task, request)
        if request.options.get("return_tensor"):
            return request.result(list(outputs))
        return request.result([to_json(o) for o in outputs])

    def stream(self, task_input, task=None):
        """Runs a task that streams (text generation) on one input: an iterator of text pieces as they are generated.

        The pieces join to exactly what `model(task_input, task)` returns.
        """
        task = self.resolve_task(task)
        request = get_schema(task).parse(task_input)
        stream = getattr(self, f"stream_{task.replace('-', '_')}", None)
        if stream is None:
            raise ValueError(f"{type(self).__name__} cannot stream '{task}'; call it without stream=True.")
        return stream(request)

    def predict_task(self, task, request):
        """Returns one output per input of the parsed `request`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement predict_task for '{task}'.")

    def check_finetunable(self, task):
        """Raises a `ValueError` unless this model can be finetuned for `task`."""
        self.resolve_task(task)
        if task not in self.finetunable_tasks:
            raise ValueError(
                f"Model '{self.name}' cannot be finetuned for '{task}'; "
                f"it can be finetuned for {list(self.finetunable_tasks) or 'no task'}."
            )

    def process_batch(self, params, task):
        """Turns validated finetuning params into model-ready examples."""
        self.check_finetunable(task)
        raise NotImplementedError

    def training_step(self, batch, task):
        """Returns the loss of one batch produced by `process_batch`."""
        self.check_finetunable(task)
        raise NotImplementedError

    def pre_finetuning(self, *args, **kwargs):
        """Prepares the model before finetuning (e.g. sets a classification head)."""

    def for_finetuning(self, task, params):
        """The model that a task's `finetune` trains for `task` on `params`: this one, unless a model needs
        another shape to learn the task (a sentence encoder learns labels as a `SentenceClassifier`)."""
        return self

    def num_parameters(self):
        model = self.model if self.model is not None else self
        return int(model.count_params()) if hasattr(model, "count_params") else 0

    def __repr__(self):
        return f"<{type(self).__name__} '{self.name}' tasks={self.tasks}>"


def _init_from(init, path):
    """Builds an object from a preset handle with a class (via `from_preset`) or a callable."""
    if hasattr(init, "from_preset"):
        return init.from_preset(path)
    if callable(init):
        return init(path)
    raise TypeError(f"Expected a class with from_preset or a callable, got {describe(init)}.")


class PathModel(BaseModel):
    """A model built from a preset handle and the classes that initialise it.

    `init_model` and `init_tokenizer` are keras-hub classes (their
    `from_preset` is used) or any callable taking the path. Calling the model
    calls the underlying Keras model. It serves no task by itself.

    Example:
    >>> import keras_hub
    >>> from kerasprop.models import PathModel
    >>> model = PathModel(
    ...     "all_minilm_l6_v2",
    ...     init_model=keras_hub.models.Backbone,
    ...     init_tokenizer=keras_hub.tokenizers.Tokenizer,
    ... )  # doctest: +SKIP
    """

    def __init__(self, model_path, init_model, name=None, description=None, tasks=None, details=None,
                 tokenizer_path=None, init_tokenizer=None):
        from kerasprop.hub.catalog import resolve_handle

        self.model_path = model_path
        self.tokenizer_path = tokenizer_path or (model_path if init_tokenizer is not None else None)
        self.init_model = init_model
        self.init_tokenizer = init_tokenizer
        model = _init_from(init_model, resolve_handle(model_path))
        super().__init__(model, name=name, description=description, tasks=tasks, details=details)
        self.tokenizer = _init_from(init_tokenizer, resolve_handle(self.tokenizer_path)) if init_tokenizer else None

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs)


class KerasHubModel(PathModel):
    """`PathModel` with keras-hub's generic classes as defaults (backprop's `HFModel`)."""

    def __init__(self, model_path, tokenizer_path=None, name=None, description=None, tasks=None, details=None,
                 model_class=None, tokenizer_class=None):
        import keras_hub

        super().__init__(
            model_path,
            init_model=model_class or keras_hub.models.Backbone,
            init_tokenizer=tokenizer_class or keras_hub.tokenizers.Tokenizer,
            tokenizer_path=tokenizer_path,
            name=name,
            description=description,
            tasks=tasks,
            details=details,
        )
