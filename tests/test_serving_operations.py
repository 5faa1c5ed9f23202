"""`kerasprop serve`'s operations (`kerasprop.serving.operations`) on DEEPaaS's real app, in this process:
the bounded queue and its deadline, the training limit, the body deadline, the bearer token, `/health`,
`/metrics` and the server's one temporary folder. Models are the fast test models of `test_serving_models`,
so every wait here is a few seconds at most."""

import asyncio
import os
import re
import tempfile

import aiohttp
import pytest
from test_serving import InProcessDeepaas
from test_serving_models import SlowColourModel, png, write_entry_points

import kerasprop
from kerasprop.serving import ServerSettings
from kerasprop.serving.operations import Admission, Metrics, serving_tempdir

PREDICT = "/v2/models/kerasprop/predict/"
TOKEN = "a-test-token-that-is-long-enough"
SECONDS = 1.5  # each prediction of the slow model


def _form(token=TOKEN):
    form = aiohttp.FormData()
    form.add_field("image", png((230, 20, 20)), filename="image.png", content_type="image/png")
    return {"data": form, "params": [("labels", "red"), ("labels", "blue")],
            "headers": {"Authorization": f"Bearer {token}"}}


def _started(server):
    with open(server.started) as f:
        return len(f.readlines())


@pytest.fixture(scope="module")
def server_at(tmp_path_factory):
    """Starts a server on the slow model with given settings; all are closed at the end."""
    servers = []

    def start(**settings):
        root = tmp_path_factory.mktemp("operations")
        started = root / "started.log"
        started.write_text("")
        folder = kerasprop.save(SlowColourModel(SECONDS, started), path=root / "slow-colour")
        server = InProcessDeepaas(
            {"KERASPROP_TASK": "image-classification", "KERASPROP_MODEL": folder, "KERASPROP_ALLOW_PICKLE": "1"},
            write_entry_points(root / "entry-points"),
            settings=ServerSettings(token=TOKEN, **settings),
        )
        server.started = started
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def queue_of_one(server_at):
    return server_at(workers=1, max_queue=1, queue_timeout=10, body_timeout=2)


def _metric(server, name, **labels):
    status, text = server.call("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if labels else ''} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_health_answers_without_the_token_and_says_what_is_served(queue_of_one):
    status, body = queue_of_one.call("GET", "/health")
    assert status == 200, body
    assert body["status"] == "ok" and body["task"] == "image-classification"
    assert body["model"].endswith("slow-colour") and body["model_loaded"] is True  # DEEPaaS warmed it
    assert (body["queue_depth"], body["trainings"], body["workers"]) == (0, 0, 1)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-of-the-same-size!", f"Basic {TOKEN}", TOKEN])
def test_every_other_path_needs_the_bearer_token(queue_of_one, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    before = _started(queue_of_one)
    for method, path, extra in (("POST", PREDICT, {"data": _form()["data"]}), ("GET", "/metrics", {}),
                                ("GET", "/v2/models/", {}), ("GET", "/swagger.json", {})):
        status, body, response_headers = queue_of_one.calls([(method, path, {**extra, "headers": headers})])[0]
        assert status == 401, (path, body)
        assert response_headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in body["message"]
    assert _started(queue_of_one) == before


def test_a_full_queue_is_refused_at_once_with_retry_after(queue_of_one):
    before = _started(queue_of_one)
    refused_before = _metric(queue_of_one, "kerasprop_errors_total", kind="queue_full")
    results = queue_of_one.calls([("POST", PREDICT, _form()) for _ in range(4)])
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 200, 503, 503], results
    for status, body, headers in results:
        if status == 503:
            assert headers["Retry-After"] == "5" and "max_queue" in body["message"]
        else:
            assert next(iter(body["predictions"][0])) == "red"
    assert _started(queue_of_one) == before + 2  # one ran, one waited its turn, two never started
    assert _metric(queue_of_one, "kerasprop_errors_total", kind="queue_full") == refused_before + 2
    assert _metric(queue_of_one, "kerasprop_queue_depth") == 0
    assert _metric(queue_of_one, "kerasprop_requests_total", endpoint="predict", status="200") >= 2
    assert _metric(queue_of_one, "kerasprop_request_seconds_count", endpoint="predict") >= 4


def test_a_request_waiting_past_the_queue_deadline_is_refused_and_never_started(server_at):
    server = server_at(workers=1, max_queue=4, queue_timeout=0.5)
    before = _started(server)
    results = server.calls([("POST", PREDICT, _form()) for _ in range(2)])
    assert sorted(status for status, _, _ in results) == [200, 503], results
    (late,) = [body for status, body, _ in results if status == 503]
    assert "waited 0.5 s" in late["message"] and "not started" in late["message"]
    assert _started(server) == before + 1
    assert _metric(server, "kerasprop_errors_total", kind="queue_timeout") == 1


def test_a_body_slower_than_its_deadline_is_answered_408(queue_of_one):
    async def trickle():
        yield b'{"labels": '
        await asyncio.sleep(3)  # body_timeout is 2 s
        yield b'["red"]}'

    before = _started(queue_of_one)
    status, body = queue_of_one.call("POST", PREDICT, data=trickle(), headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert status == 408, body
    assert "body_timeout" in body["message"]
    assert _started(queue_of_one) == before
    assert _metric(queue_of_one, "kerasprop_errors_total", kind="slow_body") == 1


# Admission on its own: trainings share the workers with predictions and are limited.


class FakeWrapper:
    """The two methods of DEEPaaS's model wrapper that admission wraps: each returns a task."""

    def __init__(self):
        self.release = asyncio.Event()
        self.calls = []

    def _work(self, kind):
        async def work():
            self.calls.append(kind)
            await self.release.wait()
            return {"output": kind}
        return asyncio.ensure_future(work())

    def predict(self, **kwargs):
        return self._work("predict")

    def train(self, **kwargs):
        return self._work("train")


def test_trainings_are_limited_and_hold_a_worker():
    async def scenario():
        wrapper = FakeWrapper()
        admission = Admission(ServerSettings(workers=1, max_queue=2, queue_timeout=5, max_trainings=1), Metrics())
        admission.wrap(wrapper)
        training = wrapper.train()
        await asyncio.sleep(0.05)
        with pytest.raises(aiohttp.web.HTTPServiceUnavailable, match="max_trainings=1") as refused:
            wrapper.train()
        assert refused.value.kind == "training_limit" and refused.value.headers["Retry-After"] == "5"
        prediction = wrapper.predict()
        await asyncio.sleep(0.05)
        assert wrapper.calls == ["train"] and admission.health()["queue_depth"] == 1  # waits for the worker
        wrapper.release.set()
        assert (await training)["output"] == "train" and (await prediction)["output"] == "predict"
        assert wrapper.calls == ["train", "predict"] and admission.health() == {
            "queue_depth": 0, "workers": 1, "trainings": 0}
        wrapper.release.clear()
        second = wrapper.train()  # the finished training no longer counts
        await asyncio.sleep(0.05)
        wrapper.release.set()
        assert (await second)["output"] == "train"

    asyncio.run(scenario())


@pytest.mark.parametrize("settings, key", [
    ({"workers": 0}, "'workers'"), ({"max_queue": -1}, "'max_queue'"), ({"max_trainings": 1.5}, "'max_trainings'"),
    ({"queue_timeout": 0}, "'queue_timeout'"), ({"body_timeout": "30"}, "'body_timeout'"),
    ({"token": "short"}, "'token'"), ({"retry_after": True}, "'retry_after'"),
])
def test_bad_settings_are_refused_by_name(settings, key):
    with pytest.raises(ValueError, match=key):
        ServerSettings(**settings)


def test_the_server_tempdir_holds_every_temporary_file_and_goes_on_exit(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)
    killed = tmp_path / "kerasprop-serve-999999999-abc"  # a server that was killed left this behind
    killed.mkdir()
    (killed / "upload").write_bytes(b"x")
    alive = tmp_path / f"kerasprop-serve-{os.getppid()}-def"  # a running server's: kept
    alive.mkdir()
    with serving_tempdir() as folder:
        assert os.path.dirname(folder) == str(tmp_path) and os.path.basename(folder).startswith(
            f"kerasprop-serve-{os.getpid()}-")
        assert os.environ["TMPDIR"] == folder and tempfile.gettempdir() == folder
        handle, path = tempfile.mkstemp()
        os.close(handle)
        assert os.path.dirname(path) == folder
        assert not killed.exists() and alive.exists()
    assert not os.path.exists(folder) and "TMPDIR" not in os.environ and tempfile.gettempdir() == str(tmp_path)
