"""Sequence-classification heads of Hugging Face checkpoints.

keras-hub's converters load the backbone of a `...ForSequenceClassification`
checkpoint but not its head. This module reads the head's label names from
`config.json` and ports its weights onto the head layers of a keras-hub
`TextClassifier` (`pooled_dense` and `output_dense`), which mirror the
Hugging Face heads layer for layer:

| model_type              | pooled_dense               | output_dense                  |
|-------------------------|----------------------------|-------------------------------|
| roberta, xlm-roberta    | classifier.dense (tanh)    | classifier.out_proj           |
| bart                    | classification_head.dense  | classification_head.out_proj  |
| distilbert              | pre_classifier (relu)      | classifier                    |
| bert                    | (backbone pooler)          | classifier                    |
| deberta-v2 (DeBERTa-v3) | pooler.dense (gelu)        | classifier                    |
"""

from kerasprop.schemas.specs import describe

#: model_type -> ((keras head layer attribute, Hugging Face weight prefix), ...)
HEADS = {
    "roberta": (("pooled_dense", "classifier.dense"), ("output_dense", "classifier.out_proj")),
    "xlm-roberta": (("pooled_dense", "classifier.dense"), ("output_dense", "classifier.out_proj")),
    "bart": (("pooled_dense", "classification_head.dense"), ("output_dense", "classification_head.out_proj")),
    "distilbert": (("pooled_dense", "pre_classifier"), ("output_dense", "classifier")),
    "bert": (("output_dense", "classifier"),),
    "deberta-v2": (("pooled_dense", "pooler.dense"), ("output_dense", "classifier")),
}
#: model_type -> (config key, value): the pooler activation the keras-hub head has built in.
POOLER_ACTIVATIONS = {"deberta-v2": ("pooler_hidden_act", "gelu")}


def transformers_config(preset):
    """The `config.json` of a Hugging Face checkpoint, or `None` for a keras-hub preset."""
    from kerasprop.compat import check_file_exists, load_json

    if not isinstance(preset, str) or not check_file_exists(preset, "config.json"):
        return None
    config = load_json(preset, "config.json")
    return config if "model_type" in config else None


def has_classification_head(hf_config):
    """Whether the checkpoint is a `...ForSequenceClassification` with a head kerasprop can load."""
    architectures = hf_config.get("architectures") or []
    return hf_config["model_type"] in HEADS and any(a.endswith("ForSequenceClassification") for a in architectures)


def label_names(hf_config):
    """The class names of a checkpoint, in class-index order (from `id2label`)."""
    id2label = hf_config.get("id2label")
    if not id2label:
        raise ValueError("The checkpoint's config.json has no 'id2label': its classes are unknown.")
    return [str(id2label.get(str(i), id2label.get(i))) for i in range(len(id2label))]


def port_token_type_embedding(backbone, preset, hf_config):
    """Adds RoBERTa's token-type embedding, which keras-hub's converter drops, to the position embeddings.

    RoBERTa adds `token_type_embeddings[0]` to every token; keras-hub's
    `RobertaBackbone` has no token types (its XLM-R converter folds them in the
    same way).
    """
    from kerasprop.compat import SafetensorLoader

    if hf_config["model_type"] != "roberta":
        return
    with SafetensorLoader(preset) as loader:
        token_type = loader.get_tensor("roberta.embeddings.token_type_embeddings.weight")[0]
    positions = backbone.embeddings.position_embedding.position_embeddings
    positions.assign(positions + token_type)


def port_head(task, preset, hf_config):
    """Copies the classification head of the checkpoint at `preset` onto `task`'s head layers."""
    from kerasprop.compat import SafetensorLoader

    model_type = hf_config["model_type"]
    if model_type not in HEADS:
        raise ValueError(
            f"kerasprop cannot load the classification head of {model_type!r} checkpoints; "
            f"it can for {sorted(HEADS)}."
        )
    key, activation = POOLER_ACTIVATIONS.get(model_type, (None, None))
    if key is not None and hf_config.get(key, activation) != activation:
        raise ValueError(
            f"The {model_type!r} head of keras-hub applies {activation!r} after its pooler; "
            f"this checkpoint has {key}={hf_config[key]!r}."
        )
    with SafetensorLoader(preset, prefix="") as loader:
        for attribute, prefix in HEADS[model_type]:
            layer = getattr(task, attribute, None)
            if layer is None:
                raise TypeError(f"{describe(task)} has no head layer {attribute!r} to load {prefix!r} into.")
            loader.port_weight(layer.kernel, f"{prefix}.weight", hook_fn=lambda w, _: w.T)
            loader.port_weight(layer.bias, f"{prefix}.bias")
