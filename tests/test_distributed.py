"""`kerasprop.distributed` in the test process, on every backend: bad settings are refused by name, and
validation batches split evenly over the replicas. The two-process JAX job is in tests/test_distributed_jobs.py.
"""

import keras
import pytest

import kerasprop


def test_initialize_refuses_bad_settings_by_name(monkeypatch):
    for variable in ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                     "KERAS_DISTRIBUTION_PROCESS_ID"):
        monkeypatch.delenv(variable, raising=False)
    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="needs the JAX backend"):
            kerasprop.distributed.initialize("localhost:1234", 2, 0)
        return
    cases = [
        (("localhost", 2, 0), "host:port"),
        (("localhost:1234", None, 0), "KERAS_DISTRIBUTION_NUM_PROCESSES is not set"),
        (("localhost:1234", 0, 0), "'num_processes' must be an integer >= 1"),
        (("localhost:1234", 2, 2), "must be below num_processes=2"),
        (("localhost:1234", 2, "1"), "'process_id' must be an integer"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            kerasprop.distributed.initialize(*args)
    assert kerasprop.distributed.process_count() == 1 and kerasprop.distributed.process_index() == 0


def test_validation_batches_leave_the_fewest_examples_out():
    from kerasprop.training.finetune import _check_process_batches

    assert _check_process_batches(64, 2, 500, 100) == 50  # 100 = 2 x 50: no validation example left out
    assert _check_process_batches(8, 2, 40, 7) == 6  # one of 7 left out, the least possible with even batches
    assert _check_process_batches(8, 2, 40, 0) is None
    with pytest.raises(ValueError, match="training split has only 6"):
        _check_process_batches(8, 2, 6, 2)
    with pytest.raises(ValueError, match="validation split has 1 example"):
        _check_process_batches(8, 2, 40, 1)
