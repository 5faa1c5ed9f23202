"""Batch inference on a real local Ray instance (2 CPUs, 2 actors, 1,000 rows): results equal the
single-process task API row for row, rows keep their order and ids, a bad row gets an error instead of
failing the job, and a run into a folder that holds an interrupted job's rows resumes after them."""

import json
import pathlib
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray

import kerasprop
from kerasprop import batch, cli

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
from w1_text_vectorisation import sentences  # noqa: E402  (the W1 workload's sentences)

ROWS = 1000


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    batch.init_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """1,000 rows with ids in a JSON lines file; row 500 has an empty text, which the task refuses."""
    texts = sentences(ROWS)
    texts[500] = ""
    path = tmp_path_factory.mktemp("input") / "texts.jsonl"
    path.write_text("".join(json.dumps({"id": f"row-{i:04d}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path, texts


def read_output(folder):
    """The rows written to `folder`, file after file."""
    return [row for path in sorted(pathlib.Path(folder).glob("part-*.parquet")) for row in pq.read_table(path).to_pylist()]


def test_vectors_equal_the_task_api_in_input_order_with_the_bad_row_reported(rows, tmp_path):
    path, texts = rows
    output = tmp_path / "vectors"
    batch.run("text-vectorisation", ray.data.read_json(str(path)), output, batch_size=100, concurrency=2)
    assert sorted(p.name for p in output.iterdir()) == ["part-000000.parquet"]
    written = read_output(output)
    assert [row["id"] for row in written] == [f"row-{i:04d}" for i in range(ROWS)]  # input order, each id once
    bad = written[500]
    assert bad["output"] is None and bad["error"].startswith("ValueError") and "text" in bad["error"]
    good = [i for i in range(ROWS) if i != 500]
    expected = np.array(kerasprop.TextVectorisation()([texts[i] for i in good]))
    vectors = np.array([written[i]["output"] for i in good])
    cosine = (expected * vectors).sum(axis=1) / np.linalg.norm(expected, axis=1) / np.linalg.norm(vectors, axis=1)
    assert cosine.min() >= 0.9999 and all(written[i]["error"] == "" for i in good)


def test_the_command_line_resumes_with_the_task_apis_zero_shot_labels(rows, tmp_path):
    path, texts = rows
    labels = ["sports", "cooking", "technology"]
    output = tmp_path / "labels"
    output.mkdir()
    # An interrupted job: the first 600 rows are already in the folder (their outputs marked, to tell them apart).
    done = pa.table({"id": [f"row-{i:04d}" for i in range(600)], "output": ["written before"] * 600,
                     "error": [""] * 600})
    pq.write_table(done, output / "part-000000.parquet")
    assert cli.main(["batch", "text-classification", "--input", str(path), "--output", str(output),
                     "--labels", *labels, "--batch-size", "100"]) == 0
    assert sorted(p.name for p in output.iterdir()) == ["part-000000.parquet", "part-000001.parquet"]
    written = read_output(output)
    assert [row["id"] for row in written] == [f"row-{i:04d}" for i in range(ROWS)]  # the 400 missing, in order
    assert all(row["output"] == "written before" for row in written[:600])
    new = [i for i in range(600, ROWS)]
    expected = kerasprop.TextClassification()([texts[i] for i in new], labels=labels)
    assert [max(json.loads(written[i]["output"]).items(), key=lambda kv: kv[1])[0] for i in new] == \
        [max(scores, key=scores.get) for scores in expected]


def test_bad_requests_are_refused_before_ray_runs(rows, tmp_path):
    path, _ = rows
    with pytest.raises(ValueError, match="no column 'body'"):
        batch.run("text-vectorisation", path, tmp_path / "out", column="body")
    with pytest.raises(ValueError, match="does not exist"):
        batch.run("text-vectorisation", tmp_path / "missing.jsonl", tmp_path / "out")
    with pytest.raises(ValueError, match="'concurrency'"):
        batch.run("text-vectorisation", path, tmp_path / "out", concurrency=0)
    with pytest.raises(TypeError, match="'labels' must be a list"):
        batch.run("text-classification", path, tmp_path / "out", options={"labels": "not a list of labels"})
    assert not (tmp_path / "out").exists()
