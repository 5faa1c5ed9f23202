"""Replacing the output layer of a built classification head."""


def resize_dense(dense, units):
    """Gives a built `keras.layers.Dense` a new, randomly initialised kernel and bias of `units` outputs.

    The layer object stays the same, so the functional model that holds it
    keeps working; only its variables are replaced.

    Example:

    ```python
    dense = keras.layers.Dense(3)
    dense.build((None, 8))
    resize_dense(dense, 5)  # dense.kernel.shape == (8, 5)
    ```
    """
    input_dim = dense.kernel.shape[0]
    for variable in list(dense.weights):
        dense._untrack_variable(variable)
    dense.units = units
    dense.built = False
    dense._tracker.unlock()
    dense.build((None, input_dim))
    dense._tracker.lock()
