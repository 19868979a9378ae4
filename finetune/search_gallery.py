"""The gallery a search evaluation runs on: an ingested collection, or one split of a dataset ingested first.

The validation split is finetune's own (``finetune.data.split_by_display_name`` over the products that
``decode_products`` keeps), with the dataset, subset size, validation fraction and seed recorded in the
weights file's training metadata, so it holds exactly the products that model never trained on.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from finetune.shopper_queries import GalleryProduct
from shared.errors import FashionSearchError

if TYPE_CHECKING:
    from shared.products.datasets import Product, ProductTable
    from shared.retriever import FashionRetriever
    from shared.settings import Settings

Split = Literal["validation", "all"]
SPLITS: tuple[str, ...] = ("validation", "all")
SPLIT_KEYS = ("dataset", "subset_size", "val_fraction", "seed")


class GalleryError(FashionSearchError, ValueError):
    """The gallery cannot be made; the message names the input and the fix."""


@dataclass(frozen=True)
class TrainingSplit:
    """How a training run split its data, as its weights file records it."""

    dataset: str
    subset_size: int | None
    val_fraction: float
    seed: int

    @classmethod
    def of(cls, metadata: Mapping[str, Any], weights: str) -> "TrainingSplit":
        """The split in a weights file's metadata (``LoadedModel.weights_metadata``), or GalleryError."""
        training = metadata.get("training") or {}
        missing = [key for key in SPLIT_KEYS if key not in training]
        if missing:
            raise GalleryError(
                f"--weights {weights} record no training split ({', '.join(missing)} missing from its training metadata); "
                "pass weights written by `python -m finetune`, or --split all"
            )
        return cls(str(training["dataset"]), training["subset_size"], float(training["val_fraction"]), int(training["seed"]))


class ProductRows:
    """Some rows of a product table, as a table of their own (what ``ingest`` takes)."""

    def __init__(self, table: ProductTable, rows: list[int]) -> None:
        self.table = table
        self.rows = rows
        self.name = table.name
        self.column_names = table.column_names
        all_ids = table.ids()
        self._ids = [all_ids[row] for row in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Product:
        return self.table[self.rows[int(index)]]

    def ids(self) -> list[int]:
        return list(self._ids)

    @property
    def rejected(self) -> dict[str, str]:
        return {}

    @property
    def duplicates(self) -> list[int]:
        return []


def validation_ids(table: ProductTable, split: TrainingSplit, progress: bool = True) -> set[int]:
    """The ids of the products that training held out: its decode, then its split by display name."""
    from finetune.data import decode_products, split_by_display_name

    products = decode_products(table, split.subset_size, progress=progress)
    _, val = split_by_display_name([products.display_name(i) for i in range(len(products))], split.val_fraction, split.seed)
    if not val:
        raise GalleryError(f"the training run held out no products (val_fraction {split.val_fraction}); use --split all")
    return {products.ids[i] for i in val}


def split_table(table: ProductTable, ids: set[int]) -> ProductRows:
    return ProductRows(table, [row for row, product_id in enumerate(table.ids()) if product_id in ids])


def _same_dataset(given: str, recorded: str) -> bool:
    a, b = Path(given), Path(recorded)
    return a.resolve() == b.resolve() if a.exists() and b.exists() else given == recorded


def ingest_split(
    weights: str | None,
    dataset: str | None,
    split: Split,
    settings: Settings,
    *,
    model: str | None = None,
    limit: int | None = None,
    recreate: bool = False,
    progress: bool = True,
) -> str:
    """Ingest the split's products into ``settings``' collection (idempotent); returns a one-line description.

    ``weights`` (a fine-tuned model, which records its split) or ``model`` (a base model name: ``split``
    "all" only); ``limit``: the first N products of the dataset (``split`` "all" only).
    """
    from ingest.pipeline import IngestOptions, ingest
    from shared.model_spec import spec_from_flags
    from shared.products.datasets import open_products
    from shared.storage.catalog import Catalog
    from shared.storage.vector_store import open_store

    if split == "validation" and (weights is None or limit is not None):
        raise GalleryError("the validation split needs --weights of a fine-tuned model and no --limit; or use --split all")
    loaded = spec_from_flags(model, None, weights).load()
    training = TrainingSplit.of(loaded.weights_metadata, str(weights)) if split == "validation" else None
    source = dataset or (training.dataset if training else None)
    if source is None:
        recorded = (loaded.weights_metadata.get("training") or {}).get("dataset")
        if recorded is None:
            raise GalleryError(f"{'--weights ' + weights if weights else '--model ' + str(model)} records no training dataset; pass --dataset")
        source = str(recorded)
    if training is not None and not _same_dataset(source, training.dataset):
        print(f"note: --dataset {source} is not the dataset {training.dataset} the weights were trained on; "
              "the split is computed on --dataset", file=sys.stderr)
    table: Any = open_products(source, limit)
    if training is not None:
        table = split_table(table, validation_ids(table, training, progress))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)
    catalog = Catalog(settings.catalog_url)
    try:
        options = IngestOptions(settings.collection, source, settings.images_dir, recreate=recreate, progress=progress,
                                disk_dir=settings.data_dir, mapped_dir=settings.edge_dir if store.backend == "edge" else None)
        summary = ingest(loaded, table, store, catalog, options)
    finally:
        catalog.close()
        store.close()
    return f"{split} split of {source}: {summary.line()}"


def gallery_products(retriever: FashionRetriever) -> list[GalleryProduct]:
    """Every product of the retriever's collection, with its catalog attributes and stored photo."""
    ids = sorted(retriever.catalog.product_ids(retriever.collection))
    if not ids:
        raise GalleryError(f"collection {retriever.collection} in {retriever.settings.data_dir} holds no products; ingest a catalog first")
    return [GalleryProduct(r.id, r.attributes, r.image_path) for r in retriever.get_products(ids)]
