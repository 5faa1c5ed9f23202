"""The finetuning engine: validation before training, splits, batch size search, accumulation, devices."""

import os
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

import kerasprop
from kerasprop.training import finetune, split_indices
from test_contract import EchoLength
from tiny_models import sentiment_params, tiny_text_classifier


def accuracy(model, params):
    results = model({"text": params["texts"]}, task="text-classification")
    return np.mean([max(r, key=r.get) == label for r, label in zip(results, params["labels"])])


def test_finetuning_lowers_validation_loss_and_survives_save_load(kerasprop_home):
    params = sentiment_params(48)
    classify = kerasprop.TextClassification(tiny_text_classifier())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = classify.finetune(params, validation_split=0.25, epochs=6, batch_size=8,
                                    optimizer=keras.optimizers.Adam(1e-2), early_stopping_epochs=0, verbose=0)
    # The engine shuffles its own dataset; Keras' "`shuffle=True` was passed, but will be ignored" is noise.
    assert not [w for w in caught if "shuffle" in str(w.message)]
    val_loss = history.history["val_loss"]
    assert val_loss[-1] < 0.8 * val_loss[0]
    held_out = sentiment_params(20, seed=7)
    assert accuracy(classify.model, held_out) >= 0.8
    folder = classify.save("tuned-sentiment")
    reloaded = kerasprop.TextClassification(folder)
    texts = held_out["texts"][:4]
    for got, want in zip(reloaded(texts), classify(texts)):
        assert list(got) == list(want)
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)
    assert reloaded.model.label_names == ["negative", "positive"]  # sorted, deterministic


def test_finetuning_keeps_one_training_iterator_and_sees_every_example_each_epoch(monkeypatch):
    """Each new tf.data iterator instantiates the preprocessing graph keras-hub maps over the data (seconds for a
    BPE tokenizer), so `fit` must keep its training iterator for the whole run, not make new ones every epoch."""
    from tensorflow.python.data.ops import iterator_ops

    made = []
    create = iterator_ops.OwnedIterator._create_iterator

    def counting(self, dataset):
        made.append(dataset)
        return create(self, dataset)

    monkeypatch.setattr(iterator_ops.OwnedIterator, "_create_iterator", counting)
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(0)

        def on_train_batch_end(self, batch, logs=None):
            seen[-1] += 1

    model = tiny_text_classifier()
    params = sentiment_params(20)  # 15 for training: batches of 4, 4, 4 and 3 each epoch
    history = finetune(model, params, "text-classification", validation_split=0.25, epochs=5, batch_size=4,
                       early_stopping_epochs=0, verbose=0, callbacks=[Batches()])
    assert seen == [4] * 5 and len(history.history["val_loss"]) == 5
    # One training iterator for all five epochs (plus, on JAX, one Keras opens to read the batch's shapes), and
    # one per validation pass, which Keras' `evaluate` restarts; an iterator per epoch would make 10 for training.
    assert len(made) <= 2 + 5


def test_label_mapping_is_sorted_whatever_the_order():
    model = tiny_text_classifier(labels=("x", "y"))
    params = {"texts": ["good", "bad", "nice", "sad"], "labels": ["positive", "negative", "positive", "negative"]}
    finetune(model, params, "text-classification", validation_split=0.0, epochs=1, batch_size=2, verbose=0)
    assert model.label_names == ["negative", "positive"]


@pytest.mark.parametrize(
    "params, kwargs, error, message",
    [
        ({}, {}, ValueError, "need the key 'texts'"),
        ({"texts": [], "labels": []}, {}, ValueError, "'texts' is empty"),
        ({"texts": ["a", "b"], "labels": ["x"]}, {}, ValueError, "'labels' has 1 items but 'texts' has 2"),
        ({"texts": ["good", "bad", "nice"], "labels": ["p", "n", "q"]},
         {"validation_split": ([0, 1], [2])}, ValueError, r"\['q'\] appear only in the validation split"),
        ({"texts": ["good"], "labels": ["p"]}, {"validation_split": 1.5}, ValueError, r"must be in \[0, 1\)"),
        ({"texts": ["good"], "labels": ["p"]}, {"epochs": 0}, ValueError, "'epochs' must be an integer >= 1"),
        ({"texts": ["good"], "labels": ["p"]}, {"max_lenght": 3}, ValueError, "Unknown option 'max_lenght'"),
        ({"texts": ["good"], "labels": ["p"]}, {"batch_size": 0}, ValueError, "'batch_size' must be a positive"),
    ],
)
def test_bad_params_fail_before_any_training(params, kwargs, error, message):
    model = tiny_text_classifier()
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(error, match=message):
        finetune(model, params, "text-classification", epochs=kwargs.pop("epochs", 1), verbose=0, **kwargs)
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_array_equal(b, a)


def test_non_finetunable_model_is_refused():
    with pytest.raises(ValueError, match="cannot be finetuned for 'text-vectorisation'"):
        finetune(EchoLength(), {"texts": ["a"], "groups": [0]}, "text-vectorisation")


def test_split_indices():
    train, val = split_indices(20, 0.25, seed=1)
    assert len(val) == 5 and len(train) == 15 and not set(train) & set(val)
    np.testing.assert_array_equal(split_indices(20, 0.25, seed=1)[1], val)  # deterministic
    train, val = split_indices(4, ([0, 2], [1]), seed=0)
    assert train.tolist() == [0, 2] and val.tolist() == [1]
    with pytest.raises(ValueError, match="overlap"):
        split_indices(4, ([0, 1], [1]), seed=0)
    with pytest.raises(ValueError, match="No training examples"):
        split_indices(1, 0.9, seed=0)


def test_batch_size_search_halves_on_out_of_memory_and_restores_weights(monkeypatch):
    model = tiny_text_classifier()
    params = sentiment_params(16)
    real = model.train_on_batch
    sizes = []

    def limited(x, y=None, **kwargs):
        sizes.append(len(x))
        if len(x) > 4:
            raise MemoryError("out of memory")
        return real(x, y, **kwargs)

    monkeypatch.setattr(model, "train_on_batch", limited)
    history = finetune(model, params, "text-classification", validation_split=0.0, epochs=1, verbose=0)
    assert sizes == [16, 8, 4]
    assert len(history.history["loss"]) == 1


def test_optimal_batch_size_becomes_gradient_accumulation():
    model = tiny_text_classifier()
    finetune(model, sentiment_params(16), "text-classification", validation_split=0.0, epochs=1, batch_size=4,
             optimal_batch_size=16, verbose=0)
    assert model.optimizer.gradient_accumulation_steps == 4


def test_default_optimisers_follow_backprop():
    from kerasprop.training import default_optimizer

    assert isinstance(default_optimizer("summarisation"), keras.optimizers.Adafactor)
    adamw = default_optimizer("text-classification")
    assert isinstance(adamw, keras.optimizers.AdamW) and np.isclose(float(adamw.learning_rate), 2e-5)
    assert np.isclose(float(default_optimizer("text-vectorisation").learning_rate), 1e-5)
    assert isinstance(default_optimizer("image-classification"), keras.optimizers.SGD)


DISTRIBUTED = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path.insert(0, sys.argv[1])
    import keras, numpy as np
    from kerasprop.training import finetune
    from tiny_models import sentiment_params, tiny_text_classifier
    assert len(keras.distribution.list_devices()) == 4
    keras.utils.set_random_seed(0)
    base = tiny_text_classifier(dropout=0.0)  # no randomness in training: the two runs must agree
    start = [np.array(w) for w in base.get_weights()]
    results = []
    for distribution in (None, "data_parallel"):
        keras.utils.set_random_seed(0)
        model = tiny_text_classifier(dropout=0.0)
        model.set_weights(start)
        finetune(model, sentiment_params(32), "text-classification", validation_split=0.0, epochs=2,
                 batch_size=8, optimizer=keras.optimizers.SGD(0.5), distribution=distribution, verbose=0)
        results.append([np.array(w) for w in model.get_weights()])
    moved = max(float(np.abs(a - b).max()) for a, b in zip(results[0], start))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(*results))
    print(f"moved={moved:.5f} diff={diff:.2e}")
    assert moved > 1e-3 and diff < 1e-4, (moved, diff)
    """
)


def test_data_parallel_training_matches_single_device(backend):
    if backend != "jax":
        with pytest.raises(ValueError, match="needs the JAX backend"):
            finetune(tiny_text_classifier(), sentiment_params(8), "text-classification", epochs=1,
                     distribution="data_parallel", verbose=0)
        return
    tests = os.path.dirname(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(tests), tests])}
    result = subprocess.run([sys.executable, "-c", DISTRIBUTED, tests], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "moved=" in result.stdout
