"""Save, load and upload kerasprop models.

A saved model is a keras-hub preset folder (written by `save_to_preset`) plus
`kerasprop.json`, which records the kerasprop class and the contract (name,
tasks, description, details). Models that are not Keras tasks are stored with
`dill`; reading such a pickle back is an explicit opt-in (`allow_pickle=True`),
because unpickling runs code.

Every write goes to a temporary folder beside the target and is renamed into
place at the end, so a failure never leaves a half-written model.
"""

import json
import os
import pathlib
import shutil
import tempfile

from kerasprop import distributed
from kerasprop.hub import folders
from kerasprop.hub.catalog import cache_dir, class_path, close_matches
from kerasprop.hub.registry import is_model, registered_name, resolve_model_class
from kerasprop.schemas.models import check_name, check_tasks
from kerasprop.schemas.specs import describe

CONFIG_FILE = "kerasprop.json"
PICKLE_FILE = "model.dill"
FORMAT_VERSION = 1


def save(model, name=None, path=None, description=None, tasks=None, details=None, overwrite=True):
    """Saves a model as a preset folder and returns the folder's path.

    `name` defaults to the model's name; `path` defaults to
    `$KERASPROP_HOME/<name>` (`~/.cache/kerasprop/<name>`), where
    `kerasprop.load(name)` and `AutoModel.from_pretrained(name)` find it.
    `description`, `tasks` and `details` update the model's contract first.
    A model saved there before is replaced, as Keras' `save` replaces a file;
    with `overwrite=False` it is kept and a `FileExistsError` raised instead.
    In a multi-process job only process 0 writes; the others return the path.

    Example:
    >>> import kerasprop
    >>> model = kerasprop.models.AutoModel.from_pretrained("all-minilm-l6-v2")  # doctest: +SKIP
    >>> kerasprop.save(model, name="my-vectors")  # doctest: +SKIP
    """
    if not is_model(model):
        raise TypeError(f"kerasprop.save() takes a kerasprop model (a BaseModel), got {describe(model)}.")
    name = check_name(name or model.name)
    if tasks is not None:
        check_tasks(tasks)
    if details is not None and not isinstance(details, dict):
        raise TypeError(f"'details' must be a dict, got {describe(details)}.")
    target = pathlib.Path(path) if path is not None else cache_dir() / name
    if target.exists() and not target.is_dir():
        raise ValueError(f"Cannot save to {str(target)!r}: a file is in the way.")
    if target.exists() and not overwrite:
        raise FileExistsError(f"A model is already saved at {str(target)!r}; pass overwrite=True to replace it.")
    model.set_contract(name=name, description=description, tasks=tasks, details=details)
    meta = {
        "format_version": FORMAT_VERSION,
        "class": _class_name(type(model)),
        "storage": "preset" if hasattr(model, "save_to_preset") else "dill",
        "name": model.name,
        "description": model.description,
        "tasks": list(model.tasks),
        "finetunable_tasks": list(model.finetunable_tasks),
        "details": model.details,
    }
    json.dumps(meta)  # fail before writing anything if details are not JSON
    try:
        if distributed.process_index() == 0:  # in a multi-process job, process 0 writes and the others wait
            _write(model, meta, target, overwrite)
    finally:
        distributed.barrier("kerasprop-save")
    return str(target)


def _write(model, meta, target, overwrite):
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(target)
    try:
        if meta["storage"] == "preset":
            getattr(model, "write_preset", model.save_to_preset)(str(staging))
        else:
            import dill

            with open(staging / PICKLE_FILE, "wb") as f:
                dill.dump(model, f)
        with open(staging / CONFIG_FILE, "w") as f:
            json.dump(meta, f, indent=2)
        replace_folder(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def staging_folder(target):
    """A new hidden folder beside `target` to write into before `replace_folder`; clears abandoned ones first."""
    _remove_abandoned(target)
    return pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-{os.getpid()}-", dir=target.parent))


def _remove_abandoned(target):
    """Removes the staging and replaced folders that interrupted saves to `target` left (their process is gone)."""
    for folder in target.parent.glob(f".{target.name}.*"):
        _, _, rest = folder.name[len(target.name) + 2:].partition("-")
        pid = rest.partition("-")[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def replace_folder(staging, target, overwrite=True):
    """Moves `staging` to `target`, replacing an existing folder (atomically enough) only if `overwrite`."""
    if not overwrite:
        try:
            os.rename(staging, target)  # fails if a folder appeared there meanwhile: never replaces one
        except OSError:
            raise FileExistsError(f"{str(target)!r} already exists; it was kept.") from None
    elif target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def find_saved(name_or_path):
    """The folder of a saved model (a path, or a name under the cache), or `None`."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        return None
    for folder in (pathlib.Path(name_or_path), cache_dir() / str(name_or_path)):
        if (folder / CONFIG_FILE).exists():
            return folder
    return None


def load(name_or_path, allow_pickle=False, allowed_classes=(), **kwargs):
    """Loads a model saved with `kerasprop.save` (by name or folder) to the same class.

    The class is resolved by its registered name among kerasprop's model
    classes and those registered in this process; a class of your own that is
    not registered loads only when listed in `allowed_classes`. Nothing the
    folder names is imported. Models stored with dill load only with
    `allow_pickle=True`. A broken folder raises a `ValueError` naming it and
    its broken part.

    Example:
    >>> import kerasprop
    >>> model = kerasprop.load("my-vectors")  # doctest: +SKIP
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"kerasprop.load() takes a name or a folder, got {describe(name_or_path)}.")
    folder = find_saved(name_or_path)
    if folder is None:
        close = close_matches(name_or_path, extra=_saved_names())
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(f"Model '{name_or_path}' not found (no {CONFIG_FILE} there or in {cache_dir()}).{hint}")
    meta = _read_meta(folder)
    if meta["storage"] == "dill":
        if not allow_pickle:
            raise ValueError(
                f"Model '{name_or_path}' is stored as a dill pickle, which runs code when loaded. "
                "Pass allow_pickle=True if you trust where it came from."
            )
        import dill

        with folders.loading(folder), open(folder / PICKLE_FILE, "rb") as f:
            model = dill.load(f)
    else:
        cls = resolve_model_class(meta["class"], allowed_classes)
        if cls is None:
            raise ValueError(
                f"{CONFIG_FILE} in {str(folder)!r} names the class {meta['class']!r}, which is not a kerasprop model "
                "class; kerasprop imports nothing a folder names. If it is a class of your own that you trust, "
                "import it and pass allowed_classes=[TheClass]."
            )
        folders.check_preset_folder(folder)
        with folders.loading(folder):
            model = cls.from_preset(str(folder), **kwargs)
    model.set_contract(name=meta["name"], description=meta["description"], tasks=meta["tasks"],
                       details=meta.get("details") or {})
    return model


def _class_name(cls):
    """What `kerasprop.json` records: the registered name (`kerasprop>Class`), else `module:Class`."""
    name = registered_name(cls)
    return name if ">" in name else class_path(cls)


#: The entries `kerasprop.json` must have, and their types.
_META_TYPES = {"class": str, "storage": str, "name": str, "description": str, "tasks": list}


def _read_meta(folder):
    meta = folders.read_json(folder, CONFIG_FILE)
    for key, kind in _META_TYPES.items():
        if not isinstance(meta.get(key), kind):
            raise folders.BrokenFolderError(
                f"{CONFIG_FILE} in {str(folder)!r} has no valid {key!r} entry (a {kind.__name__} is needed)."
            )
    if not isinstance(meta.get("details", {}), dict):
        raise folders.BrokenFolderError(f"{CONFIG_FILE} in {str(folder)!r} has 'details' that are not a JSON object.")
    if meta["storage"] not in ("preset", "dill"):
        raise folders.BrokenFolderError(
            f"{CONFIG_FILE} in {str(folder)!r} has storage {meta['storage']!r}; expected 'preset' or 'dill'."
        )
    return meta


def _saved_names():
    root = cache_dir()
    return [p.name for p in root.iterdir() if (p / CONFIG_FILE).exists()] if root.is_dir() else []


def upload(model, handle, **save_kwargs):
    """Saves `model` as a preset and uploads it to an `hf://` or `kaggle://` handle.

    Uses `keras_hub.upload_preset`, which needs network and credentials
    (`HF_TOKEN`, or Kaggle's `KAGGLE_USERNAME`/`KAGGLE_KEY`).
    """
    if not isinstance(handle, str) or not handle.startswith(("hf://", "kaggle://")):
        raise ValueError(f"An upload handle starts with 'hf://' or 'kaggle://', got {describe(handle)}.")
    if not is_model(model) or not hasattr(model, "save_to_preset"):
        raise TypeError(
            f"Only Keras task models can be uploaded as presets, got {describe(model)}; "
            "pickled models stay local."
        )
    import keras_hub

    with tempfile.TemporaryDirectory(prefix="kerasprop-upload-") as tmp:
        folder = save(model, path=os.path.join(tmp, "preset"), **save_kwargs)
        keras_hub.upload_preset(handle, folder)
    return handle
