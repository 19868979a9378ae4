"""What goes into and comes out of a collection: points, hits, queries and the vector names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.storage.vector_store.bm25 import SparseVector
from shared.storage.vector_store.filters import Condition

DENSE_VECTOR = "image"
SPARSE_VECTOR = "name_bm25"
RRF_K = 60
"""Reciprocal-rank-fusion constant used by hybrid (keyword) search in both backends."""
HYBRID_PREFETCH_MIN = 100
"""Each hybrid prefetch stage fetches at least this many candidates before fusion."""


@dataclass(frozen=True)
class VectorPoint:
    """One product to store: id, image embedding, payload, and display name for BM25."""

    id: int
    vector: np.ndarray
    payload: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


@dataclass(frozen=True)
class ScoredHit:
    """One search result: product id, score (higher is better) and stored payload."""

    id: int
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DenseQuery:
    """A validated nearest-neighbour request for a driver; with ``keywords``, RRF-fused with BM25."""

    vector: list[float]
    top_k: int
    conditions: tuple[Condition, ...] = ()
    offset: int = 0
    score_threshold: float | None = None
    exclude_ids: tuple[int, ...] = ()
    keywords: SparseVector | None = None

    @property
    def depth(self) -> int:
        """Candidates each hybrid prefetch stage fetches before fusion."""
        return max(HYBRID_PREFETCH_MIN, self.top_k + self.offset)


def scored_hits(points: Iterable[Any]) -> list[ScoredHit]:
    """ScoredHits from a client's scored points (anything with id, score and payload)."""
    return [ScoredHit(int(p.id), float(p.score), dict(p.payload or {})) for p in points]
