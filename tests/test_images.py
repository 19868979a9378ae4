from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from shared.products.images import MAX_SIDE, ImageError, as_pil, decode_image, prepare_image
from shared.search.types import RetrieverError
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


def test_exif_rotated_photo_decodes_upright() -> None:
    upright = draw_garment("Tshirts", "Red")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the stored pixels must be turned 90 degrees clockwise to show
    buffer = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    decoded = decode_image(buffer.getvalue())
    assert decoded.size == upright.size
    difference = np.abs(np.asarray(decoded, dtype=np.int16) - np.asarray(upright, dtype=np.int16))
    assert difference.mean() < 3


@pytest.mark.parametrize(("mode", "file_format"), [("I;16", "PNG"), ("I", "TIFF")])
def test_sixteen_bit_greyscale_keeps_its_grey_levels(mode: str, file_format: str) -> None:
    levels = np.array([[0, 64, 128, 192, 255]], dtype=np.uint16).repeat(4, axis=0)
    sixteen_bit = Image.fromarray(levels * 257)  # I;16, full 16-bit range
    buffer = io.BytesIO()
    sixteen_bit.convert(mode).save(buffer, format=file_format)
    assert Image.open(buffer).mode == mode
    decoded = np.asarray(decode_image(buffer.getvalue()))
    assert decoded.shape == (4, 5, 3)
    assert np.abs(decoded[..., 0].astype(int) - levels.astype(int)).max() <= 1


def test_float_greyscale_in_unit_range_is_scaled() -> None:
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    buffer = io.BytesIO()
    Image.fromarray(values, mode="F").save(buffer, format="TIFF")
    assert [pixel[0] for pixel in np.asarray(decode_image(buffer.getvalue()))[0]] == [0, 128, 255]


def test_large_jpeg_is_decoded_at_a_bounded_size() -> None:
    big = draw_garment("Watches", "Blue").resize((3000, 4000))
    decoded = decode_image(jpeg_bytes(big))
    assert max(decoded.size) <= MAX_SIDE and decoded.size == (768, 1024)
    small = np.asarray(big.resize(decoded.size), dtype=np.int16)
    assert np.abs(np.asarray(decoded, dtype=np.int16) - small).mean() < 4


_PEAK_MEMORY_SCRIPT = """
import sys
from shared.products.images import decode_image

def peak_kb():  # this process's own high-water mark (ru_maxrss would start from the parent's)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
before = peak_kb()
image = decode_image(data)
print(image.size[0], image.size[1], (peak_kb() - before) // 1024)
"""


@pytest.mark.parametrize(
    ("mode", "size", "file_format", "expected", "limit_mb"),
    [
        ("L", (7000, 5600), "PNG", (1024, 819), 100),  # the greyscale decode (39 MB), never a full RGB copy (157 MB)
        ("RGB", (6000, 4000), "JPEG", (1024, 683), 80),  # decoded at half scale (24 MB), not in full (96 MB, twice)
    ],
)
def test_huge_cheap_image_is_reduced_while_decoding(
    tmp_path: Path, mode: str, size: tuple[int, int], file_format: str, expected: tuple[int, int], limit_mb: int
) -> None:
    """A small file of a huge picture: the decoded image and the peak memory stay bounded."""
    canvas = Image.new(mode, size, "white")
    ImageDraw.Draw(canvas).rectangle([2000, 1000, 5000, 3600], fill="black")
    path = tmp_path / f"huge.{file_format.lower()}"
    canvas.save(path, format=file_format)
    assert path.stat().st_size < 1_000_000
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY_SCRIPT, str(path)],
        capture_output=True, text=True, check=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
    )
    width, height, grown_mb = (int(v) for v in done.stdout.split())
    assert (width, height) == expected
    assert grown_mb < limit_mb


def test_an_open_pil_image_gets_the_same_treatment() -> None:
    sixteen_bit = Image.fromarray(np.full((3000, 20), 128 * 257, dtype=np.uint16))
    prepared = prepare_image(sixteen_bit)
    assert prepared.mode == "RGB" and prepared.size == (7, 1024)
    assert np.abs(np.asarray(prepared, dtype=int) - 128).max() <= 1
    assert sixteen_bit.size == (20, 3000)  # the caller's image is left as it was


def test_unreadable_exif_leaves_the_image_as_stored(recwarn: pytest.WarningsRecorder) -> None:
    # an orientation tag next to a tag whose type is corrupt: Pillow cannot rewrite this EXIF block
    exif = bytes.fromhex(
        "4578696600004d4d002a000000080002010a00020000000600000026011200030000000100060000000000004d616b657200"
    )
    buffer = io.BytesIO()
    draw_garment("Tshirts", "Red").save(buffer, format="JPEG", exif=exif)
    assert decode_image(buffer.getvalue()).size == (60, 80)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_a_query_image_is_the_same_from_bytes_a_file_a_path_or_pil(tmp_path: Path) -> None:
    data = jpeg_bytes(draw_garment("Tshirts", "Red"))
    path = tmp_path / "query.jpg"
    path.write_bytes(data)
    expected = np.asarray(decode_image(data))
    for query in (data, bytearray(data), io.BytesIO(data), path, str(path), Image.open(io.BytesIO(data))):
        assert np.array_equal(np.asarray(as_pil(query)), expected)
    with pytest.raises(RetrieverError, match=r"query image .*missing.jpg does not exist; pass an existing jpg/png/webp file"):
        as_pil(tmp_path / "missing.jpg")
    with pytest.raises(ImageError):
        as_pil(b"%PDF-1.4 not an image")
