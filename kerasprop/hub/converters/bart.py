"""Converts Hugging Face `model_type: bart` checkpoints, as transformers 5 writes them too.

keras-hub's BART converter reads the layer count from `num_hidden_layers`,
which older transformers wrote into `config.json` and transformers 5 leaves
out (it keeps `encoder_layers` and `decoder_layers`). This converter is
keras-hub's with the layer count taken from `encoder_layers`; keras-hub's
`BartBackbone` has one size for both stacks, so a checkpoint whose decoder
differs from its encoder is refused with a clear error.
"""

import sys

from kerasprop.compat import convert_bart
from kerasprop.hub.converters import register_converter

# keras-hub's own, unchanged.
backbone_cls = convert_bart.backbone_cls
convert_tokenizer = convert_bart.convert_tokenizer
convert_weights = convert_bart.convert_weights

#: (encoder key, decoder key) pairs that keras-hub's `BartBackbone` needs equal.
_SHARED_SIZES = (("encoder_layers", "decoder_layers"), ("encoder_attention_heads", "decoder_attention_heads"),
                 ("encoder_ffn_dim", "decoder_ffn_dim"))


def convert_backbone_config(transformers_config):
    config = transformers_config
    for encoder_key, decoder_key in _SHARED_SIZES:
        if config.get(decoder_key, config[encoder_key]) != config[encoder_key]:
            raise ValueError(
                f"keras-hub's BartBackbone has the same sizes in its encoder and decoder; this checkpoint has "
                f"{encoder_key}={config[encoder_key]} and {decoder_key}={config[decoder_key]}."
            )
    layers = config.get("num_hidden_layers", config["encoder_layers"])
    return convert_bart.convert_backbone_config({**config, "num_hidden_layers": layers})


register_converter("bart", sys.modules[__name__])
