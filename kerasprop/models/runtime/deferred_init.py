"""Skips random initialisation of variables whose values are about to be loaded.

On JAX, each initializer call compiles a random-number program for its shape
(a tenth of a second or more each, most of a cold start for a small model),
only for the values to be overwritten by the preset's weights a moment later.
"""

import contextlib
import threading

import keras
import numpy as np

_lock = threading.RLock()
_pending = []


@contextlib.contextmanager
def deferred_initialisation():
    """Variables created inside start as zeros; those still unassigned at the end get their initializer's value.

    Used around `from_preset`: loaded weights replace the zeros, and whatever
    the preset does not hold (a new head) is initialised as usual on exit.
    Nested uses share the outermost scope; other threads wait for it to end.
    Only JAX needs it; elsewhere this does nothing.

    Example:

    ```python
    with deferred_initialisation():
        model = keras_hub.models.BertBackbone.from_preset("bert_tiny_en_uncased")
    ```
    """
    if keras.config.backend() != "jax":
        yield
        return
    with _lock:
        if _pending:
            yield
            return
        yield from _zeros_until_loaded()


def _zeros_until_loaded():
    import jax
    from keras import Variable

    initialise = Variable._initialize_with_initializer

    def start_with_zeros(variable, initializer):
        # device_put, unlike jnp.asarray, compiles nothing.
        variable._initialize(jax.device_put(np.zeros(variable._shape, jax.numpy.dtype(variable._dtype))))
        _pending.append((variable, variable._value, initializer))

    Variable._initialize_with_initializer = start_with_zeros
    _pending.append(None)  # marks the scope open, even before its first variable
    try:
        yield
    finally:
        Variable._initialize_with_initializer = initialise
        created = _pending[1:]
        _pending.clear()
        for variable, zeros, initializer in created:
            if variable._value is zeros:
                initialise(variable, initializer)
