"""``CollectionConfig`` as Qdrant Edge classes: the shard's EdgeConfig, its post-load config and search params."""

from __future__ import annotations

import qdrant_edge as qe

from shared.storage.vector_store.collection_config import INT8_QUANTILE, CollectionConfig
from shared.storage.vector_store.points import DENSE_VECTOR, SPARSE_VECTOR, TEXT_VECTOR

FULL_SCAN_THRESHOLD_KB = 10_000
"""Segments smaller than this (vector data) are scanned, not searched through the graph (Qdrant's default)."""

_QuantizationConfig = qe.ScalarQuantizationConfig | qe.BinaryQuantizationConfig | None


def quantization_config(config: CollectionConfig) -> _QuantizationConfig:
    """The quantized copy, kept in RAM (``Memory.Cached``), or None without quantization."""
    if config.quantization == "int8":
        return qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=INT8_QUANTILE, memory=qe.Memory.Cached)
    if config.quantization == "binary":
        return qe.BinaryQuantizationConfig(memory=qe.Memory.Cached)
    return None


def hnsw_config(config: CollectionConfig, m: int) -> qe.HnswIndexConfig:
    return qe.HnswIndexConfig(m=m, ef_construct=config.hnsw_ef_construct, full_scan_threshold=FULL_SCAN_THRESHOLD_KB)


def edge_config(dim: int, config: CollectionConfig, m: int | None = None) -> qe.EdgeConfig:
    """A new shard's config: cosine ``image`` and ``text`` (on disk with ``on_disk``), BM25, HNSW and quantization.

    ``m``: HNSW edges per node (default: ``config.initial_m``, 0 while a bulk load defers indexing)."""
    memory = qe.Memory.Cold if config.on_disk else None

    def dense() -> qe.EdgeVectorParams:
        return qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, memory=memory)

    return qe.EdgeConfig(
        vectors={DENSE_VECTOR: dense(), TEXT_VECTOR: dense()},
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        payload_memory=memory,
        hnsw_config=hnsw_config(config, config.initial_m if m is None else m),
        quantization_config=quantization_config(config),
    )


def loaded_config(dim: int, config: CollectionConfig) -> qe.EdgeConfig:
    """The config a shard is reopened with after a bulk load: the same, with HNSW ``m`` restored."""
    return edge_config(dim, config, config.final_m)


def search_params(config: CollectionConfig) -> qe.SearchParams:
    """Per-query params: ``hnsw_ef``, exact search without a graph, rescoring of quantized candidates."""
    quantization = qe.QuantizationSearchParams(rescore=True, oversampling=config.oversampling) if config.quantized else None
    return qe.SearchParams(hnsw_ef=config.hnsw_ef, exact=not config.hnsw, quantization=quantization)
