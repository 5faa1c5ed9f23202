"""The DEEPaaS adapter: derived arguments and schemas, metadata, pickling, and DEEPaaS's own app in process.

The app tests run DEEPaaS as `deepaas-run` would (entry point, webargs parsing,
spawned worker processes) on an aiohttp test server.
"""

import asyncio
import io
import json
import os
import pickle
import sys
import tempfile

import aiohttp
import marshmallow
import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from test_serving_models import ColourModel, png, tiny_text_classifier, write_entry_points

import kerasprop
from kerasprop.hub import catalog
from kerasprop.schemas import BATCH, get_schema, task_names
from kerasprop.serving import DeepaasModel, InvalidInput, add_serve_command, serve_command
from kerasprop.serving.command import served_app
from kerasprop.serving.adapter import read_params
from kerasprop.serving.fields import UploadedText, predict_arguments, response_schema, train_arguments

PREDICT = "/v2/models/kerasprop/predict/"
TRAIN = "/v2/models/kerasprop/train/"


# Arguments and schemas derived from the task schemas.


@pytest.mark.parametrize("task", task_names())
def test_predict_arguments_follow_the_task_schema(task):
    schema = get_schema(task)
    args = predict_arguments(schema)
    assert set(args) == {f.key for f in schema.fields} - {"return_tensor"}
    for key, field in args.items():
        declared = schema.field(key)
        assert field.required == declared.required
        assert field.metadata["description"]
        if declared.default is not None:
            assert field.load_default == declared.default
            assert field.metadata["default"] == declared.default
        # Inputs are lists, except where a request carries one uploaded file.
        takes_files = any(f.metadata.get("type") == "file" for f in args.values())
        if declared.role == BATCH:
            assert isinstance(field, marshmallow.fields.List) == (not takes_files)


@pytest.mark.parametrize("task", [t for t in task_names() if get_schema(t).finetunable])
def test_train_arguments_follow_the_finetuning_schema(task):
    schema = get_schema(task)
    args = train_arguments(schema)
    assert args["data"].required and args["data"].metadata["type"] == "file"
    for variant in schema.finetune.values():
        for key in (f.key for f in variant.fields):
            assert key in args["data"].metadata["description"]
        for option in variant.options:
            assert args[option.key].load_default == option.default
    named = [v for v in schema.finetune if v is not None]
    if named:
        args["variant"].deserialize(named[-1])
        with pytest.raises(marshmallow.ValidationError, match="Must be one of"):
            args["variant"].deserialize("no-such-variant")


def test_arguments_refuse_what_the_schema_refuses_with_its_message():
    load = marshmallow.Schema.from_dict(predict_arguments(get_schema("text-generation"), max_items=2))().load
    assert load({"text": ["Once upon a time"]})["max_length"] == get_schema("text-generation").field("max_length").default
    with pytest.raises(marshmallow.ValidationError) as error:
        load({"text": ["a"], "top_p": 1.5, "num_beams": 0})
    assert "'top_p' must be at most 1.0" in error.value.messages["top_p"][0]
    assert "'num_beams' must be at least 1" in error.value.messages["num_beams"][0]
    with pytest.raises(marshmallow.ValidationError) as error:
        load({"text": ["a", "b", "c"]})
    assert "text" in error.value.messages


@pytest.mark.parametrize(
    "task, good, bad",
    [
        ("text-classification", {"yes": 0.75, "no": 0.25}, {"yes": 1.5}),
        ("text-generation", ["one", "two"], 3),
        ("text-vectorisation", [0.1, -2.0], ["x"]),
        ("qa", "Paris", None),
    ],
)
def test_response_schema_follows_the_output_spec(task, good, bad):
    schema = response_schema(get_schema(task))()
    response = {"task": task, "model": "m", "predictions": [good]}
    assert schema.load(response) == response
    with pytest.raises(marshmallow.ValidationError) as error:
        schema.load({**response, "predictions": [bad]})
    assert "predictions" in error.value.messages


# The adapter outside DEEPaaS.


def test_metadata_comes_from_the_catalog_entry():
    entry = catalog.find_entry("bart-large-mnli")
    meta = DeepaasModel("text-classification", "bart-large-mnli").get_metadata()
    assert meta["id"] == meta["name"] == "bart-large-mnli"
    assert meta["license"] == entry.license
    assert meta["description"].startswith(entry.description)
    assert meta["url"] == "https://huggingface.co/facebook/bart-large-mnli"
    assert meta["author"] == "facebook"
    assert meta["links"] == [{"rel": "source", "href": meta["url"], "type": "text/html"}]
    assert meta["version"] == kerasprop.__version__


def test_configuration_from_the_environment():
    adapter = DeepaasModel.from_environment({"KERASPROP_MODEL": "t5-small", "KERASPROP_TASK": "summarisation"})
    assert (adapter.task, adapter.model_name, adapter.allow_pickle) == ("summarisation", "t5-small", False)
    assert DeepaasModel.from_environment(adapter.environment()).environment() == adapter.environment()
    # A model with one task needs no task; the task alone picks its first catalog model.
    assert DeepaasModel.from_environment({"KERASPROP_MODEL": "distilgpt2"}).task == "text-generation"
    assert DeepaasModel.from_environment({"KERASPROP_TASK": "text-vectorisation"}).model_name == "all-minilm-l6-v2"
    with pytest.raises(ValueError, match="KERASPROP_TASK"):
        DeepaasModel.from_environment({"KERASPROP_MODEL": "t5-small"})
    with pytest.raises(ValueError, match="Did you mean 'summarisation'"):
        DeepaasModel.from_environment({"KERASPROP_TASK": "summarization"})
    # Classes of the operator's own that saved models may name (folders never choose what is imported).
    allowing = DeepaasModel.from_environment({"KERASPROP_TASK": "summarisation",
                                              "KERASPROP_ALLOWED_CLASSES": "my_models:Summariser, my.pkg:Other"})
    assert allowing.allowed_classes == ("my_models:Summariser", "my.pkg:Other")
    assert DeepaasModel.from_environment(allowing.environment()).allowed_classes == allowing.allowed_classes
    with pytest.raises(ValueError, match=r"'module:Class', got 'os.system\(1\)' \(from KERASPROP_ALLOWED_CLASSES\)"):
        DeepaasModel.from_environment({"KERASPROP_TASK": "summarisation", "KERASPROP_ALLOWED_CLASSES": "os.system(1)"})
    # The most work a request may ask for: defaults, the operator's overrides, and what is refused.
    limited = DeepaasModel.from_environment({"KERASPROP_TASK": "text-generation", "KERASPROP_LIMITS": "num_beams=2"})
    assert limited.limits["num_beams"] == 2 and limited.limits["num_generations"] == 8
    assert DeepaasModel.from_environment(limited.environment()).limits == limited.limits
    load = marshmallow.Schema.from_dict(limited.get_predict_args())().load
    assert load({"text": ["a"], "num_beams": 2, "num_generations": 8})["num_beams"] == 2
    with pytest.raises(marshmallow.ValidationError) as refused:
        load({"text": ["a"], "num_beams": 3, "num_generations": 1000})
    assert refused.value.messages == {"num_beams": ["'num_beams' is at most 2 on this server."],
                                      "num_generations": ["'num_generations' is at most 8 on this server."]}
    with pytest.raises(ValueError, match=r"Unknown work limit\(s\) \['beams'\]"):
        DeepaasModel.from_environment({"KERASPROP_TASK": "text-generation", "KERASPROP_LIMITS": "beams=2"})
    with pytest.raises(ValueError, match="'option=integer' items, got 'num_beams=two'"):
        DeepaasModel.from_environment({"KERASPROP_TASK": "text-generation", "KERASPROP_LIMITS": "num_beams=two"})
    # The model is checked before anything is loaded or served.
    with pytest.raises(ValueError, match=r"Model 't5-smal' not found.*Close matches: \['t5-small'"):
        DeepaasModel("summarisation", "t5-smal")
    with pytest.raises(ValueError, match=r"'distilgpt2' does not serve 'summarisation'; its tasks are \['text-generation'\]"):
        DeepaasModel("summarisation", "distilgpt2")


def test_adapter_pickles_without_its_model(tmp_path):
    path = kerasprop.save(ColourModel(), path=tmp_path / "colour")
    adapter = DeepaasModel("image-vectorisation", path, allow_pickle=True)
    adapter.warm()
    payload = pickle.dumps(adapter)
    assert len(payload) < 1000 and b"ColourModel" not in payload
    clone = pickle.loads(payload)
    assert clone.environment() == adapter.environment()
    assert clone.model is adapter.model  # the per-process cache, not a second load


def test_invalid_input_survives_pickling_as_a_422():
    error = pickle.loads(pickle.dumps(InvalidInput("'text' must be a string")))
    assert error.status == 422
    assert json.loads(error.text) == {"message": "'text' must be a string"}


def test_training_data_over_http_never_reads_server_paths(tmp_path, monkeypatch):
    adapter = DeepaasModel("image-classification", "resnet-tiny-shapes")
    monkeypatch.setattr(adapter, "load_model", lambda: pytest.fail("refused data must not reach the model"))
    existing = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(existing)
    answers = []
    for path in (str(existing), str(tmp_path / "missing.png"), "/etc/passwd"):
        data = UploadedText("data.json", json.dumps({"images": [path], "labels": ["circle"]}))
        with pytest.raises(InvalidInput) as refused:
            adapter.train(data=data, variant="single_label")
        answers.append(json.loads(refused.value.text)["message"])
    # The same answer whether the path exists or not: no file-existence oracle.
    assert answers == [answers[0]] * 3 and "'images' item 0 is not base64 data" in answers[0]


def test_training_params_from_json_and_csv():
    variant = get_schema("text-vectorisation").variant("triplet")
    from_csv = read_params(UploadedText("data.csv", 'texts,groups\nhello,1\n"a, b",2\n'), variant)
    from_json = read_params(UploadedText("data.json", json.dumps({"texts": ["hello", "a, b"], "groups": [1, 2]})), variant)
    assert from_csv == from_json == {"texts": ["hello", "a, b"], "groups": [1, 2]}
    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['text'\]"):
        read_params(UploadedText("data.csv", "text,groups\nhello,1\n"), variant)
    with pytest.raises(InvalidInput, match="'data' is not valid JSON"):
        read_params(UploadedText("data.json", "{'texts': []}"), variant)
    # A pickled upload keeps its content but DEEPaaS echoes only its name.
    upload = pickle.loads(pickle.dumps(UploadedText("data.csv", "texts\nhello\n", "text/csv")))
    assert (json.dumps(upload), upload.text, upload.content_type) == ('"data.csv"', "texts\nhello\n", "text/csv")


def test_serve_command_parses_and_needs_the_entry_point(monkeypatch):
    import argparse
    import importlib.metadata

    parser = argparse.ArgumentParser(prog="kerasprop")
    add_serve_command(parser.add_subparsers())
    args = parser.parse_args(["serve", "--task", "summarisation", "--model", "t5-small", "--port", "5123"])
    assert (args.task, args.model, args.host, args.port, args.handler) == (
        "summarisation", "t5-small", "127.0.0.1", 5123, serve_command)
    assert (args.max_queue, args.queue_timeout, args.max_trainings, args.body_timeout) == (16, 30.0, 1, 30.0)
    with pytest.raises(ValueError, match="'max_queue'"):
        serve_command(parser.parse_args(["serve", "--task", "summarisation", "--max-queue", "-2"]))
    monkeypatch.setenv("KERASPROP_TOKEN", "short")
    with pytest.raises(ValueError, match="'token'"):
        serve_command(args)
    monkeypatch.delenv("KERASPROP_TOKEN")
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--task", "summarization"])
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    with pytest.raises(RuntimeError, match=r"pip install 'kerasprop\[serve\]'"):
        serve_command(args)


# DEEPaaS's own app in this process.


class InProcessDeepaas:
    """DEEPaaS's app (entry point, webargs, spawned workers) on an aiohttp test server."""

    def __init__(self, environment, path, settings=None):
        import deepaas.api
        import deepaas.config
        import deepaas.model.v2

        self.saved_environment = {k: os.environ.get(k) for k in environment}
        os.environ.update(environment)  # read by the entry point and inherited by the workers
        self.path = path
        self.settings = settings
        sys.path.insert(0, path)
        if "debug" not in deepaas.config.CONF:  # logging options, registered once per process
            deepaas.config.prepare_logging()
        deepaas.config.parse_args(["deepaas-run", "--model-name=kerasprop"])
        deepaas.api.APP = None
        deepaas.model.v2.MODELS.clear()
        deepaas.model.v2.MODELS_LOADED = False
        self.loop = asyncio.new_event_loop()
        self.client = self.loop.run_until_complete(self._start())
        self.wrapper = deepaas.model.v2.MODELS["kerasprop"]

    async def _start(self):
        import deepaas.api

        if self.settings is None:
            app = await deepaas.api.get_app()
        else:  # as `kerasprop serve` builds it
            app = await served_app(self.settings, os.environ["KERASPROP_TASK"], os.environ["KERASPROP_MODEL"])
        client = TestClient(TestServer(app))
        await client.start_server()
        return client

    def call(self, method, path, **kwargs):
        return self.calls([(method, path, kwargs)])[0][:2]

    def calls(self, requests):
        """Sends `(method, path, kwargs)` requests at once; one `(status, body, headers)` each."""
        async def call(method, path, kwargs):
            async with self.client.request(method, path, **kwargs) as response:
                body = await response.text()
                is_json = response.content_type == "application/json"
                return response.status, (json.loads(body) if is_json else body), response.headers

        async def all_calls():
            return await asyncio.gather(*(call(*r) for r in requests))

        return self.loop.run_until_complete(all_calls())

    def close(self):
        # DEEPaaS's cleanup leaves idle worker pools to the garbage collector: end them here.
        for pool in (*self.wrapper._executor._free, *self.wrapper._executor._working):
            pool.terminate()
        self.loop.run_until_complete(self.client.close())
        self.loop.close()
        sys.path.remove(self.path)
        for key, value in self.saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def uploads_dir(tmp_path_factory, request):
    """DEEPaaS writes predict uploads here (it uses the tempfile default folder)."""
    folder = tmp_path_factory.mktemp("uploads")
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    request.addfinalizer(lambda: setattr(tempfile, "tempdir", saved))
    return folder


@pytest.fixture(scope="module")
def text_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-server")
    model = tiny_text_classifier()
    folder = kerasprop.save(model, path=root / "tiny-text-classifier")
    server = InProcessDeepaas(
        {"KERASPROP_TASK": "text-classification", "KERASPROP_MODEL": folder,
         "KERASPROP_HOME": str(root / "home"), "KERASPROP_ALLOWED_CLASSES": "test_serving_models:ServingTextClassifier"},
        write_entry_points(root / "entry-points"),
    )
    yield server, model
    server.close()


@pytest.fixture(scope="module")
def image_server(tmp_path_factory, uploads_dir):
    root = tmp_path_factory.mktemp("image-server")
    model = ColourModel()
    folder = kerasprop.save(model, path=root / "colour")
    server = InProcessDeepaas(
        {"KERASPROP_TASK": "image-classification", "KERASPROP_MODEL": folder, "KERASPROP_ALLOW_PICKLE": "1",
         "KERASPROP_LIMITS": "image_pixels=4096"},
        write_entry_points(root / "entry-points"),
    )
    yield server, model
    server.close()


def test_text_predict_matches_the_model_and_validates(text_server):
    server, model = text_server
    texts = ["the film was great", "awful boring plot", "a lovely movie"]
    status, body = server.call("POST", PREDICT, json={"text": texts, "top_k": 1})
    assert status == 200, body
    assert server.wrapper.response_schema().load(body) == body
    expected = model({"text": texts, "top_k": 1}, task="text-classification")
    assert [list(p) for p in body["predictions"]] == [list(e) for e in expected]
    for got, want in zip(body["predictions"], expected):
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)
    # The query string form repeats the key, one per input; a single JSON string is one input.
    status, body = server.call("POST", PREDICT, params=[("text", t) for t in texts[:2]])
    assert status == 200 and len(body["predictions"]) == 2
    status, body = server.call("POST", PREDICT, json={"text": texts[0]})
    assert status == 200 and len(body["predictions"]) == 1


def test_any_json_body_is_answered_200_or_4xx_never_5xx(text_server):
    """The HTTP layer fuzzed through DEEPaaS's real app and parser: JSON values under the task's keys and others,
    and bodies that are not JSON at all. The tiny model answers in milliseconds, so 60 examples each stay cheap."""
    from hypothesis import given
    from hypothesis import strategies as st
    from test_fuzz import FUZZ, json_values, requests_for

    server, _ = text_server

    @FUZZ
    @given(requests_for(get_schema("text-classification")))
    def json_bodies(body):
        status, answer = server.call("POST", PREDICT, json=body)
        assert status == 200 or 400 <= status < 500, (body, status, answer)
        if status == 200:
            assert server.wrapper.response_schema().load(answer) == answer

    @FUZZ
    @given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def raw_bodies(body):
        status, answer = server.call("POST", PREDICT, data=body, headers={"Content-Type": "application/json"})
        assert 400 <= status < 500, (body, status, answer)

    json_bodies()
    raw_bodies()


@pytest.mark.parametrize(
    "arguments, field, words",
    [
        ({}, "text", "Missing data for required field"),
        ({"text": [3]}, "text", "Not a valid string"),
        ({"text": ["fine"], "top_k": "three"}, "top_k", "Not a valid integer"),
        ({"text": ["fine"], "top_k": -1}, "top_k", "'top_k' must be at least 0"),
        ({"text": ["fine"], "labels": ["yes", "yes"]}, "labels", "must not repeat items"),
        ({"text": ["x" * 100_001]}, "text", "Longer than maximum length"),
        # No coercion: what the Python API refuses, HTTP refuses too.
        ({"text": ["fine"], "top_k": 2.5}, "top_k", "Not a valid integer"),
        ({"text": ["fine"], "top_k": True}, "top_k", "Not a valid integer"),
        ({"text": ["fine"], "labels": "yes"}, "labels", "Not a valid list"),
        ({"text": ["fine"], "lables": ["yes", "no"]}, "lables", "Unknown field"),
    ],
)
def test_bad_text_arguments_get_422_naming_the_field(text_server, arguments, field, words):
    server, _ = text_server
    status, body = server.call("POST", PREDICT, json=arguments)
    assert status == 422
    assert field in body and words in json.dumps(body[field])


def test_unknown_keys_malformed_and_deeply_nested_bodies_are_4xx(text_server):
    server, _ = text_server
    status, body = server.call("POST", PREDICT, params=[("text", "fine"), ("colour", "red")])
    assert status == 422 and "Unknown field" in json.dumps(body["colour"])
    json_body = {"headers": {"Content-Type": "application/json"}}
    status, body = server.call("POST", PREDICT, data="[" * 100_000 + "]" * 100_000, **json_body)
    assert status == 400 and body == {"json": ["The JSON body is nested too deeply."]}
    status, body = server.call("POST", PREDICT, data='{"text": ["fine"', **json_body)
    assert status == 400 and "not valid JSON" in body["json"][0]
    status, body = server.call("POST", PREDICT, data='{"text": ["fine"], "top_k": 1}', **json_body)
    assert status == 200 and len(body["predictions"]) == 1


def test_errors_raised_by_the_model_are_422_not_500(text_server):
    server, _ = text_server
    status, body = server.call("POST", PREDICT, json={"text": ["fine"], "labels": ["yes", "no"]})
    assert status == 422
    assert body == {"message": "'labels' cannot be given: this model scores its own labels ['negative', 'positive']."}


def _finished_training(server, started):
    """The train job's last state, polled until it stops running (at most a minute)."""
    for _ in range(300):
        status, training = server.call("GET", TRAIN + started["uuid"])
        if training["status"] != "running":
            break
        server.loop.run_until_complete(asyncio.sleep(0.2))
    return training


def test_training_errors_are_reported_with_the_reason(text_server):
    server, _ = text_server
    form = aiohttp.FormData()
    form.add_field("data", b"texts,label\nfine,positive\n", filename="data.csv", content_type="text/csv")
    status, started = server.call("POST", TRAIN, data=form)
    assert status == 200 and started["status"] == "running"
    training = _finished_training(server, started)
    assert training["status"] == "error"
    assert "unknown column(s) ['label']" in training["message"]
    status, body = server.call("POST", TRAIN, data={"epochs": "2"})
    assert status == 422 and "data" in body


def _form(image_bytes, name="image.png"):
    form = aiohttp.FormData()
    form.add_field("image", image_bytes, filename=name, content_type="image/png")
    return form


def test_image_predict_matches_the_model_and_removes_the_upload(image_server, uploads_dir):
    server, model = image_server
    status, body = server.call("POST", PREDICT, params=[("labels", "red"), ("labels", "blue")], data=_form(png((200, 30, 10))))
    assert status == 200, body
    assert server.wrapper.response_schema().load(body) == body
    expected = model({"image": Image.open(io.BytesIO(png((200, 30, 10)))), "labels": ["red", "blue"]},
                     task="image-classification")
    assert body["predictions"] == [expected] and list(expected) == ["red", "blue"]
    assert list(uploads_dir.iterdir()) == []


@pytest.mark.parametrize(
    "data, params, field, words",
    [
        (None, [], "image", "Missing data for required field"),
        ({"image": "/etc/passwd"}, [], "image", "must be a file uploaded as multipart/form-data"),
        ("broken", [], "message", "'image': bytes is not an image"),
        ("png", [("top_k", "1.5")], "top_k", "Not a valid integer"),
        ("png", [("labels", "purple")], "message", "does not know: ['purple']"),
        ("large", [], "message", "65 x 64 = 4160 pixels; this server takes at most 4096 (image_pixels)"),
    ],
)
def test_bad_image_requests_get_422(image_server, uploads_dir, data, params, field, words):
    server, _ = image_server
    if data == "png":
        data = _form(png((0, 0, 250)))
    elif data == "broken":
        data = _form(png((0, 0, 250))[:40])
    elif data == "large":
        data = _form(png((0, 0, 250), size=(65, 64)))
    status, body = server.call("POST", PREDICT, params=params, data=data)
    assert status == 422
    assert words in json.dumps(body[field])
    assert list(uploads_dir.iterdir()) == []


def test_uploaded_audio_longer_than_the_limit_is_refused_before_the_model(tmp_path):
    import wave

    from deepaas.model.v2.wrapper import UploadedFile

    def upload(seconds):
        path = tmp_path / f"{seconds}.wav"
        with wave.open(str(path), "wb") as f:
            f.setnchannels(1), f.setsampwidth(2), f.setframerate(8000)
            f.writeframes(np.zeros(int(8000 * seconds), "int16").tobytes())
        return UploadedFile(name="audio", filename=str(path), content_type="audio/wav", original_filename="a.wav")

    adapter = DeepaasModel("audio-classification", limits={"audio_seconds": 2})
    waveform = adapter.task_input({"audio": upload(1.5)})["audio"]
    assert (len(waveform.samples), waveform.sampling_rate) == (12000, 8000)
    with pytest.raises(InvalidInput, match=r"'audio' lasts 2\.5 s; this server takes at most 2 s \(audio_seconds\)"):
        adapter.task_input({"audio": upload(2.5)})
    assert list(tmp_path.iterdir()) == []  # both uploads removed once read


def test_train_never_replaces_a_saved_model_unless_asked_and_allowed(text_server):
    server, _ = text_server
    form = aiohttp.FormData()
    form.add_field("data", b"texts,labels\nfine,positive\n", filename="data.csv", content_type="text/csv")
    form.add_field("overwrite", "true")
    status, started = server.call("POST", TRAIN, data=form)
    assert status == 200 and started["status"] == "running"
    training = _finished_training(server, started)
    assert training["status"] == "error" and "KERASPROP_ALLOW_OVERWRITE" in training["message"]
