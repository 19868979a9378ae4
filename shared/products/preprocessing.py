"""Image transforms (PIL -> normalised tensor) that keep the whole product in frame.

Catalogue photos are portrait (60x80 in the reference data set); a centre crop cuts off the top and bottom
of a dress or a pair of shoes. The eval transform pads the image to a square on white (the catalogue
background) and resizes it; the train transform adds light augmentation on top of the same padding: a
small random resized crop and a horizontal flip. No colour jitter: colour is a searched attribute.
``crop_eval_transform`` is open_clip's default (resize shortest side + centre crop), kept for comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

ImageTransform = Callable[[Image.Image], torch.Tensor]

WHITE = (255, 255, 255)
TRAIN_CROP_SCALE = (0.8, 1.0)


def _interpolation(name: str) -> InterpolationMode:
    return InterpolationMode.BILINEAR if name == "bilinear" else InterpolationMode.BICUBIC


class ToRGB:
    """Convert any PIL mode to RGB; transparent pixels become white, not black."""

    def __call__(self, image: Image.Image) -> Image.Image:
        if image.mode == "RGB":
            return image
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, WHITE + (255,))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PadToSquare:
    """Pad the shorter side equally on both ends so the image becomes square (RGB input)."""

    def __init__(self, fill: tuple[int, int, int] = WHITE) -> None:
        self.fill = fill

    def __call__(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        if width == height:
            return image
        side = max(width, height)
        canvas = Image.new(image.mode, (side, side), self.fill)
        canvas.paste(image, ((side - width) // 2, (side - height) // 2))
        return canvas

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fill={self.fill})"


def _pipeline(geometry: list[Any], mean: Sequence[float], std: Sequence[float]) -> ImageTransform:
    """RGB conversion, the given geometric steps, then tensor conversion and normalisation."""
    return T.Compose([ToRGB(), *geometry, T.ToTensor(), T.Normalize(mean=list(mean), std=list(std))])


def eval_transform(
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bicubic",
) -> ImageTransform:
    """Pad to a white square, resize to ``image_size``, normalise."""
    resize = T.Resize((image_size, image_size), interpolation=_interpolation(interpolation), antialias=True)
    return _pipeline([PadToSquare(), resize], mean, std)


def train_transform(
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bicubic",
) -> ImageTransform:
    """The eval padding plus a random resized crop (scale 0.8-1) and a horizontal flip; no colour jitter."""
    crop = T.RandomResizedCrop(image_size, scale=TRAIN_CROP_SCALE, interpolation=_interpolation(interpolation), antialias=True)
    return _pipeline([PadToSquare(), crop, T.RandomHorizontalFlip()], mean, std)


def crop_eval_transform(
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: str = "bicubic",
) -> ImageTransform:
    """open_clip's default eval transform: resize the shortest side, centre crop (cuts portrait images)."""
    resize = T.Resize(image_size, interpolation=_interpolation(interpolation), antialias=True)
    return _pipeline([resize, T.CenterCrop(image_size)], mean, std)


EVAL_TRANSFORMS: dict[str, Callable[..., ImageTransform]] = {"pad": eval_transform, "crop": crop_eval_transform}
