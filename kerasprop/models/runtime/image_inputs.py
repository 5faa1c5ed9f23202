"""Decoded images (RGB `PIL.Image`s from the schemas) to model-ready pixel batches."""

import numpy as np
from PIL import Image as PILImage

_RESAMPLE = {
    "nearest": PILImage.NEAREST,
    "bilinear": PILImage.BILINEAR,
    "bicubic": PILImage.BICUBIC,
    "lanczos3": PILImage.LANCZOS,
    "lanczos5": PILImage.LANCZOS,
}


def center_fit(image, height, width, interpolation="bicubic"):
    """Resizes the shorter side to fit `(height, width)`, then crops the centre.

    This is what Hugging Face image processors do for CLIP and ImageNet models
    (`size={"shortest_edge": s}`, `crop_size=s`): Pillow resampling, the long
    side rounded down, the crop offset rounded down.
    """
    target = max(height, width)
    w, h = image.size
    if w <= h:
        size = (target, int(target * h / w))
    else:
        size = (int(target * w / h), target)
    image = image.resize(size, resample=_RESAMPLE.get(interpolation, PILImage.BICUBIC))
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return image.crop((left, top, left + width, top + height))


def fit_images(images, size, interpolation="bicubic"):
    """A uint8 `(batch, height, width, 3)` array of `images`, each `center_fit` to `size`."""
    height, width = size
    return np.stack([np.asarray(center_fit(image, height, width, interpolation)) for image in images])


def to_pixels(images, image_converter):
    """A float32 `(batch, height, width, 3)` array of `images`, fitted and normalised.

    Uses the size, interpolation, scale and offset of a keras-hub
    `ImageConverter`, so the result is what the converter would give for
    images already at its size.
    """
    batch = fit_images(images, image_converter.image_size, image_converter.interpolation).astype("float32")
    if image_converter.scale is not None:
        batch *= np.asarray(image_converter.scale, dtype="float32")
    if image_converter.offset is not None:
        batch += np.asarray(image_converter.offset, dtype="float32")
    return batch
