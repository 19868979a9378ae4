"""Ingest's embedding stage on one GPU: products/s per GPU, the rate the 10M / 100M plan needs.

Ingest embeds each product twice: its image (``encode_image_batch``) and its name-and-attributes text
(``encode_texts`` of ``product_text``). On catalog-like data (generated 60x80 garment JPEGs with
catalog attributes, ``tests/synthetic.py``) this prints three figures:

1. ``model``: both towers on preprocessed batches (the GPU's ceiling; pixels copied from host memory);
2. ``decode``: ingest's decode (``decode_image``) and the model's eval transform in ``--workers``
   DataLoader workers, alone (the CPU's ceiling);
3. ``end to end``: the loader feeding both towers, as ``python -m ingest`` runs them (products/s).

    python benchmarks/bench_ingest_gpu.py --model ViT-B-32-quickgelu --batch-size 256 --workers 15

Weights are the architecture's random init (``--pretrained`` to load real ones), which does not change
the cost. On CPU it runs too (``--device cpu --model tiny-test``: a check of the script).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.products.images import decode_image
from shared.products.product_text import product_text
from shared.workers import worker_loader_options
from tests.synthetic import make_rows

if TYPE_CHECKING:
    from shared.models import LoadedModel

# The model code (open_clip, and transformers where installed) is imported inside the functions that
# need it: each forkserver worker first runs this script's top level (it is started by path, not with
# -m), one worker after another, so heavy imports here delay every worker's start.


class EncodedProducts(Dataset[tuple[torch.Tensor, str]]):
    """JPEG bytes and attributes -> (pixels, product text), decoded in the worker as ingest does."""

    def __init__(self, rows: list[dict[str, Any]], transform: Callable[[Any], torch.Tensor], repeat: int) -> None:
        self.rows, self.transform, self.repeat = rows, transform, repeat

    def __len__(self) -> int:
        return len(self.rows) * self.repeat

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        row = self.rows[index % len(self.rows)]
        return self.transform(decode_image(row["image"])), product_text(row)


def collate(items: list[tuple[torch.Tensor, str]]) -> tuple[torch.Tensor, list[str]]:
    return torch.stack([pixels for pixels, _ in items]), [text for _, text in items]


def loader(dataset: EncodedProducts, batch_size: int, workers: int) -> DataLoader[tuple[torch.Tensor, list[str]]]:
    """One loader for both loader figures: its workers start once and serve both passes."""
    options = worker_loader_options(workers)
    return DataLoader(dataset, batch_size=batch_size, collate_fn=collate, prefetch_factor=4 if workers else None,
                      persistent_workers=workers > 0, pin_memory=torch.cuda.is_available(), **options)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_rates(loaded: LoadedModel, pixels: torch.Tensor, texts: list[str], steps: int, device: torch.device) -> tuple[float, float, float]:
    """(images/s, texts/s, products/s) of the towers alone; pixels start in host memory as the loader's do."""
    from shared.models.embedding import encode_image_batch, encode_texts

    for _ in range(2):
        encode_image_batch(loaded, pixels)
        encode_texts(loaded, texts)
    rates = []
    for work in (lambda: encode_image_batch(loaded, pixels), lambda: encode_texts(loaded, texts),
                 lambda: (encode_image_batch(loaded, pixels), encode_texts(loaded, texts))):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            work()
        synchronize(device)
        rates.append(len(texts) * steps / (time.perf_counter() - start))
    return rates[0], rates[1], rates[2]


def decode_rate(products: DataLoader[tuple[torch.Tensor, list[str]]]) -> float:
    batches = iter(products)
    next(batches)  # workers started and warm
    start, count = time.perf_counter(), 0
    for pixels, _ in batches:
        count += len(pixels)
    return count / (time.perf_counter() - start)


def end_to_end_rate(loaded: LoadedModel, products: DataLoader[tuple[torch.Tensor, list[str]]], device: torch.device) -> float:
    from shared.models.embedding import encode_image_batch, encode_texts

    batches = iter(products)
    pixels, texts = next(batches)
    encode_image_batch(loaded, pixels), encode_texts(loaded, texts)
    synchronize(device)
    start, count = time.perf_counter(), 0
    for pixels, texts in batches:
        encode_image_batch(loaded, pixels)
        encode_texts(loaded, texts)
        count += len(texts)
    synchronize(device)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-32-quickgelu")
    parser.add_argument("--pretrained", default=None, help="pretrained tag (default: random init, the same cost)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="decoding workers (default: cores - 1)")
    parser.add_argument("--products", type=int, default=2048, help="distinct generated products (default: 2048)")
    parser.add_argument("--repeat", type=int, default=8, help="passes over them for the loader figures (default: 8)")
    parser.add_argument("--steps", type=int, default=20, help="timed batches for the model figure (default: 20)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    from shared.models import load_model

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    loaded = load_model(args.model, args.pretrained, device=str(device))
    rows = make_rows(args.products)
    dataset = EncodedProducts(rows, loaded.image_transform, args.repeat)
    pixels, texts = collate([dataset[i] for i in range(args.batch_size)])
    images_s, texts_s, products_s = model_rates(loaded, pixels, texts, args.steps, device)
    print(f"model: {images_s:,.0f} img/s, {texts_s:,.0f} texts/s, {products_s:,.0f} products/s", file=sys.stderr, flush=True)
    products = loader(dataset, args.batch_size, args.workers)
    decoded_s = decode_rate(products)
    print(f"decode + transform: {decoded_s:,.0f} img/s", file=sys.stderr, flush=True)
    ingest_s = end_to_end_rate(loaded, products, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    dtype = os.environ.get("FASHION_AUTOCAST") or ("bf16" if device.type == "cuda" else "fp32")
    print(f"| model | device | precision | batch | workers | image tower img/s | text tower texts/s | both towers products/s "
          f"| decode + transform img/s | end to end products/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.model} | {name} | {dtype} | {args.batch_size} | {args.workers} | {images_s:,.0f} | {texts_s:,.0f} | "
          f"{products_s:,.0f} | {decoded_s:,.0f} | {ingest_s:,.0f} |", flush=True)
    print(f"{len(dataset):,} products per loader figure on {name}: ingest's embedding stage runs at {ingest_s:,.0f} products/s")


if __name__ == "__main__":
    main()
