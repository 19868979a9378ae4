"""Distributed ingest on Ray Data: ``python -m ingest --engine ray``.

The same job as :mod:`ingest.pipeline`, with the same guarantees, spread over a Ray
cluster in three stages of one streaming Ray Dataset:

1. **decode** (CPU tasks, ``map_batches`` with a function): the Ray Dataset holds the
   row positions still to embed; each task reads its products with the project's
   dataset reader (hub id, parquet folder or Kaggle folder, so the same id rules and
   spellings hold), decodes and preprocesses the images, writes the image files and
   checks each catalog row (``ingest.loader`` and ``ingest.pipeline.checked_rows``);
2. **embed** (an actor pool, ``map_batches`` with :class:`ProductEmbedder`): each actor
   loads the model once (on a GPU of its own where the cluster has them) and computes
   image and text vectors (``ingest.pipeline.product_points``);
3. **write** in large batches (``ingest.pipeline.store_batch``: vectors first, then
   catalog rows): with the embedded store the driver is the single writer, because it
   owns the store's folder; with a Qdrant server a pool of :class:`ProductWriter`
   actors writes, each with its own client and catalog connection.

The driver holds the collection's writer lease and does what must happen once:
claiming, the model-fits-collection check, the repair of a killed run's leftovers,
choosing the pending products, and the run's record. Ray restarts a killed actor and
retries its batch (writes are upserts, so a retried batch changes nothing); a killed
driver leaves what any killed ingest leaves, which the next run repairs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from ingest.consistency import WriterLease
from ingest.disk_budget import DiskBudget, product_bytes
from ingest.loader import ProductImages, collate
from ingest.pipeline import IngestError, IngestOptions, IngestSummary, checked_rows, pending_indices, prepare_collection, product_points, store_batch
from shared.model_spec import ModelSpec
from shared.models import LoadedModel
from shared.products.datasets import Product, ProductTable
from shared.products.schema import payload_of
from shared.runtime import tune_allocator
from shared.settings import Settings
from shared.storage.catalog import Catalog
from shared.storage.collection import ModelIdentity, collection_images
from shared.storage.vector_store import VectorPoint, VectorStore, open_store

Batch = dict[str, np.ndarray]


@dataclass
class RayOptions:
    address: str | None = None
    """A cluster to join ('auto': the one `ray start` made on this machine); None starts a local one."""
    concurrency: int = 1
    """Embedding actors (each takes one GPU where the cluster has them), and writers with a Qdrant server."""
    write_batch_size: int = 512
    """Products per store and catalog write."""


def decode_products(batch: Batch, table: ProductTable | Any, transform: Callable[[Any], torch.Tensor], images_dir: str, pixel_shape: tuple[int, ...]) -> Batch:
    """CPU stage: the products at the batch's row positions, decoded, preprocessed and checked.

    Every input row gives one output row: ``error`` is empty for a product to embed,
    else why it failed (broken image, or a row the catalog cannot hold).
    """
    if not hasattr(table, "ids"):  # the table put once into the object store
        import ray

        table = ray.get(table)
    images = ProductImages(table, batch["data"].tolist(), transform, Path(images_dir))
    decoded = collate([images[position] for position in range(len(images))])
    failed = dict(decoded.failures)
    positions, products, rows = checked_rows(decoded, failed)
    pixels = np.zeros((len(images), *pixel_shape), dtype=np.float32)
    if positions:
        assert decoded.pixels is not None
        pixels[: len(positions)] = decoded.pixels[positions].float().numpy()
    failures = sorted(failed.items())
    return {
        "id": np.array([p.id for p in products] + [product_id for product_id, _ in failures], dtype=np.int64),
        "error": np.array([""] * len(products) + [why for _, why in failures], dtype=object),
        "row": np.array([json.dumps(row) for row in rows] + ["{}"] * len(failures), dtype=object),
        "pixels": pixels,
    }


class ProductEmbedder:
    """Embedding actor: loads the model once, then gives each decoded product its image and text vectors."""

    def __init__(self, spec: ModelSpec, identity: ModelIdentity) -> None:
        tune_allocator()  # as `python -m ingest` does for the plain engine: about 2x on CPU (BENCHMARKS.md)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model: LoadedModel = spec.load(device=device)
        if not self.model.identity().same_model(identity):
            raise IngestError(f"a Ray worker loaded {spec.label} as {self.model.identity()}, not {identity}: give every node the same weights file")
        self.dim = identity.embedding_dim

    def __call__(self, batch: Batch) -> Batch:
        good = np.flatnonzero(batch["error"] == "")
        vectors = np.zeros((len(batch["id"]), self.dim), dtype=np.float32)
        text_vectors = np.zeros_like(vectors)
        texts = np.array([""] * len(batch["id"]), dtype=object)
        if len(good):
            products = [_product(batch["row"][i]) for i in good]
            points = product_points(self.model, torch.from_numpy(np.ascontiguousarray(batch["pixels"][good])), products)
            for i, point in zip(good, points):
                vectors[i], text_vectors[i], texts[i] = point.vector, point.text_vector, point.text or ""
        return {"id": batch["id"], "error": batch["error"], "row": batch["row"], "vector": vectors, "text": texts, "text_vector": text_vectors}


def _product(row_json: str) -> Product:
    row = json.loads(row_json)
    return Product(int(row["id"]), {k: v for k, v in row.items() if k not in ("id", "image_path")})


def write_embedded(store: VectorStore, catalog: Catalog, collection: str, batch: Batch) -> Batch:
    """Store a batch's embedded products (vectors, then catalog rows); returns each input row's id and error."""
    good = np.flatnonzero(batch["error"] == "")
    rows = [json.loads(batch["row"][i]) for i in good]
    points = [
        VectorPoint(int(batch["id"][i]), batch["vector"][i], payload_of(_product(batch["row"][i]).attributes), batch["text"][i], batch["text_vector"][i])
        for i in good
    ]
    if points:
        store_batch(store, catalog, collection, points, rows)
    return {"id": batch["id"], "error": batch["error"]}


class ProductWriter:
    """Writer actor for a Qdrant server: its own client and catalog connection; several write at once."""

    def __init__(self, settings: Settings, collection: str) -> None:
        self.store = open_store(settings)
        self.catalog = Catalog(settings.catalog_url)
        self.collection = collection

    def __call__(self, batch: Batch) -> Batch:
        return write_embedded(self.store, self.catalog, self.collection, batch)


def _pixel_shape(transform: Callable[[Any], torch.Tensor]) -> tuple[int, ...]:
    from PIL import Image

    return tuple(transform(Image.new("RGB", (60, 80), "white")).shape)


def connect(ray_options: RayOptions) -> int:
    """Join (or start) the Ray cluster and check that it can run the actor pool; returns the GPUs per actor (0 or 1).

    Each embedding actor holds a CPU (and a GPU where the cluster has them), and
    decoding needs a CPU of its own: a pool that leaves none would wait forever.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_options.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    wanted = ray_options.concurrency
    if wanted >= cpus:
        raise IngestError(
            f"--concurrency {wanted}: the Ray cluster has {cpus} CPUs, and each embedding actor holds one while "
            f"decoding needs at least one more; give --concurrency {max(1, cpus - 1)} or less, or add nodes"
        )
    if gpus and wanted > gpus:
        raise IngestError(f"--concurrency {wanted}: the Ray cluster has {gpus} GPUs, one per embedding actor; give --concurrency {gpus} or less")
    return 1 if gpus else 0


def ingest_on_ray(
    spec: ModelSpec,
    model: LoadedModel,
    table: ProductTable,
    store: VectorStore,
    catalog: Catalog,
    settings: Settings,
    options: IngestOptions,
    ray_options: RayOptions,
    embedder: type[ProductEmbedder] = ProductEmbedder,
) -> IngestSummary:
    """Embed and store every product of `table` that the collection lacks, on the Ray cluster."""
    gpus = connect(ray_options)  # before anything is written
    with WriterLease(catalog, options.collection) as lease:
        started = time.perf_counter()
        collection, identity = options.collection, model.identity()
        repaired = prepare_collection(store, catalog, collection, identity, options.recreate, lease)
        pending, already = pending_indices(table, catalog.product_ids(collection))
        summary = IngestSummary(requested=already + len(pending), skipped=already, repaired=repaired)
        budget = DiskBudget(options.disk_dir or options.images_dir, product_bytes(table, pending, identity.embedding_dim), len(pending), options.mapped_dir)
        budget.check(len(pending))  # the cluster writes ahead of the driver: the whole run must fit
        run_id = catalog.start_run(collection, identity, options.dataset, store.backend, summary.requested)
        images_dir = collection_images(options.images_dir, collection)
        images_dir.mkdir(parents=True, exist_ok=True)
        if pending:
            with budget.guard():
                _run_dataset(spec, model, table, store, catalog, settings, options, ray_options, gpus, embedder, pending, images_dir, summary)
        summary.rejected, summary.duplicates = dict(table.rejected), list(table.duplicates)
        summary.seconds = time.perf_counter() - started
        catalog.finish_run(run_id, ingested=summary.ingested, skipped=summary.skipped, failed_ids=sorted(summary.failed))
        return summary


def _run_dataset(
    spec: ModelSpec,
    model: LoadedModel,
    table: ProductTable,
    store: VectorStore,
    catalog: Catalog,
    settings: Settings,
    options: IngestOptions,
    ray_options: RayOptions,
    gpus: int,
    embedder: type[ProductEmbedder],
    pending: list[int],
    images_dir: Path,
    summary: IngestSummary,
) -> None:
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver's own bar counts written products
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    block_rows = options.batch_size * 4
    blocks = [np.array(pending[start : start + block_rows], dtype=np.int64) for start in range(0, len(pending), block_rows)]
    rows = ray.data.from_numpy(blocks)  # one column, "data": the row positions of the products to embed
    decoded = rows.map_batches(
        decode_products,
        batch_size=options.batch_size,
        max_retries=-1,  # a task whose worker died runs again; this also keeps decoding out of the actors (no fusion)
        fn_kwargs={
            "table": ray.put(table),
            "transform": model.image_transform,
            "images_dir": str(images_dir),
            "pixel_shape": _pixel_shape(model.image_transform),
        },
    )
    embedded = decoded.map_batches(
        embedder,
        batch_size=options.batch_size,
        compute=ray.data.ActorPoolStrategy(size=ray_options.concurrency),
        num_gpus=gpus,
        fn_constructor_kwargs={"spec": spec, "identity": model.identity()},
    )
    server_url = str(getattr(store, "location", ""))
    if not server_url.startswith(("http://", "https://")):  # the embedded store has one owner: this process writes
        results = (
            write_embedded(store, catalog, options.collection, batch)
            for batch in embedded.iter_batches(batch_size=ray_options.write_batch_size, batch_format="numpy")
        )
    else:
        written = embedded.map_batches(
            ProductWriter,
            batch_size=ray_options.write_batch_size,
            compute=ray.data.ActorPoolStrategy(size=ray_options.concurrency),
            fn_constructor_kwargs={"settings": replace(settings, qdrant_url=server_url), "collection": options.collection},
        )
        results = written.iter_batches(batch_size=None, batch_format="numpy")
    with tqdm(total=len(pending), unit="img", desc=f"ingest {options.collection} (ray)", disable=not options.progress) as bar:
        for result in results:
            for product_id, error in zip(result["id"].tolist(), result["error"].tolist()):
                if error:
                    summary.failed[int(product_id)] = str(error)
                else:
                    summary.ingested += 1
            bar.update(len(result["id"]))
