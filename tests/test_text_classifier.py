"""Supervised text classification: finetuning a tiny BERT, labels, save/load, Hugging Face heads."""

import warnings

import dill
import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import kerasprop
from kerasprop.models import BertSupervisedTextClassifier, SupervisedTextClassifier
from kerasprop.models.classifiers.pair_similarity import SimilarityBlend
from kerasprop.models.classifiers.text_classifier import label_mapping
from kerasprop.schemas import get_schema
from tiny_models import FILLER, KEYWORDS, keyword_dataset

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIALS + FILLER + [word for words in KEYWORDS.values() for word in words] + ["atom", "cell", "lab"]


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory):
    """A tiny random BertForSequenceClassification folder and its transformers model."""
    folder = tmp_path_factory.mktemp("bert")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        max_position_embeddings=64, num_labels=3, id2label={0: "neg", 1: "neutral", 2: "pos"},
        label2id={"neg": 0, "neutral": 1, "pos": 2},
    )
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    transformers.BertTokenizer(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder, model


@pytest.fixture(scope="module")
def finetuned(bert_checkpoint):
    """The tiny BERT finetuned on keyword classes through process_batch and plain fit."""
    model = SupervisedTextClassifier.from_preset(str(bert_checkpoint[0]))
    train = keyword_dataset(192, seed=1)
    params = get_schema("text-classification").parse_finetune(train)
    model.pre_finetuning(params["labels"])
    x, y = model.process_batch(params, task="text-classification", max_length=16)
    model.compile(optimizer=keras.optimizers.AdamW(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).shuffle(192, seed=0).batch(16), epochs=6, verbose=0)
    return model


def test_hugging_face_checkpoint_loads_with_its_head(bert_checkpoint):
    folder, reference = bert_checkpoint
    model = SupervisedTextClassifier.from_preset(str(folder))
    assert type(model) is BertSupervisedTextClassifier and model.class_names == ["neg", "neutral", "pos"]
    texts = ["the team saw a goal", "we saw pizza", "atom"]
    features = model.preprocessor(x=(texts,))
    width = int(np.asarray(features["padding_mask"]).sum(axis=1).max())
    with torch.no_grad():
        expected = reference(
            input_ids=torch.tensor(np.asarray(features["token_ids"])[:, :width], dtype=torch.long),
            attention_mask=torch.tensor(np.asarray(features["padding_mask"])[:, :width].astype("int64")),
        ).logits.numpy()
    np.testing.assert_allclose(model.class_logits(texts), expected, atol=1e-4)


def test_finetuning_learns_the_keyword_classes(finetuned):
    assert finetuned.class_names == ["food", "sports"]
    validation = keyword_dataset(60, seed=2)
    predictions = finetuned({"text": validation["texts"]}, task="text-classification")
    accuracy = np.mean([next(iter(p)) == label for p, label in zip(predictions, validation["labels"])])
    assert accuracy >= 0.9, accuracy


def test_outputs_are_sorted_probabilities_over_learnt_labels(finetuned):
    result = finetuned({"text": "we saw a nice team"}, task="text-classification")
    assert sorted(result) == ["food", "sports"]
    assert list(result.values()) == sorted(result.values(), reverse=True)
    assert sum(result.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(type(v) is float for v in result.values())
    top_1 = finetuned({"text": "we saw a nice team", "top_k": 1}, task="text-classification")
    assert list(top_1) == [next(iter(result))]
    assert len(finetuned({"text": "we saw a nice team", "top_k": 9}, task="text-classification")) == 2


def test_a_label_subset_restricts_and_renormalises(bert_checkpoint):
    model = SupervisedTextClassifier.from_preset(str(bert_checkpoint[0]))
    full = model({"text": "the soup was nice"}, task="text-classification")
    subset = model({"text": "the soup was nice", "labels": ["pos", "neg"]}, task="text-classification")
    assert sorted(subset) == ["neg", "pos"]
    total = full["neg"] + full["pos"]
    np.testing.assert_allclose([subset["neg"], subset["pos"]], [full["neg"] / total, full["pos"] / total], rtol=1e-4)
    with pytest.raises(ValueError, match="Unknown label"):
        model({"text": "soup", "labels": ["pos", "weather"]}, task="text-classification")


def test_save_load_and_dill_round_trips(finetuned, tmp_path):
    task_input = {"text": ["a goal by the team", "bread and soup", "the cell"]}
    expected = finetuned(task_input, task="text-classification")
    folder = kerasprop.save(finetuned, path=tmp_path / "classifier")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Keras warned that it skipped compiling, then the optimizer state
        unpickled = dill.loads(dill.dumps(finetuned))
    assert unpickled.optimizer.iterations.numpy() == finetuned.optimizer.iterations.numpy() == 72  # 6 x 12 steps
    for restored in (kerasprop.load(folder), unpickled):
        assert type(restored) is BertSupervisedTextClassifier and restored.class_names == finetuned.class_names
        for got, want in zip(restored(task_input, task="text-classification"), expected):
            assert list(got) == list(want)
            np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)


def test_fit_on_a_dataset_does_not_warn_that_keras_ignores_shuffle(bert_checkpoint):
    model = SupervisedTextClassifier.from_preset(str(bert_checkpoint[0]))
    model.preprocessor.sequence_length = 16  # the tiny checkpoint has 64 positions
    data = tf.data.Dataset.from_tensor_slices((["the team scored", "bread and soup"], [2, 0])).batch(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert not [w for w in caught if "shuffle" in str(w.message)]


def test_an_untrained_model_unpickles_without_optimizer_slots_or_warnings(bert_checkpoint):
    model = SupervisedTextClassifier.from_preset(str(bert_checkpoint[0]))  # keras-hub compiles every Task
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        unpickled = dill.loads(dill.dumps(model))
    assert not unpickled.optimizer.built  # no AdamW slots, twice the weights, for a model that never trained
    assert unpickled.class_names == model.class_names


def test_pre_finetuning_resets_the_head_only_for_new_labels(bert_checkpoint):
    model = SupervisedTextClassifier.from_preset(str(bert_checkpoint[0]))
    backbone_weights = model.backbone.get_weights()
    head = np.asarray(keras.ops.convert_to_numpy(model.output_dense.kernel))
    model.similarity = SimilarityBlend()
    model.pre_finetuning({0: "neg", 1: "neutral", 2: "pos"})
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.output_dense.kernel), head)
    assert model.similarity is None  # the model trained on the user's pairs is scored alone
    variables = len(model.variables)
    model.pre_finetuning(["b", "a", "b", "c", "d"])
    assert model.class_names == ["a", "b", "c", "d"] and model.num_classes == 4
    # the old head is gone, not tracked beside the new one (trained, saved and given optimizer slots)
    assert len(model.variables) == variables and len({v.path for v in model.variables}) == variables
    assert model.class_logits(["the team"]).shape == (1, 4)
    for before, after in zip(backbone_weights, model.backbone.get_weights()):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match="not among the model's classes"):
        model.process_batch({"texts": ["x"], "labels": ["e"]}, task="text-classification")
    model.pre_finetuning(["x", "y"])  # again: the new head is tracked, whatever ids Python reuses
    assert len(model.variables) == variables
    assert any(v is model.get_layer("logits").kernel for v in model.trainable_variables)


def test_label_mappings_are_deterministic():
    assert label_mapping(["pos", "neg", "pos"]) == ["neg", "pos"]
    assert label_mapping([10, 2, 2]) == ["2", "10"]
    assert label_mapping({1: "b", 0: "a"}) == ["a", "b"]
    with pytest.raises(ValueError, match="indices"):
        label_mapping({1: "b", 2: "a"})
    with pytest.raises(ValueError, match="at least 2"):
        label_mapping(["only"])
    with pytest.raises(TypeError, match="labels"):
        label_mapping("ab")


def test_a_model_without_labels_says_so():
    import keras_hub

    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_dim=16,
                                             intermediate_dim=16, max_sequence_length=16)
    model = BertSupervisedTextClassifier(backbone)
    with pytest.raises(ValueError, match="learnt no labels"):
        model({"text": "hello"}, task="text-classification")
