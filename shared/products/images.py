"""Safe image decoding for catalog files and user uploads.

Every image the project reads, from a dataset or an upload, goes through
:func:`decode_image`: it refuses empty, truncated, corrupt and non-image data and
decompression bombs with an :class:`ImageError`, and returns an upright 8-bit RGB
image no larger than the model needs:

- large images are scaled down while decoding (JPEG decodes at 1/2, 1/4 or 1/8
  scale; other formats are reduced right after decoding, before any conversion);
- the EXIF orientation (phone photos) is applied;
- 16-bit and 32-bit greyscale (``I;16``, ``I``, ``F``) is scaled to 8 bits, not clipped;
- transparency is flattened onto white (the catalog's background).

A search query's image (a path, encoded bytes, an open file or a PIL image) becomes such an image
through :func:`as_pil`.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import FashionSearchError
from shared.search.types import RetrieverError

MAX_PIXELS = 40_000_000
"""Largest accepted image (width x height): 40 megapixels, well above any catalog photo."""
MAX_SIDE = 1024
"""Longest side of a decoded image: several times any model's input (224 px), and a fair display copy."""
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

ImageInput = str | Path | Image.Image | bytes
"""A query image: a file path, encoded bytes or a PIL image (an open binary file works too)."""


class ImageError(FashionSearchError, ValueError):
    """Data that is not a usable image; the message says why."""


def _greyscale_to_8bit(image: Image.Image) -> Image.Image:
    """An ``L`` image from a 16-bit, 32-bit integer or float greyscale one, scaled rather than clipped.

    16-bit data (``I;16*``, and ``I`` whose values fit 16 bits) keeps its top 8 bits;
    wider integers and floats are scaled by their maximum (floats within 0..1 by 255).
    """
    values = np.asarray(image, dtype=np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
    peak = float(values.max()) if values.size else 0.0
    if image.mode in _SIXTEEN_BIT_MODES or (image.mode == "I" and peak <= 65535):
        scaled = values / 256.0
    elif image.mode == "F" and peak <= 1.0:
        scaled = values * 255.0
    else:
        scaled = values * (255.0 / peak) if peak > 255 else values
    return Image.fromarray(np.rint(scaled).clip(0, 255).astype(np.uint8), mode="L")


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as it is when that tag is absent or unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's "Corrupt EXIF data": the pixels are fine
            return ImageOps.exif_transpose(image)
    except (struct.error, ValueError, TypeError, KeyError, OSError, SyntaxError):
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        image = _greyscale_to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def prepare_image(image: Image.Image, *, max_side: int = MAX_SIDE) -> Image.Image:
    """An already-open PIL image (a caller's own) made like a decoded one: bounded, upright, 8-bit RGB."""
    if max(image.size) > max_side:
        image = ImageOps.contain(image.convert("L") if image.mode == "1" else image, (max_side, max_side), Image.Resampling.BICUBIC)
    return _to_rgb(_upright(image))


def decode_image(data: bytes | None, *, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE) -> Image.Image:
    """Decode image bytes into an upright RGB PIL image whose longest side is at most max_side, or raise ImageError."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data" and the like: the pixels are fine
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(f"image of {width}x{height} pixels is over the {max_pixels:,}-pixel limit")
            if image.format not in ALLOWED_FORMATS:
                raise ImageError(f"unsupported image format {image.format}")
            if max(width, height) > max_side:
                # JPEG: decode at 1/2..1/8 scale, keeping at least twice the final size (a no-op elsewhere).
                scale = 2 * max_side / max(width, height)
                image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
                if image.mode == "1":
                    image = image.convert("L")  # same size in memory, and it resizes smoothly
                # reduce() by a whole factor, then a final resize
                image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
            else:
                image.load()
            image = _upright(image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"decompression bomb refused ({error})") from None
    except UnidentifiedImageError:
        raise ImageError("not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError, TypeError, KeyError) as error:
        raise ImageError(f"corrupt or truncated image ({error})") from None
    return _to_rgb(image)


def as_pil(image: ImageInput) -> Image.Image:
    """A query image as RGB PIL; paths and bytes go through the upload guard (decode_image)."""
    if isinstance(image, Image.Image):
        return prepare_image(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image))
    if isinstance(image, io.IOBase):
        return decode_image(image.read())
    path = Path(image)
    if not path.is_file():
        raise RetrieverError(f"query image {path} does not exist; pass an existing jpg/png/webp file")
    return decode_image(path.read_bytes())
