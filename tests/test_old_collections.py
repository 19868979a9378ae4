"""Collections ingested before products had text vectors: ingest and search refuse them with the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe

from ingest.pipeline import IngestError
from shared.models import load_model
from shared.retriever import FashionRetriever
from shared.search.types import CollectionMissingError
from shared.storage.vector_store import VectorPoint
from shared.storage.vector_store.edge import EdgeStore
from tests.search_fixtures import COLLECTION, TINY, edge_settings, ingest_into


def make_old_collection(root: Path, dim: int, count: int = 5) -> None:
    """What ingest wrote before text vectors: an ``image`` vector and BM25 per product, nothing else."""
    config = qe.EdgeConfig(
        vectors={"image": qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
        sparse_vectors={"name_bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )
    (root / COLLECTION).mkdir(parents=True)
    qe.EdgeShard.create(str(root / COLLECTION), config).close()
    store = EdgeStore(root)
    rng = np.random.default_rng(0)
    store.upsert(COLLECTION, [VectorPoint(i, rng.normal(size=dim).astype(np.float32), {"gender": "Men"}) for i in range(count)])
    store.close()


def test_ingest_refuses_to_add_to_an_old_collection_and_recreate_upgrades_it(tmp_path: Path, parquet_dataset: Path) -> None:
    settings = edge_settings(tmp_path / "data")
    make_old_collection(settings.edge_dir, load_model(TINY, None).embed_dim)
    store = EdgeStore(settings.edge_dir)
    try:
        with pytest.raises(IngestError) as caught:
            ingest_into(settings, store, parquet_dataset)
        message = str(caught.value)
        assert "ingested before products got text vectors" in message and "--recreate" in message and "\n" not in message
        assert store.count(COLLECTION) == 5 and not store.has_text_vectors(COLLECTION)  # nothing stored was touched
        ingest_into(settings, store, parquet_dataset, recreate=True)
        assert store.has_text_vectors(COLLECTION) and store.count(COLLECTION) == 60
    finally:
        store.close()


def test_search_names_the_command_that_re_embeds_an_old_collection(tmp_path: Path) -> None:
    settings = edge_settings(tmp_path / "data")
    make_old_collection(settings.edge_dir, 8)
    with pytest.raises(CollectionMissingError) as caught:
        FashionRetriever(settings=settings)
    assert "ingested before products got text vectors" in str(caught.value)
    assert caught.value.command.startswith("python -m ingest ") and caught.value.command.endswith(" --recreate")
    assert f"--collection {COLLECTION}" in caught.value.command and "\n" not in str(caught.value)
