"""Compiled inference forward passes and bfloat16 matrix products (`kerasprop.models.runtime.inference`)."""

import keras
import numpy as np
import pytest

from kerasprop.models.runtime import inference
from kerasprop.models.runtime.inference import compiled_forward, resolve_matmul_precision
from kerasprop.models.sentences.text_embedder import SentenceEmbedder

JAX = keras.backend.backend() == "jax"
SENTENCES = [
    "A cat sat on the mat.",
    "Keras 3 runs the same model on JAX, TensorFlow and PyTorch.",
    "The committee postponed its decision on the new bridge until the spring, citing the rising costs.",
    "ok",
    "Vectors of similar sentences point in similar directions.",
]


def _cosines(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_precision_names_are_checked():
    with pytest.raises(ValueError, match="'matmul_precision' must be one of .*'half'"):
        resolve_matmul_precision("half")
    with pytest.raises(ValueError, match="'matmul_precision'"):
        SentenceEmbedder.from_preset("all-minilm-l6-v2", matmul_precision="fp8")


def test_auto_follows_the_cpu_and_only_jax_rewrites(monkeypatch):
    assert resolve_matmul_precision("float32") == "float32"
    assert resolve_matmul_precision("bfloat16") == ("bfloat16" if JAX else "float32")
    for has_dot in (True, False):
        monkeypatch.setattr(inference, "cpu_has_bfloat16_dot", lambda: has_dot)
        assert resolve_matmul_precision("auto") == ("bfloat16" if JAX and has_dot else "float32")


def test_compiled_forward_matches_the_model():
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(5, activation="gelu")(inputs)))
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(compiled_forward(model)(x)), expected, atol=1e-6)
    # Freezing a layer after the first call moves its weights to the non-trainable list: still the same model.
    forward = compiled_forward(model)
    forward(x)
    model.layers[1].trainable = False
    np.testing.assert_allclose(keras.ops.convert_to_numpy(forward(x)), expected, atol=1e-6)


def test_every_float32_product_runs_on_bfloat16_operands_with_float32_results():
    import jax
    import jax.numpy as jnp

    def fn(weights, x):
        hidden = jax.nn.gelu(x @ weights[0])  # gelu is a custom_jvp call: its body is rewritten too
        return {"out": jnp.einsum("bi,ij->bj", hidden, weights[1]) + weights[2]}

    weights = [jnp.full((4, 8), 0.1), jnp.full((8, 2), 0.2), jnp.ones((2,))]
    rewritten = inference.BFloat16Matmuls(fn)
    x = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)
    jaxpr = jax.make_jaxpr(rewritten._evaluate)(weights, rewritten._copies or [None, None, None], x)
    dots = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]
    assert len(dots) == 2
    assert all(v.aval.dtype == jnp.bfloat16 for e in dots for v in e.invars)
    assert all(e.outvars[0].aval.dtype == jnp.float32 for e in dots)
    result = rewritten(weights, x)
    np.testing.assert_allclose(result["out"], fn(weights, x)["out"], rtol=1e-2)
    assert result["out"].dtype == jnp.float32


def test_weight_copies_are_reused_until_a_weight_is_replaced():
    import jax.numpy as jnp

    rewritten = inference.BFloat16Matmuls(lambda weights, x: x @ weights[0])
    x = jnp.ones((1, 2))
    weights = [jnp.eye(2)]
    rewritten(weights, x)
    copies = rewritten._copies
    rewritten(list(weights), x)
    assert rewritten._copies is copies
    assert rewritten([2 * jnp.eye(2)], x).tolist() == [[2.0, 2.0]]
    assert rewritten._copies is not copies


def test_bfloat16_sentence_vectors_stay_within_cosine_0_9999_and_follow_training():
    model = SentenceEmbedder.from_preset("all-minilm-l6-v2")
    fast = SentenceEmbedder.from_preset("all-minilm-l6-v2", matmul_precision="bfloat16")
    exact = model.encode_text(SENTENCES)
    approximate = fast.encode_text(SENTENCES)
    if not JAX:  # TensorFlow and torch compute float32 whatever the setting
        np.testing.assert_allclose(approximate, exact, atol=1e-6)
        return
    assert not np.array_equal(exact, approximate)  # the rewrite really ran
    assert _cosines(exact, approximate).min() > 0.9999
    # New weights (as after finetuning) are picked up: the bfloat16 copies are remade.
    for variable in fast.backbone.get_layer("transformer_layer_0")._feedforward_intermediate_dense.trainable_variables:
        variable.assign(variable * 0.5)
    assert _cosines(fast.encode_text(SENTENCES), approximate).min() < 0.9999
