"""Real servers: `deepaas-run` and `kerasprop serve` on 127.0.0.1, predictions, swagger, training, load.

Each server runs in its own process group, which the test ends.
"""

import io
import json
import math
import os
import statistics
import sys
import time

import aiohttp
import numpy as np
import pytest
from PIL import Image
from test_serving_models import (
    ColourModel,
    LiveServer,
    free_port,
    png,
    request,
    run_load,
    serve_command_line,
    tiny_text_classifier,
    write_entry_points,
)

import kerasprop
from kerasprop.schemas import get_schema
from kerasprop.serving import DeepaasModel

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
PREDICT = "/v2/models/kerasprop/predict/"
TRAIN = "/v2/models/kerasprop/train/"


def _environment(root, **variables):
    path = os.pathsep.join([write_entry_points(root / "entry-points"), TESTS, ROOT, os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, "KERASPROP_HOME": str(root / "home"), **variables}


@pytest.fixture
def live(tmp_path):
    servers = []

    def start(command, environment, port):
        server = LiveServer(command, environment, tmp_path / f"server-{len(servers)}.log", port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_deepaas_run_predicts_documents_and_trains(tmp_path, live):
    model = tiny_text_classifier()
    folder = kerasprop.save(model, path=tmp_path / "tiny-text-classifier")
    port = free_port()
    deepaas_run = os.path.join(os.path.dirname(sys.executable), "deepaas-run")
    server = live(
        [deepaas_run, "--listen-ip", "127.0.0.1", "--listen-port", str(port), "--model-name", "kerasprop"],
        _environment(tmp_path, KERASPROP_TASK="text-classification", KERASPROP_MODEL=folder,
                     KERASPROP_ALLOWED_CLASSES="test_serving_models:ServingTextClassifier"),
        port,
    )
    listing = server.wait_until_listed()
    assert [m["name"] for m in listing["models"]] == [model.name]

    texts = ["a great film", "dull and awful", "the plot was fine"]
    status, body = request("POST", server.url + PREDICT, json={"text": texts})
    assert status == 200, body
    adapter = DeepaasModel("text-classification", folder)
    assert adapter.schema().load(body) == body
    expected = model({"text": texts}, task="text-classification")
    for got, want in zip(body["predictions"], expected):
        assert list(got) == list(want)
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-5)

    status, spec = request("GET", server.url + "/swagger.json")
    assert status == 200
    documented = {p["name"]: p for p in spec["paths"][PREDICT]["post"]["parameters"]}
    schema = get_schema("text-classification")
    assert set(documented) == {"text", "labels", "top_k"}
    for key, parameter in documented.items():
        assert parameter["description"] == schema.field(key).description
    assert documented["top_k"]["default"] == 0 and documented["text"]["required"] is True
    training_args = {p["name"]: p for p in spec["paths"][TRAIN]["post"]["parameters"]}
    assert set(training_args) == {"data", "max_length", "epochs", "validation_split", "batch_size", "save_name",
                                  "overwrite"}
    assert (training_args["data"]["in"], training_args["data"]["type"]) == ("formData", "file")
    assert training_args["max_length"]["default"] == schema.variant().options[0].default

    params = {"texts": ["great film", "lovely movie", "awful plot", "boring film"] * 4,
              "labels": ["positive", "positive", "negative", "negative"] * 4}
    form = aiohttp.FormData()
    form.add_field("data", json.dumps(params).encode(), filename="params.json", content_type="application/json")
    form.add_field("epochs", "3")
    form.add_field("save_name", "served-and-finetuned")
    status, started = request("POST", server.url + TRAIN, data=form)
    assert status == 200 and started["status"] == "running", started
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, training = request("GET", server.url + TRAIN + started["uuid"])
        if training["status"] != "running":
            break
        time.sleep(1)
    assert training["status"] == "done", training
    result = training["result"]["output"]
    assert 1 <= result["epochs"] <= 3 and result["name"] == "served-and-finetuned"  # early stopping may end it sooner
    assert result["saved_to"] == str(tmp_path / "home" / "served-and-finetuned")
    assert set(result["losses"]) == {"loss", "val_loss"} and all(math.isfinite(v) for v in result["losses"].values())
    finetuned = kerasprop.load(result["saved_to"])
    moved = finetuned({"text": texts}, task="text-classification")
    # backprop's AdamW 2e-5 moves a tiny model only a little; an untouched model would match exactly.
    assert any(abs(a["positive"] - b["positive"]) > 1e-7 for a, b in zip(moved, expected))


def test_kerasprop_serve_under_load_with_bad_requests_mixed_in(tmp_path, live):
    colours = ColourModel()
    folder = kerasprop.save(colours, path=tmp_path / "colour")
    port = free_port()
    server = live(
        serve_command_line("--task", "image-classification", "--model", folder, "--allow-pickle",
                           "--port", str(port), "--workers", "2"),
        _environment(tmp_path, TMPDIR=str(tmp_path / "tmp")),
        port,
    )
    (tmp_path / "tmp").mkdir()
    server.wait_until_listed()

    labels = [("labels", "red"), ("labels", "green"), ("labels", "blue")]
    images = {name: png(rgb) for name, rgb in (("red", (230, 20, 20)), ("green", (10, 200, 40)), ("blue", (0, 30, 220)))}

    def upload(data, **fields):
        def make():
            form = aiohttp.FormData(fields)
            form.add_field("image", data, filename="image.png", content_type="image/png")
            return form
        return make

    bad = [
        lambda: {"params": [("top_k", "many")], "data": upload(images["red"])()},  # wrong type
        lambda: {"params": labels, "data": upload(images["red"][:50])()},  # broken image
        lambda: {"data": upload(images["red"], labels="x" * 200_000)()},  # huge text
        lambda: {"params": labels, "data": {"image": "not a file"}},  # no upload
    ]
    plan = []
    for i in range(200):
        if i % 5 == 4:
            plan.append(("bad", ("POST", PREDICT, bad[(i // 5) % len(bad)])))
        else:
            name = list(images)[i % 3]
            plan.append((name, ("POST", PREDICT, (lambda n: lambda: {"params": labels, "data": upload(images[n])()})(name))))
    results, wall = run_load(server.url, [r for _, r in plan], concurrency=8)

    latencies = []
    for (kind, _), (status, body, seconds) in zip(plan, results):
        if kind == "bad":
            assert 400 <= status < 500, (status, body)
            continue
        assert status == 200, (status, body)
        (prediction,) = body["predictions"]
        assert next(iter(prediction)) == kind
        latencies.append(seconds)
    expected = {n: colours.colour_probabilities(Image.open(io.BytesIO(images[n])), ["red", "green", "blue"]) for n in images}
    for (kind, _), (status, body, _) in zip(plan, results):
        if kind != "bad":
            assert body["predictions"][0] == pytest.approx(expected[kind], abs=1e-12)
    # The operations `kerasprop serve` adds: /health, /metrics, and one temporary folder, removed on exit.
    status, health = request("GET", server.url + "/health")
    assert status == 200 and (health["model_loaded"], health["queue_depth"], health["workers"]) == (True, 0, 2)
    status, metrics = request("GET", server.url + "/metrics")
    assert status == 200
    assert f'kerasprop_requests_total{{endpoint="predict",status="200"}} {len(latencies)}.0' in metrics
    assert 'kerasprop_errors_total{kind="invalid_input"}' in metrics
    (server_tmp,) = (tmp_path / "tmp").iterdir()
    assert server_tmp.name.startswith(f"kerasprop-serve-{server.process.pid}-")
    assert list(server_tmp.iterdir()) == []  # the adapter removes each upload once read
    server.stop()
    assert list((tmp_path / "tmp").iterdir()) == []
    quantiles = statistics.quantiles(latencies, n=20)
    print(
        f"\nserving load: {len(results)} requests ({len(latencies)} good), concurrency 8, 2 workers: "
        f"{len(results) / wall:.1f} requests/s, p50 {1000 * statistics.median(latencies):.1f} ms, "
        f"p95 {1000 * quantiles[18]:.1f} ms"
    )
