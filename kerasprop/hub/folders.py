"""Checks on preset folders before and while they load.

Folders come from downloads and other people's disks: a missing, truncated or
hand-edited file must give an error that names the folder and the broken part,
never a bare `KeyError`, `JSONDecodeError` or h5py error from deep inside Keras.
"""

import contextlib
import json
import pathlib

#: keras-hub's own files that hold a serialised Keras object.
CONFIG_FILES = ("config.json", "task.json", "preprocessor.json", "tokenizer.json")


#: Packages whose classes a config may name: Keras imports only these itself, and kerasprop's register on import.
_KNOWN_PACKAGES = {"keras", "keras_hub", "kerasprop", "builtins", ""}

#: What Keras' TypeErrors say when a config names a class it will not resolve.
_UNRESOLVED_CLASS = ("Could not locate", "could not be deserialized", "Could not deserialize")


class BrokenFolderError(ValueError):
    """A preset folder with a missing or broken part (a `ValueError`, as other bad input)."""


def read_json(folder, file_name, required=True):
    """The JSON object in `folder/file_name`; `None` if it is absent and not `required`."""
    path = pathlib.Path(folder) / file_name
    if not path.is_file():
        if required:
            raise BrokenFolderError(f"The folder {str(folder)!r} has no {file_name}: it is not a complete saved model.")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BrokenFolderError(f"{file_name} in {str(folder)!r} is not valid JSON ({error}).") from None
    if not isinstance(value, dict):
        raise BrokenFolderError(f"{file_name} in {str(folder)!r} must hold a JSON object, got {type(value).__name__}.")
    return value


def is_keras_folder(folder):
    """Whether `folder` is a local folder in Keras' preset format (as `save_to_preset` writes it)."""
    folder = pathlib.Path(folder)
    return folder.is_dir() and any((folder / name).is_file() for name in ("metadata.json", "kerasprop.json"))


def check_preset_folder(folder):
    """Raises `BrokenFolderError` naming `folder` and its broken part; checks what can be checked before loading.

    Every keras-hub config file present must be a serialised Keras object;
    `config.json` must be there; every `.h5` file must be HDF5; and the
    backbone's weights must be there (unless the preset sits on a shared base
    backbone, `kerasprop.models.base_backbone`).

    Example:
    >>> from kerasprop.hub.folders import check_preset_folder
    >>> check_preset_folder("/no/such/folder")
    Traceback (most recent call last):
    ...
    kerasprop.hub.folders.BrokenFolderError: The folder '/no/such/folder' has no config.json: it is not a complete saved model.
    """
    import h5py

    folder = pathlib.Path(folder)
    for file_name in CONFIG_FILES:
        config = read_json(folder, file_name, required=file_name == "config.json")
        if config is None:
            continue
        missing = [key for key in ("class_name", "config") if key not in config]
        if missing or not isinstance(config["config"], dict):
            raise BrokenFolderError(
                f"{file_name} in {str(folder)!r} is not a saved Keras object (no {' or '.join(missing) or 'config'} entry)."
            )
        for named in _unknown_classes(config):
            raise BrokenFolderError(
                f"{file_name} in {str(folder)!r} names the class {named!r}, which is neither Keras', keras-hub's, "
                "kerasprop's nor registered in this process; nothing a folder names is imported. If you trust it, "
                "import the module that defines it before loading."
            )
    on_a_base = (folder / "base_backbone.json").is_file()  # holds what it adds to a shared backbone
    if not on_a_base and not any((folder / name).is_file() for name in ("model.weights.h5", "model.weights.json")):
        raise BrokenFolderError(f"The folder {str(folder)!r} has no weights file (model.weights.h5).")
    for path in sorted(folder.glob("*.h5")):
        if not h5py.is_hdf5(path):
            raise BrokenFolderError(f"{path.name} in {str(folder)!r} is not an HDF5 weights file (truncated or replaced?).")


def _unknown_classes(config):
    """The classes a serialised Keras object names (at any depth) that Keras would not resolve by itself."""
    import keras

    if isinstance(config, list):
        for item in config:
            yield from _unknown_classes(item)
        return
    if not isinstance(config, dict):
        return
    if "class_name" in config and "config" in config:
        registered = config.get("registered_name")
        module = config.get("module") or ""
        if isinstance(registered, str) and ">" in registered:
            name, package = registered, registered.partition(">")[0]
        else:
            name, package = f"{module}.{config['class_name']}", module.partition(".")[0]
        if package not in _KNOWN_PACKAGES and keras.saving.get_registered_object(name) is None:
            yield name
    for value in config.values():
        yield from _unknown_classes(value)


def _folder_fault(error, folder):
    """Whether `error`, raised while loading `folder`, is the folder's fault and not yet an error that names it."""
    if isinstance(error, (BrokenFolderError, PermissionError)):
        return False
    if isinstance(error, TypeError):  # Keras' for classes a config names that it will not resolve; else the caller's
        return any(words in str(error) for words in _UNRESOLVED_CLASS)
    return not (isinstance(error, ValueError) and str(folder) in str(error))


@contextlib.contextmanager
def loading(folder):
    """Turns the errors a broken folder raises deep inside Keras and h5py into a `BrokenFolderError` naming it."""
    try:
        yield
    except (KeyError, OSError, ValueError, TypeError) as error:
        if not _folder_fault(error, folder):
            raise
        detail = f"{type(error).__name__}: {str(error)[:300]}"
        raise BrokenFolderError(
            f"The saved model in {str(folder)!r} is broken or incomplete; loading it failed with {detail}"
        ) from error
