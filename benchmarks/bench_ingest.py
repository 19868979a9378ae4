"""Ingest throughput against the bare model forward on the same images, in one run.

    python benchmarks/bench_ingest.py --dataset ../shared/data/fashion-products-19k --model lite --count 1000
    python benchmarks/bench_ingest.py --dataset ../shared/data/fashion-products-19k --model ViT-B-32-quickgelu --count 300

The baseline decodes and preprocesses the images up front, then times only
``encode_image_batch`` at the same batch size; the ingest number is the whole job
(decode in workers, model, image files, vector upserts, catalog rows) on a fresh
embedded store. Goal: ingest / bare >= 0.8.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ingest.pipeline import IngestOptions, ingest
from shared.storage.catalog import Catalog
from shared.products.datasets import ProductTable, open_products
from shared.models.embedding import encode_image_batch
from shared.products.images import decode_image
from shared.models import load_model
from shared.runtime import tune_allocator
from shared.settings import Settings
from shared.storage.vector_store import open_store


def bare_forward(model_name: str, pretrained: str | None, table: ProductTable, batch_size: int) -> float:
    model = load_model(model_name, pretrained)
    pixels = torch.stack([model.image_transform(decode_image(table[i].image)) for i in range(len(table))])
    encode_image_batch(model, pixels[:batch_size])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(pixels), batch_size):
        encode_image_batch(model, pixels[start : start + batch_size])
    return len(pixels) / (time.perf_counter() - started)


def full_ingest(model_name: str, pretrained: str | None, dataset: str, count: int, batch_size: int, workers: int | None) -> float:
    model = load_model(model_name, pretrained)
    table = open_products(dataset, count)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env(data_dir=Path(folder), qdrant_url="edge")
        with open_store(settings) as store:
            options = IngestOptions("bench", dataset, settings.images_dir, batch_size=batch_size, workers=workers)
            summary = ingest(model, table, store, Catalog(settings.catalog_url), options)
    print(summary.line())
    return summary.images_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="../shared/data/fashion-products-19k")
    parser.add_argument("--model", default="lite")
    parser.add_argument("--pretrained", default="default", help="default: the model's usual weights; none = random init")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    tune_allocator()  # as python -m ingest does
    table = open_products(args.dataset, args.count)
    bare = bare_forward(args.model, args.pretrained, table, args.batch_size)
    whole = full_ingest(args.model, args.pretrained, args.dataset, args.count, args.batch_size, args.workers)
    print(
        f"{args.model}: bare forward {bare:.1f} img/s, ingest {whole:.1f} img/s, ratio {whole / bare:.2f} "
        f"({args.count} images, batch {args.batch_size}, torch threads {torch.get_num_threads()})"
    )


if __name__ == "__main__":
    main()
