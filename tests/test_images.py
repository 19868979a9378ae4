from __future__ import annotations

import io

import pytest
from PIL import Image

from shared.images import ImageError, decode_image
from tests.synthetic import draw_garment, jpeg_bytes


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_jpeg_decodes_to_rgb() -> None:
    image = decode_image(jpeg_bytes(draw_garment("Tshirts", "Red")))
    assert image.mode == "RGB" and image.size == (60, 80)


def test_transparent_png_is_flattened_on_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert decode_image(_png(rgba)).getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is a text file, not a picture", "not an image"),
        (jpeg_bytes(draw_garment("Watches", "Blue"))[:300], "truncated"),
    ],
)
def test_broken_data_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError, match=reason):
        decode_image(data)


@pytest.mark.parametrize(("side", "reason"), [(7_000, "over the 40,000,000-pixel limit"), (10_000, "decompression bomb")])
def test_decompression_bombs_are_refused_before_decoding(side: int, reason: str) -> None:
    bomb = _png(Image.new("1", (side, side)))  # tens of megapixels in a few KB
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match=reason):
        decode_image(bomb)
