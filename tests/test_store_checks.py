"""The store front's argument checks: one-line errors on both backends, before any request."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared.storage.vector_store import StoreError, VectorPoint, VectorStore
from tests.vector_store_cases import (  # noqa: F401, F811 (fixtures)
    DIM, NAME, edge_root, filled, one_line, points, store,
)


def test_upsert_rejects_wrong_dimension_and_bad_ids(filled: VectorStore) -> None:
    with pytest.raises(StoreError, match="dimension 5"):
        filled.upsert(NAME, [VectorPoint(1, np.ones(5, np.float32), {})])
    with pytest.raises(StoreError, match="non-negative integer"):
        filled.upsert(NAME, [VectorPoint(-3, np.ones(DIM, np.float32), {})])


@pytest.mark.parametrize("top_k", [0, 10_001, 2**64, 2.5, "10", True, None])
def test_bad_top_k_is_a_one_line_error(filled: VectorStore, points: list[VectorPoint], top_k: Any) -> None:
    vector = points[0].vector
    for call in (
        lambda: filled.search(NAME, vector, top_k=top_k),
        lambda: filled.search(NAME, vector, top_k=top_k, keyword_query="red"),
        lambda: filled.search_batch(NAME, [vector], top_k=top_k),
        lambda: filled.recommend(NAME, [points[0].id], top_k=top_k),
    ):
        with pytest.raises(StoreError) as caught:
            call()
        one_line(caught, "top_k must be a whole number from 1 to 10,000", repr(top_k))


@pytest.mark.parametrize(("keyword", "value"), [("offset", -1), ("offset", 2**64), ("offset", 1.5), ("score_threshold", "0.5"),
                                                ("score_threshold", float("nan"))])
def test_bad_offset_or_threshold_is_a_one_line_error(filled: VectorStore, points: list[VectorPoint], keyword: str, value: Any) -> None:
    with pytest.raises(StoreError) as caught:
        filled.search(NAME, points[0].vector, **{keyword: value})
    one_line(caught, keyword)


@pytest.mark.parametrize("bad", [-5, 2**63, 2**70, 12.0, "1003", None])
def test_bad_example_ids_are_one_line_errors(filled: VectorStore, points: list[VectorPoint], bad: Any) -> None:
    for positives, negatives in (([bad], []), ([points[0].id], [bad])):
        with pytest.raises(StoreError) as caught:
            filled.recommend(NAME, positives, negatives)
        one_line(caught, "must be a non-negative integer below 2**63", repr(bad))
    with pytest.raises(StoreError, match="must be a list of product ids"):
        filled.recommend(NAME, points[0].id)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="point id must be a non-negative integer"):
        filled.upsert(NAME, [VectorPoint(2**70, points[0].vector)])


def test_unknown_example_ids_are_listed_briefly(filled: VectorStore, points: list[VectorPoint]) -> None:
    unknown = list(range(500_000, 505_000))
    with pytest.raises(StoreError) as caught:
        filled.recommend(NAME, [points[0].id, *unknown])
    message = one_line(caught, "not in collection", "500000, 500001", "and 4990 more")
    assert "500010" not in message and len(message) < 300
