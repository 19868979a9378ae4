"""Safe image decoding for catalog files and user uploads.

Every image the project reads, from a dataset or an upload, goes through
:func:`decode_image`: it refuses empty, truncated, corrupt and non-image data and
decompression bombs with an :class:`ImageError`, and flattens transparency onto
white (the catalog's background) before converting to RGB.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000
"""Largest accepted image (width x height): 40 megapixels, well above any catalog photo."""
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})


class ImageError(ValueError):
    """Data that is not a usable image; the message says why."""


def decode_image(data: bytes | None, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode image bytes into an RGB PIL image, or raise ImageError."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(f"image of {width}x{height} pixels is over the {max_pixels:,}-pixel limit")
            if image.format not in ALLOWED_FORMATS:
                raise ImageError(f"unsupported image format {image.format}")
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"decompression bomb refused ({error})") from None
    except UnidentifiedImageError:
        raise ImageError("not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"corrupt or truncated image ({error})") from None
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
