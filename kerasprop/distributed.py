"""Training on several processes or hosts with Keras' distribution API (JAX).

Every process runs the same script: it calls `initialize` first, then
`finetune` (data parallel by default in such a job, or under any
`keras.distribution` object). Each process reads the same data and `finetune`
gives each its share of every global batch, so the run takes the same steps as
one process on that batch size. Only process 0 writes saved models
(`kerasprop.save`, `save_to_preset`, `kerasprop.export`); the others wait for it.

Example (two processes on one machine; on hosts, the coordinator's address):
>>> import kerasprop  # doctest: +SKIP
>>> kerasprop.distributed.initialize("localhost:12355", num_processes=2, process_id=0)  # doctest: +SKIP
>>> task = kerasprop.TextClassification()  # doctest: +SKIP
>>> task.finetune(params, batch_size=32, distribution="data_parallel")  # doctest: +SKIP
>>> task.save("tuned")  # doctest: +SKIP
"""

import os

import numpy as np

ADDRESS_VARIABLE = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
COUNT_VARIABLE = "KERAS_DISTRIBUTION_NUM_PROCESSES"
INDEX_VARIABLE = "KERAS_DISTRIBUTION_PROCESS_ID"


def initialize(coordinator_address=None, num_processes=None, process_id=None):
    """Joins this process to a multi-process job (`keras.distribution.initialize`).

    Call it before building any model. Arguments left out are read from
    `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator's `host:port`, process 0),
    `KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`. On CPUs
    the processes talk over gloo (JAX's default CPU collectives).
    """
    import keras  # here, not at import: the command line imports this module to build its parser

    if keras.backend.backend() != "jax":
        raise ValueError(
            f"Multi-process training needs the JAX backend (KERAS_BACKEND=jax); this process runs "
            f"{keras.backend.backend()!r}."
        )
    address = coordinator_address if coordinator_address is not None else os.environ.get(ADDRESS_VARIABLE)
    count = _integer("num_processes", num_processes, COUNT_VARIABLE, minimum=1)
    index = _integer("process_id", process_id, INDEX_VARIABLE, minimum=0)
    if not isinstance(address, str) or not address.rpartition(":")[2].isdigit():
        raise ValueError(
            f"'coordinator_address' must be the 'host:port' of process 0 (or set {ADDRESS_VARIABLE}), got {address!r}."
        )
    if index >= count:
        raise ValueError(f"'process_id' must be below num_processes={count}, got {index}.")
    import jax

    if jax.distributed.is_initialized():
        raise RuntimeError("This process already belongs to a multi-process job; call initialize once.")
    try:
        keras.distribution.initialize(address, count, index)
    except RuntimeError as error:
        if "before any JAX calls" not in str(error):
            raise
        raise RuntimeError(
            "kerasprop.distributed.initialize() must run before anything uses JAX (building or loading a model, "
            "jax.devices()): call it first in the script."
        ) from None


def _integer(name, value, variable, minimum):
    if value is None:
        text = os.environ.get(variable)
        if text is None:
            raise ValueError(f"'{name}' was not given and {variable} is not set.")
        value = int(text) if text.strip().isdigit() else text
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum}, got {value!r}.")
    return value


def _jax():
    """The `jax` module when Keras runs on JAX, else `None` (only JAX jobs have several processes)."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    return jax


def process_count():
    """How many processes the job has (1 unless `initialize` joined a multi-process job)."""
    jax = _jax()
    return jax.process_count() if jax else 1


def process_index():
    """This process's index in the job; 0 writes saved models."""
    jax = _jax()
    return jax.process_index() if jax else 0


def barrier(name):
    """Waits until every process of a multi-process job reaches the barrier `name` (no-op in one process)."""
    if process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def gather(value):
    """A NumPy copy of a variable or array, whole, on every process.

    An array that no one process holds whole (a sharded layout across
    processes) is gathered from all of them; every process must call this.
    """
    import keras

    value = getattr(value, "value", value)
    if _jax() and not getattr(value, "is_fully_addressable", True) and not value.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.asarray(keras.ops.convert_to_numpy(value))
