"""What `kerasprop serve` adds around DEEPaaS to run a server for others.

- Admission: `ServerSettings.workers` predictions run at once, at most
  `max_queue` more wait, a full queue is answered 503 with `Retry-After`, and
  a request still waiting after `queue_timeout` seconds is answered 503 and
  never started (a started computation is bounded by the work limits instead:
  `kerasprop.serving.adapter.WORK_LIMITS`). At most `max_trainings` trainings
  run or wait at once; they share the workers with predictions.
- A request whose body has not arrived within `body_timeout` seconds is
  answered 408 (a slow client cannot hold a connection and its memory).
- With a `token`, every request but `/health` needs `Authorization: Bearer <token>`.
- `GET /health` (liveness: task, model, whether it is loaded, queue depth)
  and `GET /metrics` (Prometheus text format, `prometheus_client`): requests
  and latencies by endpoint, errors by kind, queue depth, running work.
- `serving_tempdir`: every temporary file of the server and its workers goes
  under one folder, removed on exit (and at the next start, if the server was killed).

`deepaas-run` alone serves the same adapter without these operations.
"""

import asyncio
import contextlib
import contextvars
import hmac
import json
import os
import shutil
import tempfile
import time

import prometheus_client
from aiohttp import web

#: The deadline of the request body being read, in the task that handles the request.
_BODY_DEADLINE = contextvars.ContextVar("kerasprop_body_deadline", default=None)

#: Error kinds by HTTP status, for the `kerasprop_errors_total` metric (503s carry their own kind).
ERROR_KINDS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               408: "slow_body", 413: "too_large", 422: "invalid_input", 500: "server_error",
               501: "not_implemented", 503: "unavailable"}

_TEMPDIR_PREFIX = "kerasprop-serve-"


class Refused(web.HTTPServiceUnavailable):
    """503 with `Retry-After`, a JSON message and the kind of refusal (for the metrics)."""

    def __init__(self, kind, message, retry_after):
        super().__init__(text=json.dumps({"message": message}), content_type="application/json",
                         headers={"Retry-After": str(retry_after)})
        self.kind = kind
        self.message = message

    def __str__(self):
        return self.message


class Metrics:
    """The server's Prometheus metrics, in a registry of their own."""

    def __init__(self):
        self.registry = prometheus_client.CollectorRegistry()
        self.requests = prometheus_client.Counter(
            "kerasprop_requests", "HTTP requests answered", ["endpoint", "status"], registry=self.registry)
        self.latency = prometheus_client.Histogram(
            "kerasprop_request_seconds", "Time to answer a request", ["endpoint"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.errors = prometheus_client.Counter(
            "kerasprop_errors", "Requests answered with an error, by kind", ["kind"], registry=self.registry)
        self.queue_depth = prometheus_client.Gauge(
            "kerasprop_queue_depth", "Predictions waiting for a worker", registry=self.registry)
        self.running = prometheus_client.Gauge(
            "kerasprop_running", "Predictions and trainings holding a worker", ["work"], registry=self.registry)


class Admission:
    """Bounds the work a DEEPaaS model wrapper takes on (see `ServerSettings`).

    `wrap` replaces the wrapper's `predict` and `train` on that one object:
    DEEPaaS's handlers call them and await the task they return.
    """

    def __init__(self, settings, metrics):
        self.settings = settings
        self.metrics = metrics
        self.slots = asyncio.Semaphore(settings.workers)
        self.waiting = 0  # predictions admitted that hold no worker yet (counted at admission, not when they run)
        self.busy = 0  # predictions and trainings holding a worker
        self.trainings = set()
        self.loaded = False

    def wrap(self, model_wrapper):
        predict, train = model_wrapper.predict, model_wrapper.train
        model_wrapper.predict = lambda *args, **kwargs: self.admit_prediction(predict, args, kwargs)
        model_wrapper.train = lambda *args, **kwargs: self.admit_training(train, args, kwargs)
        return model_wrapper

    def admit_prediction(self, predict, args, kwargs):
        body_arrived()
        if self.waiting >= self.settings.max_queue + max(0, self.settings.workers - self.busy):
            raise Refused("queue_full", f"The server is busy: {self.settings.max_queue} requests are already "
                          "waiting (max_queue). Retry later.", self.settings.retry_after)
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        return asyncio.ensure_future(self._predict(predict, args, kwargs))

    async def _predict(self, predict, args, kwargs):
        try:
            async with asyncio.timeout(self.settings.queue_timeout):
                await self.slots.acquire()
        except TimeoutError:
            raise Refused("queue_timeout", f"The request waited {self.settings.queue_timeout:g} s for a worker "
                          "(queue_timeout) and was not started. Retry later.", self.settings.retry_after) from None
        finally:
            self.waiting -= 1
            self.metrics.queue_depth.set(self.waiting)
        try:
            result = await self._holding_a_worker("predict", predict(*args, **kwargs))
            self.loaded = True
            return result
        finally:
            self.slots.release()

    def admit_training(self, train, args, kwargs):
        body_arrived()
        self.trainings = {task for task in self.trainings if not task.done()}
        if len(self.trainings) >= self.settings.max_trainings:
            raise Refused("training_limit", f"{len(self.trainings)} training(s) already running or waiting "
                          f"(max_trainings={self.settings.max_trainings}). Retry when one has finished.",
                          self.settings.retry_after)
        task = asyncio.ensure_future(self._train(train, args, kwargs))
        self.trainings.add(task)
        return task

    async def _train(self, train, args, kwargs):
        async with self.slots:
            return await self._holding_a_worker("train", train(*args, **kwargs))

    async def _holding_a_worker(self, work, task):
        self.busy += 1
        try:
            with self.metrics.running.labels(work).track_inprogress():
                return await task
        finally:
            self.busy -= 1

    def health(self):
        return {"queue_depth": self.waiting, "workers": self.settings.workers,
                "trainings": sum(not task.done() for task in self.trainings)}


def body_arrived():
    """Called once the request body has been read: the body deadline no longer applies."""
    deadline = _BODY_DEADLINE.get()
    if deadline is not None:
        deadline.reschedule(None)


def _endpoint(path):
    parts = [part for part in path.split("/") if part]
    for name in ("predict", "train", "health", "metrics"):
        if name in parts:
            return name
    return "other"


def install(app, model_wrappers, settings, task, model, warmed):
    """Puts admission, the body deadline, the token, `/health` and `/metrics` on a DEEPaaS `app`.

    `model_wrappers` are DEEPaaS's loaded model wrappers (`deepaas.model.V2_MODELS`);
    `task` and `model` are what `/health` reports, `warmed` whether the workers
    loaded the model at start (else it loads with the first prediction). Returns `app`.
    """
    metrics = Metrics()
    admissions = [Admission(settings, metrics) for _ in model_wrappers]
    for admission, wrapper in zip(admissions, model_wrappers):
        admission.wrap(wrapper)
        admission.loaded = warmed

    @web.middleware
    async def measure(request, handler):
        endpoint = _endpoint(request.path)
        start = time.perf_counter()
        status, kind = 500, "server_error"
        try:
            response = await handler(request)
            status = response.status
            kind = ERROR_KINDS.get(status, "other")
            return response
        except web.HTTPException as error:
            status = error.status
            kind = getattr(error, "kind", ERROR_KINDS.get(status, "other"))
            raise
        finally:
            metrics.requests.labels(endpoint, str(status)).inc()
            metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
            if status >= 400:
                metrics.errors.labels(kind).inc()

    @web.middleware
    async def authorise(request, handler):
        if settings.token is not None and _endpoint(request.path) != "health":
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), settings.token.encode()):
                raise web.HTTPUnauthorized(text=json.dumps({"message": "A bearer token is needed: "
                                                            "'Authorization: Bearer <token>'."}),
                                           content_type="application/json",
                                           headers={"WWW-Authenticate": 'Bearer realm="kerasprop"'})
        return await handler(request)

    @web.middleware
    async def body_deadline(request, handler):
        deadline = asyncio.timeout(settings.body_timeout)
        try:
            async with deadline:
                token = _BODY_DEADLINE.set(deadline)
                try:
                    return await handler(request)
                finally:
                    _BODY_DEADLINE.reset(token)
        except TimeoutError:
            if not deadline.expired():
                raise
        raise web.HTTPRequestTimeout(
            text=json.dumps({"message": f"The request body did not arrive within {settings.body_timeout:g} s "
                                        "(body_timeout)."}), content_type="application/json")

    async def health(request):
        return web.json_response({
            "status": "ok", "task": task, "model": model,
            "model_loaded": all(admission.loaded for admission in admissions),
            **{key: sum(a.health()[key] for a in admissions) for key in ("queue_depth", "trainings")},
            "workers": settings.workers,
        })

    async def metrics_page(request):
        return web.Response(body=prometheus_client.generate_latest(metrics.registry),
                            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    app.middlewares[:0] = [measure, authorise, body_deadline]
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_page)
    return app


@contextlib.contextmanager
def serving_tempdir():
    """A folder for every temporary file of this server and its workers (`TMPDIR`), removed on exit.

    Folders that servers which were killed left behind (their process is gone) are removed first.
    """
    parent = tempfile.gettempdir()
    for name in os.listdir(parent):
        if name.startswith(_TEMPDIR_PREFIX) and not _process_alive(name[len(_TEMPDIR_PREFIX):].split("-")[0]):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{_TEMPDIR_PREFIX}{os.getpid()}-", dir=parent)
    previous = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = folder, folder
    try:
        yield folder
    finally:
        if previous[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous[0]
        tempfile.tempdir = previous[1]
        shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid):
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
