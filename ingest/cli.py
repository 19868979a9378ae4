"""`python -m ingest`: embed a product dataset into Qdrant and the SQL catalog."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from shared.catalog import Catalog, CatalogError
from shared.datasets import DatasetError, open_products
from shared.runtime import tune_allocator
from shared.settings import DEFAULT_DATASET, Settings
from shared.vector_store import StoreError, VectorStore, open_store

DEFAULT_MODEL = "ViT-B-32-quickgelu"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description=(
            "Embed every product image of a dataset with a CLIP model, upsert the vectors and their "
            "category payloads into Qdrant, and write product metadata to the SQL catalog. "
            "Running the same command again adds nothing; an interrupted run finishes when run again."
        ),
    )
    model = parser.add_argument_group("model (one of)")
    model.add_argument("--weights", help="weights file written by `python -m finetune` (e.g. models/clip_fashion_final.pt)")
    model.add_argument(
        "--model",
        help=f"model name: {DEFAULT_MODEL} (default, OpenAI weights, needs internet once), "
        "lite (EfficientNet-Lite0 + MiniLM, offline), or any open_clip model name",
    )
    model.add_argument(
        "--pretrained",
        help="open_clip pretrained tag for --model (default: the model's usual weights: openai for "
        f"{DEFAULT_MODEL}, the packaged ImageNet + MiniLM towers for lite; 'none' for random init)",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        help="Hugging Face hub id, a folder of parquet files in its schema, or a Kaggle folder (styles.csv + images/) "
        f"(default: {DEFAULT_DATASET})",
    )
    data.add_argument("--limit", type=int, help="ingest only the first N products")
    run = parser.add_argument_group("run")
    run.add_argument("--batch-size", type=int, default=64, help="images per model forward (default: 64)")
    run.add_argument("--workers", type=int, help="image-decoding worker processes (default: one per spare core)")
    run.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the model runs (default: auto)")
    store = parser.add_argument_group("storage")
    store.add_argument(
        "--qdrant",
        help="'auto' (default: a server at http://localhost:6333 if one answers, else the embedded store) "
        "or a Qdrant URL; env QDRANT_URL",
    )
    store.add_argument("--data-dir", help="catalog database, images and embedded store (default: ./data; env FASHION_DATA_DIR)")
    store.add_argument("--collection", help="collection name (default: fashion_products; env FASHION_COLLECTION)")
    store.add_argument("--recreate", action="store_true", help="drop the collection's vectors and products first")
    parser.add_argument("--status", action="store_true", help="print each collection's products, vectors, model and backend, then exit")
    parser.add_argument("--json", action="store_true", help="with --status: print JSON")
    return parser


def collection_status(settings: Settings, store: VectorStore, catalog: Catalog) -> list[dict[str, Any]]:
    from ingest.consistency import compare, store_location

    rows = []
    location = store_location(store, catalog)
    for name in sorted(set(catalog.collections()) | {settings.collection}):
        run = catalog.latest_run(name)
        exists = store.collection_exists(name)
        if run is None and not exists:
            continue
        difference = compare(store, catalog, name)
        owner = catalog.store_of(name)
        rows.append(
            {
                "collection": name,
                "products": catalog.count(name),
                "vectors": store.count(name) if exists else 0,
                "model": run.model_name if run else None,
                "pretrained": run.pretrained if run else None,
                "weights_sha256": run.weights_sha256 if run else None,
                "embedding_dim": run.embedding_dim if run else None,
                "backend": store.backend,
                "last_run_finished": bool(run and run.finished_at),
                "vectors_without_rows": len(difference.vectors_without_rows),
                "rows_without_vectors": len(difference.rows_without_vectors),
                "in_step": difference.in_step,
                "rows_of_other_store": owner if owner not in (None, location) else None,
            }
        )
    return rows


def print_status(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no collections yet: run `python -m ingest --model lite --dataset PATH` to make one")
    for row in rows:
        model = f"{row['model']}/{row['pretrained']}" if row["pretrained"] else row["model"]
        weights = f"weights {row['weights_sha256'][:12]}" if row["weights_sha256"] else "base weights"
        state = "" if row["last_run_finished"] else " (last run interrupted: run ingest again to finish)"
        if row["rows_of_other_store"]:
            state += f"; its catalog rows belong to the vector store {row['rows_of_other_store']} (shared DATABASE_URL)"
        elif not row["in_step"]:
            state += (
                f"; out of step: {row['vectors_without_rows']} vectors without catalog rows, "
                f"{row['rows_without_vectors']} catalog rows without vectors: run ingest again to repair"
            )
        print(
            f"{row['collection']}: {row['products']} products, {row['vectors']} vectors, "
            f"model {model} ({weights}), backend {row['backend']}{state}"
        )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=args.data_dir, qdrant_url=args.qdrant, collection=args.collection)


def run_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = Catalog(settings.catalog_url)
    store = open_store(settings)
    try:
        print_status(collection_status(settings, store, catalog), args.json)
    finally:
        store.close()
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    from shared.embedding import resolve_device
    from shared.models import DEFAULT, load_model
    from ingest.pipeline import IngestOptions, ingest

    settings = _settings(args)
    device = resolve_device(args.device)
    name = args.model or DEFAULT_MODEL
    # With --weights the file holds every tensor; else the model's usual weights (openai, lite's packages).
    pretrained = args.pretrained or (None if args.weights else DEFAULT)
    model = load_model(name, pretrained, weights=args.weights, device=str(device))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    try:
        store.collection_exists(settings.collection)  # fails now if another process holds the store
        table = open_products(args.dataset, args.limit)
        catalog = Catalog(settings.catalog_url)
    except BaseException:
        store.close()
        raise
    options = IngestOptions(
        collection=settings.collection,
        dataset=args.dataset,
        images_dir=settings.images_dir,
        batch_size=args.batch_size,
        workers=args.workers,
        recreate=args.recreate,
    )
    try:
        summary = ingest(model, table, store, catalog, options)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: what was stored is kept; run the same command again to finish {settings.collection!r}",
            file=sys.stderr,
        )
        return 130
    finally:
        store.close()
    print(f"{settings.collection} ({store.backend}): {summary.line()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from ingest.pipeline import IngestError
    from shared.embedding import DeviceError
    from shared.images import ImageError
    from shared.models import ModelLoadError
    from shared.weights import WeightsError

    args = build_parser().parse_args(argv)
    tune_allocator()
    if args.batch_size < 1:
        build_parser().error(f"--batch-size {args.batch_size}: give a positive number")
    expected = (DatasetError, CatalogError, StoreError, IngestError, ModelLoadError, WeightsError, ImageError, DeviceError)
    try:
        return run_status(args) if args.status else run_ingest(args)
    except expected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
