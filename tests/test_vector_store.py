"""One contract suite for every VectorStore backend (embedded Edge, qdrant-client local mode).

Each case runs on both backends and checks them against a brute-force oracle
(``tests/vector_store_cases.py``). Argument checks are in ``test_store_checks.py``,
filters in ``test_filters.py``, BM25 in ``test_bm25.py``, the embedded store's own
guarantees in ``test_edge_store.py`` and backend selection in ``test_open_store.py``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from shared.storage.vector_store import StoreError, VectorPoint, VectorStore, payload_matches
from tests.vector_store_cases import (  # noqa: F401, F811 (fixtures)
    DIM, N, NAME, brute_force, edge_root, filled, ids, points, store, unit,
)


def test_create_recreate_and_delete(store: VectorStore, points: list[VectorPoint]) -> None:
    assert not store.collection_exists(NAME) and store.vector_size(NAME) is None
    store.create_collection(NAME, DIM)
    assert store.collection_exists(NAME) and store.vector_size(NAME) == DIM and store.count(NAME) == 0
    store.upsert(NAME, points)
    assert store.count(NAME) == N
    store.create_collection(NAME, 8)  # recreate: empty, new size
    assert store.count(NAME) == 0 and store.vector_size(NAME) == 8
    store.delete_collection(NAME)
    assert not store.collection_exists(NAME)
    store.delete_collection(NAME)  # deleting twice is fine
    with pytest.raises(StoreError, match="does not exist"):
        store.count(NAME)


def test_upsert_is_idempotent_and_replaces_payloads(filled: VectorStore, points: list[VectorPoint]) -> None:
    filled.upsert(NAME, points)
    assert filled.count(NAME) == N
    assert filled.all_ids(NAME) == {p.id for p in points}
    changed = VectorPoint(points[0].id, points[0].vector, {**points[0].payload, "baseColour": "Silver"}, "x")
    filled.upsert(NAME, [changed])
    assert filled.count(NAME) == N and filled.count(NAME, {"baseColour": "Silver"}) == 1


def test_delete_points_removes_exactly_those_ids(filled: VectorStore, points: list[VectorPoint]) -> None:
    gone = [points[0].id, points[5].id, 999_999]  # an id never stored is ignored
    filled.delete_points(NAME, gone)
    filled.delete_points(NAME, [])
    assert filled.all_ids(NAME) == {p.id for p in points} - set(gone)
    assert filled.count(NAME) == len(points) - 2 and points[0].id not in filled.retrieve_vectors(NAME, [points[0].id])


FILTER_CASES: list[dict[str, Any]] = [
    {"gender": "Women"},
    {"articleType": ["Handbags", "Watches"]},
    {"year": (2012, 2014)},
    {"year": (None, 2011), "gender": "Men"},
    {"masterCategory": "Apparel", "baseColour": ["Red", "Blue"], "year": (2013, None)},
    {"gender": [], "year": (None, None)},  # empty selections constrain nothing
]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_count_and_search_honour_filters(filled: VectorStore, points: list[VectorPoint], filters: dict[str, Any]) -> None:
    expected = [p for p in points if payload_matches(p.payload, filters)]
    assert 0 < len(expected) and filled.count(NAME, filters) == len(expected)
    query = points[7].vector
    hits = filled.search(NAME, query, top_k=8, filters=filters)
    assert all(payload_matches(h.payload, filters) for h in hits)
    assert ids(hits) == [i for i, _ in brute_force(points, query, filters)[:8]]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_offset_pages_match_one_long_search(filled: VectorStore, points: list[VectorPoint]) -> None:
    query = points[3].vector
    long = ids(filled.search(NAME, query, top_k=20))
    pages = ids(filled.search(NAME, query, top_k=10)) + ids(filled.search(NAME, query, top_k=10, offset=10))
    assert pages == long and len(set(long)) == 20


def test_score_threshold_keeps_exactly_the_close_points(filled: VectorStore, points: list[VectorPoint]) -> None:
    query = points[4].vector
    expected = [i for i, score in brute_force(points, query) if score >= 0.8]
    assert 0 < len(expected) < N
    hits = filled.search(NAME, query, top_k=N, score_threshold=0.8)
    assert ids(hits) == expected and all(h.score >= 0.8 for h in hits)


def test_tied_scores_come_back_in_id_order(store: VectorStore) -> None:
    tied = unit(np.ones(DIM))
    shuffled_ids = [50, 10, 40, 20, 60, 30]
    store.create_collection(NAME, DIM)
    store.upsert(NAME, [VectorPoint(i, tied, {"gender": "Men"}) for i in shuffled_ids])
    store.upsert(NAME, [VectorPoint(70, unit(np.arange(DIM, dtype=np.float64) - DIM / 2), {"gender": "Men"})])
    for _ in range(2):
        hits = store.search(NAME, tied, top_k=7)
        assert [h.id for h in hits[:6]] == sorted(shuffled_ids) and hits[6].id == 70
        assert len({h.score for h in hits[:6]}) == 1 and hits[6].score < hits[0].score
    assert [[h.id for h in hits] for hits in store.search_batch(NAME, [tied], top_k=6)] == [sorted(shuffled_ids)]


def test_search_batch_equals_single_searches(filled: VectorStore, points: list[VectorPoint]) -> None:
    queries = np.stack([points[i].vector for i in (0, 11, 42)])
    batch = filled.search_batch(NAME, queries, top_k=5, filters={"gender": "Men"})
    singles = [filled.search(NAME, q, top_k=5, filters={"gender": "Men"}) for q in queries]
    assert [ids(b) for b in batch] == [ids(s) for s in singles]
    assert all(h.payload["gender"] == "Men" for hits in batch for h in hits)


def test_recommend_returns_similar_points_without_the_examples(filled: VectorStore, points: list[VectorPoint]) -> None:
    positives = [points[0].id, points[5].id]  # both Tshirts
    hits = filled.recommend(NAME, positives, top_k=10)
    assert len(hits) == 10 and not set(positives) & set(ids(hits))
    assert Counter(h.payload["articleType"] for h in hits)["Tshirts"] >= 8
    stored = filled.retrieve_vectors(NAME, positives)
    expected = [i for i, _ in brute_force(points, np.mean([stored[i] for i in positives], axis=0))
                if i not in positives][:10]
    assert ids(hits) == expected
    negative = ids(hits)[0]
    with_negative = filled.recommend(NAME, positives, [negative], top_k=10, filters={"gender": "Women"})
    assert negative not in ids(with_negative)
    assert all(h.payload["gender"] == "Women" for h in with_negative)
    with pytest.raises(StoreError, match="not in collection"):
        filled.recommend(NAME, [999_999])


def test_facet_counts_equal_brute_force(filled: VectorStore, points: list[VectorPoint]) -> None:
    for field, filters in [("articleType", None), ("baseColour", {"gender": "Women"}), ("year", {"year": (2012, None)})]:
        expected = Counter(p.payload[field] for p in points if payload_matches(p.payload, filters))
        assert filled.facet_counts(NAME, field, filters) == dict(expected)


def test_keyword_query_ranks_the_exact_name_first(filled: VectorStore, points: list[VectorPoint]) -> None:
    target = points[-1]
    uninformative = points[1].vector  # a query vector about some other product
    dense_only = ids(filled.search(NAME, uninformative, top_k=5))
    assert dense_only[0] != target.id
    hybrid = filled.search(NAME, uninformative, top_k=5, keyword_query="zephyr aurora satchel")
    assert hybrid[0].id == target.id and hybrid[0].payload["productDisplayName"] == "Zephyr Aurora Satchel"
    blank = filled.search(NAME, uninformative, top_k=5, keyword_query="   ")
    assert ids(blank) == dense_only


def test_retrieve_vectors_returns_unit_vectors(filled: VectorStore, points: list[VectorPoint]) -> None:
    stored = filled.retrieve_vectors(NAME, [points[2].id, 123_456])
    assert list(stored) == [points[2].id]
    np.testing.assert_allclose(stored[points[2].id], unit(points[2].vector), atol=1e-5)
