"""Decoding and preprocessing of product images in DataLoader workers.

Workers decode each product's bytes (refusing broken files and decompression
bombs), write the original image to the data dir for display, and apply the
model's eval transform, so the main process only runs the model. They start from
a forkserver and die with their parent (`shared.workers`), so a killed ingest
leaves no worker holding the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from shared.storage.collection import image_file
from shared.products.datasets import Product, ProductTable
from shared.products.images import ImageError, decode_image
from shared.workers import worker_loader_options


@dataclass
class DecodedBatch:
    """Products of one batch that decoded (with their pixel tensors) and those that did not."""

    products: list[Product]
    image_paths: list[str]
    pixels: torch.Tensor | None
    failures: list[tuple[int, str]]


def _write_atomically(path: Path, data: bytes) -> None:
    if path.is_file() and path.stat().st_size == len(data):
        return
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class ProductImages(Dataset[tuple[Product, str | None, torch.Tensor | None, str | None]]):
    """The products at `indices` of `table`, decoded and transformed for the model."""

    def __init__(
        self,
        table: ProductTable,
        indices: Sequence[int],
        transform: Callable[[Any], torch.Tensor],
        images_dir: Path,
    ) -> None:
        self.table = table
        self.indices = list(indices)
        self.transform = transform
        self.images_dir = images_dir

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[Product, str | None, torch.Tensor | None, str | None]:
        product = self.table[self.indices[position]]
        try:
            image = decode_image(product.image)
            pixels = self.transform(image)
        except ImageError as error:
            return product, None, None, str(error)
        path = image_file(self.images_dir, product.id)
        if (product.image or b"")[:3] == b"\xff\xd8\xff":  # JPEG already: keep the original bytes
            _write_atomically(path, product.image or b"")
        elif not path.is_file():
            image.save(path.with_suffix(".tmp.jpg"), format="JPEG", quality=95)
            os.replace(path.with_suffix(".tmp.jpg"), path)
        return product, str(path), pixels, None


def collate(items: list[tuple[Product, str | None, torch.Tensor | None, str | None]]) -> DecodedBatch:
    good = [(product, path, pixels) for product, path, pixels, error in items if error is None]
    failures = [(product.id, error) for product, _, _, error in items if error is not None]
    pixels = torch.stack([p for _, _, p in good]) if good else None
    return DecodedBatch([g[0] for g in good], [str(g[1]) for g in good], pixels, failures)


def default_workers() -> int:
    """One decoding worker per spare core (at least one, at most four)."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def product_loader(dataset: ProductImages, batch_size: int, workers: int) -> DataLoader[DecodedBatch]:
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
        **worker_loader_options(workers),
    )
