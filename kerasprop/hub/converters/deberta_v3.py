"""Converts Hugging Face `model_type: deberta-v2` checkpoints (DeBERTa-v3) to keras-hub's DeBERTa-v3.

Hugging Face stores DeBERTa-v3 with its `DebertaV2*` classes; keras-hub 0.32 has
`DebertaV3Backbone` and `DebertaV3Tokenizer` but no converter for them. This
module is one, with the names keras-hub's `TransformersPresetLoader` calls
(`backbone_cls`, `convert_backbone_config`, `convert_weights`,
`convert_tokenizer`); importing it registers it with
`kerasprop.hub.converters.register_converter`. Sequence-classification heads
(`DebertaV2ForSequenceClassification`: `pooler.dense`, then `classifier`) load
through `kerasprop.hub.converters.classification_heads`.

keras-hub's disentangled attention is DeBERTa-v3's: relative positions in
log buckets (`position_buckets` of them, up to `max_relative_positions`),
content-to-position and position-to-content scores computed with the
content query/key projections (`share_att_key`), layer-normalised relative
embeddings, no absolute positions and no token types. A checkpoint that sets
any of these otherwise (DeBERTa-v2's convolution layer, for one) cannot be
represented, and `convert_backbone_config` raises an error naming the setting.
The tokenizer is the checkpoint's SentencePiece `spm.model`.
"""

import sys

import numpy as np
from keras_hub.models import DebertaV3Backbone

from kerasprop.compat import (
    HF_TOKENIZER_CONFIG_FILE,
    check_file_exists,
    get_file,
    load_json,
)
from kerasprop.hub.converters import register_converter

backbone_cls = DebertaV3Backbone

#: keras-hub builds every DeBERTa-v3 layer norm with this epsilon.
_LAYER_NORM_EPSILON = 1e-7


def unsupported_settings(config):
    """(setting, its value, what keras-hub's DeBERTa-v3 computes instead) for each setting it cannot represent."""
    pos_att_type = config.get("pos_att_type") or []
    if isinstance(pos_att_type, str):
        pos_att_type = pos_att_type.split("|")
    head_size = config["hidden_size"] // config["num_attention_heads"]
    settings = [
        # (setting, value, representable, what keras-hub computes)
        ("relative_attention", config.get("relative_attention", False), lambda v: v is True, "relative attention"),
        ("position_buckets", config.get("position_buckets", -1), lambda v: v > 0, "log-bucketed relative positions"),
        ("pos_att_type", pos_att_type, lambda v: sorted(x.strip().lower() for x in v) == ["c2p", "p2c"],
         "content-to-position and position-to-content attention"),
        ("share_att_key", config.get("share_att_key", False), lambda v: v is True,
         "position projections shared with the content query and key"),
        ("norm_rel_ebd", config.get("norm_rel_ebd", "none"),
         lambda v: "layer_norm" in str(v).replace(" ", "").split("|"),
         "layer-normalised relative embeddings"),
        ("position_biased_input", config.get("position_biased_input", True), lambda v: v is False,
         "no absolute position embeddings"),
        ("type_vocab_size", config.get("type_vocab_size", 0), lambda v: v == 0, "no token type embeddings"),
        ("embedding_size", config.get("embedding_size"), lambda v: v in (None, config["hidden_size"]),
         "embeddings of the hidden size"),
        ("conv_kernel_size", config.get("conv_kernel_size", 0), lambda v: v == 0, "no convolution layer"),
        ("hidden_act", config.get("hidden_act", "gelu"), lambda v: v == "gelu", "exact GELU"),
        ("layer_norm_eps", config.get("layer_norm_eps", _LAYER_NORM_EPSILON), lambda v: v == _LAYER_NORM_EPSILON,
         f"layer norms with epsilon {_LAYER_NORM_EPSILON}"),
        ("attention_head_size", config.get("attention_head_size", head_size), lambda v: v == head_size,
         "heads of hidden_size / num_attention_heads"),
    ]
    return [(name, value, meaning) for name, value, representable, meaning in settings if not representable(value)]


def convert_backbone_config(transformers_config):
    config = transformers_config
    unsupported = unsupported_settings(config)
    if unsupported:
        settings = "; ".join(f"{name}={value!r} (keras-hub computes {meaning})" for name, value, meaning in unsupported)
        raise ValueError(f"keras-hub's DeBERTa-v3 cannot represent this deberta-v2 checkpoint: {settings}.")
    max_relative_positions = config.get("max_relative_positions", -1)
    if max_relative_positions < 1:
        max_relative_positions = config["max_position_embeddings"]
    return {
        "vocabulary_size": config["vocab_size"],
        "num_layers": config["num_hidden_layers"],
        "num_heads": config["num_attention_heads"],
        "hidden_dim": config["hidden_size"],
        "intermediate_dim": config["intermediate_size"],
        "dropout": config.get("hidden_dropout_prob", 0.1),
        # keras-hub's only use of max_sequence_length is the range of the log position buckets.
        "max_sequence_length": max_relative_positions,
        "bucket_size": config["position_buckets"],
    }


def _transpose(hf_tensor, keras_shape):
    return np.reshape(np.transpose(hf_tensor), keras_shape)


def _reshape(hf_tensor, keras_shape):
    return np.reshape(hf_tensor, keras_shape)


def _port_layer_norm(loader, layer, prefix):
    loader.port_weight(layer.gamma, f"{prefix}.weight")
    loader.port_weight(layer.beta, f"{prefix}.bias")


def _port_dense(loader, layer, prefix):
    loader.port_weight(layer.kernel, f"{prefix}.weight", hook_fn=_transpose)
    loader.port_weight(layer.bias, f"{prefix}.bias", hook_fn=_reshape)


def convert_weights(backbone, loader, transformers_config):
    loader.port_weight(backbone.token_embedding.embeddings, "embeddings.word_embeddings.weight")
    _port_layer_norm(loader, backbone.embeddings_layer_norm, "embeddings.LayerNorm")
    loader.port_weight(backbone.relative_embeddings.rel_embeddings, "encoder.rel_embeddings.weight")
    _port_layer_norm(loader, backbone.relative_embeddings.layer_norm, "encoder.LayerNorm")
    for i, layer in enumerate(backbone.transformer_layers):
        prefix = f"encoder.layer.{i}"
        attention = layer._self_attention_layer
        for keras_dense, hf_name in (
            (attention._query_dense, "query_proj"),
            (attention._key_dense, "key_proj"),
            (attention._value_dense, "value_proj"),
        ):
            _port_dense(loader, keras_dense, f"{prefix}.attention.self.{hf_name}")
        _port_dense(loader, attention._output_dense, f"{prefix}.attention.output.dense")
        _port_layer_norm(loader, layer._self_attention_layer_norm, f"{prefix}.attention.output.LayerNorm")
        _port_dense(loader, layer._feedforward_intermediate_dense, f"{prefix}.intermediate.dense")
        _port_dense(loader, layer._feedforward_output_dense, f"{prefix}.output.dense")
        _port_layer_norm(loader, layer._feedforward_layer_norm, f"{prefix}.output.LayerNorm")


def convert_tokenizer(cls, preset, **kwargs):
    if check_file_exists(preset, HF_TOKENIZER_CONFIG_FILE):
        if load_json(preset, HF_TOKENIZER_CONFIG_FILE).get("do_lower_case"):
            raise ValueError(
                "keras-hub's DebertaV3Tokenizer does not lowercase; this checkpoint's tokenizer has do_lower_case=True."
            )
    if not check_file_exists(preset, "spm.model"):
        raise ValueError(
            f"The deberta-v2 checkpoint {preset!r} has no SentencePiece 'spm.model', which keras-hub's "
            "DebertaV3Tokenizer needs (a tokenizer.json alone cannot be read)."
        )
    return cls(proto=get_file(preset, "spm.model"), **kwargs)


register_converter("deberta-v2", sys.modules[__name__])
