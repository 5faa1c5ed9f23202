"""Masked-language-model heads of Hugging Face checkpoints.

keras-hub's converters load the backbone of a `...ForMaskedLM` checkpoint but
not its head. This module ports the head onto the `MaskedLMHead` of a
keras-hub `MaskedLM` task (`masked_lm_head`), which mirrors the Hugging Face
heads layer for layer: a dense transform with GELU, a layer norm, and the
token embedding (tied) plus an output bias.

| model_type   | dense transform                    | layer norm                             | output bias            |
|--------------|------------------------------------|----------------------------------------|------------------------|
| bert         | cls.predictions.transform.dense    | cls.predictions.transform.LayerNorm    | cls.predictions.bias   |
| roberta      | lm_head.dense                      | lm_head.layer_norm                     | lm_head.bias           |
| distilbert   | vocab_transform                    | vocab_layer_norm                       | vocab_projector.bias   |
"""

#: model_type -> (dense transform, layer norm, output bias) weight names.
HEADS = {
    "bert": ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias"),
    "roberta": ("lm_head.dense", "lm_head.layer_norm", "lm_head.bias"),
    "distilbert": ("vocab_transform", "vocab_layer_norm", "vocab_projector.bias"),
}
#: Hugging Face architectures that carry a masked-LM head.
HEAD_ARCHITECTURES = ("ForMaskedLM", "ForPreTraining")


def check_masked_lm_head(hf_config):
    """Raises a `ValueError` unless the checkpoint has a masked-LM head kerasprop can load."""
    model_type = hf_config["model_type"]
    architectures = hf_config.get("architectures") or []
    if model_type not in HEADS:
        raise ValueError(
            f"kerasprop cannot load the masked-LM head of {model_type!r} checkpoints; it can for {sorted(HEADS)}."
        )
    if not any(a.endswith(HEAD_ARCHITECTURES) for a in architectures):
        raise ValueError(
            f"The checkpoint's architectures {architectures} have no masked-LM head "
            f"(need one ending in {' or '.join(HEAD_ARCHITECTURES)}): fill-mask would use random weights."
        )
    if hf_config.get("tie_word_embeddings") is False:
        raise ValueError("The checkpoint's masked-LM head is not tied to its token embedding; kerasprop needs it tied.")


def port_head(task, preset, hf_config):
    """Copies the masked-LM head of the checkpoint at `preset` onto `task.masked_lm_head`."""
    from kerasprop.compat import SafetensorLoader

    check_masked_lm_head(hf_config)
    dense, norm, bias = HEADS[hf_config["model_type"]]
    head = task.masked_lm_head
    with SafetensorLoader(preset, prefix="") as loader:
        loader.port_weight(head._intermediate_dense.kernel, f"{dense}.weight", hook_fn=lambda w, _: w.T)
        loader.port_weight(head._intermediate_dense.bias, f"{dense}.bias")
        loader.port_weight(head._intermediate_layer_norm.gamma, f"{norm}.weight")
        loader.port_weight(head._intermediate_layer_norm.beta, f"{norm}.bias")
        loader.port_weight(head._bias, bias)
