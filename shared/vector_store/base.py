"""The vector-store contract shared by every backend: models, errors, filters, BM25.

Both backends (embedded Qdrant Edge and a Qdrant server through qdrant-client) store
one collection per catalog with a dense cosine vector ``image`` (the product's image
embedding) and a sparse vector ``name_bm25`` (its display name, BM25-encoded here so
both backends tokenize alike). Filters are plain mappings, validated in one place.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional, TypeAlias, Union

import numpy as np

from shared.product_schema import filter_fields
from shared.product_fields import MAX_PRODUCT_ID

DENSE_VECTOR = "image"
SPARSE_VECTOR = "name_bm25"
YEAR_FIELD = "year"
FILTER_FIELDS: tuple[str, ...] = filter_fields()
"""Payload fields that can be filtered and faceted (each has a payload index)."""
RRF_K = 60
"""Reciprocal-rank-fusion constant used by hybrid (keyword) search in both backends."""
HYBRID_PREFETCH_MIN = 100
"""Each hybrid prefetch stage fetches at least this many candidates before fusion."""
MAX_TOP_K = 10_000
"""Most results one search returns (page further with offset)."""
MAX_OFFSET = 1_000_000
"""Largest offset a search accepts."""
MAX_LISTED_IDS = 10
"""Ids an error message lists before it says how many more there are."""

FilterValue: TypeAlias = Union[str, int, Sequence[Union[str, int]], tuple[Optional[int], Optional[int]], None]
Filters: TypeAlias = Mapping[str, FilterValue]
"""Field -> one value, or a list of accepted values; ``"year"`` -> (min | None, max | None)."""

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class StoreError(RuntimeError):
    """A vector-store operation that failed; the message names the cause and the fix."""


class StoreUnavailableError(StoreError):
    """The configured Qdrant server does not answer."""


class StoreLockedError(StoreError):
    """The embedded store is held by another process."""


class FilterError(StoreError, ValueError):
    """A filter naming an unknown field or holding a value of the wrong shape."""


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
class Condition:
    """One validated filter condition: a set of accepted values, or an inclusive range."""

    field: str
    values: tuple[str | int, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        """Whether a payload satisfies this condition (used for fallbacks and checks)."""
        value = payload.get(self.field)
        if value is None:
            return False
        if self.values is not None:
            return value in self.values
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


def check_filter_field(field_name: str) -> None:
    """Raise FilterError unless field_name is a filterable payload field."""
    if field_name not in FILTER_FIELDS:
        raise FilterError(
            f"unknown filter field {field_name!r}; allowed fields: {', '.join(FILTER_FIELDS)}"
        )


def is_whole_number(value: object) -> bool:
    """Whether value is a Python or numpy integer (not a bool, float or string)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_text(text: str, what: str) -> str:
    """Return text if it can be encoded (UTF-8), else raise FilterError naming the bad character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise FilterError(
            f"{what} holds a character that is not valid text (a lone surrogate {text[error.start]!r} "
            f"at position {error.start}); type or paste it again"
        ) from None
    return text


def listed_ids(ids: Sequence[object]) -> str:
    """At most MAX_LISTED_IDS ids, then "and N more"."""
    shown = ", ".join(str(i) for i in ids[:MAX_LISTED_IDS])
    return shown + (f" and {len(ids) - MAX_LISTED_IDS} more" if len(ids) > MAX_LISTED_IDS else "")


def _year_bound(value: object, which: str) -> int | None:
    if value is None:
        return None
    if not is_whole_number(value):
        raise FilterError(f"year filter {which} must be an integer or None, got {value!r}")
    year = int(value)  # type: ignore[call-overload]
    if not -(2**63) <= year <= 2**63 - 1:
        raise FilterError(f"year filter {which} {year} is out of range; give a year such as 2012")
    return year


def _normalize_one(field_name: str, value: object) -> Condition | None:
    check_filter_field(field_name)
    if value is None:
        return None
    if field_name == YEAR_FIELD and isinstance(value, tuple):
        if len(value) != 2:
            raise FilterError(f"year range must be (min | None, max | None), got {value!r}")
        low, high = _year_bound(value[0], "min"), _year_bound(value[1], "max")
        if low is None and high is None:
            return None
        return Condition(field_name, minimum=low, maximum=high)
    items: list[object] = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if not items:
        return None  # an empty selection means "no constraint", as in a cleared multi-select
    if field_name == YEAR_FIELD:
        return Condition(field_name, values=tuple(_year_bound(v, "value") for v in items))  # type: ignore[misc]
    if not all(isinstance(v, str) for v in items):
        raise FilterError(f"filter {field_name!r} takes strings, got {value!r}")
    return Condition(field_name, values=tuple(check_text(v, f"filter {field_name!r}") for v in items))  # type: ignore[arg-type]


def normalize_filters(filters: Filters | None) -> list[Condition]:
    """Validate a filter mapping into conditions; None / empty values impose nothing."""
    if not filters:
        return []
    if not isinstance(filters, Mapping):
        raise FilterError(f"filters must be a mapping of field -> value, got {type(filters).__name__}")
    conditions = [_normalize_one(str(name), value) for name, value in filters.items()]
    return [c for c in conditions if c is not None]


def payload_matches(payload: Mapping[str, Any], filters: Filters | None) -> bool:
    """Whether a payload satisfies every condition of a filter mapping."""
    return all(c.accepts(payload) for c in normalize_filters(filters))


def check_collection_name(name: str) -> str:
    """Return name if it is a safe collection name (also a folder name), else raise."""
    if not isinstance(name, str) or not _COLLECTION_NAME.match(name):
        raise StoreError(
            f"invalid collection name {name!r}; use letters, digits, '_', '.', '-' (max 128)"
        )
    return name


def as_matrix(points_or_vectors: Sequence[np.ndarray] | np.ndarray, dim: int | None, what: str) -> np.ndarray:
    """Stack vectors into a float32 (n, dim) matrix, checking the dimension."""
    matrix = np.asarray(points_or_vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise StoreError(f"{what} must be 1-D vectors, got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise StoreError(
            f"{what} have dimension {matrix.shape[1]} but the collection stores {dim}; "
            "re-create the collection for this model"
        )
    if not np.all(np.isfinite(matrix)):
        raise StoreError(f"{what} contain NaN or infinite values")
    return matrix


def check_point_ids(points: Sequence[VectorPoint]) -> list[int]:
    """Point ids as ints; raise unless every id is a non-negative integer."""
    return [check_product_id(point.id, "point id") for point in points]


def check_product_id(value: object, what: str = "product id") -> int:
    """value as an int if it is a whole number from 0 to 2**63 - 1, else raise StoreError."""
    if not is_whole_number(value) or not 0 <= int(value) <= MAX_PRODUCT_ID:  # type: ignore[call-overload]
        raise StoreError(f"{what} must be a non-negative integer below 2**63, got {value!r}")
    return int(value)  # type: ignore[call-overload]


def check_example_ids(ids: object, what: str) -> list[int]:
    """A list of product ids given as examples (recommend), or StoreError."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise StoreError(f"{what} must be a list of product ids, got {ids!r}")
    return [check_product_id(i, f"{what} entry") for i in ids]


@lru_cache(maxsize=1)
def _bm25() -> Any:
    from qdrant_edge import Bm25

    return Bm25()


def bm25_document(text: str | None) -> tuple[list[int], list[float]] | None:
    """BM25 document encoding (indices, values) of a display name; None if it has no tokens."""
    if not text:
        return None
    sparse = _bm25().embed_document(text)
    return (list(sparse.indices), list(sparse.values)) if sparse.indices else None


def bm25_query(text: str | None) -> tuple[list[int], list[float]] | None:
    """BM25 query encoding (each unique token weight 1); None if it has no tokens."""
    if not text or not text.strip():
        return None
    sparse = _bm25().embed_query(check_text(text, "keyword query"))
    return (list(sparse.indices), list(sparse.values)) if sparse.indices else None


def check_top_k(top_k: int, offset: int = 0, score_threshold: float | None = None) -> None:
    """Raise StoreError unless top_k is a whole number in 1..MAX_TOP_K, offset in 0..MAX_OFFSET
    and score_threshold a finite number or None."""
    if not is_whole_number(top_k) or not 1 <= top_k <= MAX_TOP_K:
        raise StoreError(f"top_k must be a whole number from 1 to {MAX_TOP_K:,}, got {top_k!r}")
    if not is_whole_number(offset) or not 0 <= offset <= MAX_OFFSET:
        raise StoreError(f"offset must be a whole number from 0 to {MAX_OFFSET:,}, got {offset!r}")
    if score_threshold is not None and (
        isinstance(score_threshold, (bool, np.bool_))
        or not isinstance(score_threshold, (int, float, np.integer, np.floating))
        or not np.isfinite(score_threshold)
    ):
        raise StoreError(f"score_threshold must be a number or None, got {score_threshold!r}")


class VectorStore(ABC):
    """A Qdrant-backed store of product vectors, one collection per catalog."""

    backend: str
    """``"edge"`` (embedded Qdrant Edge) or ``"server"`` (qdrant-client)."""

    @abstractmethod
    def collection_exists(self, name: str) -> bool:
        """Whether a collection of that name exists."""

    @abstractmethod
    def create_collection(self, name: str, dim: int) -> None:
        """Create an empty collection (replacing any of that name): cosine ``image``, BM25 ``name_bm25``."""

    @abstractmethod
    def delete_collection(self, name: str) -> None:
        """Delete a collection and its data; no error if it does not exist."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id; durable once this returns."""

    @abstractmethod
    def delete_points(self, name: str, ids: Iterable[int]) -> None:
        """Delete points by id (ids not stored are ignored); durable once this returns."""

    @abstractmethod
    def all_ids(self, name: str) -> set[int]:
        """Every point id in the collection."""

    @abstractmethod
    def count(self, name: str, filters: Filters | None = None) -> int:
        """Exact number of points matching the filters."""

    @abstractmethod
    def vector_size(self, name: str) -> int | None:
        """Dimension of the collection's ``image`` vector, or None if it does not exist."""

    @abstractmethod
    def search(
        self,
        name: str,
        vector: np.ndarray,
        *,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
        keyword_query: str | None = None,
    ) -> list[ScoredHit]:
        """Nearest products by cosine score (desc); with keyword_query, RRF-fused with BM25 on names.

        score_threshold applies to the cosine score (for hybrid search: to the dense candidates).
        """

    @abstractmethod
    def search_batch(
        self, name: str, vectors: Sequence[np.ndarray] | np.ndarray, *, top_k: int = 10, filters: Filters | None = None
    ) -> list[list[ScoredHit]]:
        """One ``search`` per vector, run as one batch."""

    @abstractmethod
    def recommend(
        self,
        name: str,
        positive_ids: Iterable[int],
        negative_ids: Iterable[int] = (),
        *,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
    ) -> list[ScoredHit]:
        """Products like the positives (average-vector strategy), never the example ids themselves."""

    @abstractmethod
    def facet_counts(self, name: str, field: str, filters: Filters | None = None) -> dict[str | int, int]:
        """Exact count of points per value of a filterable field, among points matching filters."""

    @abstractmethod
    def retrieve_vectors(self, name: str, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Stored (unit-normalized) ``image`` vectors of the ids that exist."""

    def recommend_examples(
        self, name: str, positive_ids: Iterable[int], negative_ids: Iterable[int]
    ) -> tuple[list[int], list[int], dict[int, np.ndarray]]:
        """Validated example ids for ``recommend`` and their stored vectors (one error for unknown ids)."""
        positives = check_example_ids(positive_ids, "positive_ids")
        negatives = check_example_ids(negative_ids, "negative_ids")
        if not positives:
            raise StoreError("recommend needs at least one positive product id")
        vectors = self.retrieve_vectors(name, positives + negatives)
        missing = list(dict.fromkeys(i for i in positives + negatives if i not in vectors))
        if missing:
            raise StoreError(
                f"product ids not in collection {name!r}: {listed_ids(missing)}; pick ids from search results"
            )
        return positives, negatives, vectors

    @abstractmethod
    def close(self) -> None:
        """Release files, locks and connections; idempotent."""

    def __enter__(self) -> "VectorStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
