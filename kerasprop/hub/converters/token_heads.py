"""Per-token heads of Hugging Face checkpoints: `...ForTokenClassification` and `...ForQuestionAnswering`.

keras-hub converts the backbone of these checkpoints but not their head, and
its BERT converter needs the pooler that these BERT checkpoints lack (they are
built without one). This module loads the backbone with the pooler optional
and ports the head, one dense layer over every token's hidden state for the
three encoder families:

| model_type                   | token classification | question answering |
|------------------------------|----------------------|--------------------|
| bert, roberta, distilbert    | classifier           | qa_outputs         |
"""

from kerasprop.compat import SafetensorLoader
from kerasprop.hub.converters.classification_heads import (
    port_token_type_embedding,
    transformers_config,
)
from kerasprop.schemas.specs import describe

MODEL_TYPES = ("bert", "roberta", "distilbert")
#: Hugging Face architecture suffix -> weight prefix of its head.
HEADS = {"ForTokenClassification": "classifier", "ForQuestionAnswering": "qa_outputs"}


def head_prefix(hf_config, suffix):
    """The head's weight prefix if the checkpoint is a `...<suffix>` kerasprop can load, else `None`."""
    architectures = hf_config.get("architectures") or []
    if hf_config.get("model_type") in MODEL_TYPES and any(a.endswith(suffix) for a in architectures):
        return HEADS[suffix]
    return None


def load_backbone(preset, load_weights=True):
    """The keras-hub backbone of a Hugging Face checkpoint; a missing BERT pooler is left as initialised."""
    from kerasprop.hub.converters import get_preset_loader

    hf_config = transformers_config(preset)
    if hf_config is None or hf_config["model_type"] not in MODEL_TYPES:
        raise ValueError(
            f"{describe(preset)} is not a Hugging Face checkpoint of a type kerasprop loads span heads for "
            f"({', '.join(MODEL_TYPES)})."
        )
    loader = get_preset_loader(preset)
    backbone = loader.load_backbone(loader.check_backbone_class(), load_weights=False)
    if load_weights:
        with PoolerOptionalLoader(preset) as weights:
            loader.converter.convert_weights(backbone, weights, hf_config)
        port_token_type_embedding(backbone, preset, hf_config)
    return backbone


def port_dense(dense, preset, prefix):
    """Copies the Hugging Face linear layer `prefix` (weight and bias) onto a Keras `Dense`."""
    with SafetensorLoader(preset, prefix="") as loader:
        loader.port_weight(dense.kernel, f"{prefix}.weight", hook_fn=lambda w, _: w.T)
        loader.port_weight(dense.bias, f"{prefix}.bias")


class PoolerOptionalLoader(SafetensorLoader):
    """A `SafetensorLoader` that skips the `pooler.*` weights a checkpoint does not have."""

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        if hf_weight_key.startswith("pooler.") and not any(name.endswith(hf_weight_key) for name in self.names()):
            return
        super().port_weight(keras_variable, hf_weight_key, hook_fn=hook_fn)

    def names(self):
        """The names of every weight in the checkpoint."""
        if self.safetensor_config is not None:
            return list(self.safetensor_config["weight_map"])
        import safetensors

        from kerasprop.compat import SAFETENSOR_FILE, get_file

        with safetensors.safe_open(get_file(self.preset, SAFETENSOR_FILE), framework="np") as file:
            return list(file.keys())
