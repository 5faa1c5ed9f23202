"""`DeepaasModel`: the DEEPaaS V2 model API for any kerasprop task and model.

DEEPaaS finds the adapter through the `deepaas.v2.model` entry point
(`kerasprop.serving.adapter:model`), which is built from the environment:
`KERASPROP_TASK` (the task string), `KERASPROP_MODEL` (a catalog name, alias,
saved name or folder; the task's bundled default when unset) and
`KERASPROP_ALLOW_PICKLE=1` to serve models saved as dill pickles, and
`KERASPROP_ALLOW_OVERWRITE=1` to let train requests replace a saved model (`overwrite: true`), and
`KERASPROP_ALLOWED_CLASSES` (comma-separated `module:Class` paths) to serve a saved model of a class of
the operator's own: a saved folder never chooses what is imported (`kerasprop.load`), and
`KERASPROP_QUANTIZE` ("int8", "int4" or "float8") to serve the model with quantized weights.

DEEPaaS runs `warm`, `predict` and `train` in spawned worker processes and
pickles the adapter on every call, so the adapter holds only its settings; the
model lives in a per-process cache and is loaded on first use when `warm` was
skipped.

Example:
>>> from kerasprop.serving import DeepaasModel
>>> adapter = DeepaasModel("text-vectorisation", "all-minilm-l6-v2")
>>> adapter.get_metadata()["license"]
'apache-2.0'
>>> sorted(adapter.get_predict_args())
['precision', 'text', 'truncate_dim']
"""

import csv
import io
import json
import os

from aiohttp import web

from kerasprop.hub import catalog
from kerasprop.schemas import BATCH, ITEM, Field, Image, get_schema
from kerasprop.schemas.audio import MODEL_SAMPLING_RATE, Audio, load_audio
from kerasprop.schemas.encoded import is_inline
from kerasprop.schemas.models import check_quantization
from kerasprop.schemas.specs import Boolean, Integer, Number, Text, describe
from kerasprop.serving import fields
from kerasprop.training import finetune

ENTRY_POINT = "kerasprop"
TASK_VARIABLE = "KERASPROP_TASK"
MODEL_VARIABLE = "KERASPROP_MODEL"
PICKLE_VARIABLE = "KERASPROP_ALLOW_PICKLE"
OVERWRITE_VARIABLE = "KERASPROP_ALLOW_OVERWRITE"
CLASSES_VARIABLE = "KERASPROP_ALLOWED_CLASSES"
LIMITS_VARIABLE = "KERASPROP_LIMITS"
QUANTIZE_VARIABLE = "KERASPROP_QUANTIZE"

#: The most work one predict request may ask for, by option (the operator changes them with KERASPROP_LIMITS).
#: Without them `num_generations: 1000` asks one worker for gigabytes.
WORK_LIMITS = {"num_generations": 8, "num_beams": 8, "max_length": 512, "min_length": 512, "max_seq_len": 512,
               "max_answer_len": 128, "image_pixels": 4096 * 4096, "audio_seconds": 600}

#: The training engine's options, offered beside the task's finetuning options.
TRAINING_OPTIONS = (
    Field("epochs", Integer(minimum=1), default=20, description="passes over the training data"),
    Field(
        "validation_split",
        Number(minimum=0.0, maximum=0.9),
        default=0.15,
        description="share of the examples held out to measure validation loss",
    ),
    Field("batch_size", Integer(minimum=1), description="examples per step (default: the engine's choice)"),
    Field("save_name", Text(), description="name to save the finetuned model under (default: '<model>-finetuned')"),
    Field("overwrite", Boolean(), default=False,
          description="replace a model already saved under that name (only where the operator allows it)"),
)

#: Models loaded in this process, by (model, allow_pickle).
_MODELS = {}


class InvalidInput(web.HTTPUnprocessableEntity):
    """A 422 answer naming what was wrong; it survives the trip back from a DEEPaaS worker."""

    def __init__(self, message):
        super().__init__(text=json.dumps({"message": message}), content_type="application/json")
        self.message = message

    def __reduce__(self):
        return type(self), (self.message,)

    def __str__(self):
        return self.message


class DeepaasModel:
    """Serves one kerasprop task with one model through the DEEPaaS V2 model API.

    Args:
        task: the task string, e.g. `"text-vectorisation"`.
        model: a catalog name, alias, saved name or folder; the task's bundled
            default when `None`.
        allow_pickle: serve a model saved as a dill pickle (unpickling runs code).
        max_items: most inputs in one predict request.
        max_text_length: most characters in one string of a predict request.
        allow_overwrite: let train requests replace a saved model (`overwrite: true`).
        allowed_classes: `module:Class` paths of the operator's own model classes that saved models may name.
        limits: the most work one request may ask for, option -> largest value
            (`WORK_LIMITS` overridden; `KERASPROP_LIMITS="num_beams=4,max_length=256"`).
        quantize: "int8", "int4" or "float8": the served model's weights quantized after loading.

    Example:
    >>> adapter = DeepaasModel("text-classification", "bart-large-mnli")
    >>> adapter.get_predict_args()["top_k"].load_default
    0
    """

    def __init__(self, task, model=None, allow_pickle=False, max_items=64, max_text_length=100_000,
                 allow_overwrite=False, allowed_classes=(), limits=None, quantize=None):
        self.task_schema = get_schema(task)
        self.task = task
        self.model_name = model if model is not None else default_model(task)
        if not isinstance(self.model_name, str) or not self.model_name.strip():
            raise TypeError(f"'model' must be a model name or folder, got {describe(self.model_name)}.")
        tasks = declared_tasks(self.model_name)
        if task not in tasks:
            raise ValueError(f"Model '{self.model_name}' does not serve '{task}'; its tasks are {list(tasks)}.")
        self.allow_pickle = bool(allow_pickle)
        self.allow_overwrite = bool(allow_overwrite)
        self.allowed_classes = _class_paths(allowed_classes)
        self.limits = _work_limits(limits or {})
        self.max_items = max_items
        self.max_text_length = max_text_length
        self.quantize = check_quantization(quantize)

    @classmethod
    def from_environment(cls, environ=None):
        """The adapter that `KERASPROP_TASK`, `KERASPROP_MODEL` and `KERASPROP_ALLOW_PICKLE` describe."""
        environ = os.environ if environ is None else environ
        model = environ.get(MODEL_VARIABLE) or None
        task = environ.get(TASK_VARIABLE) or (model and _only_task(model))
        if not task:
            raise ValueError(
                f"Set {TASK_VARIABLE} to the task to serve (e.g. 'text-vectorisation'), "
                f"and {MODEL_VARIABLE} to the model (default: the task's first catalog model)."
            )
        return cls(task, model, allow_pickle=environ.get(PICKLE_VARIABLE, "") in ("1", "true", "yes"),
                   allow_overwrite=environ.get(OVERWRITE_VARIABLE, "") in ("1", "true", "yes"),
                   allowed_classes=[p for p in environ.get(CLASSES_VARIABLE, "").split(",") if p.strip()],
                   limits=parse_limits(environ.get(LIMITS_VARIABLE, "")),
                   quantize=environ.get(QUANTIZE_VARIABLE) or None)

    def environment(self):
        """The environment variables that describe this adapter (for `from_environment`)."""
        return {
            TASK_VARIABLE: self.task,
            MODEL_VARIABLE: self.model_name,
            PICKLE_VARIABLE: "1" if self.allow_pickle else "0",
            OVERWRITE_VARIABLE: "1" if self.allow_overwrite else "0",
            CLASSES_VARIABLE: ",".join(self.allowed_classes),
            LIMITS_VARIABLE: ",".join(f"{k}={v}" for k, v in self.limits.items()),
            QUANTIZE_VARIABLE: self.quantize or "",
        }

    def __repr__(self):
        return f"<DeepaasModel task={self.task!r} model={self.model_name!r}>"

    # DEEPaaS pickles the adapter for every call: keep it to its settings.
    def __getstate__(self):
        state = dict(self.__dict__)
        del state["task_schema"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.task_schema = get_schema(self.task)

    @property
    def model(self):
        """The served model, loaded once per process."""
        key = (self.model_name, self.allow_pickle, self.quantize)
        if key not in _MODELS:
            _MODELS[key] = self.load_model()
        return _MODELS[key]

    def load_model(self):
        """Loads a fresh copy of the served model."""
        from kerasprop.hub.io import find_saved, load
        from kerasprop.models import AutoModel

        if catalog.find_entry(self.model_name) is None and find_saved(self.model_name) is not None:
            allowed = [catalog.import_class(path) for path in self.allowed_classes]  # the operator's choice
            model = load(self.model_name, allow_pickle=self.allow_pickle, allowed_classes=allowed)
        else:
            model = AutoModel.from_pretrained(self.model_name)
        if self.quantize:
            model.quantize(self.quantize)
        return model

    # The DEEPaaS V2 model API.

    def get_metadata(self):
        """id, name, description, license, author, version, url and links of the served model."""
        import kerasprop

        meta = {
            "id": self.model_name,
            "name": self.model_name,
            "description": f"{self.task_schema.description} (kerasprop task '{self.task}')",
            "version": kerasprop.__version__,
            "author": "kerasprop",
        }
        entry = catalog.find_entry(self.model_name)
        if entry is not None:
            meta.update(name=entry.name, description=f"{entry.description} Serves '{self.task}'.",
                        license=entry.license, **_origin(entry.handle))
        else:
            saved = _saved_config(self.model_name)
            details = saved.get("details") or {}
            meta.update({k: saved[k] for k in ("name", "description") if saved.get(k)})
            meta.update({k: details[k] for k in ("license", "author", "url") if isinstance(details.get(k), str)})
        if "url" in meta:
            meta["links"] = [{"rel": "source", "href": meta["url"], "type": "text/html"}]
        return meta

    def get_predict_args(self):
        """The predict arguments, derived from the task schema."""
        return fields.predict_arguments(self.task_schema, self.max_items, self.max_text_length, self.limits)

    def get_train_args(self):
        """The train arguments: the params file, the variant and the finetuning options."""
        return fields.train_arguments(self.task_schema, TRAINING_OPTIONS)

    @property
    def schema(self):
        """The marshmallow schema of a predict response."""
        return fields.response_schema(self.task_schema)

    def warm(self):
        """Loads the model into this worker's cache."""
        self.model  # noqa: B018 (loading is the point)

    def predict(self, **kwargs):
        """Answers one request: `{"task", "model", "predictions": [one per input]}`."""
        task_input = self.task_input(kwargs)
        try:
            outputs = self.model(task_input, task=self.task)
        except (TypeError, ValueError) as error:
            raise InvalidInput(str(error)) from None
        predictions = [outputs] if fields.uploads_inputs(self.task_schema) else outputs
        return {"task": self.task, "model": self.model.name, "predictions": predictions}

    def task_input(self, arguments):
        """The task input dict of parsed predict arguments (uploaded files are read and removed)."""
        from deepaas.model.v2.wrapper import UploadedFile

        task_input = {
            k: self.bounded_upload(k, _read_upload(v)) if isinstance(v, UploadedFile) else v
            for k, v in arguments.items() if v is not None
        }
        size = max((len(task_input[f.key]) for f in self.task_schema.fields
                    if f.role == BATCH and isinstance(task_input.get(f.key), list)), default=None)
        if size is not None:  # a batch: per-input values apply to every input
            for field in self.task_schema.fields:
                if field.role == ITEM and field.key in task_input:
                    task_input[field.key] = [task_input[field.key]] * size
        return task_input

    def bounded_upload(self, key, raw):
        """An uploaded image's bytes once its size (read from its header) is within `image_pixels`; an
        uploaded audio file decoded, once its length is within `audio_seconds`."""
        from PIL import Image as PILImage

        spec = self.task_schema.field(key).spec
        if isinstance(spec, Image):
            try:
                width, height = PILImage.open(io.BytesIO(raw)).size
            except (OSError, SyntaxError, ValueError):
                return raw  # not an image: the schema's own check names the fault
            if width * height > self.limits["image_pixels"]:
                raise InvalidInput(f"'{key}' is {width} x {height} = {width * height} pixels; this server takes at "
                                   f"most {self.limits['image_pixels']} (image_pixels).")
        elif isinstance(spec, Audio):
            try:
                waveform = load_audio(raw, key)
            except (TypeError, ValueError) as error:
                raise InvalidInput(str(error)) from None
            seconds = len(waveform.samples) / (waveform.sampling_rate or MODEL_SAMPLING_RATE)
            if seconds > self.limits["audio_seconds"]:
                raise InvalidInput(f"'{key}' lasts {seconds:.1f} s; this server takes at most "
                                   f"{self.limits['audio_seconds']} s (audio_seconds).")
            return waveform
        return raw

    def train(self, **kwargs):
        """Finetunes a fresh copy of the model on the uploaded params and saves it.

        Returns where the model was saved and the last value of each loss.
        """
        from kerasprop.hub.io import find_saved, save
        from kerasprop.schemas.models import check_name

        data = kwargs.pop("data")
        variant = kwargs.pop("variant", None)
        save_name = kwargs.pop("save_name", None)
        overwrite = bool(kwargs.pop("overwrite", False))
        training = {k: kwargs.pop(k, None) for k in ("epochs", "validation_split", "batch_size")}
        finetune_schema = self.task_schema.variant(variant)
        params = read_params(data, finetune_schema)
        _refuse_file_paths(params, finetune_schema)
        if overwrite and not self.allow_overwrite:
            raise InvalidInput(f"'overwrite' is not allowed on this server (the operator sets {OVERWRITE_VARIABLE}=1).")
        try:
            if save_name is not None:
                check_name(save_name)
            model = self.load_model()
            name = save_name or f"{model.name}-finetuned"
            if not overwrite and find_saved(name) is not None:
                raise ValueError(f"A model named '{name}' is already saved; choose another 'save_name'.")
            model.check_finetunable(self.task)
            options = {k: v for k, v in {**training, **kwargs}.items() if v is not None}
            history = finetune(model, params, self.task, variant=variant, verbose=0, **options)
        except (TypeError, ValueError) as error:
            raise InvalidInput(str(error)) from None
        try:
            path = save(model, name=name, overwrite=overwrite)
        except FileExistsError as error:  # saved by another request while this one trained
            raise InvalidInput(str(error)) from None
        final = {key: float(values[-1]) for key, values in history.history.items()}
        return {
            "name": name,
            "saved_to": path,
            "epochs": len(history.epoch),
            "losses": {k: v for k, v in final.items() if k.endswith("loss")},
            "metrics": {k: v for k, v in final.items() if not k.endswith("loss")},
        }


def read_params(upload, finetune_schema):
    """Finetuning params from an uploaded JSON (key -> list) or CSV (one column per key) file.

    `upload` is a `kerasprop.serving.fields.UploadedText`; a `.csv` name or a
    CSV content type selects CSV, anything else is read as JSON.
    """
    is_csv = str(upload).lower().endswith(".csv") or "csv" in upload.content_type
    if is_csv:
        return _params_from_csv(upload.text, finetune_schema)
    try:
        params = json.loads(upload.text)
    except ValueError as error:
        raise InvalidInput(f"'data' is not valid JSON ({error}); upload a JSON object of lists or a .csv file.") from None
    if not isinstance(params, dict):
        raise InvalidInput(f"'data' must hold a JSON object of key -> list, got {describe(params)}.")
    return params


def _refuse_file_paths(params, finetune_schema):
    """Images and audio in uploaded training data must be inline (base64, data URLs): never server-side paths."""
    for field in finetune_schema.fields:
        if not isinstance(getattr(field.spec, "item", None), fields.FILE_SPECS):
            continue
        values = params.get(field.key)
        for index, value in enumerate(values if isinstance(values, list) else []):
            if isinstance(value, str) and not is_inline(value):
                raise InvalidInput(
                    f"'{field.key}' item {index} is not base64 data or a data: URL; training data sent over HTTP "
                    "carries its files inline, and the server reads no paths of its own."
                )


def _params_from_csv(text, finetune_schema):
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise InvalidInput("'data' holds no CSV rows: give a header of keys and one row per example.")
    specs = {f.key: f.spec for f in finetune_schema.fields}
    columns = [c for c in rows[0] if c]
    unknown = [c for c in columns if c not in specs]
    if unknown:
        raise InvalidInput(f"'data' has unknown column(s) {unknown}; the keys are {sorted(specs)}.")
    return {c: [_cell(specs[c].item, row[c]) for row in rows] for c in columns}


def _cell(spec, cell):
    """A CSV cell as the value a spec expects: text stays text, anything else is read as JSON when it parses."""
    if cell is None or isinstance(spec, Text):
        return cell
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def _work_limits(overrides):
    """`WORK_LIMITS` with the operator's `overrides` (option -> positive integer), checked."""
    unknown = sorted(set(overrides) - set(WORK_LIMITS))
    if unknown:
        raise ValueError(f"Unknown work limit(s) {unknown}; the limits are {sorted(WORK_LIMITS)}.")
    for key, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"The work limit {key!r} must be a positive integer, got {describe(value)}.")
    return {**WORK_LIMITS, **overrides}


def parse_limits(text):
    """`"num_beams=4,max_length=256"` (KERASPROP_LIMITS) as a dict."""
    limits = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        if not value.strip().isdigit():
            raise ValueError(f"{LIMITS_VARIABLE} takes 'option=integer' items, got {item!r}.")
        limits[key.strip()] = int(value)
    return limits


def _class_paths(paths):
    """`module:Class` paths the operator allows, checked for their form (they are imported when the model loads)."""
    if isinstance(paths, str):
        paths = [paths]
    paths = tuple(p.strip() for p in paths)
    for path in paths:
        module, _, name = path.partition(":")
        if not (module and name and all(part.isidentifier() for part in module.split(".") + name.split("."))):
            raise ValueError(f"An allowed class is named 'module:Class', got {path!r} (from {CLASSES_VARIABLE}).")
    return paths


def _read_upload(upload):
    """The bytes of a file DEEPaaS uploaded for predict; its temporary file is removed."""
    try:
        with open(upload.filename, "rb") as f:
            return f.read()
    finally:
        try:
            os.remove(upload.filename)
        except FileNotFoundError:
            pass


def default_model(task):
    """The task's own default (its bundled preset): serving with no model named opens no network connection."""
    from kerasprop.tasks import task_class

    try:
        return task_class(task).choose_default_model()
    except RuntimeError as error:
        raise ValueError(f"{error} Name one with {MODEL_VARIABLE} or --model.") from None


def declared_tasks(model):
    """The tasks a catalog or saved model declares, without loading it; `ValueError` if there is no such model."""
    entry = catalog.find_entry(model)
    if entry is not None:
        return tuple(entry.tasks)
    saved = _saved_config(model)
    if not saved:
        close = catalog.close_matches(model)
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(
            f"Model '{model}' not found: name a catalog model, or a model saved with kerasprop.save "
            f"(by name or folder).{hint}"
        )
    return tuple(saved.get("tasks", ()))


def _only_task(model):
    """The task of a model that serves exactly one."""
    tasks = declared_tasks(model)
    return tasks[0] if len(tasks) == 1 else None


def _saved_config(name):
    """The `kerasprop.json` of a saved model, or `{}`."""
    from kerasprop.hub.io import CONFIG_FILE, find_saved

    folder = find_saved(name)
    if folder is None:
        return {}
    with open(folder / CONFIG_FILE) as f:
        return json.load(f)


def _origin(handle):
    """Author and URL of where a catalog model's weights come from."""
    if handle.startswith("hf://"):
        repo = handle[len("hf://"):]
        return {"author": repo.split("/")[0], "url": f"https://huggingface.co/{repo}"}
    if handle.startswith("kaggle://"):
        owner = handle[len("kaggle://"):].split("/")[0]
        return {"author": owner, "url": f"https://www.kaggle.com/models/{handle[len('kaggle://'):]}"}
    if handle.startswith("bundled:"):
        return {"author": "kerasprop"}
    return {"author": "Keras team", "url": "https://keras.io/keras_hub/presets/"}


def __getattr__(name):
    # The entry point `kerasprop.serving.adapter:model`, built when DEEPaaS loads it.
    if name == "model":
        from kerasprop.serving.parser import install

        install()  # DEEPaaS reads requests with it from now on (its routes are built after this)
        return DeepaasModel.from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
