"""A small catalog ingested with the tiny model, and a FashionRetriever over it on both store backends.

``tests/conftest.py`` loads this module as a plugin, so every test module can ask for the ``retriever`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from ingest.pipeline import IngestOptions, ingest
from shared.storage.catalog import Catalog
from shared.products.datasets import open_products
from shared.models import load_model
from shared.retriever import FashionRetriever
from shared.settings import Settings
from shared.storage.vector_store.edge import EdgeStore
from shared.storage.vector_store.server import ServerStore
from shared.models.weights import save_weights

COLLECTION = "retriever_test"
TINY = "tiny-test"


def tiny_weights(path: Path, seed: int = 0) -> Path:
    """A tiny-test weights file: a random init is not reproducible, a file is (like fine-tuned weights)."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        model = load_model(TINY, None).model  # the same seeded init in every process
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # so weights of another seed are another model, like fine-tuned weights
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
        save_weights(path, model, TINY)
    return path


def ingest_into(settings: Settings, store: Any, dataset: Path, weights: Path | None = None, recreate: bool = False) -> None:
    """Fill settings.collection from the dataset with the tiny model (weights default: seed 0)."""
    weights = weights or tiny_weights(settings.data_dir / "tiny.pt")
    model = load_model(TINY, None, weights=str(weights))
    catalog = Catalog(settings.catalog_url)
    options = IngestOptions(
        settings.collection, str(dataset), settings.images_dir, batch_size=32, workers=0, recreate=recreate, progress=False
    )
    ingest(model, open_products(str(dataset)), store, catalog, options)
    catalog.close()


def edge_settings(data_dir: Path, collection: str = COLLECTION) -> Settings:
    return Settings(data_dir=data_dir, qdrant_url="edge", collection=collection)


def ingested_edge_catalog(data_dir: Path, dataset: Path, collection: str = COLLECTION) -> Settings:
    """``data_dir`` with ``collection`` ingested from the dataset (tiny model, embedded store, closed again)."""
    settings = edge_settings(data_dir, collection)
    store = EdgeStore(settings.edge_dir)
    try:
        ingest_into(settings, store, dataset)
    finally:
        store.close()
    return settings


@pytest.fixture(scope="module", params=["edge", "server"])
def retriever(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, parquet_dataset: Path) -> Iterator[FashionRetriever]:
    data_dir = tmp_path_factory.mktemp(f"retriever-{request.param}")
    if request.param == "edge":
        found = FashionRetriever(settings=ingested_edge_catalog(data_dir, parquet_dataset))
    else:
        settings = Settings(data_dir=data_dir, qdrant_url=":memory:", collection=COLLECTION)
        store = ServerStore.in_memory()
        ingest_into(settings, store, parquet_dataset)
        found = FashionRetriever(settings=settings, qdrant=store)
    yield found
    found.close()


def sibling(retriever: FashionRetriever, **kwargs: Any) -> FashionRetriever:
    """Another retriever on the same catalog and store (the fixture's lets go of the embedded store first)."""
    retriever.release()
    return FashionRetriever(settings=retriever.settings, qdrant=retriever.external_store, **kwargs)
