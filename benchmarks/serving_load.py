"""Serving overhead: the same model called directly and through `kerasprop serve` (DEEPaaS).

Serves the tests' colour model (image-classification, no Keras work per call, so
the figures measure the HTTP and worker path) with 2 workers on 127.0.0.1 and
sends uploads at concurrency 1 and 8, then at concurrency 32 with 20% hostile
requests mixed in (an oversized body, malformed JSON, a body that trickles in
slower than `--body-timeout`, a decompression-bomb PNG, JSON nested 100,000 deep).

    KERAS_BACKEND=jax PYTHONPATH=. python benchmarks/serving_load.py [--requests 400]

Prints one line per measurement, the server's peak memory (all its processes)
and a final ratio line (HTTP at concurrency 8 over direct calls). Fails if a
good request is answered wrongly or a hostile one gets anything but a 4xx.
"""

import argparse
import asyncio
import io
import os
import threading
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


def hostile_requests():
    """Factories of request kwargs that a server must answer 4xx (and never 500), with their names."""
    bomb = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(bomb, "PNG")  # 400M pixels in a few hundred KB

    async def trickle():
        yield b'{"labels": '
        await asyncio.sleep(4)
        yield b'["red"]}'

    def upload(data):
        form = aiohttp.FormData()
        form.add_field("image", data, filename="image.png", content_type="image/png")
        return {"params": [("labels", label) for label in LABELS], "data": form}

    json_headers = {"Content-Type": "application/json"}
    return {
        "oversized": lambda: upload(b"\0" * (2 * 2**20)),  # over --max-request-mb 1
        "malformed": lambda: {"data": b'{"labels": [', "headers": json_headers},
        "slow body": lambda: {"data": trickle(), "headers": json_headers},
        "bomb": lambda: upload(bomb.getvalue()),
        "nested": lambda: {"data": b'{"labels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "headers": json_headers},
    }


class PeakMemory:
    """Samples the resident memory of a process group (the server and its workers) every 0.2 s."""

    def __init__(self, group):
        self.group, self.first, self.peak, self.running = group, None, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            total = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.getpgid(int(pid)) == self.group:
                        with open(f"/proc/{pid}/status") as f:
                            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
                except (OSError, StopIteration):
                    continue
            self.first = total if self.first is None else self.first
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def stop(self):
        """(first sample, peak) in MiB."""
        self.running = False
        self.thread.join()
        return self.first / 2**10, self.peak / 2**10


def under_attack(url, image, count):
    """`count` requests at concurrency 32, every fifth one hostile; checks every answer."""
    good_kwargs = [(label, png(rgb, size=(64, 64))) for label, rgb in
                   (("red", (220, 30, 30)), ("green", (20, 200, 40)), ("blue", (10, 30, 220)))]
    hostile = list(hostile_requests().items())
    plan = []
    for i in range(count):
        if i % 5 == 4:
            plan.append(hostile[(i // 5) % len(hostile)])
        else:
            label, data = good_kwargs[i % 3]

            def make(data=data):
                form = aiohttp.FormData()
                form.add_field("image", data, filename="image.png", content_type="image/png")
                return {"params": [("labels", name) for name in LABELS], "data": form}
            plan.append((label, make))
    results, wall = run_load(url, [("POST", PREDICT, make) for _, make in plan], concurrency=32)
    latencies, wrong, statuses = [], [], {}
    for (kind, _), (status, body, seconds) in zip(plan, results):
        if kind in LABELS:
            latencies.append(seconds)
            if status != 200 or next(iter(body["predictions"][0])) != kind:
                wrong.append((kind, status, body))
        else:
            statuses.setdefault(kind, set()).add(status)
            if not 400 <= status < 500:
                wrong.append((kind, status, body))
    latencies.sort()
    return {"rate": count / wall, "p50": statistics.median(latencies), "p99": latencies[int(0.99 * len(latencies))],
            "wrong": wrong, "statuses": statuses, "good": len(latencies)}


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
        # An operator's settings for 32 clients: a queue that holds them, a short body deadline, small bodies.
        command = serve_command_line("--task", "image-classification", "--model", folder, "--allow-pickle",
                                     "--port", str(port), "--workers", "2", "--max-queue", "64",
                                     "--body-timeout", "2", "--max-request-mb", "1")
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
            memory = PeakMemory(os.getpgid(server.process.pid))
            attack = under_attack(server.url, image, args.requests)
            before, peak = memory.stop()
            hostile = ", ".join(f"{kind} {sorted(codes)}" for kind, codes in attack["statuses"].items())
            print(
                f"http concurrency 32, 20% hostile: {attack['rate']:.1f} requests/s, {attack['good']} good: "
                f"p50 {1000 * attack['p50']:.1f} ms, p99 {1000 * attack['p99']:.1f} ms, "
                f"wrong answers {len(attack['wrong'])}; hostile answered {hostile}; "
                f"server memory {before:.0f} MiB before, peak {peak:.0f} MiB"
            )
            if attack["wrong"]:
                raise SystemExit(f"wrong answers under attack: {attack['wrong'][:5]}")
        finally:
            server.stop()
    print(f"ratio http(concurrency 8) / direct: {rates[8] / rate:.3f}")


if __name__ == "__main__":
    main()
