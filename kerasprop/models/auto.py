"""`AutoModel`: load any catalog model by name, or list what there is."""

import os

import kerasprop.hub.catalog as _catalog
from kerasprop.schemas import get_schema
from kerasprop.schemas.specs import describe


class AutoModel:
    """Loads catalog models by name and lists them.

    Example:
    >>> from kerasprop.models import AutoModel
    >>> "all-minilm-l6-v2" in AutoModel.list_models(task="text-vectorisation")
    True
    """

    @staticmethod
    def from_pretrained(name, aliases=None, task=None, **kwargs):
        """Loads a model by catalog name, alias (from `aliases`), saved name, folder or handle.

        Looks up the catalog, then `aliases` (a dict alias -> catalog name), then
        models saved with `kerasprop.save` (by name or path), then preset folders
        and `hf://`/`kaggle://` handles, loaded with the model family of their
        architecture that serves `task`. Anything else raises
        `ValueError("Model '<name>' not found")` with close matches.
        """
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"A model name must be a non-empty string, got {describe(name)}.")
        if aliases is not None and not isinstance(aliases, dict):
            raise TypeError(f"'aliases' must be a dict of alias -> model name, got {describe(aliases)}.")
        entry = _catalog.find_entry(name, aliases)
        if entry is not None:
            return load_entry(entry, **kwargs)
        from kerasprop.hub.io import find_saved, load

        saved = find_saved(name)
        if saved is not None:
            return load(saved, **kwargs)
        if os.path.isdir(name) or "://" in name:
            from kerasprop.models.families import load_preset

            return load_preset(name, task=task, **kwargs)
        close = _catalog.close_matches(name, extra=list(aliases or {}))
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(f"Model '{name}' not found.{hint} See AutoModel.list_models().")

    @staticmethod
    def list_models(task=None, return_dict=False, display=False, limit=None, aliases=None):
        """Lists catalog models, optionally those serving `task`.

        Returns a list of names, or a dict name -> details with `return_dict`;
        `display=True` prints a table instead and returns `None`.
        """
        if task is not None:
            get_schema(task)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"'limit' must be a non-negative integer, got {describe(limit)}.")
        reverse = {v: k for k, v in (aliases or {}).items()}
        models = {}
        for entry in _catalog.all_entries().values():
            if task is not None and task not in entry.tasks:
                continue
            if limit is not None and len(models) >= limit:
                break
            info = entry.as_dict()
            if entry.name in reverse:
                info["alias"] = reverse[entry.name]
            models[entry.name] = info
        if display:
            print(format_table(models))
            return None
        return models if return_dict else list(models)


def load_entry(entry, load_weights=True, **kwargs):
    """Instantiates a catalog entry with its class, handle and contract metadata."""
    from kerasprop.hub.catalog import offline_error, resolve_handle

    cls = entry.load_class()
    handle = resolve_handle(entry.handle)
    options = dict(entry.init_kwargs, **kwargs)
    remote = not os.path.isdir(handle)
    try:
        model = cls.from_preset(handle, load_weights=load_weights, **options)
    except Exception as error:  # hub clients raise their own error types when offline
        if remote and _looks_offline(error):
            raise offline_error(entry.name, handle, error) from error
        raise
    model.set_contract(name=entry.name, tasks=list(entry.tasks), description=entry.description,
                       details={"source": entry.source, "license": entry.license, **model.details})
    return model


def _looks_offline(error):
    """Whether a loading error came from fetching (keras-hub reports a failed fetch as a missing config.json)."""
    if isinstance(error, (OSError, ConnectionError)):
        return True
    text = f"{type(error).__name__} {error}".lower()
    words = ("connect", "network", "resolve", "offline", "timed out", "http", "unreachable", "has no config.json")
    return any(w in text for w in words)


def format_table(models):
    """A readable table of `list_models(return_dict=True)` output."""
    if not models:
        return "No models."
    rows = [("name", "aliases", "tasks", "finetunable", "offline", "description")]
    for name, info in models.items():
        rows.append(
            (
                name,
                ", ".join(sorted({a for v in (info.get("aliases") or {}).values() for a in v})) or "-",
                ", ".join(info["tasks"]),
                ", ".join(info.get("finetunable_tasks") or ()) or "-",
                "yes" if info.get("offline") else "no",
                info.get("description", ""),
            )
        )
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(rows[0]) - 1)]
    lines = []
    for i, row in enumerate(rows):
        cells = [c[:w].ljust(w) for c, w in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 11)
    return "\n".join(lines)
