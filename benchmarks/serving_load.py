"""Serving overhead: the same model called directly and through `kerasprop serve` (DEEPaaS).

Serves the tests' colour model (image-classification, no Keras work per call, so
the figures measure the HTTP and worker path) with 2 workers on 127.0.0.1 and
sends uploads at concurrency 1 and 8.

    KERAS_BACKEND=jax PYTHONPATH=. python benchmarks/serving_load.py [--requests 400]

Prints one line per measurement and a final ratio line (HTTP at concurrency 8
over direct calls).
"""

import argparse
import io
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import aiohttp  # noqa: E402
from PIL import Image  # noqa: E402
from test_serving_models import (  # noqa: E402
    ColourModel,
    LiveServer,
    free_port,
    png,
    run_load,
    serve_command_line,
    write_entry_points,
)

import kerasprop  # noqa: E402

PREDICT = "/v2/models/kerasprop/predict/"
LABELS = ["red", "green", "blue"]


def direct(model, image, count):
    start = time.perf_counter()
    for _ in range(count):
        model({"image": Image.open(io.BytesIO(image)), "labels": LABELS}, task="image-classification")
    return count / (time.perf_counter() - start)


def over_http(url, image, count, concurrency):
    def make():
        form = aiohttp.FormData()
        form.add_field("image", image, filename="image.png", content_type="image/png")
        return {"params": [("labels", label) for label in LABELS], "data": form}

    results, wall = run_load(url, [("POST", PREDICT, make)] * count, concurrency)
    failures = sum(status != 200 for status, _, _ in results)
    latencies = sorted(seconds for _, _, seconds in results)
    return count / wall, statistics.median(latencies), statistics.quantiles(latencies, n=20)[18], failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    image = png((220, 30, 30), size=(64, 64))
    model = ColourModel()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        folder = kerasprop.save(model, path=tmp / "colour")
        port = free_port()
        environment = {
            "PYTHONPATH": os.pathsep.join([write_entry_points(tmp / "entry-points"), str(ROOT / "tests"), str(ROOT)]),
            "KERASPROP_HOME": str(tmp / "home"),
        }
        command = serve_command_line("--task", "image-classification", "--model", folder, "--allow-pickle",
                                     "--port", str(port), "--workers", "2")
        server = LiveServer(command, environment, tmp / "server.log", port)
        try:
            start = time.perf_counter()
            server.wait_until_listed()
            print(f"server start (import, spawn 2 workers, warm): {time.perf_counter() - start:.1f} s")
            over_http(server.url, image, 16, 8)  # first calls in each worker
            rate = direct(model, image, args.requests)
            print(f"direct model calls: {rate:.1f} requests/s")
            rates = {}
            for concurrency in (1, 8):
                rates[concurrency], p50, p95, failures = over_http(server.url, image, args.requests, concurrency)
                print(
                    f"http concurrency {concurrency}: {rates[concurrency]:.1f} requests/s, "
                    f"p50 {1000 * p50:.1f} ms, p95 {1000 * p95:.1f} ms, failures {failures}"
                )
        finally:
            server.stop()
    print(f"ratio http(concurrency 8) / direct: {rates[8] / rate:.3f}")


if __name__ == "__main__":
    main()
