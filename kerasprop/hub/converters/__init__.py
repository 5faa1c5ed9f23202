"""Converters for Hugging Face checkpoints that keras-hub cannot read yet.

Each converter is a module with the names keras-hub's own converters have
(`backbone_cls`, `convert_backbone_config`, `convert_weights`,
`convert_tokenizer`, ...). `get_preset_loader` returns keras-hub's preset
loader for any preset, with kerasprop's converter plugged in for the
Hugging Face `model_type`s listed in `CONVERTERS`.
"""

import importlib

from keras_hub.src.utils import preset_utils
from keras_hub.src.utils.transformers.preset_loader import TransformersPresetLoader

#: Hugging Face `model_type` -> kerasprop converter module.
CONVERTERS = {"t5": "kerasprop.hub.converters.t5"}


class ConverterPresetLoader(TransformersPresetLoader):
    """keras-hub's Hugging Face preset loader, run with a kerasprop converter module."""

    def __init__(self, preset, config, converter):
        # keras-hub's initialiser picks the converter by model_type and refuses
        # the types it lacks, so only the base initialiser runs.
        preset_utils.PresetLoader.__init__(self, preset, config)
        self.converter = converter


def get_preset_loader(preset):
    """keras-hub's `PresetLoader` for `preset`, reading the `CONVERTERS` model types too."""
    if preset_utils.check_file_exists(preset, preset_utils.CONFIG_FILE):
        config = preset_utils.load_json(preset, preset_utils.CONFIG_FILE)
        model_type = None if "registered_name" in config else config.get("model_type")
        if model_type in CONVERTERS:
            return ConverterPresetLoader(preset, config, importlib.import_module(CONVERTERS[model_type]))
    return preset_utils.get_preset_loader(preset)
