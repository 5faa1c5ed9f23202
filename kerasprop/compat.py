"""The one module that reaches into keras-hub's and Keras' internals (`keras_hub.src`, `keras.src`).

kerasprop needs a few things that keras-hub 0.32 and Keras 3.15 keep out of their
public API: preset loading and saving pieces, the Hugging Face checkpoint reader,
two of keras-hub's own converters, and some private attributes of their layers.
Every other kerasprop module imports them from here, never from `keras_hub.src` or
`keras.src` (`tests/test_compat.py` checks both), and `pyproject.toml` pins keras-hub
and Keras below their next minor release. `PRIVATE_ATTRIBUTES` names the private
attributes relied on; the test checks each one on the pinned versions, so an upgrade
that moves one fails there, by name, instead of somewhere deep in a model.
"""

from keras_hub.src.models.audio_to_text import AudioToText
from keras_hub.src.models.audio_to_text_preprocessor import AudioToTextPreprocessor
from keras_hub.src.utils import preset_utils
from keras_hub.src.utils.keras_utils import gelu_approximate
from keras_hub.src.utils.preset_utils import (
    HF_TOKENIZER_CONFIG_FILE,
    SAFETENSOR_FILE,
    TASK_CONFIG_FILE,
    PresetLoader,
    builtin_presets,
    check_config_class,
    check_file_exists,
    find_subclass,
    get_file,
    get_preset_loader,
    get_preset_saver,
    load_json,
)
from keras_hub.src.utils.python_utils import classproperty
from keras_hub.src.utils.tensor_utils import preprocessing_function
from keras_hub.src.utils.transformers import convert_bart, convert_bert
from keras_hub.src.utils.transformers.preset_loader import TransformersPresetLoader
from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

__all__ = [
    "AudioToText",
    "AudioToTextPreprocessor",
    "HF_TOKENIZER_CONFIG_FILE",
    "PresetLoader",
    "SAFETENSOR_FILE",
    "SafetensorLoader",
    "TASK_CONFIG_FILE",
    "TransformersPresetLoader",
    "builtin_presets",
    "check_config_class",
    "check_file_exists",
    "classproperty",
    "convert_bart",
    "convert_bert",
    "find_subclass",
    "gelu_approximate",
    "get_file",
    "get_preset_loader",
    "get_preset_saver",
    "load_json",
    "preprocessing_function",
    "preset_utils",
]

#: Private attributes kerasprop uses: (owner, attribute, where and why).
#: Owners are public classes; "GPT2 decoder layer" and "its attention" are instances
#: built inside a GPT2Backbone (`tests/test_compat.py` builds a small one).
PRIVATE_ATTRIBUTES = (
    ("keras.Variable", "_initialize_with_initializer", "models/deferred_init.py: skip random initialisation"),
    ("keras.Variable", "_initialize", "models/deferred_init.py: give a variable its zeros"),
    ("keras.Layer", "_flatten_layers", "models/base_backbone.py: freeze the biases of LoRA layers"),
    ("keras.Layer", "_untrack_variable", "models/heads.py: replace a built head's weights"),
    ("keras_hub.models.Task", "_unpickle_model", "models/seq2seq.py: pickled models keep their sequence lengths"),
    ("keras_hub.models.Seq2SeqLMPreprocessor", "_empty_decoder_text", "models/seq2seq.py: generation inputs"),
    ("KerasPresetSaver", "_save_serialized_object", "models/base_backbone.py: presets without backbone weights"),
    ("KerasPresetSaver", "_save_metadata", "models/base_backbone.py: presets without backbone weights"),
    ("TransformersPresetLoader", "__init__", "hub/converters/__init__.py: wrapped to consult kerasprop's converters"),
    ("GPT2 decoder layer", "_self_attention_layer", "models/gpt2.py: the fused decoding step"),
    ("GPT2 decoder layer", "_self_attention_layer_norm", "models/gpt2.py: the fused decoding step"),
    ("GPT2 decoder layer", "_feedforward_layer_norm", "models/gpt2.py: the fused decoding step"),
    ("GPT2 decoder layer", "_feedforward_intermediate_dense", "models/gpt2.py: the fused decoding step"),
    ("GPT2 decoder layer", "_feedforward_output_dense", "models/gpt2.py: the fused decoding step"),
    ("its attention", "_query_dense", "models/gpt2.py: the fused decoding step"),
    ("its attention", "_key_dense", "models/gpt2.py: the fused decoding step"),
    ("its attention", "_value_dense", "models/gpt2.py: the fused decoding step"),
    ("its attention", "_output_dense", "models/gpt2.py: the fused decoding step"),
    ("its attention", "_inverse_sqrt_key_dim", "models/gpt2.py: the fused decoding step"),
)
