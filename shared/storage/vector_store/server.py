"""Vector store on a Qdrant server through qdrant-client (also its in-process local mode).

``ServerStore.connect(url)`` talks to a running server (``docker compose up qdrant``);
``ServerStore.in_memory()`` runs the same client code against qdrant-client's local mode, which tests and benchmarks use. Hybrid search,
facets and batches all use the server's own query API (local mode supports each of
them, so there is no fallback path).

This is a driver: :class:`~shared.storage.vector_store.base.VectorStore` validates, encodes and
chunks; the methods here translate its validated calls into qdrant-client requests.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from qdrant_client import QdrantClient, models

from shared.storage.vector_store.base import VectorStore
from shared.storage.vector_store.bm25 import SparseVector
from shared.storage.vector_store.errors import StoreError, StoreUnavailableError
from shared.storage.vector_store.filters import Condition, FilterDialect, IndexKind, translate_filter
from shared.storage.vector_store.points import (
    DENSE_VECTOR,
    RRF_K,
    SPARSE_VECTOR,
    TEXT_VECTOR,
    QueryLeg,
    ScoredHit,
    StoredPoint,
    StoreQuery,
    scored_hits,
)
from shared.storage.vector_store.probe import probe_server, unreachable_message
from shared.storage.vector_store.server_layout import create_arguments, create_request, finish_bulk_load_request, search_params

FACET_LIMIT = 100_000
MEMORY_LOCATION = ":memory:"
_INDEX_SCHEMA = {"integer": models.PayloadSchemaType.INTEGER, "keyword": models.PayloadSchemaType.KEYWORD}


_FILTERS = FilterDialect(
    match_value=lambda key, value: models.FieldCondition(key=key, match=models.MatchValue(value=value)),
    match_any=lambda key, values: models.FieldCondition(key=key, match=models.MatchAny(any=values)),
    in_range=lambda key, low, high: models.FieldCondition(key=key, range=models.Range(gte=low, lte=high)),
    has_ids=lambda ids: models.HasIdCondition(has_id=ids),
    combine=lambda must, must_not: models.Filter(must=must, must_not=must_not),
)


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector[0], values=vector[1])


def _query_vector(leg: QueryLeg) -> Any:
    return leg.vector if leg.dense else _sparse(leg.vector)  # type: ignore[arg-type]


def _request(query: StoreQuery, params: models.SearchParams | None) -> models.QueryRequest:
    """One leg: a nearest query; several: a prefetch per leg, fused by (weighted) RRF. Dense legs get ``params``."""
    query_filter = translate_filter(_FILTERS, query.conditions, query.exclude_ids)
    if len(query.legs) == 1:
        leg = query.legs[0]
        return models.QueryRequest(query=_query_vector(leg), using=leg.using, filter=query_filter, limit=query.top_k,
                                   offset=query.offset, score_threshold=query.score_threshold if leg.dense else None,
                                   params=params if leg.dense else None, with_payload=True)
    prefetch = [
        models.Prefetch(query=_query_vector(leg), using=leg.using, filter=query_filter, limit=query.depth,
                        params=params if leg.dense else None,
                        score_threshold=query.score_threshold if leg.dense else None)
        for leg in query.legs
    ]
    fusion = models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=query.weights))
    return models.QueryRequest(prefetch=prefetch, query=fusion, filter=query_filter, limit=query.top_k,
                               offset=query.offset, with_payload=True)


class ServerStore(VectorStore):
    """Vector store on a Qdrant server, or on qdrant-client's local mode."""

    backend = "server"
    upsert_chunk = 512

    def __init__(self, client: QdrantClient, location: str) -> None:
        super().__init__()
        self.client = client
        self.location = location
        self.where = f"on {location}"

    @property
    def _params(self) -> models.SearchParams | None:
        """Search params of the layout; none for local mode, which searches exactly and warns that it ignores them."""
        return None if self.location == MEMORY_LOCATION else search_params(self.collection_config)

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
        return cls(QdrantClient(MEMORY_LOCATION), MEMORY_LOCATION)

    def close(self) -> None:
        self.client.close()

    # -- collections -------------------------------------------------------------------
    def _exists(self, name: str) -> bool:
        return bool(self.client.collection_exists(name))

    def _stored_size(self, name: str) -> int | None:
        if not self._exists(name):
            return None
        vectors = self.client.get_collection(name).config.params.vectors
        if isinstance(vectors, dict) and DENSE_VECTOR in vectors:
            return int(vectors[DENSE_VECTOR].size)
        return None

    def _vector_names(self, name: str) -> set[str]:
        if not self._exists(name):
            return set()
        params = self.client.get_collection(name).config.params
        dense = params.vectors if isinstance(params.vectors, dict) else {}
        return set(dense) | set(params.sparse_vectors or {})

    def _create(self, name: str, dim: int, indexes: dict[str, IndexKind]) -> None:
        self._drop(name)
        self.client.create_collection(name, **create_arguments(create_request(dim, self.collection_config)))
        with warnings.catch_warnings():  # local mode warns that payload indexes are no-ops there
            warnings.simplefilter("ignore", UserWarning)
            for field, kind in indexes.items():
                self.client.create_payload_index(name, field, _INDEX_SCHEMA[kind], wait=True)

    def _drop(self, name: str) -> None:
        if self._exists(name):
            self.client.delete_collection(name)

    def _finish_bulk_load(self, name: str) -> None:
        stored_m = self.client.get_collection(name).config.hnsw_config.m
        request = finish_bulk_load_request(self.collection_config, stored_m)
        if request is not None:
            self.client.update_collection(name, hnsw_config=request.hnsw_config)

    # -- writes ------------------------------------------------------------------------
    def _upsert_points(self, name: str, points: list[StoredPoint]) -> None:
        batch: list[models.PointStruct] = []
        for point in points:
            vector: dict[str, Any] = {DENSE_VECTOR: point.image}
            if point.text is not None:
                vector[TEXT_VECTOR] = point.text
            if point.keywords is not None:
                vector[SPARSE_VECTOR] = _sparse(point.keywords)
            batch.append(models.PointStruct(id=point.id, vector=vector, payload=point.payload))
        self.client.upsert(name, batch, wait=True)

    def _delete_ids(self, name: str, ids: list[int]) -> None:
        self.client.delete(name, models.PointIdsList(points=ids), wait=True)

    # -- reads -------------------------------------------------------------------------
    def _scroll_ids(self, name: str, offset: Any, limit: int) -> tuple[list[int], Any]:
        records, offset = self.client.scroll(name, limit=limit, offset=offset, with_payload=False, with_vectors=False)
        return [int(r.id) for r in records], offset

    def _count(self, name: str, conditions: list[Condition]) -> int:
        return int(self.client.count(name, count_filter=translate_filter(_FILTERS, conditions), exact=True).count)

    def _facet(self, name: str, field: str, conditions: list[Condition]) -> Iterable[Any]:
        filters = translate_filter(_FILTERS, conditions)
        return self.client.facet(name, field, facet_filter=filters, limit=FACET_LIMIT, exact=True).hits

    def _query(self, name: str, query: StoreQuery) -> list[ScoredHit]:
        return self._query_batch(name, [query])[0]

    def _query_batch(self, name: str, queries: list[StoreQuery]) -> list[list[ScoredHit]]:
        return [scored_hits(r.points) for r in self.client.query_batch_points(name, [_request(q, self._params) for q in queries])]

    def _retrieve(self, name: str, ids: list[int], using: str) -> Iterable[Any]:
        return self.client.retrieve(name, ids, with_payload=False, with_vectors=[using])
