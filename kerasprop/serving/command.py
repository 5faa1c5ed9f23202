"""`kerasprop serve`: DEEPaaS in front of one task and model."""

import importlib.metadata
import os

from kerasprop.schemas import task_names
from kerasprop.schemas.models import QUANTIZATION_MODES
from kerasprop.serving.settings import ServerSettings

#: The bearer token the server requires when set (an environment variable: a command line is visible to others).
TOKEN_VARIABLE = "KERASPROP_TOKEN"


def add_serve_command(subparsers):
    """Adds the `serve` subcommand to an argparse `subparsers` (handler: `serve_command`)."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a task over HTTP (DEEPaaS V2 API)",
        description="Starts DEEPaaS with one kerasprop task and model. "
        "The API is under /v2/models/kerasprop/, its documentation under /api.",
    )
    parser.add_argument("--task", required=True, choices=task_names(), help="the task to serve")
    parser.add_argument("--model", help="catalog name, alias, saved name or folder (default: the task's first)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default: 5000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes, each with its own model copy")
    parser.add_argument("--allow-pickle", action="store_true", help="serve a model saved as a dill pickle")
    parser.add_argument("--quantize", choices=QUANTIZATION_MODES,
                        help="serve the model with its weights quantized after loading (Keras' int8/int4/float8)")
    parser.add_argument(
        "--allow-class", action="append", default=[], metavar="MODULE:CLASS",
        help="serve a saved model of this class of your own (repeatable; folders never choose what is imported)",
    )
    parser.add_argument(
        "--limits", default="", metavar="OPTION=N,...",
        help="the most work a request may ask for, e.g. num_beams=4,max_length=256 (defaults: WORK_LIMITS)",
    )
    parser.add_argument(
        "--max-request-mb", type=float, default=32.0, help="largest request body in MiB (default: 32)"
    )
    defaults = ServerSettings()
    parser.add_argument("--max-queue", type=int, default=defaults.max_queue,
                        help=f"predictions that may wait for a worker; more get 503 (default: {defaults.max_queue})")
    parser.add_argument("--queue-timeout", type=float, default=defaults.queue_timeout,
                        help="seconds a prediction may wait for a worker before it gets 503, never started "
                        f"(default: {defaults.queue_timeout:g})")
    parser.add_argument("--max-trainings", type=int, default=defaults.max_trainings,
                        help=f"trainings running or waiting at once (default: {defaults.max_trainings})")
    parser.add_argument("--body-timeout", type=float, default=defaults.body_timeout,
                        help=f"seconds a request body may take to arrive; slower gets 408 "
                        f"(default: {defaults.body_timeout:g})")
    parser.set_defaults(handler=serve_command)
    return parser


def serve_command(args):
    """Runs DEEPaaS (blocking) for the task and model named by parsed `serve` arguments.

    The server gets kerasprop's operations (`kerasprop.serving.operations`): a
    bounded queue, a training limit, a body deadline, `/health`, `/metrics`, the
    bearer token in `KERASPROP_TOKEN` when set, and one temporary folder removed on exit.
    """
    from kerasprop.serving.adapter import ENTRY_POINT, DeepaasModel, parse_limits
    from kerasprop.serving.operations import serving_tempdir

    settings = ServerSettings(workers=args.workers, max_queue=args.max_queue, queue_timeout=args.queue_timeout,
                              max_trainings=args.max_trainings, body_timeout=args.body_timeout,
                              token=os.environ.get(TOKEN_VARIABLE) or None)
    adapter = DeepaasModel(args.task, args.model, allow_pickle=args.allow_pickle, allowed_classes=args.allow_class,
                           limits=parse_limits(args.limits), quantize=args.quantize)
    if not any(ep.name == ENTRY_POINT for ep in importlib.metadata.entry_points(group="deepaas.v2.model")):
        raise RuntimeError(
            f"DEEPaaS finds models through installed entry points, and '{ENTRY_POINT}' is not registered: "
            "install kerasprop with its serve extra (pip install 'kerasprop[serve]')."
        )
    from aiohttp import web
    from deepaas import config

    # The adapter is rebuilt from the environment in DEEPaaS and in its workers.
    os.environ.update(adapter.environment())
    config.config_and_logging([
        "deepaas-run",
        f"--model-name={ENTRY_POINT}",
        f"--workers={args.workers}",
        f"--client-max-size={int(args.max_request_mb * 2**20)}",
    ])
    with serving_tempdir():
        print(f"kerasprop: serving {adapter.task} with {adapter.model_name} on http://{args.host}:{args.port} "
              f"(API under /v2/models/{ENTRY_POINT}/, documentation under /api, /health, /metrics"
              f"{', bearer token required' if settings.token else ''})", flush=True)
        web.run_app(served_app(settings, adapter.task, adapter.model_name), host=args.host, port=args.port,
                    print=None)


async def served_app(settings, task, model):
    """DEEPaaS's app for the configured model, with kerasprop's operations installed (`operations.install`)."""
    from deepaas import api
    from deepaas import model as deepaas_model
    from deepaas.config import CONF

    from kerasprop.serving.operations import install

    app = await api.get_app(enable_doc=CONF.doc_endpoint, enable_train=CONF.train_endpoint,
                            enable_predict=CONF.predict_endpoint)
    return install(app, list(deepaas_model.V2_MODELS.values()), settings, task, model, warmed=CONF.warm)
