"""Ingest throughput against the bare model forward on the same images, in one run.

    python benchmarks/bench_ingest.py --dataset ../shared/data/fashion-products-19k --model lite --count 1000
    python benchmarks/bench_ingest.py --dataset ../shared/data/fashion-products-19k --model ViT-B-32-quickgelu --count 300
    python benchmarks/bench_ingest.py --engine both --count 2000   # the plain and the Ray engine, same data, same run

With ``--engine ray`` or ``both`` the Ray engine runs on a local cluster (or ``--ray-address``)
with ``--concurrency`` embedding actors; both engines write a fresh embedded store and
SQLite catalog, and their stored ids are compared.

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
from typing import TYPE_CHECKING

import torch

from ingest.pipeline import IngestOptions, ingest
from shared.storage.catalog import Catalog
from shared.products.datasets import ProductTable, open_products
from shared.models.embedding import encode_image_batch
from shared.products.images import decode_image
from shared.model_spec import ModelSpec
from shared.models import load_model
from shared.runtime import tune_allocator
from shared.settings import Settings
from shared.storage.vector_store import open_store

if TYPE_CHECKING:
    from ingest.ray_engine import RayOptions


def bare_forward(model_name: str, pretrained: str | None, table: ProductTable, batch_size: int) -> float:
    model = load_model(model_name, pretrained)
    pixels = torch.stack([model.image_transform(decode_image(table[i].image)) for i in range(len(table))])
    encode_image_batch(model, pixels[:batch_size])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(pixels), batch_size):
        encode_image_batch(model, pixels[start : start + batch_size])
    return len(pixels) / (time.perf_counter() - started)


def full_ingest(
    model_name: str, pretrained: str | None, dataset: str, count: int, batch_size: int, workers: int | None, ray_options: RayOptions | None = None
) -> tuple[float, set[int]]:
    """The whole job on a fresh data dir (plain engine, or Ray with `ray_options`): images/s and the stored ids."""
    spec = ModelSpec(model_name, pretrained)
    model = spec.load()
    table = open_products(dataset, count)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env(data_dir=Path(folder), qdrant_url="edge")
        catalog = Catalog(settings.catalog_url)
        with open_store(settings) as store:
            options = IngestOptions("bench", dataset, settings.images_dir, batch_size=batch_size, workers=workers)
            if ray_options is None:
                summary = ingest(model, table, store, catalog, options)
            else:
                from ingest.ray_engine import ingest_on_ray

                summary = ingest_on_ray(spec, model, table, store, catalog, settings, options, ray_options)
            ids = store.all_ids("bench")
        assert ids == catalog.product_ids("bench"), "the store and the catalog hold different ids"
    print(("ray: " if ray_options else "plain: ") + summary.line())
    return summary.images_per_second, ids


def compare_engines(args: argparse.Namespace) -> None:
    """Plain and Ray engines on the same products in one run (the Ray cluster is started before timing)."""
    from ingest.ray_engine import RayOptions, connect

    ray_options = RayOptions(address=args.ray_address, concurrency=args.concurrency)
    connect(ray_options)  # cluster start-up is not ingest time
    results = {}
    for engine in args.engine.replace("both", "plain,ray").split(","):
        results[engine] = full_ingest(
            args.model, args.pretrained, args.dataset, args.count, args.batch_size, args.workers, ray_options if engine == "ray" else None
        )
    line = ", ".join(f"{engine} {rate:.1f} img/s" for engine, (rate, _) in results.items())
    same = len({frozenset(ids) for _, ids in results.values()}) == 1
    print(f"{args.model}: {line} ({args.count} products, batch {args.batch_size}, ray actors {args.concurrency}; same ids: {same})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="../shared/data/fashion-products-19k")
    parser.add_argument("--model", default="lite")
    parser.add_argument("--pretrained", default="default", help="default: the model's usual weights; none = random init")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--engine", choices=["bare", "plain", "ray", "both"], default="bare", help="bare: ingest against the bare forward (default)")
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--concurrency", type=int, default=1, help="Ray embedding actors")
    args = parser.parse_args()
    tune_allocator()  # as python -m ingest does
    if args.engine != "bare":
        compare_engines(args)
        return
    table = open_products(args.dataset, args.count)
    bare = bare_forward(args.model, args.pretrained, table, args.batch_size)
    whole, _ = full_ingest(args.model, args.pretrained, args.dataset, args.count, args.batch_size, args.workers)
    print(
        f"{args.model}: bare forward {bare:.1f} img/s, ingest {whole:.1f} img/s, ratio {whole / bare:.2f} "
        f"({args.count} images, batch {args.batch_size}, torch threads {torch.get_num_threads()})"
    )


if __name__ == "__main__":
    main()
