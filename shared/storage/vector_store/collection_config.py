"""How a collection is laid out and searched: shards, replicas, quantization, HNSW, disk placement.

One typed ``CollectionConfig`` for both backends. ``python -m ingest`` builds it from its flags
(``--shards``, ``--replicas``, ``--write-consistency``, ``--quantization``, ``--on-disk``,
``--no-hnsw``, ``--defer-indexing``); each driver maps it onto its client's classes when it creates a
collection (qdrant-client's ``CreateCollection`` fields, Qdrant Edge's ``EdgeConfig``) and onto search
params when it queries (``hnsw_ef``; with quantization, rescoring with the original vectors after
``oversampling`` times as many quantized candidates).

Bulk loads (``defer_indexing``) create the collection with HNSW ``m=0`` so no graph is built while
points stream in, and ``VectorStore.finish_bulk_load`` restores ``hnsw_m`` afterwards, which builds the
graph once (Qdrant's bulk-upload guide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.storage.vector_store.errors import StoreError

Quantization = Literal["none", "int8", "binary"]
QUANTIZATIONS: tuple[str, ...] = ("none", "int8", "binary")
INT8_QUANTILE = 0.99
"""Share of values that set the int8 range (the rest are clipped), Qdrant's usual choice."""
SERVER_ONLY = {"shards": "--shards", "replicas": "--replicas", "write_consistency": "--write-consistency"}
"""Fields that lay a collection out over a cluster's nodes -> the ingest flag that sets each."""


def _positive(value: int | None, flag: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise StoreError(f"{flag} {value!r}: give a whole number of 1 or more")


@dataclass(frozen=True)
class CollectionConfig:
    """Layout of a new collection and how it is searched; None/defaults leave the store's own defaults."""

    shards: int | None = None
    """Shards the collection is split into (server only; Qdrant's default: 1, or one per node)."""
    replicas: int | None = None
    """Copies of each shard on different nodes (server only)."""
    write_consistency: int | None = None
    """Replicas that must acknowledge a write before it returns (server only; at most ``replicas``)."""
    quantization: Quantization = "none"
    """Quantized copy of the dense vectors searched first: int8 (4x smaller) or binary (32x smaller)."""
    on_disk: bool = False
    """Original vectors and payloads on disk (memory-mapped); quantized vectors stay in RAM."""
    hnsw: bool = True
    """Build an HNSW graph; False: exact (full-scan) search only."""
    hnsw_m: int = 16
    """Graph edges per node."""
    hnsw_ef_construct: int = 100
    """Candidates considered while building the graph."""
    hnsw_ef: int = 128
    """Candidates considered per search."""
    oversampling: float = 2.0
    """With quantization: quantized candidates fetched per result, then rescored with the originals."""
    defer_indexing: bool = False
    """Create with HNSW ``m=0`` (no graph while loading); ``finish_bulk_load`` builds it."""

    def __post_init__(self) -> None:
        for name, flag in SERVER_ONLY.items():
            _positive(getattr(self, name), flag)
        if self.quantization not in QUANTIZATIONS:
            raise StoreError(f"--quantization {self.quantization!r}: choose one of {', '.join(QUANTIZATIONS)}")
        if self.write_consistency is not None and self.write_consistency > (self.replicas or 1):
            raise StoreError(
                f"--write-consistency {self.write_consistency} exceeds --replicas {self.replicas or 1}: "
                "a write cannot wait for more copies than exist; lower it or add replicas"
            )
        for value, flag in ((self.hnsw_m, "hnsw_m"), (self.hnsw_ef_construct, "hnsw_ef_construct"), (self.hnsw_ef, "hnsw_ef")):
            _positive(value, flag)
        if not self.oversampling >= 1:
            raise StoreError(f"oversampling {self.oversampling!r}: give a number of 1 or more")
        if self.defer_indexing and not self.hnsw:
            raise StoreError("--defer-indexing defers building the HNSW graph, which --no-hnsw turns off; drop one of them")

    @property
    def quantized(self) -> bool:
        return self.quantization != "none"

    @property
    def initial_m(self) -> int:
        """HNSW ``m`` the collection is created with: 0 while a bulk load defers indexing or without HNSW."""
        return 0 if self.defer_indexing or not self.hnsw else self.hnsw_m

    @property
    def final_m(self) -> int:
        """HNSW ``m`` once loaded (``finish_bulk_load``)."""
        return self.hnsw_m if self.hnsw else 0

    def check_backend(self, backend: str) -> None:
        """Refuse what makes no sense on this backend (cluster layout on the single-shard embedded store)."""
        if backend != "server":
            given = [flag for name, flag in SERVER_ONLY.items() if getattr(self, name) is not None]
            if given:
                raise StoreError(
                    f"{given[0]} applies to a Qdrant server collection; the embedded store is a single shard: "
                    "leave it out or pass --qdrant http://HOST:6333"
                )


DEFAULT_CONFIG = CollectionConfig()
