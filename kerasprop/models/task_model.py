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

import contextlib
import functools
import gc
import os
import sys
import warnings

import keras
import keras_hub

from kerasprop import distributed
from kerasprop.compat import builtin_presets, classproperty
from kerasprop.hub import catalog as _catalog
from kerasprop.hub.folders import check_preset_folder, is_keras_folder, loading
from kerasprop.models.base import BaseModel
from kerasprop.models.base_backbone import (
    drop_optimizer_state,
    is_delta_preset,
    load_delta,
    save_delta,
)
from kerasprop.models.runtime.deferred_init import deferred_initialisation
from kerasprop.schemas import BATCH, get_schema, task_names
from kerasprop.schemas.models import check_name, check_quantization


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
        """The presets `from_preset` loads with this class: catalog names (bundled ones included), then keras-hub's.

        A dict name -> `{"metadata": ...}`, as keras-hub's `presets` is; on a
        family mixin (`Seq2SeqLM`, `CausalLM`, ...) it holds the presets of
        every class of the family.
        """
        catalog = {}
        for entry in _catalog.all_entries().values():
            # Importing the entry's class also imports its family's module, so keras-hub finds the subclasses.
            if issubclass(entry.load_class(), cls):
                catalog[entry.name] = {"metadata": {"description": entry.description, "handle": entry.handle,
                                                    "offline": entry.offline}}
        return {**builtin_presets(cls), **catalog}

    @classmethod
    @deferred_initialisation()
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Loads a catalog name, bundled preset, keras-hub preset name, `kaggle://`/`hf://` handle or folder.

        Catalog names resolve to their handle; a local copy (bundled preset,
        saved model, cache) wins over a download.
        """
        if not issubclass(cls, keras_hub.models.Task):
            return cls.family_class(preset).from_preset(preset, load_weights=load_weights, **kwargs)
        entry = _catalog.find_entry(preset) if isinstance(preset, str) else None
        folder = _catalog.resolve_handle(preset)
        if is_keras_folder(folder):
            check_preset_folder(folder)
        with loading(folder) if os.path.isdir(folder) else contextlib.nullcontext():
            if is_delta_preset(folder):
                model = load_delta(cls, folder, **kwargs)
            else:
                model = super(BaseModel, cls).from_preset(folder, load_weights=load_weights, **kwargs)
        if entry is not None and isinstance(model, KerasTaskModel):
            model.set_contract(name=entry.name, tasks=list(entry.tasks), description=entry.description)
        return model

    @classmethod
    def family_class(cls, preset):
        """The concrete class that loads `preset` when `from_preset` is called on a mixin of this class.

        The catalog entry's class for a catalog name, else the family of the
        preset's saved class or architecture (`kerasprop.models.families`) when
        it is one of this class's; a mixin then gives its registered class for
        the preset's backbone (e.g. a new head on a plain BERT backbone).
        """
        from kerasprop.models.families import class_for

        entry = _catalog.find_entry(preset) if isinstance(preset, str) else None
        folder = _catalog.resolve_handle(preset)
        found = entry.load_class() if entry is not None else class_for(folder)
        if not issubclass(found, cls):
            found = cls
        return found if issubclass(found, keras_hub.models.Task) else family_member(found, folder)

    def quantize(self, mode, **kwargs):
        """Keras' weight quantization ("int8", "int4" or "float8") of the backbone, in place.

        The backbone holds nearly all the weights (and a language model's output
        embedding); task heads stay in float. Compiled inference and generation functions built for the float weights are
        dropped (they are rebuilt on the next call). LoRA adapters stay in float
        over the quantized weights (as in QLoRA). A model that sat on a shared base
        backbone saves all its weights from now on: the quantized backbone is its own.

        Example:
        >>> from kerasprop.models import AutoModel
        >>> model = AutoModel.from_pretrained("all-minilm-l6-v2")
        >>> model.quantize("int8")  # doctest: +SKIP
        """
        check_quantization(mode)
        if _quantized(self.backbone):
            raise ValueError(f"Model '{self.name}' is already quantized; load it again to quantize it another way.")
        # The backbone's layers that Keras can quantize (the heads are small and stay float): the backbone
        # records them in its config (a DTypePolicyMap), so `save_to_preset`/`from_preset` keep them quantized.
        kwargs.setdefault("filters", _quantizable)
        with _one_garbage_collection():
            self.backbone.quantize(mode, **kwargs)
        self.reset_compiled_functions()
        self.base_backbone = None

    def reset_compiled_functions(self):
        """Drops the compiled inference and generation functions (after the weights change shape or dtype)."""
        for name in COMPILED_CACHES:
            if isinstance(getattr(type(self), name, None), functools.cached_property):
                self.__dict__.pop(name, None)  # built again on first use
            elif name in self.__dict__:
                setattr(self, name, {} if isinstance(self.__dict__[name], dict) else None)
        self.train_function = self.test_function = self.predict_function = None
        self.__dict__.pop("_preprocessing_built", None)  # new layers (a head, quantized ones) may be unbuilt
        if hasattr(self, "generate_function"):
            self.generate_function = None

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras' `fit`; on a `tf.data.Dataset` `shuffle` defaults to False.

        A dataset shuffles itself (`.shuffle(buffer_size)`), if at all: Keras
        ignores `shuffle` for it, yet warns on every call that its own default,
        `shuffle=True`, was passed.

        Example:
        >>> import tensorflow as tf
        >>> from kerasprop.models import SupervisedTextClassifier
        >>> model = SupervisedTextClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)  # doctest: +SKIP
        >>> data = tf.data.Dataset.from_tensor_slices((["good", "bad"], [1, 0])).batch(2)
        >>> model.fit(data, epochs=1)  # doctest: +SKIP
        """
        tf = sys.modules.get("tensorflow")
        if tf is not None and isinstance(x, tf.data.Dataset) and not args and "shuffle" not in kwargs:
            kwargs["shuffle"] = False
        return super().fit(x, y, *args, **kwargs)

    def compile_from_config(self, config):
        """Compiles as the saved model was compiled; a model saved mid-training gets its optimizer state back.

        Keras calls this when it rebuilds a compiled model from its config (a
        pickled model, a `.keras` file); for a Task's custom `compile` it would
        otherwise skip compiling with a warning, then drop the saved optimizer
        state with another. The optimizer's slots are built only when the saved
        state holds them (keras-hub compiles every Task, trained or not).
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        optimizer, load = self.optimizer, self.optimizer.load_own_variables

        def load_own_variables(store):
            if not optimizer.built and len(store.keys()) > len(optimizer.variables):
                optimizer.build(self.trainable_variables)
            load(store)

        optimizer.load_own_variables = load_own_variables

    def predict_features(self, features):
        """`keras.Model.predict_on_batch` on features the preprocessor already made (numpy out).

        Keras runs the whole model eagerly before its compiled predict function
        whenever one of its layers is unbuilt, and loading never builds a keras-hub
        preprocessor's layers (tokenizer, packer, resizing): they are built here
        once, so every call runs compiled only (MiniLM, 32 x 128 tokens, JAX: 0.48 s
        per call instead of 1.59 s; `benchmarks/predict_features.py`).
        """
        if not self.__dict__.get("_preprocessing_built"):
            for _ in range(3):  # building a preprocessor can add its packer, itself unbuilt
                for layer in list(self._flatten_layers()):
                    if not layer.built:
                        layer.build(None)
            self._preprocessing_built = True
        return keras.ops.convert_to_numpy(keras.Model.predict_on_batch(self, features))

    def get_weights(self):
        """Keras' `get_weights`; weights split across processes (`kerasprop.distributed`) are gathered whole.

        In a multi-process job every process must call it.
        """
        return [distributed.gather(variable) for variable in self.weights]

    def save_to_preset(self, preset_dir, **kwargs):
        """keras-hub's `save_to_preset`; a model on a base backbone saves only what it adds (`base_backbone`).

        In a multi-process job (`kerasprop.distributed`) only process 0 writes; every
        process must call it, and returns once the folder is written.
        """
        try:
            if distributed.process_index() == 0:
                self.write_preset(preset_dir, **kwargs)
        finally:
            distributed.barrier("kerasprop-save-to-preset")

    def write_preset(self, preset_dir, **kwargs):
        """Writes the preset folder from this process alone, whichever process it is (no barrier)."""
        if getattr(self, "base_backbone", None):
            return save_delta(self, preset_dir)
        super(BaseModel, self).save_to_preset(preset_dir, **kwargs)
        for weights_file in ("task.weights.h5", "model.weights.h5"):
            drop_optimizer_state(os.path.join(preset_dir, weights_file))

    def load_task_weights(self, filepath):
        # Presets hold no optimizer state worth restoring; Keras would warn for every preset loaded.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            super(BaseModel, self).load_task_weights(filepath)

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


#: Attributes where kerasprop's models keep compiled functions of their weights.
COMPILED_CACHES = ("_forward", "_image_forward", "_text_forward", "_generate_functions", "_task_generators")


@contextlib.contextmanager
def _one_garbage_collection():
    """Collects garbage once, after the block, instead of each time a Keras layer drops a variable.

    Keras' `Layer.__delattr__` runs `gc.collect()` for every variable it drops, and quantizing drops each
    float kernel: 39 full collections for MiniLM, 0.6 s each in a fresh process and more in a busy one
    (about 24 of the 26 seconds `quantize("int8")` took; measured with cProfile).
    """
    collect = gc.collect
    gc.collect = lambda generation=2: 0
    try:
        yield
    finally:
        gc.collect = collect
        gc.collect()


def _quantizable(layer):
    """Whether Keras can quantize `layer`: built, with weights, and a layer class that implements `quantize`."""
    return layer.built and bool(layer.weights) and type(layer).quantize is not keras.Layer.quantize


def _quantized(model):
    """Whether any layer of `model` holds quantized weights already."""
    return any(getattr(layer, "quantization_mode", None) for layer in model._flatten_layers(include_self=False))


def family_member(family, preset):
    """The registered subclass of the mixin `family` built on `preset`'s backbone (keras-hub's own lookup)."""
    from kerasprop.compat import find_subclass, get_preset_loader

    backbone_cls = get_preset_loader(preset).check_backbone_class()
    return find_subclass(preset, family, backbone_cls)


def register_former_name(cls, former_name):
    """Lets folders saved under a class's former registered name load with `cls` (`kerasprop>former_name`)."""
    keras.saving.get_custom_objects()[f"kerasprop>{former_name}"] = cls


def _contract_name(keras_name):
    """A contract-valid name from a Keras layer name (e.g. `t5_multi_task`)."""
    name = keras_name.lower()
    try:
        return check_name(name)
    except ValueError:
        cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:100]
        return check_name(cleaned if len(cleaned) >= 3 else cleaned + "-model")
