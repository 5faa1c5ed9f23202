"""The recipes' `--compare` adaptations: what each one trains, and how a card reports them."""

import types

import keras_hub
import pytest

from presets.recipes import common


def tiny_model():
    """A stand-in task: a 3-layer BERT backbone (so the top two layers are not all of them)."""
    backbone = keras_hub.models.BertBackbone(vocabulary_size=30, num_layers=3, num_heads=2, hidden_dim=8,
                                             intermediate_dim=16, max_sequence_length=16)
    return types.SimpleNamespace(backbone=backbone)


def test_each_adaptation_trains_what_it_names():
    frozen = common.adapt(tiny_model(), "all-minilm-l6-v2", "frozen")
    assert frozen.base_backbone["preset"] == "all-minilm-l6-v2" and frozen.base_backbone["lora_rank"] is None
    assert not frozen.backbone.trainable_weights

    top = common.adapt(tiny_model(), "all-minilm-l6-v2", "top-layers")
    layers = top.backbone.transformer_layers
    assert {w.path for w in top.backbone.trainable_weights} == {w.path for layer in layers[1:] for w in layer.weights}

    lora = common.adapt(tiny_model(), "all-minilm-l6-v2", "lora", lora_rank=2)
    assert lora.base_backbone["lora_rank"] == 2
    assert lora.backbone.trainable_weights and all("lora" in w.path for w in lora.backbone.trainable_weights)

    with pytest.raises(ValueError, match="'adaptation' must be one of"):
        common.adapt(tiny_model(), "all-minilm-l6-v2", "everything")


def test_the_card_names_the_best_adaptation_only_when_the_steps_were_equal():
    records = {"adaptations": {
        "lora": {"steps": 400, "learning_rate": 0.0015, "quality": {"right": 33}},
        "frozen": {"steps": 400, "learning_rate": 0.005, "quality": {"right": 29}},
    }}
    text = common.adaptation_comparison(records, lambda quality: quality["right"], 34)
    assert "LoRA adapters of rank 8: 33 of 34 after 400 steps (peak learning rate 0.0015)" in text
    assert "the head alone (backbone frozen): 29 of 34" in text and text.endswith("Best: LoRA adapters of rank 8.")
    records["adaptations"]["frozen"]["steps"] = 150
    assert "Best" not in common.adaptation_comparison(records, lambda quality: quality["right"], 34)
    assert common.adaptation_comparison({}, lambda quality: quality["right"], 34) == ""
