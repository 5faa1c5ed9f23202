"""W5's floor on JAX: the matrix products of one MiniLM training step at XLA:CPU's best float32 matmul rate.

Counts the floating-point operations of every `dot_general` in the JAX training step that Keras `fit` runs
for W5's MiniLM classifier (batch 32, length 128), times the fastest float32 product of W5's shapes
(4096 x 384 by 384 x 1536) in JAX and in PyTorch, and a short PyTorch loop on the same model and data as
`w5_finetuning.py`, and each of the step's products compiled alone by XLA; prints the seconds per step the
products alone need, at JAX's best float32 rate and at XLA's own speed for their shapes, against the step
time that 1.25x the PyTorch loop asks for (the rest of the step: layer norms, softmax, GELU, AdamW over
22.7M parameters, the embedding gradient, is extra). Also prints JAX's rate for bfloat16 operands with a
float32 result (the CPU's bfloat16 dot units), which float32 training does not use.

    KERAS_BACKEND=jax python benchmarks/w5_bound.py
"""

import os
import pathlib
import sys
import time

M, K, N = 32 * 128, 384, 1536


def step_products(model, batch):
    """{(lhs shape, rhs shape, dimension numbers): count} of the matrix products in one Keras training step.

    Walks nested `jit` calls; products inside `cond`, `while` or `scan` bodies (none in this step) are not
    counted.
    """
    import collections

    import jax

    state = [[v.value for v in variables] for variables in (model.trainable_variables,
             model.non_trainable_variables, model.optimizer.variables, model.metrics_variables)]
    products = collections.Counter()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                products[(*(v.aval.shape for v in eqn.invars), eqn.params["dimension_numbers"])] += 1
            for inner in ("jaxpr", "call_jaxpr"):
                if inner in eqn.params:
                    walk(getattr(eqn.params[inner], "jaxpr", eqn.params[inner]))

    walk(jax.make_jaxpr(model.train_step)(state, batch).jaxpr)
    return products


def flops(lhs, rhs, dimension_numbers):
    """Floating-point operations of one `dot_general`: 2 x batch x lhs free x contracted x rhs free."""
    import numpy as np

    (contracting, _), (batch, _) = dimension_numbers
    return 2.0 * np.prod(lhs) * np.prod(rhs) / np.prod([lhs[d] for d in (*contracting, *batch)])


def product_seconds(lhs, rhs, dimension_numbers):
    """Best seconds of one float32 `dot_general` of these shapes, compiled alone by XLA."""
    import jax
    import jax.numpy as jnp
    from predict_features import best_seconds

    a, b = jnp.ones(lhs, jnp.float32), jnp.ones(rhs, jnp.float32)
    product = jax.jit(lambda a, b: jax.lax.dot_general(a, b, dimension_numbers))
    return best_seconds(lambda: product(a, b).block_until_ready(), repeats=5)


def best_rate(run):
    """GFLOP/s of the best of 20 calls of a product of W5's shapes."""
    from predict_features import best_seconds

    return 2 * M * K * N / best_seconds(run, repeats=20) / 1e9


def main():
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import jax
    import jax.numpy as jnp
    import keras
    import torch

    from w5_finetuning import EPSILON, LEARNING_RATE, WEIGHT_DECAY, minilm_legs, torch_leg

    model, reference, keras_batches, torch_batches, _ = minilm_legs(30, "float32")
    model.preprocessor = None
    model.compile(optimizer=keras.optimizers.AdamW(LEARNING_RATE, weight_decay=WEIGHT_DECAY, epsilon=EPSILON),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)
    products = step_products(model, keras_batches[0])
    total = sum(count * flops(*key) for key, count in products.items())
    alone = sum(count * product_seconds(*key) for key, count in products.items())

    rates = {}
    for name, dtype, result in (("jax float32", jnp.float32, jnp.float32),
                                ("jax bfloat16 operands, float32 result", jnp.bfloat16, jnp.float32)):
        lhs, rhs = jnp.ones((M, K), dtype), jnp.ones((K, N), dtype)
        product = jax.jit(lambda a, b, result=result: jnp.dot(a, b, preferred_element_type=result))
        rates[name] = best_rate(lambda: product(lhs, rhs).block_until_ready())
    lhs, rhs = torch.ones(M, K), torch.ones(K, N)
    rates["torch float32"] = best_rate(lambda: torch.matmul(lhs, rhs))
    _, torch_step, _ = torch_leg(reference, torch_batches)

    print(f"W5 MiniLM training step: {sum(products.values())} matrix products, {total / 1e9:.1f} GFLOP")
    for name, rate in rates.items():
        print(f"best {name} product ({M}x{K} by {K}x{N}): {rate:.0f} GFLOP/s")
    allowed = torch_step / 1.25
    print(f"PyTorch loop: {torch_step:.3f} s/step (steady, 20 steps); 1.25x it needs {allowed:.3f} s/step")
    floor = total / 1e9 / rates["jax float32"]
    print(f"the products at JAX's best float32 rate: {floor:.3f} s/step ({floor / allowed:.0%} of what 1.25x allows)")
    print(f"the products each compiled alone by XLA, float32: {alone:.3f} s/step ({alone / allowed:.0%})")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
