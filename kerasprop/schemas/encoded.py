"""A file given as text: a path, base64 (plain or URL-safe) or a `data:...;base64,` URL."""

import base64
import binascii
import os
import re
import stat

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
        return read_file(value, key, kind), f"the file {value!r}"
    compact = _base64_text(value)
    if compact is not None:
        return _decode(compact, key), "the base64 data"
    raise ValueError(f"'{key}' is neither an existing {kind} file nor base64 {kind} data, got {describe(value)}.")


def is_inline(value):
    """Whether `value` is file content written out (base64 or a data URL), decided without touching the disk.

    Servers accept only inline files in uploaded data: a path would read the
    server's own files, and whether it exists must not show in the answer.

    Example:

    >>> is_inline("data:image/png;base64,iVBORw0KGgo="), is_inline("/etc/passwd")
    (True, False)
    """
    return isinstance(value, str) and (_DATA_URL.match(value) is not None or _base64_text(value) is not None)


def _base64_text(value):
    """`value` without whitespace when it has the shape of base64 data (16 characters or more), else `None`."""
    compact = "".join(value.split())
    return compact if len(compact) >= 16 and _BASE64.match(compact) else None


#: The largest file read as an input (checked before reading); `KERASPROP_MAX_FILE_BYTES` changes it.
MAX_FILE_BYTES = int(os.environ.get("KERASPROP_MAX_FILE_BYTES", 64 * 2**20))


def read_file(path, key, kind):
    """The bytes of the regular file `path`, refused before reading when it is not one or is over `MAX_FILE_BYTES`.

    A FIFO, device or socket (`/dev/zero`, a named pipe) could block or never end, so only
    regular files are read; their size is known before the read.
    """
    if os.path.isdir(path):
        raise ValueError(f"'{key}' names a folder, not an {kind} file: {path!r}.")
    with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NONBLOCK)) as f:
        status = os.fstat(f.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise ValueError(f"'{key}' names {path!r}, which is not a regular file (a device, pipe or socket).")
        if status.st_size > MAX_FILE_BYTES:
            raise ValueError(f"'{key}': the file {path!r} has {status.st_size:,} bytes, over the limit of "
                             f"{MAX_FILE_BYTES:,} (KERASPROP_MAX_FILE_BYTES).")
        return f.read(MAX_FILE_BYTES + 1)


def _decode(data, key):
    data = "".join(data.split())
    try:
        altchars = b"-_" if ("-" in data or "_" in data) else None
        return base64.b64decode(data + "=" * (-len(data) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"'{key}' holds base64 text that does not decode.") from None
