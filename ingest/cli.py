"""`python -m ingest`: embed a product dataset into Qdrant and the SQL catalog.

Only the standard library and the settings are imported at start-up: `--help`, a bad
argument or a missing dataset path are answered before torch, open_clip, datasets or a
Qdrant client is loaded, and `--status` never loads a model.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.commands import fail, missing_dataset_message, run_cli
from shared.model_spec import DEFAULT_MODEL, SHIPPED_MODEL, ModelSpec, missing_shipped_message, shipped_spec, spec_from_flags
from shared.runtime import resolve_device, tune_allocator
from shared.settings import DEFAULT_COLLECTION, DEFAULT_DATASET, Settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestSummary
    from shared.storage.catalog import Catalog
    from shared.products.datasets import ProductTable
    from shared.models import LoadedModel
    from shared.storage.vector_store import VectorStore
    from shared.storage.vector_store.collection_config import CollectionConfig

RAY_MISSING = '--engine ray needs Ray Data, which is not installed: pip install -e ".[distributed]" (or pip install "ray[data]")'


def ray_available() -> bool:
    """Whether Ray Data can be imported (found without importing it: that takes seconds)."""
    return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("pyarrow") is not None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description=(
            "Embed every product image of a dataset with a CLIP model, upsert the vectors and their "
            "category payloads into Qdrant, and write product metadata to the SQL catalog. "
            "Running the same command again adds nothing; an interrupted run finishes when run again."
        ),
    )
    model = parser.add_argument_group("model (one of; default: the shipped fine-tuned model, fashion-lite)")
    model.add_argument("--weights", help="weights file written by `python -m finetune` (e.g. models/clip_fashion_final.pt)")
    model.add_argument(
        "--model",
        help=f"model name: {SHIPPED_MODEL} (the default: the fine-tuned lite model shipped in shared/models/shipped/), "
        f"lite (EfficientNet-Lite0 + MiniLM towers, untrained projections, offline), {DEFAULT_MODEL} (OpenAI weights, "
        "needs internet once), or any open_clip model name",
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
    run.add_argument(
        "--engine", default="plain", choices=["plain", "ray"],
        help="plain: this process and its decoding workers (default); ray: a Ray Data cluster "
        '(decode tasks, an embedding actor pool, batched writers; needs pip install -e ".[distributed]")',
    )
    run.add_argument("--ray-address", help="with --engine ray: the cluster to join ('auto' or HOST:PORT; default: start a local one)")
    run.add_argument(
        "--concurrency", type=int, default=1,
        help="with --engine ray: embedding actors (one GPU each where there are GPUs), and writers with a Qdrant server (default: 1)",
    )
    store = parser.add_argument_group("storage")
    store.add_argument(
        "--qdrant",
        help="'auto' (default: a server at http://localhost:6333 if one answers, else the embedded store) "
        "or a Qdrant URL; env QDRANT_URL",
    )
    store.add_argument("--data-dir", help="catalog database, images and embedded store (default: ./data; env FASHION_DATA_DIR)")
    store.add_argument("--collection", help=f"collection name (default: {DEFAULT_COLLECTION}; env FASHION_COLLECTION)")
    store.add_argument("--recreate", action="store_true", help="drop the collection's vectors and products first")
    layout = parser.add_argument_group(
        "collection layout (applies when the collection is created; HNSW is built once after loading)"
    )
    layout.add_argument("--shards", type=int, help="Qdrant server only: shards to split the collection into")
    layout.add_argument("--replicas", type=int, help="Qdrant server only: copies of each shard on different nodes")
    layout.add_argument(
        "--write-consistency", type=int, help="Qdrant server only: replicas that must confirm a write (at most --replicas)"
    )
    layout.add_argument(
        "--quantization", choices=["none", "int8", "binary"], default="none",
        help="quantized vectors kept in RAM and searched first, rescored with the originals (default: none)",
    )
    layout.add_argument("--on-disk", action="store_true", help="keep original vectors and payloads on disk (memory-mapped)")
    parser.add_argument(
        "--status", action="store_true",
        help="print each collection's products, vectors, model and backend, then exit (reads only; creates nothing)",
    )
    parser.add_argument("--json", action="store_true", help="with --status: print JSON")
    return parser


def print_status(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no collections yet: run `python -m ingest --dataset PATH` to make one")
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


def _status_catalog_url(settings: Settings) -> str | None:
    """The catalog opened read-only for --status (SQLite), None where no catalog was written yet."""
    if settings.database_url:
        return settings.database_url
    path = settings.catalog_path
    return f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true" if path.is_file() else None


def run_status(args: argparse.Namespace) -> int:
    """Print each collection's counts; reads only, and creates nothing (not even the data dir)."""
    from shared.storage.catalog import Catalog
    from shared.storage.collection import collection_status
    from shared.storage.vector_store import open_store

    settings = _settings(args)
    url = _status_catalog_url(settings)
    if url and url.startswith("sqlite:"):  # even a read-only WAL database maps its -shm file: a Bus error on a full disk
        from shared.disk import check_free_space

        check_free_space(settings.data_dir, 0)
    catalog = Catalog(url) if url else None
    store = open_store(settings, read_only=True)
    try:
        print_status(collection_status(settings, store, catalog), args.json)
    finally:
        store.close()
    return 0


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The model the flags name; with none of --model, --weights and --pretrained, the shipped model."""
    if args.model is None and args.weights is None and args.pretrained is None:
        return shipped_spec()
    return spec_from_flags(args.model, args.pretrained, args.weights)


def collection_config(args: argparse.Namespace) -> CollectionConfig:
    """The layout flags as a CollectionConfig; bulk loads defer HNSW indexing (``finish_bulk_load`` builds it)."""
    from shared.storage.vector_store.collection_config import CollectionConfig

    return CollectionConfig(
        shards=args.shards, replicas=args.replicas, write_consistency=args.write_consistency,
        quantization=args.quantization, on_disk=args.on_disk, defer_indexing=True,
    )


def _load_model(args: argparse.Namespace) -> LoadedModel:
    if args.engine == "ray":  # the driver only reads the model's identity and transform; the actors embed
        return model_spec(args).load(device="cpu")
    return model_spec(args).load(device=str(resolve_device(args.device)))


def run_ingest(args: argparse.Namespace) -> int:
    """Lock the store, open the dataset, load the model, and only then create the data dir and write.

    A store in use by another process, a bad dataset or bad weights are refused before anything
    is created, and the first two before the model's seconds of loading.
    """
    from shared.storage.catalog import Catalog
    from shared.storage.collection import open_collection
    from shared.products.datasets import open_products
    from shared.disk import check_free_space
    from shared.storage.vector_store import open_store

    settings = _settings(args)
    store = open_store(settings)
    try:
        store.configure(collection_config(args))
        if store.collection_exists(settings.collection):
            open_collection(store, settings, settings.collection)  # takes the lock, or fails now
        table = open_products(args.dataset, args.limit)
        model = _load_model(args)
        check_free_space(settings.data_dir, 0)  # the reserve, before the first write
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(settings.catalog_url)
        summary = _ingest(args, settings, model, table, store, catalog)
        if summary is not None:
            store.finish_bulk_load(settings.collection)  # the HNSW graph deferred while loading is built now
    except BaseException:
        _close_after_failure(store)
        raise
    store.close()
    if summary is None:
        return 130
    print(f"{settings.collection} ({store.backend}): {summary.line()}")
    return 0


def _ingest(
    args: argparse.Namespace, settings: Settings, model: LoadedModel, table: ProductTable, store: VectorStore, catalog: Catalog
) -> IngestSummary | None:
    """The ingest itself; None when interrupted (Ctrl-C), after saying that what was stored is kept."""
    from ingest.pipeline import IngestOptions, ingest

    options = IngestOptions(
        collection=settings.collection,
        dataset=args.dataset,
        images_dir=settings.images_dir,
        batch_size=args.batch_size,
        workers=args.workers,
        recreate=args.recreate,
        disk_dir=settings.data_dir,
        mapped_dir=settings.edge_dir if store.backend == "edge" else None,
    )
    try:
        if args.engine == "ray":
            from ingest.ray_engine import RayOptions, ingest_on_ray

            ray_options = RayOptions(address=args.ray_address, concurrency=args.concurrency)
            return ingest_on_ray(model_spec(args), model, table, store, catalog, settings, options, ray_options)
        return ingest(model, table, store, catalog, options)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: what was stored is kept; run the same command again to finish {settings.collection!r}",
            file=sys.stderr,
        )
        return None


def _close_after_failure(store: VectorStore) -> None:
    """Close the store after an error without hiding it: a flush that fails too (say, on the same
    full disk) loses nothing, because the embedded store replays its write-ahead log on reopen."""
    try:
        store.close()
    except Exception:
        pass


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse bad arguments before anything heavy is imported (argparse's one-line error, exit 2)."""
    if args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size}: give a positive number")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit {args.limit} selects no products; give a positive number or leave it out")
    if args.workers is not None and args.workers < 0:
        parser.error(f"--workers {args.workers}: give 0 (decode in the main process) or more")
    for flag in ("shards", "replicas", "write_consistency"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} {value}: give a whole number of 1 or more")
    if args.write_consistency is not None and args.write_consistency > (args.replicas or 1):
        parser.error(f"--write-consistency {args.write_consistency} exceeds --replicas {args.replicas or 1}; lower it or add replicas")
    if args.concurrency < 1:
        parser.error(f"--concurrency {args.concurrency}: give 1 or more embedding actors")
    if args.engine != "ray" and (args.ray_address or args.concurrency != 1):
        parser.error("--ray-address and --concurrency apply to --engine ray only; add --engine ray")


def missing_input(args: argparse.Namespace) -> str | None:
    """A one-line error for a --weights file, the shipped model's file or a local --dataset path that does not exist."""
    if args.weights and not Path(args.weights).is_file():
        return f"--weights {args.weights}: no such file; pass a weights file written by `python -m finetune`"
    if args.status:
        return None
    if args.engine == "ray" and not ray_available():
        return RAY_MISSING
    if not args.weights and model_spec(args).name == SHIPPED_MODEL:
        missing = missing_shipped_message()
        if missing:
            return missing
    return missing_dataset_message(args.dataset)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    missing = missing_input(args)
    if missing:
        return fail(missing)
    tune_allocator()
    return run_cli(lambda: run_status(args) if args.status else run_ingest(args), describe=lambda error: _disk_full(args, error))


def _disk_full(args: argparse.Namespace, error: BaseException) -> BaseException | None:
    """The one disk-full line for a write that failed outside the per-batch checks, or a shard that cannot open."""
    from shared.disk import DiskFullError, disk_full_error, is_disk_full

    if not is_disk_full(error):
        return None
    return error if isinstance(error, DiskFullError) else disk_full_error(_settings(args).data_dir)
