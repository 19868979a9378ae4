"""The vector-store front: one public ``VectorStore`` over thin backend drivers.

Both backends (embedded Qdrant Edge and a Qdrant server through qdrant-client) store
one collection per catalog with two dense cosine vectors, ``image`` (the product photo's
embedding) and ``text`` (its name and attributes embedded by the text tower), and a sparse
vector ``name_bm25`` (BM25 of that same text, encoded here so both backends tokenize alike).
A query is one or more legs (:class:`SearchLeg`) fused by weighted reciprocal rank, which both
backends run as Qdrant Query API prefetches plus RRF fusion. As qdrant-client's ``QdrantClient`` sits over its local
and remote clients, the public methods here validate arguments, cache each collection's
vector size, BM25-encode and chunk once; a backend implements only the ``_``-prefixed
translation calls, which receive validated values and map them to its client's requests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from shared.storage.vector_store.bm25 import bm25_document, bm25_query
from shared.storage.vector_store.checks import (
    as_matrix,
    check_collection_name,
    check_dimension,
    check_example_ids,
    check_product_id,
    check_top_k,
    listed_ids,
)
from shared.storage.vector_store.collection_config import DEFAULT_CONFIG, CollectionConfig
from shared.storage.vector_store.errors import MissingVectorsError, StoreError
from shared.storage.vector_store.filters import (
    FILTER_FIELDS,
    Condition,
    Filters,
    IndexKind,
    check_filter_field,
    index_kind,
    normalize_filters,
)
from shared.storage.vector_store.points import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    TEXT_VECTOR,
    VECTOR_NAMES,
    QueryLeg,
    ScoredHit,
    SearchLeg,
    StoredPoint,
    StoreQuery,
    VectorPoint,
)

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
        self._names: dict[str, set[str]] = {}
        """Stored vector names of collections seen to exist."""
        self.collection_config: CollectionConfig = DEFAULT_CONFIG
        """Layout of collections this store creates, and how it searches them (``configure``)."""

    def configure(self, config: CollectionConfig) -> None:
        """Create and search collections with this layout; StoreError for options this backend cannot honour."""
        config.check_backend(self.backend)
        self.collection_config = config

    def finish_bulk_load(self, name: str) -> None:
        """After loading points: build the index a deferred bulk load held back (HNSW ``m`` restored),
        and on the embedded store optimize its segments (it has no background optimizer)."""
        self._check_writable()
        if self.collection_exists(name):
            self._finish_bulk_load(name)

    # -- collections -------------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        """Whether a collection of that name exists."""
        return self._exists(check_collection_name(name))

    def vector_size(self, name: str) -> int | None:
        """Dimension of the collection's ``image`` vector, or None if it does not exist."""
        return self._stored_size(check_collection_name(name))

    def vector_names(self, name: str) -> set[str]:
        """Names of the collection's stored vectors (dense and sparse); empty if it does not exist."""
        check_collection_name(name)
        if name not in self._names:
            names = self._vector_names(name)
            if not names:
                return set()
            self._names[name] = names
        return self._names[name]

    def has_text_vectors(self, name: str) -> bool:
        """Whether the collection stores ``text`` vectors (collections made before them do not)."""
        return TEXT_VECTOR in self.vector_names(name)

    def create_collection(self, name: str, dim: int) -> None:
        """Create an empty collection (replacing any of that name): cosine ``image`` and ``text``, BM25 ``name_bm25``."""
        size = check_dimension(dim)
        self._check_writable()
        self._forget_collection(check_collection_name(name))
        self._create(name, size, {f: index_kind(f) for f in FILTER_FIELDS})

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its data; no error if it does not exist."""
        self._check_writable()
        self._forget_collection(check_collection_name(name))
        self._drop(name)

    def _forget_collection(self, name: str) -> None:
        self._dims.pop(name, None)
        self._names.pop(name, None)

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
        dim = self._dim(name)
        ids = [check_product_id(point.id, "point id") for point in points]
        rows = as_matrix([p.vector for p in points], dim, "upserted vectors").tolist()
        text_rows = self._text_rows(name, points, dim)
        stored = [
            StoredPoint(point_id, row, text_row, bm25_document(point.text), dict(point.payload))
            for point_id, row, text_row, point in zip(ids, rows, text_rows, points)
        ]
        for start in range(0, len(stored), self.upsert_chunk):
            self._upsert_points(name, stored[start : start + self.upsert_chunk])

    def _text_rows(self, name: str, points: Sequence[VectorPoint], dim: int) -> list[list[float] | None]:
        """Each point's validated ``text`` row (None where it has none)."""
        given = [i for i, p in enumerate(points) if p.text_vector is not None]
        rows: list[list[float] | None] = [None] * len(points)
        if not given:
            return rows
        if not self.has_text_vectors(name):
            raise StoreError(f"collection {name!r} {self.where} has no text vectors (made before they existed); recreate it")
        matrix = as_matrix([points[i].text_vector for i in given], dim, "upserted text vectors").tolist()
        for i, row in zip(given, matrix):
            rows[i] = row
        return rows

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
        """Nearest products by cosine score against the ``image`` vectors (desc); with keyword_query,
        RRF-fused with BM25. score_threshold applies to the cosine score."""
        legs = [SearchLeg("image", vector)] + ([SearchLeg("keywords", keyword_query)] if keyword_query else [])
        return self.query(name, legs, top_k=top_k, filters=filters, offset=offset, score_threshold=score_threshold)

    def search_batch(
        self, name: str, vectors: Sequence[np.ndarray] | np.ndarray, *, top_k: int = 10, filters: Filters | None = None
    ) -> list[list[ScoredHit]]:
        """One ``search`` per vector, run as one batch."""
        check_top_k(top_k)
        conditions = tuple(normalize_filters(filters))
        matrix = as_matrix(vectors, self._dim(name), "query vectors")
        queries = [StoreQuery((QueryLeg(DENSE_VECTOR, row),), top_k, conditions) for row in matrix.tolist()]
        return self._query_batch(name, queries)

    def query(
        self,
        name: str,
        legs: Sequence[SearchLeg],
        *,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
    ) -> list[ScoredHit]:
        """Products ranked by one leg, or by several fused with weighted RRF (Qdrant prefetch + fusion).

        Legs with weight 0 and keyword legs without a single token are left out; with no leg left, no hits.
        score_threshold applies to the dense legs' cosine scores.
        """
        query = self._store_query(name, legs, top_k, filters, offset, score_threshold)
        return self._query(name, query) if query.legs else []

    def query_batch(
        self, name: str, requests: Sequence[tuple[Sequence[SearchLeg], Filters | None]], *, top_k: int = 10
    ) -> list[list[ScoredHit]]:
        """Several ``query`` calls (legs and filters each) run as one batch."""
        queries = [self._store_query(name, legs, top_k, filters, 0, None) for legs, filters in requests]
        runnable = [q for q in queries if q.legs]
        results = iter(self._query_batch(name, runnable) if runnable else [])
        return [next(results) if q.legs else [] for q in queries]

    def _store_query(
        self, name: str, legs: Sequence[SearchLeg], top_k: int, filters: Filters | None, offset: int,
        score_threshold: float | None, exclude_ids: tuple[int, ...] = (),
    ) -> StoreQuery:
        check_top_k(top_k, offset, score_threshold)
        conditions = tuple(normalize_filters(filters))
        checked = [leg for leg in (self._query_leg(name, leg) for leg in legs) if leg is not None]
        return StoreQuery(tuple(checked), top_k, conditions, offset, score_threshold, exclude_ids)

    def _query_leg(self, name: str, leg: SearchLeg) -> QueryLeg | None:
        """A driver leg: the stored vector name and the validated query (None: leave the leg out)."""
        if not isinstance(leg, SearchLeg) or leg.using not in VECTOR_NAMES:
            using = getattr(leg, "using", type(leg).__name__)
            raise StoreError(f"query leg {using!r} must be a SearchLeg using one of {', '.join(VECTOR_NAMES)}")
        weight = leg.weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise StoreError(f"query leg weight {weight!r} must be a number of 0 or more")
        if weight == 0:
            return None
        using = VECTOR_NAMES[leg.using]
        if using == SPARSE_VECTOR:
            keywords = bm25_query(leg.query) if isinstance(leg.query, str) else None
            if keywords is None and not isinstance(leg.query, str):
                raise StoreError(f"a keywords leg takes text, got {type(leg.query).__name__}")
            return QueryLeg(using, keywords, float(weight)) if keywords is not None else None
        if using == TEXT_VECTOR and not self.has_text_vectors(name):
            raise MissingVectorsError(name, self.where)
        row = as_matrix(leg.query, self._dim(name), f"{leg.using} query vector")[0].tolist()
        return QueryLeg(using, row, float(weight))

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
        leg = QueryLeg(DENSE_VECTOR, query.tolist())
        return self._query(name, StoreQuery((leg,), top_k, conditions, offset, exclude_ids=excluded))

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

    def retrieve_vectors(self, name: str, ids: Iterable[int], using: str = "image") -> dict[int, np.ndarray]:
        """Stored (unit-normalized) ``image`` (or ``text``) vectors of the ids that have one."""
        wanted = [int(i) for i in ids]
        if not wanted:
            return {}
        self._dim(name)
        stored = VECTOR_NAMES.get(using)
        if stored is None or stored == SPARSE_VECTOR:
            raise StoreError(f"retrieve_vectors using={using!r}: give 'image' or 'text'")
        result: dict[int, np.ndarray] = {}
        for record in self._retrieve(name, wanted, stored):
            vector = record.vector.get(stored) if isinstance(record.vector, dict) else record.vector
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
    def _vector_names(self, name: str) -> set[str]:
        """Names of the stored vectors (dense and sparse); empty if the collection does not exist."""

    @abstractmethod
    def _create(self, name: str, dim: int, indexes: dict[str, IndexKind]) -> None:
        """Create the collection empty (replacing one of that name) with these payload indexes."""

    @abstractmethod
    def _drop(self, name: str) -> None:
        """Delete the collection if it exists."""

    @abstractmethod
    def _finish_bulk_load(self, name: str) -> None:
        """Build what ``collection_config`` deferred while loading (see ``finish_bulk_load``)."""

    @abstractmethod
    def _upsert_points(self, name: str, points: list[StoredPoint]) -> None:
        """Write one chunk of validated points."""

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
    def _query(self, name: str, query: StoreQuery) -> list[ScoredHit]:
        """Run one query (fused when it has several legs)."""

    @abstractmethod
    def _query_batch(self, name: str, queries: list[StoreQuery]) -> list[list[ScoredHit]]:
        """Run several queries as one batch."""

    @abstractmethod
    def _retrieve(self, name: str, ids: list[int], using: str) -> Iterable[Any]:
        """Records (``id``, ``vector``: a list or a dict by vector name) of the ids that exist, with that vector."""
