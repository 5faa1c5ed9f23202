"""The model catalog, preset resolution, save/load/upload and checkpoint converters."""

from kerasprop.hub.catalog import (
    CatalogEntry,
    all_entries,
    register_entry,
    resolve_handle,
)

__all__ = ["CatalogEntry", "all_entries", "register_entry", "resolve_handle"]
