"""Training data: decoded products, the train/validation split by display name, and datasets."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from finetune.captions import CAPTION_FIELDS, CaptionError, canonical_caption, check_caption_columns, sample_caption
from shared.commands import keep_finished_bars
from shared.products.datasets import Product, ProductTable
from shared.products.fields import left_out_report
from shared.products.images import ImageError, decode_image


@dataclass
class DecodedProducts:
    """Products whose image decoded and that can be captioned, images in memory."""

    ids: list[int]
    attributes: list[dict[str, str | int]]
    images: list[Image.Image]
    skipped_images: int
    skipped_captions: int
    rows_left_out: str = ""
    """The dataset's rejected rows and repeated ids, as the ingest summary lists them ('' for none)."""

    def __len__(self) -> int:
        return len(self.ids)

    def left_out(self) -> str:
        """Everything decoding left out, for one line ('' when nothing was)."""
        parts = [f"{self.skipped_images} broken images"] if self.skipped_images else []
        if self.skipped_captions:
            parts.append(f"{self.skipped_captions} rows without any caption field")
        return "; ".join([*parts, self.rows_left_out.removeprefix("; ")] if self.rows_left_out else parts)

    def display_name(self, index: int) -> str:
        return Product(self.ids[index], self.attributes[index]).display_name


def decode_products(table: ProductTable, subset_size: int | None = None, *, progress: bool = True) -> DecodedProducts:
    """Decode the first ``subset_size`` products, skipping broken images and uncaptionable rows."""
    check_caption_columns(table.column_names, table.name)
    if subset_size is not None and subset_size < 1:
        raise CaptionError(f"subset size {subset_size} selects no products; give a positive --subset-size or leave it out")
    count = len(table) if subset_size is None else min(subset_size, len(table))
    ids: list[int] = []
    attributes: list[dict[str, str | int]] = []
    images: list[Image.Image] = []
    skipped_images = skipped_captions = 0
    for index in tqdm(range(count), desc="decode images", unit="img", disable=not progress, leave=keep_finished_bars()):
        product = table[index]
        if canonical_caption(product.attributes) is None:
            skipped_captions += 1
            continue
        try:
            image = decode_image(product.image)
        except ImageError:
            skipped_images += 1
            continue
        ids.append(product.id)
        attributes.append(product.attributes)
        images.append(image)
    if not ids:
        raise CaptionError(
            f"dataset {table.name}: none of the first {count} products has both a readable image and one of "
            f"{', '.join(CAPTION_FIELDS)}; check the dataset"
        )
    rows_left_out = left_out_report(table.rejected, table.duplicates)
    return DecodedProducts(ids, attributes, images, skipped_images, skipped_captions, rows_left_out)


def split_by_display_name(names: Sequence[str], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Train and validation indices such that no display name is in both (seeded, about ``val_fraction`` in val)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"validation fraction {val_fraction} must be in [0, 1)")
    distinct = sorted(set(names))
    random.Random(seed).shuffle(distinct)
    val_names = set(distinct[: round(len(distinct) * val_fraction)])
    train = [i for i, name in enumerate(names) if name not in val_names]
    val = [i for i, name in enumerate(names) if name in val_names]
    if not train:
        raise CaptionError(f"validation fraction {val_fraction} leaves no training product; lower --val-fraction")
    return train, val


class CaptionedImages(Dataset):
    """(image tensor, caption) pairs; a fresh weighted-random template per epoch and item."""

    def __init__(
        self,
        products: DecodedProducts,
        indices: Sequence[int],
        transform: Callable[[Image.Image], torch.Tensor],
        *,
        seed: int = 0,
        random_captions: bool = True,
    ) -> None:
        self.products = products
        self.indices = list(indices)
        self.transform = transform
        self.seed = seed
        self.random_captions = random_captions
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def caption(self, item: int) -> str:
        attributes = self.products.attributes[self.indices[item]]
        if not self.random_captions:
            return str(canonical_caption(attributes))
        rng = random.Random(f"{self.seed}:{self.epoch}:{item}")
        return str(sample_caption(attributes, rng))

    def __getitem__(self, item: int) -> tuple[torch.Tensor, str]:
        return self.transform(self.products.images[self.indices[item]]), self.caption(item)


class CaptionedFeatures(Dataset):
    """(cached image-tower input or feature, caption) pairs, for a locked image trunk."""

    def __init__(self, features: torch.Tensor, captions: CaptionedImages) -> None:
        if features.shape[0] != len(captions):
            raise ValueError("one cached feature per training item is needed")
        self.features = features
        self.captions = captions

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, str]:
        return self.features[item], self.captions.caption(item)


def collate(batch: Sequence[tuple[torch.Tensor, str]]) -> tuple[torch.Tensor, list[str]]:
    images, captions = zip(*batch)
    return torch.stack(list(images)), list(captions)
