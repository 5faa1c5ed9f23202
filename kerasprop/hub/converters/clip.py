"""Hugging Face CLIP checkpoints (`model_type: clip`) as keras-hub `CLIPBackbone`s.

Importing this module registers the converter, after which
`keras_hub.models.CLIPBackbone.from_preset("hf://openai/clip-vit-base-patch32")`
(or a local folder in that format) works, and so does `kerasprop.models.CLIP`.
"""

import sys

import numpy as np
from keras_hub.models import CLIPBackbone, CLIPTextEncoder, CLIPVisionEncoder

from kerasprop.compat import check_file_exists, get_file, load_json
from kerasprop.hub.converters import register_converter

backbone_cls = CLIPBackbone

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def convert_backbone_config(transformers_config):
    vision, text = transformers_config["vision_config"], transformers_config["text_config"]
    size = vision["image_size"]
    return {
        "vision_encoder": CLIPVisionEncoder(
            patch_size=vision["patch_size"],
            hidden_dim=vision["hidden_size"],
            num_layers=vision["num_hidden_layers"],
            num_heads=vision["num_attention_heads"],
            intermediate_dim=vision["intermediate_size"],
            intermediate_activation=vision.get("hidden_act", "quick_gelu"),
            image_shape=(size, size, 3),
        ),
        "text_encoder": CLIPTextEncoder(
            vocabulary_size=text["vocab_size"],
            embedding_dim=text["hidden_size"],
            hidden_dim=text["hidden_size"],
            num_layers=text["num_hidden_layers"],
            num_heads=text["num_attention_heads"],
            intermediate_dim=text["intermediate_size"],
            intermediate_activation=text.get("hidden_act", "quick_gelu"),
            max_sequence_length=text["max_position_embeddings"],
        ),
        "projection_dim": transformers_config["projection_dim"],
    }


def convert_weights(backbone, loader, transformers_config):
    def port_dense(dense, key):
        loader.port_weight(dense.kernel, f"{key}.weight", hook_fn=lambda x, _: x.T)
        if dense.bias is not None:
            loader.port_weight(dense.bias, f"{key}.bias")

    def port_layer_norm(layer_norm, key):
        loader.port_weight(layer_norm.gamma, f"{key}.weight")
        loader.port_weight(layer_norm.beta, f"{key}.bias")

    def port_attention(attention, key):
        for keras_name, hf_name in (("query", "q"), ("key", "k"), ("value", "v")):
            dense = getattr(attention, f"{keras_name}_dense")
            loader.port_weight(dense.kernel, f"{key}.{hf_name}_proj.weight",
                               hook_fn=lambda x, shape: np.reshape(x.T, shape))
            loader.port_weight(dense.bias, f"{key}.{hf_name}_proj.bias",
                               hook_fn=lambda x, shape: np.reshape(x, shape))
        loader.port_weight(attention.output_dense.kernel, f"{key}.out_proj.weight",
                           hook_fn=lambda x, shape: np.reshape(x.T, shape))
        loader.port_weight(attention.output_dense.bias, f"{key}.out_proj.bias")

    def port_encoder_layers(layers, prefix):
        for i, layer in enumerate(layers):
            key = f"{prefix}.encoder.layers.{i}"
            port_layer_norm(layer.layer_norm_1, f"{key}.layer_norm1")
            port_attention(layer.attention, f"{key}.self_attn")
            port_layer_norm(layer.layer_norm_2, f"{key}.layer_norm2")
            port_dense(layer.dense_1, f"{key}.mlp.fc1")
            port_dense(layer.dense_2, f"{key}.mlp.fc2")

    vision = backbone.vision_encoder
    embedding = vision.embedding
    loader.port_weight(embedding.patch_embedding.kernel, "vision_model.embeddings.patch_embedding.weight",
                       hook_fn=lambda x, _: np.transpose(x, (2, 3, 1, 0)))
    loader.port_weight(embedding.position_embedding.embeddings, "vision_model.embeddings.position_embedding.weight")
    loader.port_weight(embedding.class_embedding, "vision_model.embeddings.class_embedding")
    embedding.position_ids.assign(np.arange(embedding.num_positions)[None])
    port_layer_norm(vision.pre_layer_norm, "vision_model.pre_layrnorm")
    port_encoder_layers(vision.encoder_layers, "vision_model")
    port_layer_norm(vision.layer_norm, "vision_model.post_layernorm")
    port_dense(backbone.vision_projection, "visual_projection")

    text = backbone.text_encoder
    loader.port_weight(text.embedding.token_embedding.embeddings, "text_model.embeddings.token_embedding.weight")
    loader.port_weight(text.embedding.position_embedding.position_embeddings,
                       "text_model.embeddings.position_embedding.weight")
    port_encoder_layers(text.encoder_layers, "text_model")
    port_layer_norm(text.layer_norm, "text_model.final_layer_norm")
    port_dense(backbone.text_projection, "text_projection")

    loader.port_weight(backbone.clip_head.logit_scale, "logit_scale")


def convert_tokenizer(cls, preset, **kwargs):
    """A `CLIPTokenizer` from `vocab.json` and `merges.txt`, or from `tokenizer.json` alone."""
    if check_file_exists(preset, "vocab.json") and check_file_exists(preset, "merges.txt"):
        return cls(vocabulary=get_file(preset, "vocab.json"), merges=get_file(preset, "merges.txt"), **kwargs)
    bpe = load_json(preset, "tokenizer.json")["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in bpe["merges"]]
    return cls(vocabulary=bpe["vocab"], merges=merges, **kwargs)


def image_processor_config(preset):
    """The `CLIPImageProcessor` settings of a checkpoint (`{}` if it has none)."""
    if check_file_exists(preset, "preprocessor_config.json"):
        return load_json(preset, "preprocessor_config.json")
    if check_file_exists(preset, "processor_config.json"):
        return load_json(preset, "processor_config.json").get("image_processor", {})
    return {}


def load_image_converter_config(preset, transformers_config):
    config = image_processor_config(preset)
    crop = config.get("crop_size", transformers_config["vision_config"]["image_size"])
    height, width = (crop["height"], crop["width"]) if isinstance(crop, dict) else (crop, crop)
    rescale = config.get("rescale_factor", 1 / 255)
    mean = config.get("image_mean", OPENAI_CLIP_MEAN)
    std = config.get("image_std", OPENAI_CLIP_STD)
    return {
        "image_size": (height, width),
        "scale": [rescale / s for s in std],
        "offset": [-m / s for m, s in zip(mean, std)],
        "interpolation": "bicubic",
    }


def load_preprocessor_config(preset, transformers_config):
    return {"sequence_length": transformers_config["text_config"]["max_position_embeddings"]}


register_converter("clip", sys.modules[__name__])
