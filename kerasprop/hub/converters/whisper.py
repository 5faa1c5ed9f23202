"""Hugging Face Whisper checkpoints -> keras-hub `WhisperBackbone` (keras-hub 0.32 has no Whisper converter).

Reads `WhisperForConditionalGeneration` and `WhisperForAudioClassification`
folders and `hf://` handles: the backbone, the byte-level BPE tokenizer with
Whisper's special and language tokens, and the log-mel feature settings
(`preprocessor_config.json`), and what Whisper's `generate` reads from
`generation_config.json` (`load_generation_config`). An audio-classification
checkpoint has no
decoder; the backbone's decoder then keeps its random initialisation (the
classifier never runs it).
"""

import json
import sys

import numpy as np
from keras_hub.models import WhisperBackbone

from kerasprop.compat import check_file_exists, get_file, load_json
from kerasprop.hub.converters import register_converter

backbone_cls = WhisperBackbone


def convert_backbone_config(transformers_config):
    if transformers_config["encoder_layers"] != transformers_config["decoder_layers"]:
        raise ValueError(
            "keras-hub's WhisperBackbone has as many decoder layers as encoder layers; this checkpoint has "
            f"{transformers_config['encoder_layers']} and {transformers_config['decoder_layers']} "
            "(distil-whisper checkpoints are not supported)."
        )
    if transformers_config.get("use_weighted_layer_sum"):
        raise ValueError("Whisper checkpoints with use_weighted_layer_sum=True are not supported.")
    return {
        "vocabulary_size": transformers_config["vocab_size"],
        "num_layers": transformers_config["encoder_layers"],
        "num_heads": transformers_config["encoder_attention_heads"],
        "hidden_dim": transformers_config["d_model"],
        "intermediate_dim": transformers_config["encoder_ffn_dim"],
        "num_mels": transformers_config["num_mel_bins"],
        "max_encoder_sequence_length": 2 * transformers_config["max_source_positions"],
        "max_decoder_sequence_length": transformers_config["max_target_positions"],
    }


def _linear(tensor, shape):
    """A torch `Linear` weight `(out, in)` as a Keras (Einsum)Dense kernel of `shape`."""
    return np.reshape(np.transpose(tensor), shape)


def _reshape(tensor, shape):
    return np.reshape(tensor, shape)


def _port_attention(loader, layer, prefix):
    for name, hf_name in (("_query_dense", "q_proj"), ("_key_dense", "k_proj"), ("_value_dense", "v_proj")):
        dense = getattr(layer, name)
        loader.port_weight(dense.kernel, f"{prefix}.{hf_name}.weight", _linear)
        if dense.bias is not None:
            loader.port_weight(dense.bias, f"{prefix}.{hf_name}.bias", _reshape)
    loader.port_weight(layer._output_dense.kernel, f"{prefix}.out_proj.weight", _linear)
    loader.port_weight(layer._output_dense.bias, f"{prefix}.out_proj.bias")


def _port_norm(loader, norm, prefix):
    loader.port_weight(norm.gamma, f"{prefix}.weight")
    loader.port_weight(norm.beta, f"{prefix}.bias")


def _port_dense(loader, dense, prefix):
    loader.port_weight(dense.kernel, f"{prefix}.weight", _linear)
    loader.port_weight(dense.bias, f"{prefix}.bias")


def _port_block(loader, block, prefix, cross_attention):
    _port_attention(loader, block._self_attention_layer, f"{prefix}.self_attn")
    _port_norm(loader, block._self_attention_layer_norm, f"{prefix}.self_attn_layer_norm")
    if cross_attention:
        _port_attention(loader, block._cross_attention_layer, f"{prefix}.encoder_attn")
        _port_norm(loader, block._cross_attention_layer_norm, f"{prefix}.encoder_attn_layer_norm")
    _port_dense(loader, block._feedforward_intermediate_dense, f"{prefix}.fc1")
    _port_dense(loader, block._feedforward_output_dense, f"{prefix}.fc2")
    _port_norm(loader, block._feedforward_layer_norm, f"{prefix}.final_layer_norm")


def _has_decoder(loader):
    from safetensors import SafetensorError

    try:
        loader.get_tensor("decoder.embed_tokens.weight")
    except (KeyError, SafetensorError):
        return False
    return True


def convert_weights(backbone, loader, transformers_config):
    conv = lambda tensor, shape: np.transpose(tensor, (2, 1, 0))  # noqa: E731  (out, in, k) -> (k, in, out)
    for i, layer in ((1, backbone.encoder_conv_layer_1), (2, backbone.encoder_conv_layer_2)):
        loader.port_weight(layer.kernel, f"encoder.conv{i}.weight", conv)
        loader.port_weight(layer.bias, f"encoder.conv{i}.bias")
    loader.port_weight(backbone.encoder_position_embedding.position_embeddings, "encoder.embed_positions.weight")
    for i, block in enumerate(backbone.encoder_transformer_layers):
        _port_block(loader, block, f"encoder.layers.{i}", cross_attention=False)
    _port_norm(loader, backbone.encoder_layer_norm, "encoder.layer_norm")
    if not _has_decoder(loader):
        return
    embeddings = backbone.decoder_embeddings
    loader.port_weight(embeddings.token_embedding.embeddings, "decoder.embed_tokens.weight")
    loader.port_weight(embeddings.position_embedding.position_embeddings, "decoder.embed_positions.weight")
    for i, block in enumerate(backbone.decoder_transformer_layers):
        _port_block(loader, block, f"decoder.layers.{i}", cross_attention=True)
    _port_norm(loader, backbone.decoder_layer_norm, "decoder.layer_norm")


def special_tokens(preset):
    """Whisper's added tokens (`<|endoftext|>`, `<|startoftranscript|>`, languages, ...) -> id."""
    if check_file_exists(preset, "tokenizer.json"):
        added = load_json(preset, "tokenizer.json").get("added_tokens", [])
        return {token["content"]: token["id"] for token in added}
    if check_file_exists(preset, "added_tokens.json"):
        return load_json(preset, "added_tokens.json")
    raise ValueError(f"{preset!r} has neither tokenizer.json nor added_tokens.json: Whisper's special tokens are unknown.")


def is_language_token(token):
    """`<|en|>`, `<|yue|>`, `<|haw|>`: language tokens are lowercase letters between `<|` and `|>`."""
    inner = token[2:-2]
    return token.startswith("<|") and token.endswith("|>") and 2 <= len(inner) <= 3 and inner.isalpha() and inner.islower()


def convert_tokenizer(cls, preset, **kwargs):
    with open(get_file(preset, "vocab.json"), encoding="utf-8") as f:
        vocabulary = json.load(f)
    with open(get_file(preset, "merges.txt"), encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    added = special_tokens(preset)
    languages = {token: i for token, i in added.items() if is_language_token(token)}
    specials = {token: i for token, i in added.items() if token not in languages}
    return cls(
        vocabulary=vocabulary,
        merges=merges,
        special_tokens=specials,
        language_tokens=languages or None,
        **kwargs,
    )


def load_audio_converter_config(preset, transformers_config):
    """The log-mel settings of `preprocessor_config.json`; the chunk is the encoder's input length."""
    config = load_json(preset, "preprocessor_config.json") if check_file_exists(preset, "preprocessor_config.json") else {}
    sampling_rate = config.get("sampling_rate", 16000)
    stride = config.get("hop_length", 160)
    frames = 2 * transformers_config["max_source_positions"]
    if (frames * stride) % sampling_rate:
        raise ValueError(
            f"The encoder takes {frames} frames of {stride} samples, which is not a whole number of seconds at "
            f"{sampling_rate} Hz; keras-hub's WhisperAudioConverter needs whole seconds."
        )
    return {
        "num_mels": config.get("feature_size", transformers_config["num_mel_bins"]),
        "num_fft_bins": config.get("n_fft", 400),
        "stride": stride,
        "sampling_rate": sampling_rate,
        "max_audio_length": frames * stride // sampling_rate,
    }


def load_generation_config(preset, transformers_config):
    """What `WhisperForConditionalGeneration.generate` reads from `generation_config.json` (else `config.json`).

    Returns the token suppression settings (`suppress_tokens`,
    `begin_suppress_tokens`, `max_initial_timestamp_index`) and the language
    and task token ids that `forced_decoder_ids` puts after
    `<|startoftranscript|>` (`None` where it leaves them open).
    """
    if check_file_exists(preset, "generation_config.json"):
        generation = load_json(preset, "generation_config.json")
    else:
        generation = transformers_config
    forced = dict(generation.get("forced_decoder_ids") or transformers_config.get("forced_decoder_ids") or ())
    return {
        "suppress_tokens": [int(t) for t in generation.get("suppress_tokens") or ()],
        "begin_suppress_tokens": [int(t) for t in generation.get("begin_suppress_tokens") or ()],
        "max_initial_timestamp_index": generation.get("max_initial_timestamp_index"),
        "language_token_id": forced.get(1),
        "task_token_id": forced.get(2),
    }


def load_task_config(preset, transformers_config):
    """Label names of an audio-classification checkpoint (its `id2label`)."""
    if not any(a.endswith("ForAudioClassification") for a in transformers_config.get("architectures") or ()):
        return {}
    id2label = transformers_config.get("id2label") or {}
    return {"labels": [str(id2label.get(str(i), id2label.get(i))) for i in range(len(id2label))]}


register_converter("whisper", sys.modules[__name__])
