"""Batch inference on Ray Data: one task over many rows, on this machine or a Ray cluster.

`run` reads a Ray Data dataset (or JSON lines, Parquet or CSV files), applies a task
with `map_batches` and a callable class that loads the model once per Ray actor,
and writes Parquet files (one row per input: its id, `output` and `error`) into an
output folder: `part-000000.parquet`, `part-000001.parquet`, ..., each written whole
(a `.partial` file renamed when complete), rows in input order (Ray Data's
`preserve_order`). A row that fails gets its error in `error` instead of stopping
the job; a re-run into the same folder skips the ids already written and numbers
its files after the ones there, so an interrupted job resumes.
Ray is an optional extra: `pip install "kerasprop[scale]"`.

Example:
>>> from kerasprop import batch
>>> batch.run("text-vectorisation", "texts.jsonl", "vectors/", concurrency=2)  # doctest: +SKIP
'vectors/'
"""

import json
import os
import pathlib

import numpy as np

from kerasprop.schemas import get_schema
from kerasprop.schemas.models import check_quantization

#: The columns written beside the id: the task's output, and the error of a row that failed ("" when none).
OUTPUT, ERROR = "output", "error"
#: What the workers inherit from this process: the Keras backend, quiet TensorFlow logs, offline hubs.
WORKER_ENVIRONMENT = ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "KERASPROP_OFFLINE", "HF_HUB_OFFLINE",
                      "KERASPROP_HOME", "JAX_COMPILATION_CACHE_DIR")
_READERS = {".jsonl": "read_json", ".json": "read_json", ".parquet": "read_parquet", ".csv": "read_csv"}


def init_ray(address=None, num_cpus=None):
    """Starts Ray here (`address=None`) or joins a cluster (`"auto"`, `"ray://host:10001"`), once per process.

    Workers get this process's Keras backend and settings (`WORKER_ENVIRONMENT`).
    Locally, Ray gets one logical CPU more than `num_cpus` (default: this machine's
    cores), so Ray Data's read and write tasks still run beside one model actor per
    core, and an object store of at most a third of `/dev/shm`, so small containers start.
    """
    import keras
    import ray

    if ray.is_initialized():
        return
    env_vars = {"KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env_vars.update({key: os.environ[key] for key in WORKER_ENVIRONMENT if key in os.environ})
    options = {"runtime_env": {"env_vars": env_vars}, "include_dashboard": False, "log_to_driver": False}
    if address is not None:
        ray.init(address=address, **options)
        return
    shm = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
    store = min(2 * 1024**3, shm.f_bavail * shm.f_frsize // 3) if shm else 2 * 1024**3
    cpus = (num_cpus or os.cpu_count()) + 1
    ray.init(num_cpus=cpus, object_store_memory=max(store, 80 * 1024**2), **options)


def read(path):
    """A Ray dataset from a `.jsonl`/`.json`, `.parquet` or `.csv` file, or a folder of Parquet files."""
    import ray

    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"The input '{path}' does not exist.")
    suffix = ".parquet" if path.is_dir() else path.suffix.lower()
    if suffix not in _READERS:
        raise ValueError(f"The input '{path}' is not a .jsonl, .json, .parquet or .csv file, nor a folder of Parquet files.")
    return getattr(ray.data, _READERS[suffix])(str(path))


def written_ids(output, id_column="id"):
    """The ids already written to the Parquet files in `output` (an empty array when there are none)."""
    import pyarrow.parquet as pq

    files = sorted(pathlib.Path(output).glob("part-*.parquet")) if pathlib.Path(output).is_dir() else []
    if not files:
        return np.array([])
    return np.concatenate([pq.read_table(f, columns=[id_column])[id_column].to_numpy(zero_copy_only=False)
                           for f in files])


class TaskActor:
    """Applies a task to batches of rows, its model loaded once per Ray actor (a `map_batches` callable class).

    Args:
        task: the task string ("text-vectorisation", ...).
        column: the column holding each row's input text.
        id_column: the column holding each row's id.
        model: a catalog name, saved model or folder (default: the task's).
        options: the task's other inputs and options, the same for every row (e.g. `{"labels": [...]}`).
        quantize: `"int8"` (or another Keras mode) to quantize the weights after loading.
    """

    def __init__(self, task, column, id_column, model=None, options=None, quantize=None):
        from kerasprop.tasks import task_class

        self.task = task_class(task)(model, quantize=quantize)
        self.column, self.id_column, self.options = column, id_column, dict(options or {})
        self.input_key = get_schema(task).fields[0].key

    def __call__(self, batch):
        texts = list(batch[self.column])
        try:
            outputs, errors = self.task.run({self.input_key: texts, **self.options}), [""] * len(texts)
        except Exception:  # one bad row must not fail the others: run them one by one
            outputs, errors = zip(*(self._run_one(text) for text in texts))
        return {self.id_column: batch[self.id_column], OUTPUT: [encode(o) for o in outputs], ERROR: list(errors)}

    def _run_one(self, text):
        try:
            return self.task.run({self.input_key: text, **self.options}), ""
        except Exception as error:
            return None, f"{type(error).__name__}: {error}"


def encode(output):
    """A task output as a Parquet value: vectors stay lists of floats, texts stay strings, the rest is JSON."""
    if output is None or isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(v, (int, float)) for v in output):
        return [float(v) for v in output]
    return json.dumps(output, ensure_ascii=False)


def _drop_written(batch, id_column, written):
    keep = ~np.isin(batch[id_column], written)
    return {key: value[keep] for key, value in batch.items()}


def run(task, dataset, output, column="text", id_column="id", model=None, options=None, batch_size=64,
        concurrency=2, quantize=None, address=None, rows_per_file=10_000):
    """Applies `task` to every row of `dataset` with Ray Data and writes Parquet files into `output`.

    Args:
        task: the task string, e.g. "text-vectorisation" or "text-classification".
        dataset: a `ray.data.Dataset`, or a path (see `read`).
        output: the folder for the Parquet files; ids already there are skipped (resume).
        column, id_column: the input text column and the id column.
        model, options, quantize: as for `TaskActor`.
        batch_size: rows per call of the task.
        concurrency: how many actors (each loads the model once).
        address: a Ray cluster to join; `None` starts Ray on this machine.
        rows_per_file: rows per Parquet file (the unit a resumed job never writes twice).

    Returns the output folder.
    """
    for name, value in (("batch_size", batch_size), ("concurrency", concurrency), ("rows_per_file", rows_per_file)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {value!r}.")
    check_quantization(quantize)
    options = dict(options or {})
    schema = get_schema(task)
    schema.parse({schema.fields[0].key: "a text", **options})  # bad options fail before Ray starts
    init_ray(address)
    import ray

    if isinstance(dataset, (str, os.PathLike)):
        dataset = read(dataset)
    missing = [name for name in (column, id_column) if name not in dataset.schema().names]
    if missing:
        raise ValueError(f"The input has no column {missing[0]!r} (its columns: {dataset.schema().names}); "
                         "name the text and id columns with column= and id_column= (--column, --id-column).")
    dataset = dataset.select_columns([id_column, column])
    written = written_ids(output, id_column)
    if len(written):
        dataset = dataset.map_batches(_drop_written, fn_kwargs={"id_column": id_column, "written": written},
                                      batch_format="numpy")
    results = dataset.map_batches(
        TaskActor, batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=concurrency), batch_format="numpy",
        fn_constructor_kwargs={"task": task, "column": column, "id_column": id_column, "model": model,
                               "options": options, "quantize": quantize},
    )
    results.context.execution_options.preserve_order = True  # the context this run executes with
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    part = len(list(output.glob("part-*.parquet")))
    for rows in results.iter_batches(batch_size=rows_per_file, batch_format="pyarrow"):
        _write_whole(rows, output / f"part-{part:06d}.parquet")
        part += 1
    return str(output)


def _write_whole(table, path):
    """Writes a Parquet file under a temporary name and renames it: a file in the folder is always complete."""
    import pyarrow.parquet as pq

    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, path)
