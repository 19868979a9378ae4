"""The ingest job: embed every product image, upsert vectors and payloads, record metadata.

Order of writes per batch: image files, then vectors (the store), then catalog rows.
A run that is killed part-way therefore leaves, at worst, one batch of vectors
without catalog rows; the next run re-embeds exactly the products that are not in
both, so the store and the catalog always end with the same product ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest.disk_budget import DiskBudget, product_bytes
from shared.catalog import Catalog, ModelIdentity
from shared.datasets import KEYWORD_FIELDS, NAME_FIELD, ProductTable
from shared.embedding import encode_image_batch
from shared.models import LoadedModel
from shared.vector_store import VectorPoint, VectorStore
from ingest.loader import ProductImages, default_workers, product_loader


class IngestError(RuntimeError):
    """An ingest that must not start; the message names the input and the fix."""


@dataclass
class IngestOptions:
    collection: str
    dataset: str
    images_dir: Path
    batch_size: int = 64
    workers: int | None = None
    recreate: bool = False
    progress: bool = True
    disk_dir: Path | None = None
    """Where free space is checked before each batch (default: images_dir)."""
    mapped_dir: Path | None = None
    """The embedded store's folder, whose sparse files must stay backable (see ingest.disk_budget)."""


@dataclass
class IngestSummary:
    """What one run did; `line()` is the summary printed at the end."""

    requested: int = 0
    ingested: int = 0
    skipped: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.ingested / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        text = (
            f"ingested {self.ingested}, skipped {self.skipped} (already stored), failed {len(self.failed)}"
            f" of {self.requested} products in {self.seconds:.1f} s ({self.images_per_second:.1f} images/s)"
        )
        if self.failed:
            shown = ", ".join(str(i) for i in sorted(self.failed)[:20])
            more = f" and {len(self.failed) - 20} more" if len(self.failed) > 20 else ""
            text += f"; failed ids: {shown}{more}"
        return text


def payload_of(attributes: dict[str, Any]) -> dict[str, Any]:
    """The filterable payload stored with a vector: keyword fields, year and display name."""
    keys = (*KEYWORD_FIELDS, "year", NAME_FIELD)
    return {key: attributes[key] for key in keys if key in attributes}


def check_model_fits(store: VectorStore, catalog: Catalog, collection: str, model: ModelIdentity) -> None:
    """Refuse to mix vectors of two models in one collection."""
    recorded = catalog.model_of(collection)
    if recorded is not None and not recorded.same_model(model):
        raise IngestError(
            f"collection {collection!r} holds vectors of {recorded.describe()}, not {model.describe()}; "
            "pass --recreate to replace them, or --collection NAME for a new collection"
        )
    size = store.vector_size(collection) if store.collection_exists(collection) else None
    if size is not None and size != model.embedding_dim:
        raise IngestError(
            f"collection {collection!r} holds {size}-d vectors but the model makes {model.embedding_dim}-d ones; "
            "pass --recreate to replace them, or --collection NAME for a new collection"
        )


def _pending_indices(table: ProductTable, done: set[int]) -> tuple[list[int], int]:
    """Row indices still to embed (first row of each id), and how many ids are already done."""
    seen: set[int] = set()
    pending: list[int] = []
    for index, product_id in enumerate(table.ids()):
        if product_id in seen:
            continue
        seen.add(product_id)
        if product_id not in done:
            pending.append(index)
    return pending, len(seen) - len(pending)


def ingest(
    model: LoadedModel, table: ProductTable, store: VectorStore, catalog: Catalog, options: IngestOptions
) -> IngestSummary:
    """Embed and store every product of `table` that the collection does not hold yet."""
    started = time.perf_counter()
    collection = options.collection
    identity = model.identity()
    if options.recreate:
        store.delete_collection(collection)
        catalog.delete_collection(collection)
    check_model_fits(store, catalog, collection, identity)
    if not store.collection_exists(collection):
        store.create_collection(collection, identity.embedding_dim)

    stored = store.all_ids(collection)
    catalogued = catalog.product_ids(collection)
    catalog.delete_products(collection, sorted(catalogued - stored))  # rows whose vectors never landed
    pending, already = _pending_indices(table, stored & catalogued)
    summary = IngestSummary(requested=already + len(pending), skipped=already)
    workers = default_workers() if options.workers is None else options.workers
    prefetched = options.batch_size * (1 + 4 * workers)  # the batch and the images the loader's workers write ahead
    per_product = product_bytes(table, pending, identity.embedding_dim)
    budget = DiskBudget(options.disk_dir or options.images_dir, per_product, len(pending), options.mapped_dir)
    budget.check(prefetched)
    run_id = catalog.start_run(collection, identity, options.dataset, store.backend, summary.requested)

    images_dir = options.images_dir / collection
    images_dir.mkdir(parents=True, exist_ok=True)
    loader = product_loader(
        ProductImages(table, pending, model.image_transform, images_dir), options.batch_size, workers if pending else 0
    )
    with budget.guard(), tqdm(total=len(pending), unit="img", desc=f"ingest {collection}", disable=not options.progress) as bar:
        for batch in loader:
            budget.check(prefetched)
            summary.failed.update(batch.failures)
            if batch.pixels is not None:
                vectors = encode_image_batch(model, batch.pixels)
                points = [
                    VectorPoint(p.id, vector, payload_of(p.attributes), p.display_name)
                    for p, vector in zip(batch.products, vectors)
                ]
                store.upsert(collection, points)
                catalog.upsert_products(
                    collection,
                    [{"id": p.id, **p.attributes, "image_path": path} for p, path in zip(batch.products, batch.image_paths)],
                )
                summary.ingested += len(points)
            bar.update(len(batch.products) + len(batch.failures))
            budget.written += len(batch.products) + len(batch.failures)
    summary.seconds = time.perf_counter() - started
    catalog.finish_run(run_id, ingested=summary.ingested, skipped=summary.skipped, failed_ids=sorted(summary.failed))
    return summary
