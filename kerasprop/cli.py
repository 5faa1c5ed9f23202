"""The `kerasprop` command.

    kerasprop list [--task T] [--json]
    kerasprop run TASK --text ... [--model M] [--json]      (--image PATH for image tasks)
    kerasprop demo [--json]
    kerasprop batch TASK --input FILE --output FOLDER      (Ray Data; the scale extra)
    kerasprop export MODEL --format saved_model|onnx|litert --output FOLDER

`run` takes one option per key of the task's schema (`--labels`, `--top-k`,
`--max-length`, ...), so a new task needs no change here.
"""

import argparse
import json
import logging
import os
import sys
import warnings

# The command prints results, not TensorFlow's start-up chatter (set it yourself to see it).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_backends_quietly():
    """Imports TensorFlow and keras-hub with stderr muted: they print start-up lines before their
    logging can be configured. Import errors still raise, with their messages."""
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3" or "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras_hub  # noqa: F401  (imports TensorFlow)
    finally:
        os.dup2(saved, 2)
        os.close(saved)

from kerasprop.progress import Progress
from kerasprop.schemas import BATCH, ITEM, get_schema, task_names
from kerasprop.schemas.models import QUANTIZATION_MODES
from kerasprop.schemas.specs import Boolean, ListOf, Number
from kerasprop.schemas.task_specs import task_spec


def _flag(key):
    return "--" + key.replace("_", "-")


def _add_schema_options(parser, schema):
    """One command-line option per schema key; values are parsed by the schema itself."""
    for field in schema.fields:
        help_text = field.description or field.spec.expected
        if field.default is not None:
            help_text += f" (default: {field.default})"
        if field.role == BATCH:
            parser.add_argument(_flag(field.key), dest=field.key, action="append", metavar=field.key.upper(),
                                help=help_text + "; repeat for a batch")
        elif field.role == ITEM or isinstance(field.spec, ListOf):
            parser.add_argument(_flag(field.key), dest=field.key, nargs="+", metavar=field.key.upper(), help=help_text)
        elif isinstance(field.spec, Boolean):
            parser.add_argument(_flag(field.key), dest=field.key, action=argparse.BooleanOptionalAction, help=help_text)
        elif isinstance(field.spec, Number):
            parser.add_argument(_flag(field.key), dest=field.key, type=int if field.spec.integer else float,
                                help=help_text)
        else:
            parser.add_argument(_flag(field.key), dest=field.key, help=help_text)


def task_input_from_args(schema, args):
    """The task-input dict from parsed arguments (single values stay single)."""
    task_input = {}
    for field in schema.fields:
        value = getattr(args, field.key, None)
        if value is None:
            continue
        if field.role == BATCH and len(value) == 1:
            value = value[0]
        task_input[field.key] = value
    return task_input


def _print_result(task, task_input, result, as_json):
    if as_json:
        print(json.dumps({"task": task, "output": result}, ensure_ascii=False))
        return
    if isinstance(result, dict):
        for label, score in result.items():
            print(f"{score:8.4f}  {label}")
    elif isinstance(result, list) and result and all(isinstance(v, float) for v in result):
        head = ", ".join(f"{v:.4f}" for v in result[:8])
        print(f"vector of {len(result)} floats: [{head}, ...]")
    else:
        print(result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, indent=2))


def _run(args):
    import_backends_quietly()
    from kerasprop.tasks import task_class

    if getattr(args, "stream", False) and args.json:
        raise ValueError("--stream prints the text as it is generated; it cannot be combined with --json.")
    schema = get_schema(args.task)
    task_input = task_input_from_args(schema, args)
    schema.parse(task_input)  # refuse bad input before loading a model
    cls = task_class(args.task)
    with Progress(f"loading {args.model or 'the default model'} for {args.task}", enabled=False if args.json else None):
        task = cls(args.model, quantize=args.quantize)
    if getattr(args, "stream", False):
        for piece in task.model.stream(task_input, task=args.task):
            print(piece, end="", flush=True)
        print()
        return
    result = task.run(task_input)
    _print_result(args.task, task_input, result, args.json)


def _batch(args):
    import_backends_quietly()
    from kerasprop import batch

    schema = get_schema(args.task)
    options = task_input_from_args(schema, args)
    options.pop(schema.fields[0].key, None)  # each row's input comes from --column
    output = batch.run(args.task, args.input, args.output, column=args.column, id_column=args.id_column,
                       model=args.model, options=options, batch_size=args.batch_size, concurrency=args.concurrency,
                       quantize=args.quantize, address=args.address)
    print(f"written to {output}")


def _export(args):
    import_backends_quietly()
    from kerasprop.export import export

    path = export(args.model, args.output, format=args.format, task=args.task, overwrite=args.overwrite)
    print(f"exported to {path}")


def _list(args):
    from kerasprop.models.auto import AutoModel

    if args.json:
        print(json.dumps(AutoModel.list_models(task=args.task, return_dict=True), indent=2))
    else:
        AutoModel.list_models(task=args.task, display=True)


def _demo(args):
    import_backends_quietly()
    from kerasprop.demo import run_demo

    run_demo(as_json=args.json)


def build_parser():
    parser = argparse.ArgumentParser(prog="kerasprop", description="backprop's one-line tasks on Keras and keras-hub.")
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="list the catalog's models")
    listing.add_argument("--task", choices=task_names(), help="only models serving this task")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    run = commands.add_parser("run", help="run a task on the given input")
    tasks = run.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in task_names():
        schema = get_schema(name)
        sub = tasks.add_parser(name, help=schema.description, description=schema.description)
        sub.add_argument("--model", help="catalog name, alias, saved model or preset folder (default: the task's)")
        sub.add_argument("--json", action="store_true", help="print one JSON document")
        sub.add_argument("--quantize", choices=QUANTIZATION_MODES,
                         help="quantize the model's weights after loading (Keras' int8/int4/float8)")
        if task_spec(name).streams:
            sub.add_argument("--stream", action="store_true", help="print the text as it is generated")
        _add_schema_options(sub, schema)
        sub.set_defaults(handler=_run)

    batch = commands.add_parser("batch", help="run a task over a file or folder of rows with Ray Data")
    batch_tasks = batch.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in task_names():
        schema = get_schema(name)
        if schema.fields[0].key != "text":
            continue
        sub = batch_tasks.add_parser(name, help=schema.description, description=schema.description)
        sub.add_argument("--input", required=True, help="a .jsonl, .json, .parquet or .csv file, or a Parquet folder")
        sub.add_argument("--output", required=True, help="the folder for the Parquet results (a re-run resumes)")
        sub.add_argument("--column", default="text", help="the column of input texts (default: text)")
        sub.add_argument("--id-column", default="id", help="the column of row ids (default: id)")
        sub.add_argument("--model", help="catalog name, alias, saved model or preset folder (default: the task's)")
        sub.add_argument("--batch-size", type=int, default=64, help="rows per call of the model (default: 64)")
        sub.add_argument("--concurrency", type=int, default=2, help="Ray actors, each with its model (default: 2)")
        sub.add_argument("--address", help="a Ray cluster to join ('auto', 'ray://host:10001'); default: this machine")
        sub.add_argument("--quantize", choices=QUANTIZATION_MODES, help="quantize the weights after loading")
        _add_schema_options(sub, schema)
        sub.set_defaults(handler=_batch)

    from kerasprop.export import EXPORT_TASKS, FORMATS

    exporting = commands.add_parser("export", help="export a model as a SavedModel, ONNX or LiteRT artifact")
    exporting.add_argument("model", help="catalog name, alias, saved model or preset folder")
    exporting.add_argument("--format", choices=sorted(FORMATS), default="saved_model",
                           help="saved_model (takes raw text), onnx or litert (take token ids); default saved_model")
    exporting.add_argument("--output", required=True, help="the folder to write")
    exporting.add_argument("--task", choices=EXPORT_TASKS, help="what to export where the model serves several")
    exporting.add_argument("--overwrite", action="store_true", help="replace the folder if it exists")
    exporting.set_defaults(handler=_export)

    demo = commands.add_parser("demo", help="run every task on the bundled offline presets")
    demo.add_argument("--json", action="store_true", help="print one JSON document")
    demo.set_defaults(handler=_demo)

    try:
        from kerasprop.serving.command import add_serve_command
    except ImportError:
        pass
    else:
        add_serve_command(commands)
    return parser


#: Libraries whose Python warnings are about their internals, not the user's input (kerasprop's own stay on).
QUIET_MODULES = r"(keras|keras_hub|tensorflow|jax|torch|absl|google)(\.|$)"


def main(argv=None):
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3":  # TensorFlow's Python log too (retracing notes on new input shapes)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=QUIET_MODULES)
            args.handler(args)
    except (ValueError, TypeError, RuntimeError, FileExistsError) as error:
        print(f"kerasprop: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
