"""Multi-process training (`kerasprop.distributed`): two real JAX processes on localhost over gloo.

The job runs in subprocesses on the JAX backend, whatever backend the suite is on (CPU collectives are what this
machine has; on hosts or GPUs the same code runs with the coordinator's address), so CI runs this file in the JAX
pass only: in the TensorFlow and PyTorch passes it would run the same JAX job again. What each backend does with
`kerasprop.distributed` in-process is in tests/test_distributed.py.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import kerasprop
from tiny_models import TinyTextClassifier

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def weights(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("distributed"))
    job_env = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": f"localhost:{free_port()}", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}
    runs = [(["single"], {}), *((["worker"], {**job_env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)}) for i in (0, 1))]
    processes = [subprocess.Popen([sys.executable, WORKER, out, *role], env={**os.environ, **env},
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for role, env in runs]
    try:
        logs = [p.communicate(timeout=400)[0] for p in processes]
    finally:
        for p in processes:
            p.kill()
    for p, log in zip(processes, logs):
        assert p.returncode == 0, log[-3000:]
    return out


def report(job, name):
    with open(os.path.join(job, f"{name}.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("scenario", ["data_parallel", "model_parallel"])
def test_two_processes_train_the_weights_one_process_trains_on_the_same_global_batch(job, scenario):
    start = weights(os.path.join(job, "single-0-start.npz"))
    single = weights(os.path.join(job, "single-0-data_parallel.npz"))
    assert max(float(np.abs(a - b).max()) for a, b in zip(single, start)) > 1e-3  # training moved them
    for index in (0, 1):
        for a, b in zip(weights(os.path.join(job, f"worker-{index}-start.npz")), start):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(weights(os.path.join(job, f"worker-{index}-{scenario}.npz")), single):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert report(job, "worker-0")["processes"] == 2


def test_model_parallel_splits_weights_across_processes_and_gathers_them(job):
    # The feed-forward kernels live half on each process; get_weights and save still see them whole.
    assert report(job, "worker-0")["split_weights"] >= 1


@pytest.mark.parametrize("scenario", ["data_parallel", "model_parallel"])
def test_only_process_zero_writes_the_saved_model(job, scenario):
    for index in (0, 1):
        assert report(job, f"worker-{index}")[f"saved-{scenario}"].endswith(f"by-worker-{index}")
    assert not os.path.exists(os.path.join(job, f"saved-{scenario}-by-worker-1"))
    saved = kerasprop.load(os.path.join(job, f"saved-{scenario}-by-worker-0"), allowed_classes=[TinyTextClassifier])
    for a, b in zip(saved.get_weights(), weights(os.path.join(job, f"worker-0-{scenario}.npz"))):
        np.testing.assert_allclose(np.asarray(a), b, atol=1e-6)


def test_a_global_batch_that_does_not_split_evenly_is_refused_by_name(job):
    for index in (0, 1):
        assert "must be a multiple of 2, got 7" in report(job, f"worker-{index}")["odd_batch"]
