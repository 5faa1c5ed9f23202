"""keras-hub's BERT converter, also for `BertForMaskedLM` checkpoints, which have no pooler.

Hugging Face's `BertForMaskedLM` is built without the pooler that keras-hub's
`BertBackbone` has, so keras-hub's converter fails on its checkpoints. For
those (and only those) this converter leaves the pooler as initialised; the
masked-LM head does not use it. Everything else is keras-hub's `convert_bert`.
"""

import sys

from kerasprop.compat import convert_bert
from kerasprop.hub.converters import register_converter

backbone_cls = convert_bert.backbone_cls
convert_backbone_config = convert_bert.convert_backbone_config
convert_tokenizer = convert_bert.convert_tokenizer


def __getattr__(name):
    """The rest of keras-hub's converter (e.g. `load_task_config`)."""
    return getattr(convert_bert, name)


class _WithoutPooler:
    """A safetensors loader that skips the pooler's weights."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        if not hf_weight_key.startswith("pooler."):
            self._loader.port_weight(keras_variable, hf_weight_key, hook_fn=hook_fn)


def convert_weights(backbone, loader, transformers_config):
    architectures = transformers_config.get("architectures") or []
    if any(a.endswith("ForMaskedLM") for a in architectures) and not _has_pooler(loader):
        loader = _WithoutPooler(loader)
    convert_bert.convert_weights(backbone, loader, transformers_config)


def _has_pooler(loader):
    try:
        loader.get_tensor("pooler.dense.bias")
    except Exception:  # safetensors raises its own error type for a missing tensor
        return False
    return True


register_converter("bert", sys.modules[__name__])
