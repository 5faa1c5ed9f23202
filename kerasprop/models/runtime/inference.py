"""Compiled inference forward passes, with bfloat16 matrix products where the CPU has them.

`compiled_forward(model)` turns a Keras model into a `features -> outputs`
function compiled once per input shape. With `matmul_precision="bfloat16"`
(on JAX) every float32 matrix product of the model runs on bfloat16 operands
with float32 accumulation, everything else (embeddings, layer norms, softmax,
residuals) stays float32. CPUs with bfloat16 dot instructions (AVX512-BF16,
AMX) multiply such matrices about twice as fast as float32 ones; the vectors
of the bundled all-MiniLM-L6-v2 stay within cosine 0.99997 of float32. The
default is float32: results then agree across backends to float32 rounding.
"""

import functools

import keras
import numpy as np

MATMUL_PRECISIONS = ("auto", "float32", "bfloat16")


@functools.cache
def cpu_has_bfloat16_dot():
    """Whether this CPU has native bfloat16 dot-product instructions (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_matmul_precision(precision):
    """The precision matrix products run at: "float32" or "bfloat16".

    "auto" is "bfloat16" on the JAX backend running on a CPU with bfloat16 dot
    instructions, "float32" everywhere else. "bfloat16" on another backend
    computes float32 (the rewrite below is JAX's).
    """
    if precision not in MATMUL_PRECISIONS:
        raise ValueError(f"'matmul_precision' must be one of {MATMUL_PRECISIONS}, got {precision!r}.")
    if keras.backend.backend() != "jax" or precision == "float32":
        return "float32"
    if precision == "bfloat16":
        return "bfloat16"
    import jax

    return "bfloat16" if jax.default_backend() == "cpu" and cpu_has_bfloat16_dot() else "float32"


def compiled_forward(model, matmul_precision="float32"):
    """A `features -> outputs` function for inference, compiled once per input shape.

    JAX: `jax.jit` of the stateless call, fed the current variable values
    (see `BFloat16Matmuls` for `matmul_precision`); TensorFlow: a
    `tf.function`; torch: the eager model under `no_grad`.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_forward(model, resolve_matmul_precision(matmul_precision))
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda features: model(features, training=False))
    if backend == "torch":
        import torch

        def forward(features):
            with torch.no_grad():
                return model(keras.tree.map_structure(keras.ops.convert_to_tensor, features), training=False)

        return forward
    return lambda features: model(features, training=False)


def _jax_forward(model, precision):
    import jax

    def forward(weights, features):
        trainable, non_trainable = weights
        return model.stateless_call(trainable, non_trainable, features)[0]

    run = BFloat16Matmuls(forward) if precision == "bfloat16" else jax.jit(forward)
    # The variables are read at every call: values change with training, and so
    # does the trainable/non-trainable split when layers are frozen.
    return lambda features: run(
        ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]), features
    )


class BFloat16Matmuls:
    """`fn(weights, *args)` compiled with its float32 matrix products in bfloat16.

    The function is traced to a jaxpr and evaluated again with each float32
    `dot_general` given bfloat16 operands and a float32 result (float32
    accumulation: the CPU's fast path; a bfloat16 result is slower than
    float32). `weights` is a list (or any pytree) of arrays: bfloat16 copies
    of its matrices are made once and reused until an array is replaced (after
    training, say), so no weight is converted inside the compiled function.

    Example:
    >>> import jax.numpy as jnp
    >>> product = BFloat16Matmuls(lambda weights, x: x @ weights[0])
    >>> product([jnp.eye(2)], jnp.array([[1.0, 2.0]])).tolist()
    [[1.0, 2.0]]
    """

    def __init__(self, fn):
        import jax

        self.fn = fn
        self._compiled = jax.jit(self._evaluate)
        self._source = None
        self._copies = None

    def __call__(self, weights, *args):
        import jax

        leaves = jax.tree_util.tree_leaves(weights)
        source = self._source
        if source is None or len(leaves) != len(source) or any(a is not b for a, b in zip(leaves, source)):
            self._copies = [_bfloat16_copy(w) for w in leaves]
            self._source = leaves
        return self._compiled(weights, self._copies, *args)

    def _evaluate(self, weights, copies, *args):
        import jax

        closed, shapes = jax.make_jaxpr(self.fn, return_shape=True)(weights, *args)
        leaves = jax.tree_util.tree_leaves((weights, args))
        # The bfloat16 copy of each leaf, if any: the weights' leaves come first in the flattened inputs.
        low = list(copies) + [None] * (len(leaves) - len(copies))
        outputs = _evaluate_jaxpr(closed.jaxpr, closed.consts, leaves, low)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shapes), outputs)


def _bfloat16_copy(array):
    import jax.numpy as jnp

    if array.dtype == jnp.float32 and array.ndim >= 2:
        return array.astype(jnp.bfloat16)
    return None


#: Primitives whose body is a closed jaxpr under this parameter; it is evaluated inline.
_CALL_PRIMITIVES = {"pjit": "jaxpr", "jit": "jaxpr", "closed_call": "call_jaxpr", "custom_jvp_call": "call_jaxpr"}


def _evaluate_jaxpr(jaxpr, consts, args, low):
    """Evaluates `jaxpr` with float32 `dot_general`s on bfloat16 operands (`low`: known bfloat16 copies)."""
    import jax
    import jax.numpy as jnp
    from jax.extend import core

    values, copies = {}, {}

    def read(var):
        return var.val if isinstance(var, core.Literal) else values[var]

    for var, value in zip(jaxpr.constvars, consts):
        values[var] = value
    for var, value, copy in zip(jaxpr.invars, args, low, strict=True):
        values[var] = value
        if copy is not None:
            copies[var] = copy
    for eqn in jaxpr.eqns:
        inputs = [read(var) for var in eqn.invars]
        name = eqn.primitive.name
        if name == "dot_general" and all(x.dtype == jnp.float32 for x in inputs):
            lhs, rhs = (
                copies[var] if var in copies else x.astype(jnp.bfloat16) for var, x in zip(eqn.invars, inputs)
            )
            outputs = [
                jax.lax.dot_general(
                    lhs, rhs, eqn.params["dimension_numbers"], preferred_element_type=jnp.float32
                )
            ]
        elif name in _CALL_PRIMITIVES:
            body = eqn.params[_CALL_PRIMITIVES[name]]
            inner_low = [copies.get(var) if not isinstance(var, core.Literal) else None for var in eqn.invars]
            outputs = _evaluate_jaxpr(body.jaxpr, body.consts, inputs, inner_low)
        else:
            outputs = eqn.primitive.bind(*inputs, **eqn.params)
            if not eqn.primitive.multiple_results:
                outputs = [outputs]
        for var, value in zip(eqn.outvars, outputs):
            values[var] = value
    return [read(var) for var in jaxpr.outvars]


def forward_in_batches(forward, inputs, batch_size):
    """`forward` (a compiled function) over `inputs` in slices of `batch_size`, as one float32 numpy array."""
    chunks = [keras.ops.convert_to_numpy(forward(inputs[i:i + batch_size])) for i in range(0, len(inputs), batch_size)]
    return np.concatenate(chunks).astype("float32")


def vector_rows(vectors, request, normalized=False):
    """A vectorisation task's answer: one list of numbers per row, or one tensor per row with `return_tensor`.

    The request's `truncate_dim` keeps the first dimensions (re-normalised when
    the vectors are `normalized`), then `precision` quantises them as
    sentence-transformers does (`quantize_vectors`).
    """
    vectors = np.asarray(vectors)
    dim = request.options.get("truncate_dim")
    if dim is not None:
        if dim > vectors.shape[-1]:
            raise ValueError(f"'truncate_dim' is {dim}, more than the model's {vectors.shape[-1]} dimensions.")
        vectors = vectors[..., :dim]
        if normalized:
            vectors = _unit(vectors)
    vectors = quantize_vectors(vectors, request.options.get("precision", "float32"))
    if request.options.get("return_tensor"):
        return [keras.ops.convert_to_tensor(v) for v in vectors]
    return [v.tolist() for v in vectors]


def quantize_vectors(vectors, precision):
    """Vectors `(n, dim)` in a lower precision, as sentence-transformers' `quantize_embeddings` gives them.

    "int8"/"uint8": each dimension's range over these vectors in 256 steps (so 2 or
    more vectors are needed); "binary"/"ubinary": the signs, packed 8 per byte
    (`binary` shifted by -128 into int8).

    Example:
    >>> quantize_vectors(np.array([[0.5, -0.2, 0.1, 0.0, 0.3, -0.1, 0.2, 0.9]]), "ubinary").tolist()
    [[171]]
    """
    if precision == "float32":
        return vectors.astype("float32")
    if precision in ("binary", "ubinary"):
        packed = np.packbits(vectors > 0, axis=-1)
        return (packed.astype("int16") - 128).astype("int8") if precision == "binary" else packed
    if len(vectors) < 2:
        raise ValueError(f"'precision' {precision!r} scales each dimension by its range over the request's vectors: "
                         "give 2 or more inputs (better, many), or use 'float32', 'binary' or 'ubinary'.")
    starts = vectors.min(axis=0).astype("float32")
    steps = (vectors.max(axis=0) - starts) / 255
    steps = np.where(steps == 0, 1, steps).astype("float32")
    levels = np.clip(np.floor((vectors - starts) / steps), 0, 255)
    return levels.astype("uint8") if precision == "uint8" else (levels - 128).astype("int8")


def joint_vector_rows(image_vectors, text_vectors, request):
    """backprop's image-text vectors: each image's vector and its text's, concatenated, then L2-normalised."""
    joint = _unit(np.concatenate([image_vectors, text_vectors], axis=-1))
    return vector_rows(joint, request, normalized=True)


def zero_shot_image_rows(request, model_name, embed_images, embed_texts, scale):
    """Zero-shot image classification: `{label: probability}` per image, sorted, `top_k` kept.

    The probabilities are the softmax of `scale` times the cosine similarity of
    the image's vector (`embed_images`) to each label's (`embed_texts`); each
    distinct label is embedded once per request.
    """
    label_lists = request.inputs["labels"]
    missing = [i for i, labels in enumerate(label_lists) if labels is None]
    if missing:
        where = f" for image {missing[0]}" if request.batched else ""
        raise ValueError(f"'{model_name}' classifies zero-shot: 'labels' (a list of label strings) is needed{where}.")
    images = _unit(embed_images(request.inputs["image"]))
    vocabulary = list(dict.fromkeys(label for labels in label_lists for label in labels))
    label_vectors = dict(zip(vocabulary, _unit(embed_texts(vocabulary))))
    top_k = request.options["top_k"] or None
    outputs = []
    for image, labels in zip(images, label_lists):
        logits = scale * np.stack([label_vectors[label] for label in labels]) @ image
        probabilities = softmax(logits)
        order = np.argsort(-probabilities, kind="stable")[:top_k]
        outputs.append({labels[i]: float(probabilities[i]) for i in order})
    return outputs


#: Sequences are padded to a power of two of at least this many tokens.
MIN_LENGTH_BUCKET = 8


def power_of_two_bucket(size, minimum=1, limit=None):
    """`size` rounded up to a power of two, at least `minimum` and at most `limit`.

    Padded lengths and batch sizes come from a few shapes, so compiled functions are reused.

    >>> power_of_two_bucket(5), power_of_two_bucket(3, minimum=8), power_of_two_bucket(40, limit=32)
    (8, 8, 32)
    """
    bucket = max(minimum, 1 << (int(size) - 1).bit_length())
    return bucket if limit is None else min(limit, bucket)


def softmax(logits, axis=-1):
    """Softmax of a numpy array along `axis`, in its own float precision (float32 logits give float32).

    Keeping the logits' precision keeps a text alone and in a batch on the same scores."""
    logits = np.asarray(logits)
    logits = logits.astype(np.result_type(logits.dtype, np.float32))
    exp = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return exp / exp.sum(axis=axis, keepdims=True)


def _unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)

