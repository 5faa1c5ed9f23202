"""Loading skips random initialisation of variables the preset overwrites, and only those."""

import keras
import numpy as np

from kerasprop.models.runtime.deferred_init import deferred_initialisation
from tiny_models import tiny_text_classifier


class CountingInitializer(keras.initializers.RandomNormal):
    calls = 0

    def __call__(self, shape, dtype=None):
        CountingInitializer.calls += 1
        return super().__call__(shape, dtype=dtype)


def _dense(initializer):
    layer = keras.layers.Dense(3, kernel_initializer=initializer, bias_initializer="ones")
    layer.build((None, 4))
    return layer


def test_unassigned_variables_get_their_initializers_values():
    expected = _dense(keras.initializers.RandomNormal(seed=7))
    with deferred_initialisation():
        layer = _dense(keras.initializers.RandomNormal(seed=7))
    np.testing.assert_allclose(layer.kernel.numpy(), expected.kernel.numpy())
    np.testing.assert_array_equal(layer.bias.numpy(), np.ones(3))


def test_assigned_variables_keep_their_values_and_skip_the_initializer_on_jax():
    CountingInitializer.calls = 0
    loaded = np.arange(12, dtype="float32").reshape(4, 3)
    with deferred_initialisation():
        layer = _dense(CountingInitializer(seed=1))
        layer.kernel.assign(loaded)
    np.testing.assert_array_equal(layer.kernel.numpy(), loaded)
    # Only JAX compiles a program per initializer shape, so only JAX defers.
    assert CountingInitializer.calls == (0 if keras.config.backend() == "jax" else 1)


def test_nested_scopes_initialise_once_at_the_outermost_exit():
    with deferred_initialisation():
        with deferred_initialisation():
            layer = _dense(keras.initializers.Constant(2.0))
        if keras.config.backend() == "jax":
            np.testing.assert_array_equal(layer.kernel.numpy(), np.zeros((4, 3)))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.full((4, 3), 2.0))


def test_a_preset_loads_the_same_outputs_with_deferred_initialisation(tmp_path):
    model = tiny_text_classifier()
    model.save_to_preset(str(tmp_path))
    reloaded = type(model).from_preset(str(tmp_path))
    texts = ["a short text", "another one"]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded.predict(texts, verbose=0)),
        keras.ops.convert_to_numpy(model.predict(texts, verbose=0)),
        atol=1e-6,
    )
