"""QueryModel through FashionRetriever: the recorded model is loaded, checked and followed after a re-ingest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shared.storage.catalog import Catalog
from shared.retriever import FashionRetriever
from shared.search.query_model import QueryModel
from shared.search.types import CollectionMissingError, RetrieverError
from shared.storage.vector_store.edge import EdgeStore
from shared.models.weights import file_sha256
from tests.search_fixtures import COLLECTION, TINY, edge_settings, ingest_into, tiny_weights


def retrain_in_place(path: Path, seed: int) -> str:
    """Overwrite a weights file the way `python -m finetune` does: other tensors, same path; the new sha256."""
    retrained = tiny_weights(path.with_name(f"retrained-{seed}.pt"), seed=seed)
    path.write_bytes(retrained.read_bytes())  # in place, like a training run that reopens its output
    retrained.unlink()
    return file_sha256(path)


def assert_refused_as_retrained(message: str, weights: Path, recorded_sha: str, new_sha: str) -> None:
    assert f"weights {weights} changed since they embedded collection '{COLLECTION}'" in message
    assert f"the vectors come from {TINY} weights {weights.resolve()} (sha256 {recorded_sha[:12]})" in message
    assert f"the file now holds sha256 {new_sha[:12]}" in message
    assert f"re-ingest with: python -m ingest --weights {weights}" in message and "--recreate" in message
    assert "or restore the original file" in message and "\n" not in message


def test_weights_retrained_in_place_are_refused_on_open(parquet_dataset: Path, tmp_path: Path) -> None:
    settings = edge_settings(tmp_path / "data")
    weights = tiny_weights(settings.data_dir / "tiny.pt")
    store = EdgeStore(settings.edge_dir)
    ingest_into(settings, store, parquet_dataset, weights)
    store.close()
    recorded_sha = file_sha256(weights)
    with FashionRetriever(settings=settings) as before:
        assert before.search_by_text("red", top_k=3)
    new_sha = retrain_in_place(weights, seed=5)
    with pytest.raises(RetrieverError) as refused:
        FashionRetriever(settings=settings)  # no weights argument: the recorded path is checked too
    assert_refused_as_retrained(str(refused.value), weights, recorded_sha, new_sha)


def test_weights_retrained_in_place_are_refused_after_a_reopen(
    parquet_dataset: Path, product_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings = edge_settings(tmp_path / "data")
    store = EdgeStore(settings.edge_dir)
    ingest_into(settings, store, parquet_dataset)
    store.close()
    retriever = FashionRetriever(settings=settings, idle_release_s=0.1)
    try:
        assert retriever.search_by_text("red", top_k=3)
        deadline = time.monotonic() + 30
        while retriever.store_is_open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not retriever.store_is_open  # idle: released, as for an ingest
        second = tiny_weights(tmp_path / "second.pt", seed=3)
        store = EdgeStore(settings.edge_dir)
        ingest_into(settings, store, parquet_dataset, second, recreate=True)
        store.close()
        recorded_sha, original = file_sha256(second), second.read_bytes()
        new_sha = retrain_in_place(second, seed=4)
        for _ in range(2):  # the reopen follows the new ingest, loads its weights, and refuses them: every time
            with pytest.raises(RetrieverError) as refused:
                retriever.search_by_text("red", top_k=3)
            assert_refused_as_retrained(str(refused.value), second, recorded_sha, new_sha)
        second.write_bytes(original)  # the other way out: restore the file
        product = product_rows[7]
        top = retriever.search_by_image(product["image"], top_k=1)[0]  # encoded by the reloaded model, not the old one
        assert top.id == product["id"] and top.score > 0.999
        assert retriever.identity.weights_sha256 == recorded_sha
    finally:
        retriever.close()


def test_missing_collection_names_the_ingest_command(tmp_path: Path) -> None:
    settings = edge_settings(tmp_path)
    with pytest.raises(CollectionMissingError) as missing:
        FashionRetriever(settings=settings)
    assert missing.value.command.startswith("python -m ingest")
    assert f"--collection {COLLECTION}" in missing.value.command


class StoreOfSize:
    """A store that holds the collection with vectors of ``dim`` dimensions (None: empty)."""

    backend = "fake"

    def __init__(self, dim: int | None, exists: bool = True) -> None:
        self.dim, self.exists = dim, exists

    def collection_exists(self, collection: str) -> bool:
        return self.exists

    def vector_size(self, collection: str) -> int | None:
        return self.dim

    def has_text_vectors(self, collection: str) -> bool:
        return True


def test_the_recorded_model_must_fit_the_vectors(parquet_dataset: Path, tmp_path: Path) -> None:
    settings = edge_settings(tmp_path / "data")
    store = EdgeStore(settings.edge_dir)
    ingest_into(settings, store, parquet_dataset)
    store.close()
    catalog = Catalog(settings.catalog_url)
    try:
        model = QueryModel(settings, catalog)
        empty: Any = StoreOfSize(None)
        model.connect(empty)  # an empty collection fits any model
        assert model.identity.model_name == TINY
        model.connect(StoreOfSize(model.loaded.embed_dim))  # type: ignore[arg-type]
        with pytest.raises(RetrieverError, match=rf"model {TINY} makes \d+-d vectors but collection '{COLLECTION}' holds 7-d ones; re-ingest with --recreate"):
            model.connect(StoreOfSize(7))  # type: ignore[arg-type]
        with pytest.raises(CollectionMissingError, match=f"collection '{COLLECTION}' does not exist in the fake store; fill it with: python -m ingest"):
            model.connect(StoreOfSize(None, exists=False))  # type: ignore[arg-type]
    finally:
        catalog.close()
