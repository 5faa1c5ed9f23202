"""Image inputs: a file path, a `PIL.Image`, base64 (optionally a data URL), bytes or an array."""

import io
import os

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from kerasprop.schemas.encoded import read_encoded
from kerasprop.schemas.specs import Spec, describe


def load_image(value, key="image"):
    """Decodes any supported image input into an RGB `PIL.Image`.

    Raises `TypeError` for unsupported kinds of value and `ValueError` for
    values of the right kind that are not images, naming `key` in both.

    Example:
    >>> load_image(np.zeros((4, 4, 3), dtype="uint8")).size
    (4, 4)
    """
    if isinstance(value, PILImage.Image):
        return value.convert("RGB")
    if isinstance(value, np.ndarray):
        return _from_array(value, key)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(value), key, "bytes")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return _from_string(value, key)
    raise TypeError(
        f"'{key}' must be an image: a file path, a PIL.Image, a base64 string, bytes "
        f"or a numpy array, got {describe(value)}."
    )


def _from_string(value, key):
    raw, source = read_encoded(value, key, "image")
    return _from_bytes(raw, key, source)


def _from_bytes(raw, key, what):
    try:
        image = PILImage.open(io.BytesIO(raw))
        image.load()
    except UnidentifiedImageError:
        raise ValueError(f"'{key}': {what} is not an image in a format Pillow can read.") from None
    except PILImage.DecompressionBombError as error:
        raise ValueError(f"'{key}': {what} decodes to too many pixels ({error}).") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"'{key}': {what} is a broken image ({error}).") from None
    return image.convert("RGB")


def _from_array(array, key):
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(
            f"'{key}' array must have shape (height, width), (height, width, 3) or "
            f"(height, width, 4), got shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"'{key}' array is empty, got shape {array.shape}.")
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"'{key}' array holds NaN or infinite values.")
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
        array = np.clip(array * scale, 0, 255).astype("uint8")
    elif np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        array = np.clip(array.astype("int64") * (255 if array.dtype == np.bool_ else 1), 0, 255).astype("uint8")
    else:
        raise TypeError(f"'{key}' array must hold numbers, got dtype {array.dtype}.")
    return PILImage.fromarray(array).convert("RGB")


class Image(Spec):
    """An image in any supported form, normalised to an RGB `PIL.Image`."""

    expected = "an image (path, PIL.Image, base64 string, bytes or numpy array)"

    def check(self, key, value):
        return load_image(value, key)

    def json_schema(self):
        return {"type": "string", "contentEncoding": "base64", "description": "image file path or base64 data"}
