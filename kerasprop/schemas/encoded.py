"""A file given as text: a path, base64 (plain or URL-safe) or a `data:...;base64,` URL."""

import base64
import binascii
import os
import re

from kerasprop.schemas.specs import describe

_DATA_URL = re.compile(r"^data:[\w.+/-]*(;[\w=.+-]+)*;base64,", re.IGNORECASE)
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def read_encoded(value, key, kind):
    """Returns `(bytes, source)` for a path, base64 text or data URL naming a `kind` ("image", "audio") file.

    `source` says where the bytes came from, for error messages. Errors name `key`.

    Example:

    >>> read_encoded("aGVsbG8gd29ybGQgYWdhaW4h", "image", "image")
    (b'hello world again!', 'the base64 data')
    """
    if not value.strip():
        raise ValueError(f"'{key}' must be an {kind} file path or base64 string, got an empty string.")
    match = _DATA_URL.match(value)
    if match:
        return _decode(value[match.end():], key), "the base64 data"
    if len(value) < 1024 and os.path.exists(value):
        if os.path.isdir(value):
            raise ValueError(f"'{key}' names a folder, not an {kind} file: {value!r}.")
        with open(value, "rb") as f:
            return f.read(), f"the file {value!r}"
    compact = "".join(value.split())
    if len(compact) >= 16 and _BASE64.match(compact):
        return _decode(compact, key), "the base64 data"
    raise ValueError(f"'{key}' is neither an existing {kind} file nor base64 {kind} data, got {describe(value)}.")


def _decode(data, key):
    data = "".join(data.split())
    try:
        altchars = b"-_" if ("-" in data or "_" in data) else None
        return base64.b64decode(data + "=" * (-len(data) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"'{key}' holds base64 text that does not decode.") from None
