"""Converters for Hugging Face checkpoints that keras-hub cannot read yet.

A converter is a module with the interface of keras-hub's own `convert_*`
modules in `keras_hub.src.utils.transformers` (`backbone_cls`,
`convert_backbone_config`, `convert_weights`, `convert_tokenizer`, and
optionally `load_image_converter_config`, `load_preprocessor_config`, ...).
`register_converter(model_type, module)` makes keras-hub's transformers preset
loader use it for folders and `hf://` handles whose `config.json` has that
`model_type`, so `from_preset` works on them like on any supported checkpoint.
"""

import importlib

from kerasprop.schemas.specs import describe

_CONVERTERS = {}
#: kerasprop's converter modules; each registers itself when imported.
BUILTIN_CONVERTERS = (
    "kerasprop.hub.converters.t5",
    "kerasprop.hub.converters.clip",
    "kerasprop.hub.converters.deberta_v3",
    "kerasprop.hub.converters.whisper",
    "kerasprop.hub.converters.moonshine",
    "kerasprop.hub.converters.bert",
    "kerasprop.hub.converters.bart",
)


def register_converter(model_type, converter):
    """Makes keras-hub load Hugging Face checkpoints of `model_type` with `converter`."""
    if not isinstance(model_type, str) or not model_type:
        raise TypeError(f"'model_type' must be a non-empty string, got {describe(model_type)}.")
    missing = [a for a in ("backbone_cls", "convert_backbone_config", "convert_weights") if not hasattr(converter, a)]
    if missing:
        raise TypeError(f"A converter for {model_type!r} needs {missing}; {describe(converter)} lacks them.")
    _CONVERTERS[model_type] = converter
    _install_hook()
    return converter


def registered_converters():
    """The model types kerasprop adds to keras-hub's transformers loader."""
    return dict(_CONVERTERS)


def _install_hook():
    """Wraps `TransformersPresetLoader.__init__` once to consult `_CONVERTERS` first."""
    from kerasprop.compat import PresetLoader, TransformersPresetLoader

    if getattr(TransformersPresetLoader, "_kerasprop_converters", None) is _CONVERTERS:
        return
    keras_hub_init = TransformersPresetLoader.__init__

    def __init__(self, preset, config):
        converter = _CONVERTERS.get(config.get("model_type"))
        if converter is None:
            keras_hub_init(self, preset, config)
        else:
            PresetLoader.__init__(self, preset, config)
            self.converter = converter

    TransformersPresetLoader.__init__ = __init__
    TransformersPresetLoader._kerasprop_converters = _CONVERTERS


def get_preset_loader(preset):
    """keras-hub's `PresetLoader` for `preset`, with kerasprop's converters registered."""
    from kerasprop.compat import preset_utils

    for module in BUILTIN_CONVERTERS:
        importlib.import_module(module)
    return preset_utils.get_preset_loader(preset)
