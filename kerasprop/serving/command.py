"""`kerasprop serve`: DEEPaaS in front of one task and model."""

import importlib.metadata
import os
import sys

from kerasprop.schemas import task_names


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
    parser.set_defaults(handler=serve_command)
    return parser


def serve_command(args):
    """Runs DEEPaaS (blocking) for the task and model named by parsed `serve` arguments."""
    from kerasprop.serving.adapter import ENTRY_POINT, DeepaasModel, parse_limits

    adapter = DeepaasModel(args.task, args.model, allow_pickle=args.allow_pickle, allowed_classes=args.allow_class,
                           limits=parse_limits(args.limits))
    if not any(ep.name == ENTRY_POINT for ep in importlib.metadata.entry_points(group="deepaas.v2.model")):
        raise RuntimeError(
            f"DEEPaaS finds models through installed entry points, and '{ENTRY_POINT}' is not registered: "
            "install kerasprop with its serve extra (pip install 'kerasprop[serve]')."
        )
    from deepaas.cmd import run

    # The adapter is rebuilt from the environment in DEEPaaS and in its workers.
    os.environ.update(adapter.environment())
    sys.argv = [
        "deepaas-run",
        f"--listen-ip={args.host}",
        f"--listen-port={args.port}",
        f"--model-name={ENTRY_POINT}",
        f"--workers={args.workers}",
        f"--client-max-size={int(args.max_request_mb * 2**20)}",
    ]
    run.main()
