"""Tiny models and helpers for the serving tests, importable by DEEPaaS worker processes.

The adapter must serve any kerasprop model, so the tests use two of their own:
a keras-hub `Task` (a one-layer BERT classifier over learnt labels, which can be
finetuned) and a plain `BaseModel` with no Keras inside (colour statistics of
images, saved with dill). Also here: a live DEEPaaS process and a load
generator, shared with benchmarks/serving_load.py. This module holds no tests.
"""

import asyncio
import io
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import tomllib

import aiohttp
import keras
import keras_hub
import numpy as np
from PIL import Image

from kerasprop.models import BaseModel, KerasTaskModel

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (
    "the a film movie plot was is very quite not good great fine lovely awful bad boring dull".split()
)
COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
           "white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}


@keras.saving.register_keras_serializable(package="kerasprop_tests")
class ServingTextClassifier(KerasTaskModel, keras_hub.models.BertTextClassifier):
    """Text classification over the labels it learnt (`class_names`)."""

    default_tasks = ("text-classification",)
    finetunable_tasks = ("text-classification",)

    def __init__(self, *args, class_names=("negative", "positive"), **kwargs):
        super().__init__(*args, **kwargs)
        self.class_names = list(class_names)

    def get_config(self):
        return {**super().get_config(), "class_names": self.class_names}

    def probabilities(self, texts):
        logits = self.predict(np.asarray(texts), verbose=0)
        return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))

    def predict_text_classification(self, request):
        if any(labels is not None for labels in request.inputs["labels"]):
            raise ValueError(f"'labels' cannot be given: this model scores its own labels {self.class_names}.")
        top_k = request.options["top_k"] or len(self.class_names)
        results = []
        for row in self.probabilities(request.inputs["text"]):
            ranked = sorted(zip(self.class_names, row.tolist()), key=lambda pair: -pair[1])
            results.append(dict(ranked[:top_k]))
        return results

    def process_batch(self, params, task, max_length=128):
        self.check_finetunable(task)
        self.preprocessor.sequence_length = max_length
        labels = [self.class_names.index(label) for label in params["labels"]]
        return np.asarray(params["texts"]), np.asarray(labels)


def tiny_text_classifier():
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=16)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=128,
    )
    return ServingTextClassifier(backbone=backbone, num_classes=2, preprocessor=preprocessor, name="tiny_text_classifier")


class ColourModel(BaseModel):
    """Image vectors (channel means and standard deviations) and zero-shot colour classification."""

    def __init__(self, temperature=0.1):
        super().__init__(name="colour-statistics", description="Colour statistics of images.",
                         tasks=["image-classification", "image-vectorisation"])
        self.temperature = temperature

    @staticmethod
    def statistics(image):
        pixels = np.asarray(image, dtype="float64").reshape(-1, 3) / 255.0
        return np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)])

    def colour_probabilities(self, image, labels):
        unknown = [label for label in labels if label not in COLOURS]
        if unknown:
            raise ValueError(f"'labels' holds colour(s) this model does not know: {unknown}; it knows {list(COLOURS)}.")
        mean = self.statistics(image)[:3]
        distances = np.array([np.linalg.norm(mean - np.array(COLOURS[label])) for label in labels])
        scores = np.exp(-(distances - distances.min()) / self.temperature)
        return dict(zip(labels, (scores / scores.sum()).tolist()))

    def predict_task(self, task, request):
        images = request.inputs["image"]
        if task == "image-vectorisation":
            return [self.statistics(image) for image in images]
        results = []
        for image, labels in zip(images, request.inputs["labels"]):
            probabilities = self.colour_probabilities(image, labels or list(COLOURS))
            ranked = sorted(probabilities.items(), key=lambda pair: -pair[1])
            results.append(dict(ranked[: request.options["top_k"] or len(ranked)]))
        return results


class SlowColourModel(ColourModel):
    """`ColourModel` that takes `seconds` per prediction and appends a line to `started` as each one starts."""

    def __init__(self, seconds, started):
        super().__init__()
        self.seconds = seconds
        self.started = str(started)

    def predict_task(self, task, request):
        with open(self.started, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(self.seconds)
        return super().predict_task(task, request)


def write_entry_points(folder):
    """Makes the `deepaas.v2.model` entry points of pyproject.toml visible to Python processes on `folder`.

    DEEPaaS finds models through installed entry points; the tests run from a
    checkout, so they publish the project's own declaration in a dist-info.
    """
    with open(pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["project"]["entry-points"]["deepaas.v2.model"]
    dist = pathlib.Path(folder) / "kerasprop_entry_points-0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kerasprop-entry-points\nVersion: 0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in declared.items())
    (dist / "entry_points.txt").write_text("[deepaas.v2.model]\n" + lines)
    return str(folder)


def png(colour, size=(8, 8)):
    """PNG bytes of a plain image."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


class LiveServer:
    """A DEEPaaS server process (and its workers) in its own process group, on 127.0.0.1."""

    def __init__(self, command, environment, log_path, port):
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            command, env={**os.environ, **environment}, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def wait_until_listed(self, timeout=300):
        """Waits until /v2/models/ lists the kerasprop model; returns the listing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, body = request("GET", self.url + "/v2/models/", timeout=5)
                if status == 200 and any(m["id"] for m in body["models"]):
                    return body
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"The server did not list its model within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, size=4000):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-size:].decode("utf-8", "replace")

    def stop(self):
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
                # The group may outlive its leader (worker processes): end it too.
                os.killpg(self.process.pid, signal.SIGKILL)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                pass
            break
        self.log.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, timeout=60, **kwargs):
    """One HTTP request: (status, JSON body or text)."""
    async def call():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.request(method, url, **kwargs) as response:
                text = await response.text()
                is_json = response.content_type == "application/json"
                return response.status, (json.loads(text) if is_json else text)

    return asyncio.run(call())


def run_load(url, requests, concurrency, timeout=120):
    """Sends `requests` (a list of (method, path, kwargs-factory)) `concurrency` at a time.

    Returns one (status, body, seconds) per request, in order, and the wall time.
    """
    async def main():
        limit = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:

            async def one(method, path, make_kwargs):
                async with limit:
                    start = time.perf_counter()
                    async with session.request(method, url + path, **make_kwargs()) as response:
                        text = await response.text()
                        body = json.loads(text) if response.content_type == "application/json" else text
                        return response.status, body, time.perf_counter() - start

            start = time.perf_counter()
            results = await asyncio.gather(*(one(*r) for r in requests))
            return results, time.perf_counter() - start

    return asyncio.run(main())


def serve_command_line(*arguments):
    """`kerasprop serve ARGUMENTS`, through the kerasprop command."""
    return [sys.executable, "-m", "kerasprop.cli", "serve", *arguments]
