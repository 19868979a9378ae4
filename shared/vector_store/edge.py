"""Embedded vector store: one Qdrant Edge shard folder per collection, no server needed.

Each collection lives in ``<edge_dir>/<name>/`` (Edge's ``edge_config.json`` records the
vector size, so ``vector_size`` works after a reopen). A process holds the
folder lock of ``<name>/`` (``folder_lock``) from the first use of a collection until
``close()``; a second opener gets :class:`StoreLockedError` instead of Edge's bare WAL error.
Durability: Edge appends every update to its write-ahead log before ``update`` returns,
so a process killed (even ``kill -9``) after ``upsert`` returned loses nothing: the WAL
is replayed on reopen. Segments are flushed at most every ``FLUSH_INTERVAL_S`` seconds
and on ``close()`` (a flush per small batch made ingest ~15x slower).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

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
    StoreLockedError,
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
from shared.vector_store.folder_lock import LOCK_FILE, acquire_folder_lock, locked_message, release_folder_lock

CONFIG_FILE = "edge_config.json"
UPSERT_CHUNK = 1024
SCROLL_PAGE = 10_000
FACET_LIMIT = 100_000
FLUSH_INTERVAL_S = 30.0


@dataclass
class _OpenShard:
    shard: qe.EdgeShard | None
    lock_fd: int | None
    flushed_at: float = 0.0


def _edge_filter(conditions: list[Condition], exclude_ids: Iterable[int] = ()) -> qe.Filter | None:
    must: list[Any] = []
    for c in conditions:
        if c.values is not None:
            match = qe.MatchValue(c.values[0]) if len(c.values) == 1 else qe.MatchAny(list(c.values))
            must.append(qe.FieldCondition(c.field, match=match))
        else:
            must.append(qe.FieldCondition(c.field, range=qe.RangeFloat(gte=c.minimum, lte=c.maximum)))
    excluded = set(exclude_ids)
    must_not = [qe.HasIdCondition(excluded)] if excluded else None
    if not must and not must_not:
        return None
    return qe.Filter(must=must or None, must_not=must_not)


def _hits(points: Sequence[Any]) -> list[ScoredHit]:
    return [ScoredHit(int(p.id), float(p.score), dict(p.payload or {})) for p in points]


class EdgeStore(VectorStore):
    """Vector store on embedded Qdrant Edge shards under one folder."""

    backend = "edge"

    def __init__(self, root: Path | str, *, read_only: bool = False) -> None:
        """``read_only``: refuse writes and skip the flush on close (``python -m ingest --status``)."""
        self.root = Path(root)
        self.read_only = read_only
        self._open: dict[str, _OpenShard] = {}
        self._dims: dict[str, int] = {}
        self._guard = threading.RLock()  # one shard load per collection, even from several threads

    def __repr__(self) -> str:
        return f"EdgeStore({str(self.root)!r})"

    def __del__(self) -> None:
        try:  # release locks of a store dropped without close() (e.g. a Streamlit rerun)
            self.close()
        except Exception:
            pass

    # -- shard lifecycle -------------------------------------------------------------
    def _path(self, name: str) -> Path:
        return self.root / check_collection_name(name)

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"embedded store {self.root} was opened read-only; open it without read_only to write")

    def _lock(self, name: str) -> _OpenShard:
        """The open-shard record of a collection, taking its folder lock if not yet held."""
        entry = self._open.get(name)
        if entry is None:
            entry = _OpenShard(shard=None, lock_fd=acquire_folder_lock(self._path(name)))
            self._open[name] = entry
        return entry

    def _shard(self, name: str) -> qe.EdgeShard:
        path = self._path(name)
        entry = self._open.get(name)
        if entry is not None and entry.shard is not None:
            return entry.shard
        with self._guard:
            return self._load(name, path)

    def _load(self, name: str, path: Path) -> qe.EdgeShard:
        entry = self._open.get(name)
        if entry is not None and entry.shard is not None:
            return entry.shard  # another thread loaded it meanwhile
        if not self.collection_exists(name):
            raise StoreError(f"collection {name!r} does not exist in {self.root}; run ingest to create it")
        entry = self._lock(name)
        entry.flushed_at = time.monotonic()
        try:
            entry.shard = qe.EdgeShard.load(str(path))
        except Exception as exc:  # Edge raises a bare Exception
            if "WouldBlock" in str(exc):
                raise StoreLockedError(locked_message(path, None)) from None
            raise StoreError(f"cannot open embedded store {path}: {exc}") from exc
        return entry.shard

    def _forget(self, name: str, *, keep_lock: bool) -> None:
        entry = self._open.get(name)
        if entry is None:
            return
        if entry.shard is not None:
            entry.shard.close()
            entry.shard = None
        if not keep_lock:
            release_folder_lock(entry.lock_fd)
            del self._open[name]

    def collection_exists(self, name: str) -> bool:
        return (self._path(name) / CONFIG_FILE).is_file()

    def create_collection(self, name: str, dim: int) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise StoreError(f"vector dimension must be a positive integer, got {dim!r}")
        self._check_writable()
        path = self._path(name)
        self._lock(name)
        self._forget(name, keep_lock=True)
        self._dims.pop(name, None)
        for child in path.iterdir():
            if child.name != LOCK_FILE:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        config = qe.EdgeConfig(
            vectors={DENSE_VECTOR: qe.EdgeVectorParams(size=int(dim), distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        shard = qe.EdgeShard.create(str(path), config)
        for field in FILTER_FIELDS:
            schema = qe.PayloadSchemaType.Integer if field == YEAR_FIELD else qe.PayloadSchemaType.Keyword
            shard.update(qe.UpdateOperation.create_field_index(field, schema))
        shard.flush()
        self._open[name].shard = shard
        self._open[name].flushed_at = time.monotonic()

    def delete_collection(self, name: str) -> None:
        self._check_writable()
        path = self._path(name)
        if not path.exists():
            return
        self._lock(name)
        self._forget(name, keep_lock=True)
        self._dims.pop(name, None)
        shutil.rmtree(path)
        self._forget(name, keep_lock=False)

    def close(self) -> None:
        for name in list(self._open):
            entry = self._open[name]
            if entry.shard is not None and not self.read_only:
                entry.shard.flush()
            self._forget(name, keep_lock=False)

    # -- writes ------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        self._check_writable()
        if not points:
            return
        shard = self._shard(name)
        ids = check_point_ids(points)
        matrix = as_matrix([p.vector for p in points], self._dim(name), "upserted vectors")
        rows = matrix.tolist()
        for start in range(0, len(points), UPSERT_CHUNK):
            batch: list[qe.Point] = []
            for i in range(start, min(start + UPSERT_CHUNK, len(points))):
                vector: dict[str, Any] = {DENSE_VECTOR: rows[i]}
                sparse = bm25_document(points[i].text)
                if sparse is not None:
                    vector[SPARSE_VECTOR] = qe.SparseVector(indices=sparse[0], values=sparse[1])
                batch.append(qe.Point(ids[i], vector, dict(points[i].payload)))
            shard.update(qe.UpdateOperation.upsert_points(batch))
        entry = self._open[name]
        if time.monotonic() - entry.flushed_at > FLUSH_INTERVAL_S:
            shard.flush()
            entry.flushed_at = time.monotonic()

    def delete_points(self, name: str, ids: Iterable[int]) -> None:
        unique = sorted({int(i) for i in ids})
        if not unique:
            return
        shard = self._shard(name)
        for start in range(0, len(unique), UPSERT_CHUNK):
            shard.update(qe.UpdateOperation.delete_points(unique[start : start + UPSERT_CHUNK]))

    # -- reads -------------------------------------------------------------------------
    def all_ids(self, name: str) -> set[int]:
        shard = self._shard(name)
        ids: set[int] = set()
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=SCROLL_PAGE, with_payload=False, with_vector=False)
            )
            ids.update(int(r.id) for r in records)
            if offset is None or not records:
                return ids

    def count(self, name: str, filters: Filters | None = None) -> int:
        query_filter = _edge_filter(normalize_filters(filters))
        return int(self._shard(name).count(qe.CountRequest(exact=True, filter=query_filter)))

    def vector_size(self, name: str) -> int | None:
        config_path = self._path(name) / CONFIG_FILE
        if not config_path.is_file():
            return None
        config = json.loads(config_path.read_text())
        return int(config["vectors"][DENSE_VECTOR]["size"])

    def _dim(self, name: str) -> int:
        """The collection's vector size, cached; raise StoreError if it does not exist."""
        if name not in self._dims:
            dim = self.vector_size(name)
            if dim is None:
                raise StoreError(f"collection {name!r} does not exist in {self.root}; run ingest to create it")
            self._dims[name] = dim
        return self._dims[name]

    def _dense_request(
        self,
        vector: np.ndarray,
        top_k: int,
        query_filter: qe.Filter | None,
        offset: int = 0,
        score_threshold: float | None = None,
    ) -> qe.QueryRequest:
        return qe.QueryRequest(
            limit=top_k,
            offset=offset,
            query=qe.Query.Nearest(vector.tolist(), using=DENSE_VECTOR),
            filter=query_filter,
            score_threshold=score_threshold,
            with_payload=True,
        )

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
        shard = self._shard(name)
        query = as_matrix(vector, self._dim(name), "query vector")[0]
        query_filter = _edge_filter(normalize_filters(filters))
        sparse = bm25_query(keyword_query)
        if sparse is None:
            return _hits(shard.query(self._dense_request(query, top_k, query_filter, offset, score_threshold)))
        depth = max(HYBRID_PREFETCH_MIN, top_k + offset)
        request = qe.QueryRequest(
            limit=top_k,
            offset=offset,
            prefetches=[
                qe.Prefetch(
                    limit=depth,
                    query=qe.Query.Nearest(query.tolist(), using=DENSE_VECTOR),
                    filter=query_filter,
                    score_threshold=score_threshold,
                ),
                qe.Prefetch(
                    limit=depth,
                    query=qe.Query.Nearest(qe.SparseVector(indices=sparse[0], values=sparse[1]), using=SPARSE_VECTOR),
                    filter=query_filter,
                ),
            ],
            query=qe.Fusion.Rrf(k=RRF_K),
            filter=query_filter,
            with_payload=True,
        )
        return _hits(shard.query(request))

    def search_batch(
        self, name: str, vectors: Sequence[np.ndarray] | np.ndarray, *, top_k: int = 10, filters: Filters | None = None
    ) -> list[list[ScoredHit]]:
        check_top_k(top_k)
        shard = self._shard(name)
        matrix = as_matrix(vectors, self._dim(name), "query vectors")
        query_filter = _edge_filter(normalize_filters(filters))
        requests = [self._dense_request(row, top_k, query_filter) for row in matrix]
        return [_hits(result) for result in shard.query_batch(qe.QueryBatchRequest(requests))]

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
        positives, negatives, vectors = self.recommend_examples(name, positive_ids, negative_ids)
        # Qdrant's "average_vector" strategy: avg(pos) + (avg(pos) - avg(neg)).
        query = np.mean([vectors[i] for i in positives], axis=0)
        if negatives:
            query = 2 * query - np.mean([vectors[i] for i in negatives], axis=0)
        query_filter = _edge_filter(normalize_filters(filters), exclude_ids=positives + negatives)
        return _hits(self._shard(name).query(self._dense_request(query, top_k, query_filter, offset)))

    def facet_counts(self, name: str, field: str, filters: Filters | None = None) -> dict[str | int, int]:
        check_filter_field(field)
        query_filter = _edge_filter(normalize_filters(filters))
        response = self._shard(name).facet(qe.FacetRequest(field, limit=FACET_LIMIT, exact=True, filter=query_filter))
        return {hit.value: int(hit.count) for hit in response}

    def retrieve_vectors(self, name: str, ids: Iterable[int]) -> dict[int, np.ndarray]:
        wanted = [int(i) for i in ids]
        if not wanted:
            return {}
        records = self._shard(name).retrieve(wanted, with_payload=False, with_vector=[DENSE_VECTOR])
        result: dict[int, np.ndarray] = {}
        for record in records:
            vector = record.vector
            if isinstance(vector, dict):
                vector = vector.get(DENSE_VECTOR)
            if vector is not None:
                result[int(record.id)] = np.asarray(vector, dtype=np.float32)
        return result
