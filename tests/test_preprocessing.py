from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from shared.products.preprocessing import PadToSquare, ToRGB, crop_eval_transform, eval_transform, train_transform

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
RED = (200, 30, 30)


def _denorm(tensor: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised -> (H, W, 3) uint8-scale floats."""
    return ((tensor * 0.5 + 0.5) * 255).permute(1, 2, 0).numpy()


def _portrait_with_red_top() -> Image.Image:
    """A white 60x80 portrait whose only red content sits in the top 8 rows (like a collar or a cap)."""
    image = Image.new("RGB", (60, 80), "white")
    image.paste(RED, (10, 0, 50, 8))
    return image


def test_pad_to_square_centres_on_white() -> None:
    image = Image.new("RGB", (60, 80), RED)
    square = np.asarray(PadToSquare()(image))
    assert square.shape == (80, 80, 3)
    assert (square[:, :10] == 255).all() and (square[:, 70:] == 255).all()
    assert (square[:, 10:70] == RED).all()
    assert PadToSquare()(Image.new("RGB", (5, 5))).size == (5, 5)


def test_to_rgb_puts_transparency_on_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(ToRGB()(rgba)).tolist() == np.full((4, 4, 3), 255).tolist()
    grey = Image.new("L", (4, 4), 100)
    assert ToRGB()(grey).mode == "RGB" and np.asarray(ToRGB()(grey))[0, 0].tolist() == [100, 100, 100]


def test_eval_keeps_the_whole_product_where_centre_crop_cuts_it() -> None:
    image = _portrait_with_red_top()
    padded = _denorm(eval_transform(64, MEAN, STD)(image))
    cropped = _denorm(crop_eval_transform(64, MEAN, STD)(image))
    assert padded.shape == cropped.shape == (64, 64, 3)
    is_red = lambda px: (px[..., 0] > 150) & (px[..., 1] < 90)  # noqa: E731
    assert is_red(padded).sum() > 20
    assert is_red(cropped).sum() == 0


def test_train_transform_shape_flip_and_no_colour_change() -> None:
    torch.manual_seed(0)
    solid = Image.new("RGB", (80, 80), RED)
    transform = train_transform(32, MEAN, STD)
    out = _denorm(transform(solid))
    assert out.shape == (32, 32, 3)
    np.testing.assert_allclose(out.reshape(-1, 3), np.tile(RED, (32 * 32, 1)), atol=1.5)  # no colour jitter

    half = Image.new("RGB", (64, 64), "white")
    half.paste(RED, (0, 0, 32, 64))  # red on the left only
    left_red = []
    for _ in range(30):
        px = _denorm(transform(half))
        left_red.append(px[:, :8, 1].mean() < px[:, -8:, 1].mean())  # less green = the red half
    assert any(left_red) and not all(left_red)  # both orientations occur


@pytest.mark.parametrize("factory", [eval_transform, train_transform, crop_eval_transform])
def test_transforms_accept_any_mode(factory: object) -> None:
    transform = factory(32, MEAN, STD)  # type: ignore[operator]
    for mode in ("RGB", "RGBA", "L", "P", "CMYK"):
        assert transform(Image.new(mode, (30, 45))).shape == (3, 32, 32)
