"""Embedded vector store: one Qdrant Edge shard folder per collection, no server needed.

Each collection lives in ``<edge_dir>/<name>/`` (Edge's ``edge_config.json`` records the
vector size, so ``vector_size`` works after a reopen). A process holds the
folder lock of ``<name>/`` (``folder_lock``) from the first use of a collection until
``close()``; a second opener gets :class:`StoreLockedError` instead of Edge's bare WAL error.
Durability: Edge appends every update to its write-ahead log before ``update`` returns,
so a process killed (even ``kill -9``) after ``upsert`` returned loses nothing: the WAL
is replayed on reopen. Segments are flushed at most every ``FLUSH_INTERVAL_S`` seconds
and on ``close()`` (a flush per small batch made ingest ~15x slower).

This is a driver: :class:`~shared.storage.vector_store.base.VectorStore` validates, encodes and
chunks; the methods here translate its validated calls into Edge requests.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from shared.storage.vector_store.base import VectorStore
from shared.storage.vector_store.bm25 import SparseVector
from shared.storage.vector_store.checks import check_collection_name
from shared.storage.vector_store.edge_layout import edge_config, loaded_config, search_params
from shared.storage.vector_store.errors import StoreError, StoreLockedError
from shared.storage.vector_store.filters import Condition, FilterDialect, IndexKind, translate_filter
from shared.storage.vector_store.folder_lock import LOCK_FILE, acquire_folder_lock, locked_message, release_folder_lock
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

CONFIG_FILE = "edge_config.json"
FACET_LIMIT = 100_000
FLUSH_INTERVAL_S = 30.0
_INDEX_SCHEMA = {"integer": qe.PayloadSchemaType.Integer, "keyword": qe.PayloadSchemaType.Keyword}


@dataclass
class _OpenShard:
    shard: qe.EdgeShard | None
    lock_fd: int | None
    flushed_at: float = 0.0


_FILTERS = FilterDialect(
    match_value=lambda field, value: qe.FieldCondition(field, match=qe.MatchValue(value)),
    match_any=lambda field, values: qe.FieldCondition(field, match=qe.MatchAny(values)),
    in_range=lambda field, low, high: qe.FieldCondition(field, range=qe.RangeFloat(gte=low, lte=high)),
    has_ids=lambda ids: qe.HasIdCondition(set(ids)),
    combine=lambda must, must_not: qe.Filter(must=must, must_not=must_not),
)


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(indices=vector[0], values=vector[1])


def _nearest(leg: QueryLeg) -> qe.Query:
    vector = leg.vector if leg.dense else _sparse(leg.vector)  # type: ignore[arg-type]
    return qe.Query.Nearest(vector, using=leg.using)


def _request(query: StoreQuery, params: qe.SearchParams) -> qe.QueryRequest:
    """One leg: a nearest query; several: a prefetch per leg, fused by (weighted) RRF. Dense legs get ``params``."""
    query_filter = translate_filter(_FILTERS, query.conditions, query.exclude_ids)
    if len(query.legs) == 1:
        leg = query.legs[0]
        return qe.QueryRequest(limit=query.top_k, offset=query.offset, query=_nearest(leg), filter=query_filter,
                               score_threshold=query.score_threshold if leg.dense else None,
                               params=params if leg.dense else None, with_payload=True)
    prefetches = [
        qe.Prefetch(limit=query.depth, query=_nearest(leg), filter=query_filter,
                    params=params if leg.dense else None,
                    score_threshold=query.score_threshold if leg.dense else None)
        for leg in query.legs
    ]
    return qe.QueryRequest(limit=query.top_k, offset=query.offset, prefetches=prefetches,
                           query=qe.Fusion.Rrf(k=RRF_K, weights=query.weights), filter=query_filter, with_payload=True)


class EdgeStore(VectorStore):
    """Vector store on embedded Qdrant Edge shards under one folder."""

    backend = "edge"
    upsert_chunk = 1024

    def __init__(self, root: Path | str, *, read_only: bool = False) -> None:
        """``read_only``: refuse writes and skip the flush on close (``python -m ingest --status``)."""
        super().__init__()
        self.root = Path(root)
        self.where = f"in {self.root}"
        self.read_only = read_only
        self._open: dict[str, _OpenShard] = {}
        self._guard = threading.RLock()  # one shard load per collection, even from several threads

    @property
    def _params(self) -> qe.SearchParams:
        return search_params(self.collection_config)

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
        if not self._exists(name):
            raise StoreError(f"collection {name!r} does not exist {self.where}; run ingest to create it")
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

    def close(self) -> None:
        for name in list(self._open):
            entry = self._open[name]
            if entry.shard is not None and not self.read_only:
                entry.shard.flush()
            self._forget(name, keep_lock=False)

    # -- collections -------------------------------------------------------------------
    def _exists(self, name: str) -> bool:
        return (self._path(name) / CONFIG_FILE).is_file()

    def _stored_size(self, name: str) -> int | None:
        config_path = self._path(name) / CONFIG_FILE
        if not config_path.is_file():
            return None
        config = json.loads(config_path.read_text())
        return int(config["vectors"][DENSE_VECTOR]["size"])

    def _vector_names(self, name: str) -> set[str]:
        config_path = self._path(name) / CONFIG_FILE
        if not config_path.is_file():
            return set()
        config = json.loads(config_path.read_text())
        return set(config.get("vectors", {})) | set(config.get("sparse_vectors", {}))

    def _create(self, name: str, dim: int, indexes: dict[str, IndexKind]) -> None:
        path = self._path(name)
        self._lock(name)
        self._forget(name, keep_lock=True)
        for child in path.iterdir():
            if child.name != LOCK_FILE:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        shard = qe.EdgeShard.create(str(path), edge_config(dim, self.collection_config))
        for field, kind in indexes.items():
            shard.update(qe.UpdateOperation.create_field_index(field, _INDEX_SCHEMA[kind]))
        shard.flush()
        self._open[name].shard = shard
        self._open[name].flushed_at = time.monotonic()

    def _drop(self, name: str) -> None:
        path = self._path(name)
        if not path.exists():
            return
        self._lock(name)
        self._forget(name, keep_lock=True)
        shutil.rmtree(path)
        self._forget(name, keep_lock=False)

    def _finish_bulk_load(self, name: str) -> None:
        """Reopen the shard with HNSW ``m`` restored when indexing was deferred, then optimize (builds the graph)."""
        config = json.loads((self._path(name) / CONFIG_FILE).read_text())
        stored_m = (config.get("hnsw_config") or {}).get("m")
        final_m = self.collection_config.final_m
        with self._guard:
            shard = self._shard(name)
            if final_m and stored_m is not None and stored_m != final_m:
                shard.flush()
                self._forget(name, keep_lock=True)
                entry = self._open[name]
                entry.shard = shard = qe.EdgeShard.load(str(self._path(name)), loaded_config(self._dim(name), self.collection_config))
            shard.optimize()
            shard.flush()
            self._open[name].flushed_at = time.monotonic()

    # -- writes ------------------------------------------------------------------------
    def _upsert_points(self, name: str, points: list[StoredPoint]) -> None:
        shard = self._shard(name)
        batch: list[qe.Point] = []
        for point in points:
            vector: dict[str, Any] = {DENSE_VECTOR: point.image}
            if point.text is not None:
                vector[TEXT_VECTOR] = point.text
            if point.keywords is not None:
                vector[SPARSE_VECTOR] = _sparse(point.keywords)
            batch.append(qe.Point(point.id, vector, point.payload))
        shard.update(qe.UpdateOperation.upsert_points(batch))
        entry = self._open[name]
        if time.monotonic() - entry.flushed_at > FLUSH_INTERVAL_S:
            shard.flush()
            entry.flushed_at = time.monotonic()

    def _delete_ids(self, name: str, ids: list[int]) -> None:
        self._shard(name).update(qe.UpdateOperation.delete_points(ids))

    # -- reads -------------------------------------------------------------------------
    def _scroll_ids(self, name: str, offset: Any, limit: int) -> tuple[list[int], Any]:
        request = qe.ScrollRequest(offset=offset, limit=limit, with_payload=False, with_vector=False)
        records, offset = self._shard(name).scroll(request)
        return [int(r.id) for r in records], offset

    def _count(self, name: str, conditions: list[Condition]) -> int:
        return int(self._shard(name).count(qe.CountRequest(exact=True, filter=translate_filter(_FILTERS, conditions))))

    def _facet(self, name: str, field: str, conditions: list[Condition]) -> Iterable[Any]:
        request = qe.FacetRequest(field, limit=FACET_LIMIT, exact=True, filter=translate_filter(_FILTERS, conditions))
        return self._shard(name).facet(request)

    def _query(self, name: str, query: StoreQuery) -> list[ScoredHit]:
        return scored_hits(self._shard(name).query(_request(query, self._params)))

    def _query_batch(self, name: str, queries: list[StoreQuery]) -> list[list[ScoredHit]]:
        results = self._shard(name).query_batch(qe.QueryBatchRequest([_request(q, self._params) for q in queries]))
        return [scored_hits(result) for result in results]

    def _retrieve(self, name: str, ids: list[int], using: str) -> Iterable[Any]:
        return self._shard(name).retrieve(ids, with_payload=False, with_vector=[using])
