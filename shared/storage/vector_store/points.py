"""What goes into and comes out of a collection: points, hits, queries and the vector names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from shared.storage.vector_store.bm25 import SparseVector
from shared.storage.vector_store.filters import Condition

DENSE_VECTOR = "image"
"""The product photo's embedding (cosine)."""
TEXT_VECTOR = "text"
"""The product's name and attributes embedded by the text tower (cosine, same size as ``image``)."""
SPARSE_VECTOR = "name_bm25"
"""BM25 of the product's name and attributes (IDF applied by the collection at query time)."""
VECTOR_NAMES: dict[str, str] = {"image": DENSE_VECTOR, "text": TEXT_VECTOR, "keywords": SPARSE_VECTOR}
"""Public leg name -> stored vector name."""
RRF_K = 60
"""Reciprocal-rank-fusion constant used by fused (multi-leg) search in both backends."""
HYBRID_PREFETCH_MIN = 100
"""Each prefetch stage of a fused query fetches at least this many candidates before fusion."""

LegName = Literal["image", "text", "keywords"]


@dataclass(frozen=True)
class VectorPoint:
    """One product to store: id, image embedding, payload, its text (for BM25) and that text's embedding."""

    id: int
    vector: np.ndarray
    payload: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    text_vector: np.ndarray | None = None


@dataclass(frozen=True)
class StoredPoint:
    """A validated point for a driver: id, ``image`` row, ``text`` row (None: none), BM25 vector, payload."""

    id: int
    image: list[float]
    text: list[float] | None
    keywords: SparseVector | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class ScoredHit:
    """One search result: product id, score (higher is better) and stored payload."""

    id: int
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchLeg:
    """One ranking of a (possibly fused) query: a dense query vector against the ``image`` or ``text``
    vectors, or a keyword text against the BM25 vectors; ``weight`` is its weight in weighted RRF."""

    using: LegName
    query: np.ndarray | str
    weight: float = 1.0


@dataclass(frozen=True)
class QueryLeg:
    """A validated leg for a driver: the stored vector name and a dense row or a BM25 sparse vector."""

    using: str
    vector: list[float] | SparseVector
    weight: float = 1.0

    @property
    def dense(self) -> bool:
        return self.using != SPARSE_VECTOR


@dataclass(frozen=True)
class StoreQuery:
    """A validated request for a driver: one leg is a plain nearest-neighbour query, several are
    prefetched (``depth`` candidates each) and fused by weighted RRF. ``score_threshold`` applies to
    the dense legs' cosine scores."""

    legs: tuple[QueryLeg, ...]
    top_k: int
    conditions: tuple[Condition, ...] = ()
    offset: int = 0
    score_threshold: float | None = None
    exclude_ids: tuple[int, ...] = ()

    @property
    def depth(self) -> int:
        """Candidates each prefetch stage fetches before fusion."""
        return max(HYBRID_PREFETCH_MIN, self.top_k + self.offset)

    @property
    def weights(self) -> list[float] | None:
        """RRF weights of the legs, or None when they are all equal (plain RRF)."""
        weights = [leg.weight for leg in self.legs]
        return None if len(set(weights)) <= 1 else weights


def scored_hits(points: Iterable[Any]) -> list[ScoredHit]:
    """ScoredHits from a client's scored points (anything with id, score and payload), best first and
    equal scores by id: Qdrant orders ties by where the points sit in its segments, which an optimizer
    run changes, so the same query could otherwise list tied products in a different order each time."""
    hits = [ScoredHit(int(p.id), float(p.score), dict(p.payload or {})) for p in points]
    return sorted(hits, key=lambda hit: (-hit.score, hit.id))
