"""Shared test set-up: no hub access, a private model cache, fixed seeds.

The suite runs once per backend: `KERAS_BACKEND=jax|tensorflow|torch pytest`.
"""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# JAX keeps what XLA compiles on disk, so the test processes (both xdist workers, the command-line, demo and
# notebook subprocesses) compile a model's forward pass or generate loop once between them: the JAX pass
# compiles the same MiniLM, T5 and GPT-2 programs in many files. It changes no result.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "kerasprop-tests-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# The suite compiles hundreds of small programs once each, so XLA's LLVM back end runs at -O0: it compiles about a
# third faster (tests/test_seq2seq.py on jax: 244 s -> 160 s from a cold cache) and the small test models run barely
# slower. Matrix products are library calls either way; results differ at most by float rounding.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
# pytest-xdist runs as many test processes as the machine has cores (`-n 2` on CI's 2): there, each process keeps
# its kernels to one thread, so the backends' thread pools do not spin against each other. Measured on four test
# files (-n 2, 2 cores): torch (OpenMP) 4:28 -> 3:14, jax (XLA's Eigen pool) 5:43 -> 5:13; tensorflow got slower with
# one intra- and inter-op thread (7:03 -> 7:37), so it keeps its own. A serial run keeps every core.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= (os.cpu_count() or 1):
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")
    if "multi_thread_eigen" not in os.environ["XLA_FLAGS"]:
        os.environ["XLA_FLAGS"] += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def kerasprop_home(tmp_path, monkeypatch):
    """Every test saves models into its own cache folder."""
    home = tmp_path / "kerasprop-home"
    monkeypatch.setenv("KERASPROP_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture
def backend():
    import keras

    return keras.backend.backend()
