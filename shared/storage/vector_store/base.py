"""The vector-store front: one public ``VectorStore`` over thin backend drivers.

Both backends (embedded Qdrant Edge and a Qdrant server through qdrant-client) store
one collection per catalog with a dense cosine vector ``image`` (the product's image
embedding) and a sparse vector ``name_bm25`` (its display name, BM25-encoded here so
both backends tokenize alike). As qdrant-client's ``QdrantClient`` sits over its local
and remote clients, the public methods here validate arguments, cache each collection's
vector size, BM25-encode and chunk once; a backend implements only the ``_``-prefixed
translation calls, which receive validated values and map them to its client's requests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from shared.storage.vector_store.bm25 import SparseVector, bm25_document, bm25_query
from shared.storage.vector_store.checks import (
    as_matrix,
    check_collection_name,
    check_dimension,
    check_example_ids,
    check_product_id,
    check_top_k,
    listed_ids,
)
from shared.storage.vector_store.errors import StoreError
from shared.storage.vector_store.filters import (
    FILTER_FIELDS,
    Condition,
    Filters,
    IndexKind,
    check_filter_field,
    index_kind,
    normalize_filters,
)
from shared.storage.vector_store.points import DENSE_VECTOR, DenseQuery, ScoredHit, VectorPoint

SCROLL_PAGE = 10_000
"""Point ids read per scroll request (``all_ids``)."""


class VectorStore(ABC):
    """A Qdrant-backed store of product vectors, one collection per catalog."""

    backend: str
    """``"edge"`` (embedded Qdrant Edge) or ``"server"`` (qdrant-client)."""
    upsert_chunk: int
    """Points (or ids) sent per write request."""
    where: str
    """Where the collections live, for messages: "in <folder>" or "on <url>"."""

    def __init__(self) -> None:
        self._dims: dict[str, int] = {}
        """Vector size of collections seen to exist (saves a round trip per query)."""

    # -- collections -------------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        """Whether a collection of that name exists."""
        return self._exists(check_collection_name(name))

    def vector_size(self, name: str) -> int | None:
        """Dimension of the collection's ``image`` vector, or None if it does not exist."""
        return self._stored_size(check_collection_name(name))

    def create_collection(self, name: str, dim: int) -> None:
        """Create an empty collection (replacing any of that name): cosine ``image``, BM25 ``name_bm25``."""
        size = check_dimension(dim)
        self._check_writable()
        self._dims.pop(check_collection_name(name), None)
        self._create(name, size, {f: index_kind(f) for f in FILTER_FIELDS})

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its data; no error if it does not exist."""
        self._check_writable()
        self._dims.pop(check_collection_name(name), None)
        self._drop(name)

    def _dim(self, name: str) -> int:
        """The collection's vector size, cached; raise StoreError if it does not exist."""
        if name not in self._dims:
            dim = self.vector_size(name)
            if dim is None:
                raise StoreError(f"collection {name!r} does not exist {self.where}; run ingest to create it")
            self._dims[name] = dim
        return self._dims[name]

    # -- writes ------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id; durable once this returns."""
        self._check_writable()
        if not points:
            return
        ids = [check_product_id(point.id, "point id") for point in points]
        rows = as_matrix([p.vector for p in points], self._dim(name), "upserted vectors").tolist()
        for start in range(0, len(points), self.upsert_chunk):
            chunk = points[start : start + self.upsert_chunk]
            self._upsert_points(
                name,
                ids[start : start + self.upsert_chunk],
                rows[start : start + self.upsert_chunk],
                [bm25_document(p.text) for p in chunk],
                [dict(p.payload) for p in chunk],
            )

    def delete_points(self, name: str, ids: Iterable[int]) -> None:
        """Delete points by id (ids not stored are ignored); durable once this returns."""
        unique = sorted({int(i) for i in ids})
        if not unique:
            return
        self._check_writable()
        self._dim(name)
        for start in range(0, len(unique), self.upsert_chunk):
            self._delete_ids(name, unique[start : start + self.upsert_chunk])

    # -- reads -------------------------------------------------------------------------
    def all_ids(self, name: str) -> set[int]:
        """Every point id in the collection."""
        self._dim(name)
        ids: set[int] = set()
        offset: Any = None
        while True:
            page, offset = self._scroll_ids(name, offset, SCROLL_PAGE)
            ids.update(page)
            if offset is None or not page:
                return ids

    def count(self, name: str, filters: Filters | None = None) -> int:
        """Exact number of points matching the filters."""
        conditions = normalize_filters(filters)
        self._dim(name)
        return self._count(name, conditions)

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
        check_top_k(top_k, offset, score_threshold)
        conditions = tuple(normalize_filters(filters))
        query = as_matrix(vector, self._dim(name), "query vector")[0].tolist()
        keywords = bm25_query(keyword_query)
        return self._query(name, DenseQuery(query, top_k, conditions, offset, score_threshold, keywords=keywords))

    def search_batch(
        self, name: str, vectors: Sequence[np.ndarray] | np.ndarray, *, top_k: int = 10, filters: Filters | None = None
    ) -> list[list[ScoredHit]]:
        """One ``search`` per vector, run as one batch."""
        check_top_k(top_k)
        conditions = tuple(normalize_filters(filters))
        matrix = as_matrix(vectors, self._dim(name), "query vectors")
        return self._query_batch(name, [DenseQuery(row, top_k, conditions) for row in matrix.tolist()])

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
        check_top_k(top_k, offset)
        positives, negatives, vectors = self.recommend_examples(name, positive_ids, negative_ids)
        # Qdrant's "average_vector" strategy: avg(pos) + (avg(pos) - avg(neg)).
        query = np.mean([vectors[i] for i in positives], axis=0)
        if negatives:
            query = 2 * query - np.mean([vectors[i] for i in negatives], axis=0)
        conditions = tuple(normalize_filters(filters))
        excluded = tuple(dict.fromkeys(positives + negatives))
        return self._query(name, DenseQuery(query.tolist(), top_k, conditions, offset, exclude_ids=excluded))

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

    def facet_counts(self, name: str, field: str, filters: Filters | None = None) -> dict[str | int, int]:
        """Exact count of points per value of a filterable field, among points matching filters."""
        check_filter_field(field)
        conditions = normalize_filters(filters)
        self._dim(name)
        return {hit.value: int(hit.count) for hit in self._facet(name, field, conditions)}

    def retrieve_vectors(self, name: str, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Stored (unit-normalized) ``image`` vectors of the ids that exist."""
        wanted = [int(i) for i in ids]
        if not wanted:
            return {}
        self._dim(name)
        result: dict[int, np.ndarray] = {}
        for record in self._retrieve(name, wanted):
            vector = record.vector.get(DENSE_VECTOR) if isinstance(record.vector, dict) else record.vector
            if vector is not None:
                result[int(record.id)] = np.asarray(vector, dtype=np.float32)
        return result

    @abstractmethod
    def close(self) -> None:
        """Release files, locks and connections; idempotent."""

    def __enter__(self) -> "VectorStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- driver calls: validated inputs in, client requests out ---------------------------
    def _check_writable(self) -> None:
        """Raise StoreError if this store refuses writes (the embedded store opened read-only)."""

    @abstractmethod
    def _exists(self, name: str) -> bool:
        """Whether the (validated) collection name exists."""

    @abstractmethod
    def _stored_size(self, name: str) -> int | None:
        """The stored ``image`` vector size, or None if the collection does not exist."""

    @abstractmethod
    def _create(self, name: str, dim: int, indexes: dict[str, IndexKind]) -> None:
        """Create the collection empty (replacing one of that name) with these payload indexes."""

    @abstractmethod
    def _drop(self, name: str) -> None:
        """Delete the collection if it exists."""

    @abstractmethod
    def _upsert_points(
        self, name: str, ids: list[int], rows: list[list[float]], sparse: list[SparseVector | None],
        payloads: list[dict[str, Any]],
    ) -> None:
        """Write one chunk of points: ids, dense rows, BM25 vectors (None: no tokens), payloads."""

    @abstractmethod
    def _delete_ids(self, name: str, ids: list[int]) -> None:
        """Delete one chunk of ids."""

    @abstractmethod
    def _scroll_ids(self, name: str, offset: Any, limit: int) -> tuple[list[int], Any]:
        """One page of point ids and the next page's offset (None after the last)."""

    @abstractmethod
    def _count(self, name: str, conditions: list[Condition]) -> int:
        """Exact number of points matching the conditions."""

    @abstractmethod
    def _facet(self, name: str, field: str, conditions: list[Condition]) -> Iterable[Any]:
        """Exact facet hits (each with ``value`` and ``count``) of a field under the conditions."""

    @abstractmethod
    def _query(self, name: str, query: DenseQuery) -> list[ScoredHit]:
        """Run one query (hybrid when it has keywords)."""

    @abstractmethod
    def _query_batch(self, name: str, queries: list[DenseQuery]) -> list[list[ScoredHit]]:
        """Run several queries as one batch."""

    @abstractmethod
    def _retrieve(self, name: str, ids: list[int]) -> Iterable[Any]:
        """Records (``id``, ``vector``: a list or a dict by vector name) of the ids that exist."""
