"""Hugging Face Moonshine checkpoints -> keras-hub `MoonshineBackbone` (keras-hub 0.32 has no Moonshine converter).

Reads `MoonshineForConditionalGeneration` folders and `hf://` handles
(`UsefulSensors/moonshine-tiny`, ...): the backbone (conv stem with group norm,
rotary encoder and decoder, SwiGLU decoder MLP, bias-free layer norms, tied
output head), the tokenizer (`tokenizer.json`, read by the `tokenizers`
library) and the raw-audio settings (`preprocessor_config.json`).

Hugging Face's `pad_head_dim_to_multiple_of` zero-pads queries, keys and values
at run time for fused attention kernels and keeps the unpadded scale and rotary
width, so the unpadded keras-hub backbone computes the same function. Settings
keras-hub's backbone cannot represent raise a `ValueError` naming the setting.
"""

import sys

import numpy as np
from keras_hub.models import MoonshineBackbone

from kerasprop.compat import check_file_exists, get_file, load_json
from kerasprop.hub.converters import register_converter

backbone_cls = MoonshineBackbone


def rope_settings(transformers_config):
    """`(rope_theta, partial_rotary_factor)` from `rope_parameters` (transformers 5) or the top level (earlier)."""
    rope = dict(transformers_config.get("rope_parameters") or transformers_config.get("rope_scaling") or {})
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default":
        raise ValueError(f"Moonshine checkpoints with rope_type={rope_type!r} are not supported (only 'default').")
    theta = rope.get("rope_theta", transformers_config.get("rope_theta", 10000.0))
    factor = rope.get("partial_rotary_factor", transformers_config.get("partial_rotary_factor", 0.9))
    return float(theta), float(factor)


def convert_backbone_config(transformers_config):
    config = transformers_config
    hidden, heads = config["hidden_size"], config["decoder_num_attention_heads"]
    unsupported = {
        "encoder_num_attention_heads": (config["encoder_num_attention_heads"], heads,
                                        "as many encoder as decoder attention heads"),
        "encoder_num_key_value_heads": (config.get("encoder_num_key_value_heads") or heads, heads,
                                        "no grouped-query attention"),
        "decoder_num_key_value_heads": (config.get("decoder_num_key_value_heads") or heads, heads,
                                        "no grouped-query attention"),
        "head_dim": (config.get("head_dim") or hidden // heads, hidden // heads, "head_dim = hidden_size / heads"),
        "encoder_hidden_act": (config.get("encoder_hidden_act", "gelu"), "gelu", "a GELU encoder MLP"),
        "decoder_hidden_act": (config.get("decoder_hidden_act", "silu"), "silu", "a SwiGLU (SiLU) decoder MLP"),
        "tie_word_embeddings": (config.get("tie_word_embeddings", True), True, "the output head tied to the embeddings"),
    }
    for setting, (value, supported, needs) in unsupported.items():
        if value != supported:
            raise ValueError(f"This Moonshine checkpoint has {setting}={value!r}; keras-hub's MoonshineBackbone "
                             f"needs {needs} ({setting}={supported!r}).")
    if hidden % heads:
        raise ValueError(f"hidden_size={hidden} is not a multiple of decoder_num_attention_heads={heads}.")
    if config["intermediate_size"] % hidden:
        raise ValueError(f"This Moonshine checkpoint has intermediate_size={config['intermediate_size']}, not a "
                         f"multiple of hidden_size={hidden}; keras-hub's MoonshineBackbone needs a whole "
                         "feedforward expansion factor.")
    rope_theta, partial_rotary_factor = rope_settings(config)
    rotary_dim = int(hidden // heads * partial_rotary_factor)
    if rotary_dim <= 0 or rotary_dim % 2:
        raise ValueError(f"partial_rotary_factor={partial_rotary_factor} rotates {rotary_dim} of {hidden // heads} "
                         "head dimensions; keras-hub's MoonshineBackbone needs a positive even number.")
    return {
        "vocabulary_size": config["vocab_size"],
        "filter_dim": hidden,
        "encoder_num_layers": config["encoder_num_hidden_layers"],
        "decoder_num_layers": config["decoder_num_hidden_layers"],
        "hidden_dim": hidden,
        "intermediate_dim": config["intermediate_size"],
        "encoder_num_heads": heads,
        "decoder_num_heads": heads,
        "feedforward_expansion_factor": config["intermediate_size"] // hidden,
        "encoder_use_swiglu_activation": False,
        "decoder_use_swiglu_activation": True,
        "max_position_embeddings": config.get("max_position_embeddings", 512),
        "partial_rotary_factor": partial_rotary_factor,
        "rope_theta": rope_theta,
        "attention_bias": bool(config.get("attention_bias", False)),
        "attention_dropout": float(config.get("attention_dropout", 0.0)),
        "initializer_range": config.get("initializer_range", 0.02),
    }


def _linear(tensor, shape):
    """A torch `Linear` weight `(out, in)` as a Keras (Einsum)Dense kernel of `shape`."""
    return np.reshape(np.transpose(tensor), shape)


def _conv(tensor, shape):
    """A torch `Conv1d` weight `(out, in, width)` as a Keras `Conv1D` kernel `(width, in, out)`."""
    return np.transpose(tensor, (2, 1, 0))


def _port_attention(loader, attention, prefix):
    for dense, name in ((attention._query_dense, "q_proj"), (attention._key_dense, "k_proj"),
                        (attention._value_dense, "v_proj")):
        loader.port_weight(dense.kernel, f"{prefix}.{name}.weight", _linear)
        if dense.bias is not None:
            loader.port_weight(dense.bias, f"{prefix}.{name}.bias", lambda tensor, shape: np.reshape(tensor, shape))
    # Hugging Face's output projection has no bias; keras-hub's (with attention_bias) keeps its zeros.
    loader.port_weight(attention._output_dense.kernel, f"{prefix}.o_proj.weight", _linear)


def _port_mlp(loader, mlp, prefix):
    for dense, name in ((mlp.dense_1, "fc1"), (mlp.dense_2, "fc2")):
        loader.port_weight(dense.kernel, f"{prefix}.{name}.weight", _linear)
        loader.port_weight(dense.bias, f"{prefix}.{name}.bias")


def convert_weights(backbone, loader, transformers_config):
    loader.port_weight(backbone.conv1.kernel, "encoder.conv1.weight", _conv)
    loader.port_weight(backbone.group_norm.gamma, "encoder.groupnorm.weight")
    loader.port_weight(backbone.group_norm.beta, "encoder.groupnorm.bias")
    for layer, name in ((backbone.conv2, "conv2"), (backbone.conv3, "conv3")):
        loader.port_weight(layer.kernel, f"encoder.{name}.weight", _conv)
        loader.port_weight(layer.bias, f"encoder.{name}.bias")
    for i, block in enumerate(backbone.encoder_blocks):
        prefix = f"encoder.layers.{i}"
        loader.port_weight(block.self_attention_layer_norm.gamma, f"{prefix}.input_layernorm.weight")
        _port_attention(loader, block.self_attention_layer, f"{prefix}.self_attn")
        loader.port_weight(block.feedforward_layer_norm.gamma, f"{prefix}.post_attention_layernorm.weight")
        _port_mlp(loader, block.feedforward, f"{prefix}.mlp")
    loader.port_weight(backbone.encoder_final_layer_norm.gamma, "encoder.layer_norm.weight")
    loader.port_weight(backbone.token_embedding.embeddings, "decoder.embed_tokens.weight")
    for i, block in enumerate(backbone.decoder_blocks):
        prefix = f"decoder.layers.{i}"
        loader.port_weight(block.norm1.gamma, f"{prefix}.input_layernorm.weight")
        _port_attention(loader, block.self_attention, f"{prefix}.self_attn")
        loader.port_weight(block.norm2.gamma, f"{prefix}.post_attention_layernorm.weight")
        _port_attention(loader, block.cross_attention, f"{prefix}.encoder_attn")
        loader.port_weight(block.norm3.gamma, f"{prefix}.final_layernorm.weight")
        _port_mlp(loader, block.ff, f"{prefix}.mlp")
    loader.port_weight(backbone.decoder_post_norm.gamma, "decoder.norm.weight")


def convert_tokenizer(cls, preset, **kwargs):
    """The checkpoint's `tokenizer.json`; start and end tokens are the config's decoder start and end ids."""
    if not check_file_exists(preset, "tokenizer.json"):
        raise ValueError(f"{preset!r} has no tokenizer.json; kerasprop reads Moonshine's tokenizer from it.")
    with open(get_file(preset, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer_json = f.read()
    config = load_json(preset, "config.json")
    eos = config.get("eos_token_id", 2)
    return cls(
        tokenizer_json=tokenizer_json,
        start_token_id=config.get("decoder_start_token_id", 1),
        end_token_id=eos[0] if isinstance(eos, list) else eos,
        **kwargs,
    )


def load_audio_converter_config(preset, transformers_config):
    """Raw-audio settings of `preprocessor_config.json` (Moonshine reads 16 kHz samples, not features)."""
    config = load_json(preset, "preprocessor_config.json") if check_file_exists(preset, "preprocessor_config.json") else {}
    if config.get("sampling_rate", 16000) != 16000:
        raise ValueError(f"This Moonshine checkpoint reads audio at sampling_rate={config['sampling_rate']}; "
                         "kerasprop gives models 16000 Hz audio.")
    return {"padding_value": float(config.get("padding_value", 0.0)), "do_normalize": bool(config.get("do_normalize", False))}


def load_preprocessor_config(preset, transformers_config):
    """The decoder length: `max_length` of `generation_config.json` when the checkpoint has one."""
    if check_file_exists(preset, "generation_config.json"):
        max_length = load_json(preset, "generation_config.json").get("max_length")
        if max_length:
            return {"decoder_sequence_length": int(max_length)}
    return {}


register_converter("moonshine", sys.modules[__name__])
