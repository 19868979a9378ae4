"""Vector store on a Qdrant server through qdrant-client (also its in-process local mode).

``ServerStore.connect(url)`` talks to a running server (``docker compose up qdrant``);
``ServerStore.in_memory()`` and ``ServerStore.local(path)`` run the same client code
against qdrant-client's local mode, which tests and benchmarks use. Hybrid search,
recommend, facets and batches all use the server's own query API (local mode supports
each of them, so there is no fallback path).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from shared.vector_store.base import (
    DENSE_VECTOR,
    FILTER_FIELDS,
    HYBRID_PREFETCH_MIN,
    RRF_K,
    SPARSE_VECTOR,
    YEAR_FIELD,
    Condition,
    Filters,
    ScoredHit,
    StoreError,
    StoreUnavailableError,
    VectorPoint,
    VectorStore,
    as_matrix,
    bm25_document,
    bm25_query,
    check_collection_name,
    check_filter_field,
    check_point_ids,
    check_top_k,
    normalize_filters,
)
from shared.vector_store.probe import probe_server, unreachable_message

UPSERT_CHUNK = 512
SCROLL_PAGE = 10_000
FACET_LIMIT = 100_000


def _server_filter(conditions: list[Condition], exclude_ids: Iterable[int] = ()) -> models.Filter | None:
    must: list[Any] = []
    for c in conditions:
        if c.values is not None:
            match: Any = models.MatchValue(value=c.values[0]) if len(c.values) == 1 else models.MatchAny(any=list(c.values))
            must.append(models.FieldCondition(key=c.field, match=match))
        else:
            must.append(models.FieldCondition(key=c.field, range=models.Range(gte=c.minimum, lte=c.maximum)))
    excluded = sorted(set(exclude_ids))
    must_not: list[Any] | None = [models.HasIdCondition(has_id=excluded)] if excluded else None
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not)


def _hits(points: Sequence[models.ScoredPoint]) -> list[ScoredHit]:
    return [ScoredHit(int(p.id), float(p.score), dict(p.payload or {})) for p in points]


class ServerStore(VectorStore):
    """Vector store on a Qdrant server, or on qdrant-client's local mode."""

    backend = "server"

    def __init__(self, client: QdrantClient, location: str) -> None:
        self.client = client
        self.location = location
        self._dims: dict[str, int] = {}
        """Vector size of collections seen to exist (saves a round trip per query)."""

    def __repr__(self) -> str:
        return f"ServerStore({self.location!r})"

    @classmethod
    def connect(cls, url: str, api_key: str | None = None, *, timeout: float = 10.0) -> "ServerStore":
        """A store on the server at url; StoreUnavailableError if it does not answer."""
        problem = probe_server(url, api_key, timeout=min(timeout, 3.0))
        if problem is not None:
            raise StoreUnavailableError(unreachable_message(url, problem))
        client = QdrantClient(url=url, api_key=api_key, timeout=int(max(1, timeout)))
        try:
            client.get_collections()
        except Exception as exc:  # e.g. a wrong API key; qdrant-client wraps errors variously
            client.close()
            cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(f"Qdrant server at {url} refused the request ({cause}); check QDRANT_API_KEY") from None
        return cls(client, url)

    @classmethod
    def in_memory(cls) -> "ServerStore":
        """A throw-away store in qdrant-client's in-memory local mode (tests)."""
        return cls(QdrantClient(":memory:"), ":memory:")

    @classmethod
    def local(cls, path: Path | str) -> "ServerStore":
        """A store in qdrant-client's on-disk local mode (benchmarks; not for production)."""
        return cls(QdrantClient(path=str(path)), str(path))

    # -- collections -------------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return bool(self.client.collection_exists(check_collection_name(name)))

    def create_collection(self, name: str, dim: int) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise StoreError(f"vector dimension must be a positive integer, got {dim!r}")
        self.delete_collection(name)
        self.client.create_collection(
            name,
            vectors_config={DENSE_VECTOR: models.VectorParams(size=int(dim), distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # local mode warns that payload indexes are no-ops there
            warnings.simplefilter("ignore", UserWarning)
            for field in FILTER_FIELDS:
                schema = models.PayloadSchemaType.INTEGER if field == YEAR_FIELD else models.PayloadSchemaType.KEYWORD
                self.client.create_payload_index(name, field, schema, wait=True)

    def delete_collection(self, name: str) -> None:
        self._dims.pop(name, None)
        if self.collection_exists(name):
            self.client.delete_collection(name)

    def _require(self, name: str) -> None:
        self._dim(name)

    def close(self) -> None:
        self.client.close()

    # -- writes ------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        ids = check_point_ids(points)
        rows = as_matrix([p.vector for p in points], self._dim(name), "upserted vectors").tolist()
        for start in range(0, len(points), UPSERT_CHUNK):
            batch: list[models.PointStruct] = []
            for i in range(start, min(start + UPSERT_CHUNK, len(points))):
                vector: dict[str, Any] = {DENSE_VECTOR: rows[i]}
                sparse = bm25_document(points[i].text)
                if sparse is not None:
                    vector[SPARSE_VECTOR] = models.SparseVector(indices=sparse[0], values=sparse[1])
                batch.append(models.PointStruct(id=ids[i], vector=vector, payload=dict(points[i].payload)))
            self.client.upsert(name, batch, wait=True)

    def delete_points(self, name: str, ids: Iterable[int]) -> None:
        unique = sorted({int(i) for i in ids})
        if not unique:
            return
        self._require(name)
        for start in range(0, len(unique), UPSERT_CHUNK):
            self.client.delete(name, models.PointIdsList(points=unique[start : start + UPSERT_CHUNK]), wait=True)

    # -- reads -------------------------------------------------------------------------
    def all_ids(self, name: str) -> set[int]:
        self._require(name)
        ids: set[int] = set()
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                name, limit=SCROLL_PAGE, offset=offset, with_payload=False, with_vectors=False
            )
            ids.update(int(r.id) for r in records)
            if offset is None or not records:
                return ids

    def count(self, name: str, filters: Filters | None = None) -> int:
        query_filter = _server_filter(normalize_filters(filters))
        self._require(name)
        return int(self.client.count(name, count_filter=query_filter, exact=True).count)

    def vector_size(self, name: str) -> int | None:
        if not self.collection_exists(name):
            return None
        vectors = self.client.get_collection(name).config.params.vectors
        if isinstance(vectors, dict) and DENSE_VECTOR in vectors:
            return int(vectors[DENSE_VECTOR].size)
        return None

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
        check_top_k(top_k, offset, score_threshold)
        query_filter = _server_filter(normalize_filters(filters))
        query = as_matrix(vector, self._dim(name), "query vector")[0].tolist()
        sparse = bm25_query(keyword_query)
        if sparse is None:
            response = self.client.query_points(
                name, query=query, using=DENSE_VECTOR, query_filter=query_filter, limit=top_k,
                offset=offset, score_threshold=score_threshold, with_payload=True,
            )
            return _hits(response.points)
        depth = max(HYBRID_PREFETCH_MIN, top_k + offset)
        prefetch = [
            models.Prefetch(query=query, using=DENSE_VECTOR, filter=query_filter, limit=depth,
                            score_threshold=score_threshold),
            models.Prefetch(query=models.SparseVector(indices=sparse[0], values=sparse[1]), using=SPARSE_VECTOR,
                            filter=query_filter, limit=depth),
        ]
        response = self.client.query_points(
            name, prefetch=prefetch, query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)), query_filter=query_filter,
            limit=top_k, offset=offset, with_payload=True,
        )
        return _hits(response.points)

    def _dim(self, name: str) -> int:
        """The collection's vector size, cached; raise StoreError if it does not exist."""
        if name not in self._dims:
            dim = self.vector_size(name)
            if dim is None:
                raise StoreError(f"collection {name!r} does not exist on {self.location}; run ingest to create it")
            self._dims[name] = dim
        return self._dims[name]

    def search_batch(
        self, name: str, vectors: Sequence[np.ndarray] | np.ndarray, *, top_k: int = 10, filters: Filters | None = None
    ) -> list[list[ScoredHit]]:
        check_top_k(top_k)
        query_filter = _server_filter(normalize_filters(filters))
        matrix = as_matrix(vectors, self._dim(name), "query vectors")
        requests = [
            models.QueryRequest(query=row, using=DENSE_VECTOR, filter=query_filter, limit=top_k, with_payload=True)
            for row in matrix.tolist()
        ]
        return [_hits(r.points) for r in self.client.query_batch_points(name, requests)]

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
        check_top_k(top_k, offset)
        positives, negatives, _ = self.recommend_examples(name, positive_ids, negative_ids)
        query_filter = _server_filter(normalize_filters(filters))
        recommend = models.RecommendInput(
            positive=positives, negative=negatives or None, strategy=models.RecommendStrategy.AVERAGE_VECTOR
        )
        response = self.client.query_points(
            name, query=models.RecommendQuery(recommend=recommend), using=DENSE_VECTOR, query_filter=query_filter,
            limit=top_k, offset=offset, with_payload=True,
        )
        return _hits(response.points)

    def facet_counts(self, name: str, field: str, filters: Filters | None = None) -> dict[str | int, int]:
        check_filter_field(field)
        query_filter = _server_filter(normalize_filters(filters))
        self._require(name)
        response = self.client.facet(name, field, facet_filter=query_filter, limit=FACET_LIMIT, exact=True)
        return {hit.value: int(hit.count) for hit in response.hits}

    def retrieve_vectors(self, name: str, ids: Iterable[int]) -> dict[int, np.ndarray]:
        wanted = [int(i) for i in ids]
        if not wanted:
            return {}
        self._require(name)
        records = self.client.retrieve(name, wanted, with_payload=False, with_vectors=[DENSE_VECTOR])
        result: dict[int, np.ndarray] = {}
        for record in records:
            vector = record.vector.get(DENSE_VECTOR) if isinstance(record.vector, dict) else record.vector
            if vector is not None:
                result[int(record.id)] = np.asarray(vector, dtype=np.float32)
        return result
