"""Batch text vectors on Ray Data (`kerasprop.batch.run`) vs the single-process task API.

10,000 sentences of the W1 workload (all-MiniLM-L6-v2), written as JSON lines. The
single-process leg times `TextVectorisation()(texts)` on the loaded model; the Ray leg
times `kerasprop.batch.run` from the call to the last Parquet file (Ray already
started; actor start-up and model loads counted). With `--one-thread-actors` each actor runs XLA, TensorFlow and
PyTorch on one thread, so two actors on two cores do not compete for them.

    KERAS_BACKEND=jax python benchmarks/batch_ray.py [--texts 10000] [--concurrency 2] [--one-thread-actors]
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ONE_THREAD = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--one-thread-actors", action="store_true")
    args = parser.parse_args()
    root = pathlib.Path(__file__).resolve().parent
    sys.path[:0] = [str(root.parent), str(root)]
    import keras
    import numpy as np
    import pyarrow.parquet as pq
    import ray

    import kerasprop
    from kerasprop import batch
    from w1_text_vectorisation import sentences

    texts = sentences(args.texts)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="batch-ray-"))
    path = folder / "texts.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))

    vectorise = kerasprop.TextVectorisation()
    vectorise(texts[:256])  # compile the common shapes
    start = time.perf_counter()
    single = np.array(vectorise(texts))
    single_rate = len(texts) / (time.perf_counter() - start)
    print(f"single process ({keras.backend.backend()}): {single_rate:.1f} texts/s")

    env = {"KERAS_BACKEND": keras.backend.backend(), "TF_CPP_MIN_LOG_LEVEL": "3",
           **(ONE_THREAD if args.one_thread_actors else {})}
    ray.init(num_cpus=(os.cpu_count() or 1) + 1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    start = time.perf_counter()
    batch.run("text-vectorisation", path, folder / "out", batch_size=args.batch_size, concurrency=args.concurrency)
    ray_seconds = time.perf_counter() - start
    table = pq.read_table(sorted((folder / "out").glob("part-*.parquet")))
    vectors = np.array(table["output"].to_pylist())
    cosine = (single * vectors).sum(axis=1) / np.linalg.norm(single, axis=1) / np.linalg.norm(vectors, axis=1)
    print(f"ray data, {args.concurrency} actors{' (one thread each)' if args.one_thread_actors else ''}: "
          f"{len(texts) / ray_seconds:.1f} texts/s ({ray_seconds:.1f} s, actor start-up and model loads included); "
          f"ids in order: {table['id'].to_pylist() == list(range(len(texts)))}; min cosine {cosine.min():.6f}")
    print(f"ratio ray data / single process: {len(texts) / ray_seconds / single_rate:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
