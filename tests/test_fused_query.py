"""Named vectors and fused queries (weighted RRF over prefetches) on both store backends.

Each product has an ``image`` and a ``text`` vector; a query is one leg or several legs fused by
weighted reciprocal rank. Every case runs on embedded Edge and on qdrant-client's local mode, and is
checked against a brute-force RRF oracle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe
from qdrant_client import models

from shared.storage.vector_store import (
    EdgeStore,
    MissingVectorsError,
    SearchLeg,
    ServerStore,
    StoreError,
    VectorPoint,
    VectorStore,
)
from shared.storage.vector_store.points import RRF_K
from tests.vector_store_cases import DIM, N, NAME, brute_force, edge_root, ids, make_points, store  # noqa: F401 (fixtures)


def with_text_vectors(points: list[VectorPoint], seed: int = 1) -> list[VectorPoint]:
    """The points with a ``text`` vector unrelated to their image vector."""
    rng = np.random.default_rng(seed)
    return [VectorPoint(p.id, p.vector, p.payload, p.text, rng.normal(size=DIM).astype(np.float32)) for p in points]


@pytest.fixture
def products() -> list[VectorPoint]:
    return with_text_vectors(make_points())


@pytest.fixture
def loaded(store: VectorStore, products: list[VectorPoint]) -> VectorStore:
    store.create_collection(NAME, DIM)
    store.upsert(NAME, products)
    return store


def text_oracle(products: list[VectorPoint], query: np.ndarray) -> list[int]:
    as_image = [VectorPoint(p.id, p.text_vector, p.payload) for p in products]  # type: ignore[arg-type]
    return [i for i, _ in brute_force(as_image, query)]


def rrf_oracle(rankings: list[list[int]], weights: list[float]) -> dict[int, float]:
    """Qdrant's weighted RRF: a leg of weight w scores rank r (from 0) as 1 / ((r + 1) / w + k - 1)."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, point_id in enumerate(ranking):
            scores[point_id] = scores.get(point_id, 0.0) + 1.0 / ((rank + 1) / weight + RRF_K - 1)
    return scores


def test_new_collections_hold_text_vectors(loaded: VectorStore, products: list[VectorPoint]) -> None:
    assert loaded.has_text_vectors(NAME)
    assert {"image", "text", "name_bm25"} <= loaded.vector_names(NAME)
    stored = loaded.retrieve_vectors(NAME, [products[3].id], using="text")[products[3].id]
    expected = products[3].text_vector / np.linalg.norm(products[3].text_vector)  # type: ignore[operator]
    assert np.allclose(stored, expected, atol=1e-5)


def test_a_text_leg_ranks_by_the_text_vectors(loaded: VectorStore, products: list[VectorPoint]) -> None:
    query = products[10].text_vector
    hits = loaded.query(NAME, [SearchLeg("text", query)], top_k=10)  # type: ignore[arg-type]
    assert ids(hits) == text_oracle(products, query)[:10]  # type: ignore[arg-type]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("weights", [(1.0, 1.0), (3.0, 1.0), (1.0, 4.0), (0.25, 1.0)])
def test_fused_scores_are_weighted_reciprocal_ranks(loaded: VectorStore, products: list[VectorPoint], weights: tuple[float, float]) -> None:
    image_query, text_query = products[0].vector, products[40].text_vector
    hits = loaded.query(
        NAME, [SearchLeg("image", image_query, weights[0]), SearchLeg("text", text_query, weights[1])], top_k=N  # type: ignore[arg-type]
    )
    rankings = [[i for i, _ in brute_force(products, image_query)], text_oracle(products, text_query)]  # type: ignore[arg-type]
    expected = rrf_oracle(rankings, list(weights))
    assert {h.id: h.score for h in hits} == pytest.approx(expected, rel=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_zero_weights_and_tokenless_keywords_leave_a_leg_out(loaded: VectorStore, products: list[VectorPoint]) -> None:
    query = products[5].vector
    plain = loaded.query(NAME, [SearchLeg("image", query)], top_k=10)
    assert ids(loaded.query(NAME, [SearchLeg("image", query), SearchLeg("text", query, 0.0)], top_k=10)) == ids(plain)
    assert ids(loaded.query(NAME, [SearchLeg("image", query), SearchLeg("keywords", "  ,. ")], top_k=10)) == ids(plain)
    assert loaded.query(NAME, [SearchLeg("keywords", "...")], top_k=10) == []


def test_fusion_keeps_filters_offsets_and_keywords(loaded: VectorStore, products: list[VectorPoint]) -> None:
    legs = [SearchLeg("image", products[2].vector), SearchLeg("text", products[2].text_vector),  # type: ignore[arg-type]
            SearchLeg("keywords", "zephyr satchel", 2.0)]
    whole = loaded.query(NAME, legs, top_k=30, filters={"gender": "Women"})
    assert whole and all(h.payload["gender"] == "Women" for h in whole)
    paged = [h for offset in (0, 10, 20) for h in loaded.query(NAME, legs, top_k=10, offset=offset, filters={"gender": "Women"})]
    assert [h.score for h in paged] == pytest.approx([h.score for h in whole])
    assert ids(loaded.query(NAME, legs, top_k=1))[0] == products[-1].id  # the only "Zephyr Aurora Satchel"


def test_query_batch_equals_single_queries(loaded: VectorStore, products: list[VectorPoint]) -> None:
    requests = [
        ([SearchLeg("image", products[1].vector), SearchLeg("text", products[1].text_vector)], {"gender": "Men"}),  # type: ignore[arg-type]
        ([SearchLeg("keywords", "...")], None),
        ([SearchLeg("keywords", "red watches"), SearchLeg("text", products[7].text_vector, 0.5)], None),  # type: ignore[arg-type]
    ]
    batched = loaded.query_batch(NAME, requests, top_k=7)
    singles = [loaded.query(NAME, legs, top_k=7, filters=filters) for legs, filters in requests]
    assert [[(h.id, round(h.score, 6)) for h in hits] for hits in batched] == [
        [(h.id, round(h.score, 6)) for h in hits] for hits in singles
    ]
    assert batched[1] == []


def test_bad_legs_are_refused_in_one_line(loaded: VectorStore, products: list[VectorPoint]) -> None:
    for legs, fragment in (
        ([SearchLeg("colour", products[0].vector)], "must be a SearchLeg using one of image, text, keywords"),  # type: ignore[arg-type]
        ([SearchLeg("image", products[0].vector, -1.0)], "weight -1.0 must be a number of 0 or more"),
        ([SearchLeg("keywords", products[0].vector)], "a keywords leg takes text"),
        ([SearchLeg("text", np.ones(3, np.float32))], "text query vector"),
    ):
        with pytest.raises(StoreError) as caught:
            loaded.query(NAME, legs, top_k=5)
        assert fragment in str(caught.value) and "\n" not in str(caught.value)


def old_collection(store: VectorStore, root: Path) -> None:
    """A collection as ingest made it before text vectors: an ``image`` vector and BM25 only."""
    if isinstance(store, EdgeStore):
        config = qe.EdgeConfig(
            vectors={"image": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)},
            sparse_vectors={"name_bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        qe.EdgeShard.create(str(root / NAME), config).close()
    else:
        assert isinstance(store, ServerStore)
        store.client.create_collection(
            NAME,
            vectors_config={"image": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
            sparse_vectors_config={"name_bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )


def test_a_collection_made_before_text_vectors_is_named_as_such(store: VectorStore, edge_root: Path) -> None:
    old_collection(store, edge_root)
    points = make_points(10)
    store.upsert(NAME, points)  # image vectors alone still go in
    assert store.collection_exists(NAME) and not store.has_text_vectors(NAME)
    assert ids(store.query(NAME, [SearchLeg("image", points[0].vector)], top_k=1)) == [points[0].id]
    with pytest.raises(MissingVectorsError, match="has no text vectors .* ingest it again with --recreate"):
        store.query(NAME, [SearchLeg("image", points[0].vector), SearchLeg("text", points[0].vector)], top_k=3)
    with pytest.raises(StoreError, match="has no text vectors"):
        store.upsert(NAME, with_text_vectors(points))
    assert store.count(NAME) == 10  # nothing stored was lost
