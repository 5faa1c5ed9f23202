"""Converts Hugging Face `model_type: t5` checkpoints to keras-hub's T5.

keras-hub 0.32 reads Hugging Face folders through converter modules (one per
`model_type`, in `keras_hub/src/utils/transformers/`) but has none for T5.
This module is such a converter: it has the same four names keras-hub's
`TransformersPresetLoader` calls (`backbone_cls`, `convert_backbone_config`,
`convert_weights`, `convert_tokenizer`, plus `load_preprocessor_config`), and
importing it registers it with `kerasprop.hub.converters.register_converter`, so T5 folders and
`hf://` handles load with keras-hub's own loading code.

Both T5 generations load: v1.0 (`feed_forward_proj: relu`, decoder output
scaled before the tied language-model head) and v1.1 / FLAN-T5
(`gated-gelu`, unscaled, with or without a separate `lm_head`). The
tokenizer is the checkpoint's SentencePiece `spiece.model`.
"""

import sys

import numpy as np
from keras_hub.models import T5Backbone
from safetensors import SafetensorError

from kerasprop.compat import check_file_exists, gelu_approximate, get_file
from kerasprop.hub.converters import register_converter

backbone_cls = T5Backbone

#: keras-hub's T5 attention has these relative-position constants built in.
_RELATIVE_BUCKETS, _RELATIVE_MAX_DISTANCE = 32, 128
#: Hugging Face `dense_act_fn` -> Keras activation.
_ACTIVATIONS = {"relu": "relu", "gelu_new": gelu_approximate, "gelu_pytorch_tanh": gelu_approximate, "gelu": "gelu"}

def scales_decoder_output(transformers_config):
    """Whether the checkpoint rescales the decoder output by `d_model**-0.5` before the head.

    transformers >= 5 writes `scale_decoder_outputs`; older checkpoints say
    the same through `tie_word_embeddings` (v1.1 sets it to `False`).
    """
    if "scale_decoder_outputs" in transformers_config:
        return bool(transformers_config["scale_decoder_outputs"])
    return transformers_config.get("tie_word_embeddings", True) is not False


def convert_backbone_config(transformers_config):
    config = transformers_config
    num_layers = config["num_layers"]
    if config.get("num_decoder_layers", num_layers) != num_layers:
        raise ValueError(
            f"keras-hub's T5Backbone needs as many decoder as encoder layers; this checkpoint has "
            f"num_layers={num_layers} and num_decoder_layers={config['num_decoder_layers']}."
        )
    buckets = config.get("relative_attention_num_buckets", _RELATIVE_BUCKETS)
    distance = config.get("relative_attention_max_distance", _RELATIVE_MAX_DISTANCE)
    if (buckets, distance) != (_RELATIVE_BUCKETS, _RELATIVE_MAX_DISTANCE):
        raise ValueError(
            f"keras-hub's T5 attention uses {_RELATIVE_BUCKETS} relative position buckets up to distance "
            f"{_RELATIVE_MAX_DISTANCE}; this checkpoint has {buckets} up to {distance}."
        )
    feed_forward = config.get("feed_forward_proj", "relu")
    gated = feed_forward.startswith("gated-")
    activation = config.get("dense_act_fn") or feed_forward.split("-")[-1]
    if feed_forward == "gated-gelu":
        activation = "gelu_new"  # what transformers uses for gated-gelu
    if activation not in _ACTIVATIONS:
        raise ValueError(f"Unsupported T5 feed-forward activation {activation!r}; known: {sorted(_ACTIVATIONS)}.")
    return {
        "vocabulary_size": config["vocab_size"],
        "num_layers": num_layers,
        "num_heads": config["num_heads"],
        "hidden_dim": config["d_model"],
        "intermediate_dim": config["d_ff"],
        "key_value_dim": config["d_kv"],
        "dropout": config.get("dropout_rate", 0.1),
        "activation": _ACTIVATIONS[activation],
        "use_gated_activation": gated,
        "layer_norm_epsilon": config.get("layer_norm_epsilon", 1e-6),
        # keras-hub scales the decoder output exactly when the head is tied.
        "tie_embedding_weights": scales_decoder_output(config),
    }


def _transpose(hf_tensor, keras_shape):
    return np.reshape(np.transpose(hf_tensor), keras_shape)


def _port_attention(loader, attention, prefix):
    for keras_name, hf_name in (("query", "q"), ("key", "k"), ("value", "v"), ("output", "o")):
        loader.port_weight(
            getattr(attention, f"{keras_name}_projector").kernel, f"{prefix}.{hf_name}.weight", hook_fn=_transpose
        )
    if attention.use_relative_attention_bias:
        loader.port_weight(attention.relative_attention_bias, f"{prefix}.relative_attention_bias.weight")


def _port_feedforward(loader, layer, prefix):
    if layer.use_gated_activation:
        loader.port_weight(layer.input_projector.kernel, f"{prefix}.wi_0.weight", hook_fn=_transpose)
        loader.port_weight(layer.gate_projector.kernel, f"{prefix}.wi_1.weight", hook_fn=_transpose)
    else:
        loader.port_weight(layer.input_projector.kernel, f"{prefix}.wi.weight", hook_fn=_transpose)
    loader.port_weight(layer.output_projector.kernel, f"{prefix}.wo.weight", hook_fn=_transpose)


def convert_weights(backbone, loader, transformers_config):
    loader.port_weight(backbone.token_embedding.embeddings, "shared.weight")
    if not backbone.tie_embedding_weights:
        # v1.1 checkpoints written before transformers 5 store their own head;
        # later ones tie it to `shared` (without the output scaling).
        try:
            head = loader.get_tensor("lm_head.weight")
        except (KeyError, SafetensorError):
            head = loader.get_tensor("shared.weight")
        backbone.token_embedding.reverse_embeddings.assign(np.transpose(head))

    for i, layer in enumerate(backbone.encoder_transformer_layers):
        prefix = f"encoder.block.{i}.layer"
        _port_attention(loader, layer.self_attention, f"{prefix}.0.SelfAttention")
        loader.port_weight(layer.self_attention_layer_norm.weight, f"{prefix}.0.layer_norm.weight")
        _port_feedforward(loader, layer, f"{prefix}.1.DenseReluDense")
        loader.port_weight(layer.layer_norm.weight, f"{prefix}.1.layer_norm.weight")
    loader.port_weight(backbone.encoder_layer_norm.weight, "encoder.final_layer_norm.weight")

    for i, layer in enumerate(backbone.decoder_transformer_layers):
        prefix = f"decoder.block.{i}.layer"
        _port_attention(loader, layer.self_attention, f"{prefix}.0.SelfAttention")
        loader.port_weight(layer.self_attention_layer_norm.weight, f"{prefix}.0.layer_norm.weight")
        _port_attention(loader, layer.cross_attention, f"{prefix}.1.EncDecAttention")
        loader.port_weight(layer.cross_attention_layer_norm.weight, f"{prefix}.1.layer_norm.weight")
        _port_feedforward(loader, layer, f"{prefix}.2.DenseReluDense")
        loader.port_weight(layer.layer_norm.weight, f"{prefix}.2.layer_norm.weight")
    loader.port_weight(backbone.decoder_layer_norm.weight, "decoder.final_layer_norm.weight")


def convert_tokenizer(cls, preset, **kwargs):
    if not check_file_exists(preset, "spiece.model"):
        raise ValueError(
            f"The T5 checkpoint {preset!r} has no SentencePiece 'spiece.model'; kerasprop's T5 converter "
            "reads the tokenizer from that file."
        )
    return cls(proto=get_file(preset, "spiece.model"), **kwargs)


def load_preprocessor_config(preset, transformers_config):
    """T5 was trained on 512-token inputs: pack to that rather than keras-hub's 1024."""
    length = transformers_config.get("n_positions", 512)
    return {"encoder_sequence_length": length, "decoder_sequence_length": length}


register_converter("t5", sys.modules[__name__])
