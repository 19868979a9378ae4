"""The ingest job: embed every product image, upsert vectors and payloads, record metadata.

Each batch's rows are checked against the catalog's columns first (a row no
column can hold is skipped and listed, like a broken image). Then the writes, in
order: image files, vectors (the store), catalog rows. A run that is killed
part-way therefore leaves, at worst, one batch of vectors without catalog rows;
the next run deletes whatever one side holds and the other does not
(``ingest.consistency.repair``) and re-embeds the dataset's products that are not
in both, so the store and the catalog always end with the same product ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ingest.disk_budget import DiskBudget, product_bytes
from shared.storage.catalog import Catalog, InvalidProductError, check_product_row
from shared.storage.collection import CollectionFacts, MisfitError, ModelIdentity, check_fits, collection_images
from shared.products.datasets import Product, ProductTable
from shared.models.embedding import encode_image_batch, encode_texts
from shared.errors import FashionSearchError
from shared.models import LoadedModel
from shared.products.fields import left_out_report
from shared.products.product_text import product_text
from shared.products.schema import payload_of
from shared.storage.vector_store import VectorPoint, VectorStore
from ingest.consistency import WriterLease, claim_collection, repair
from ingest.loader import DecodedBatch, ProductImages, default_workers, product_loader


class IngestError(FashionSearchError, RuntimeError):
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
    repaired: int = 0
    """Vectors without catalog rows and rows without vectors that a killed run had left, deleted."""
    seconds: float = 0.0
    rejected: dict[str, str] = field(default_factory=dict)
    """Dataset rows left out for an invalid id: the id as written -> why."""
    duplicates: list[int] = field(default_factory=list)
    """Ids found in more than one dataset row (only the first row was used)."""

    @property
    def images_per_second(self) -> float:
        return self.ingested / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        text = (
            f"ingested {self.ingested}, skipped {self.skipped} (already stored), failed {len(self.failed)}"
            f" of {self.requested} products in {self.seconds:.1f} s ({self.images_per_second:.1f} images/s)"
        )
        if self.repaired:
            text += f"; removed {self.repaired} vectors or catalog rows left without their counterpart"
        if self.failed:
            shown = ", ".join(str(i) for i in sorted(self.failed)[:20])
            more = f" and {len(self.failed) - 20} more" if len(self.failed) > 20 else ""
            text += f"; failed ids: {shown}{more}"
        return text + left_out_report(self.rejected, self.duplicates)


def check_model_fits(store: VectorStore, catalog: Catalog, collection: str, model: ModelIdentity) -> None:
    """Refuse to mix vectors of two models in one collection."""
    try:
        check_fits(model, CollectionFacts.read(store, catalog, collection))
    except MisfitError as misfit:
        raise IngestError(f"{misfit}; pass --recreate to replace them, or --collection NAME for a new collection") from None


def check_has_text_vectors(store: VectorStore, collection: str) -> None:
    """Refuse to add to a collection made before text vectors: its products would be found by their photo only."""
    if store.collection_exists(collection) and not store.has_text_vectors(collection):
        raise IngestError(
            f"collection {collection!r} was ingested before products got text vectors (name and attributes); "
            "rerun this command with --recreate to embed it again with them"
        )


def checked_rows(batch: DecodedBatch, failed: dict[int, str]) -> tuple[list[int], list[Product], list[dict[str, Any]]]:
    """The batch's positions, products and catalog rows that the catalog can hold.

    A row it cannot hold is added to `failed` and its image file removed, before
    anything of it is stored.
    """
    positions: list[int] = []
    products: list[Product] = []
    rows: list[dict[str, Any]] = []
    for position, (product, path) in enumerate(zip(batch.products, batch.image_paths)):
        try:
            row = check_product_row({"id": product.id, **product.attributes, "image_path": path})
        except InvalidProductError as error:
            failed[product.id] = str(error)
            Path(path).unlink(missing_ok=True)
            continue
        attributes = {k: v for k, v in row.items() if k not in ("id", "image_path")}
        positions.append(position)
        products.append(replace(product, attributes=attributes))
        rows.append(row)
    return positions, products, rows


def pending_indices(table: ProductTable, done: set[int]) -> tuple[list[int], int]:
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


def prepare_collection(
    store: VectorStore, catalog: Catalog, collection: str, identity: ModelIdentity, recreate: bool, lease: WriterLease
) -> int:
    """Claim (or recreate) the collection, check that the model fits it, create it, repair what a killed run left.

    Returns how many vectors or catalog rows without their counterpart were deleted;
    the lease is shared afterwards, so other ingests of the collection may start.
    """
    claim_collection(store, catalog, collection, recreate=recreate)  # refuses another data dir's rows
    if recreate:
        store.delete_collection(collection)
        catalog.delete_collection(collection)
        claim_collection(store, catalog, collection)
    check_model_fits(store, catalog, collection, identity)
    check_has_text_vectors(store, collection)
    if not store.collection_exists(collection):
        store.create_collection(collection, identity.embedding_dim)
    repaired = repair(store, catalog, collection, lease)  # what a killed run left on one side only
    lease.share()
    return len(repaired.vectors_without_rows) + len(repaired.rows_without_vectors)


def product_points(model: LoadedModel, pixels: torch.Tensor, products: list[Product]) -> list[VectorPoint]:
    """Each product's image vector (from its preprocessed pixels) and text vector (name and attributes)."""
    vectors = encode_image_batch(model, pixels)
    texts = [product_text(p.attributes) for p in products]
    text_vectors = encode_texts(model, [text or p.display_name for text, p in zip(texts, products)])
    return [
        VectorPoint(p.id, vector, payload_of(p.attributes), text, text_vector)
        for p, vector, text, text_vector in zip(products, vectors, texts, text_vectors)
    ]


def store_batch(
    store: VectorStore, catalog: Catalog, collection: str, points: list[VectorPoint], rows: list[dict[str, Any]]
) -> None:
    """Vectors first, then catalog rows; a failed catalog write deletes the batch's vectors again."""
    store.upsert(collection, points)
    try:
        catalog.upsert_products(collection, rows)
    except BaseException:  # never leave this batch's vectors without rows
        store.delete_points(collection, [p.id for p in points])
        raise


def ingest(
    model: LoadedModel, table: ProductTable, store: VectorStore, catalog: Catalog, options: IngestOptions
) -> IngestSummary:
    """Embed and store every product of `table` that the collection does not hold yet."""
    with WriterLease(catalog, options.collection) as lease:
        return _ingest(model, table, store, catalog, options, lease)


def _ingest(
    model: LoadedModel, table: ProductTable, store: VectorStore, catalog: Catalog, options: IngestOptions, lease: WriterLease
) -> IngestSummary:
    started = time.perf_counter()
    collection = options.collection
    identity = model.identity()
    repaired = prepare_collection(store, catalog, collection, identity, options.recreate, lease)
    pending, already = pending_indices(table, catalog.product_ids(collection))
    summary = IngestSummary(requested=already + len(pending), skipped=already, repaired=repaired)
    workers = default_workers() if options.workers is None else options.workers
    prefetched = options.batch_size * (1 + 4 * workers)  # the batch and the images the loader's workers write ahead
    per_product = product_bytes(table, pending, identity.embedding_dim)
    budget = DiskBudget(options.disk_dir or options.images_dir, per_product, len(pending), options.mapped_dir)
    budget.check(prefetched)
    run_id = catalog.start_run(collection, identity, options.dataset, store.backend, summary.requested)

    images_dir = collection_images(options.images_dir, collection)
    images_dir.mkdir(parents=True, exist_ok=True)
    loader = product_loader(
        ProductImages(table, pending, model.image_transform, images_dir), options.batch_size, workers if pending else 0
    )
    with budget.guard(), tqdm(total=len(pending), unit="img", desc=f"ingest {collection}", disable=not options.progress) as bar:
        for batch in loader:
            budget.check(prefetched)
            summary.failed.update(batch.failures)
            positions, products, rows = checked_rows(batch, summary.failed)
            if batch.pixels is not None and positions:
                points = product_points(model, batch.pixels[positions], products)
                store_batch(store, catalog, collection, points, rows)
                summary.ingested += len(points)
            bar.update(len(batch.products) + len(batch.failures))
            budget.written += len(batch.products) + len(batch.failures)
    summary.rejected, summary.duplicates = dict(table.rejected), list(table.duplicates)
    summary.seconds = time.perf_counter() - started
    catalog.finish_run(run_id, ingested=summary.ingested, skipped=summary.skipped, failed_ids=sorted(summary.failed))
    return summary
