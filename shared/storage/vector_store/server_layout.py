"""``CollectionConfig`` as qdrant-client requests: CreateCollection, UpdateCollection and search params.

Pure functions (no client, no server), so tests check the exact requests a server would get.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import models

from shared.storage.vector_store.collection_config import INT8_QUANTILE, CollectionConfig
from shared.storage.vector_store.points import DENSE_VECTOR, SPARSE_VECTOR, TEXT_VECTOR

_QuantizationConfig = models.ScalarQuantization | models.BinaryQuantization | None


def quantization_config(config: CollectionConfig) -> _QuantizationConfig:
    """The quantized copy kept in RAM (``always_ram``), or None without quantization."""
    if config.quantization == "int8":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=INT8_QUANTILE, always_ram=True)
        )
    if config.quantization == "binary":
        return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))
    return None


def create_request(dim: int, config: CollectionConfig) -> models.CreateCollection:
    """The CreateCollection request of a collection of ``dim``-sized ``image`` and ``text`` vectors plus BM25."""
    dense = models.VectorParams(size=dim, distance=models.Distance.COSINE, on_disk=True if config.on_disk else None)
    return models.CreateCollection(
        vectors={DENSE_VECTOR: dense, TEXT_VECTOR: dense},
        sparse_vectors={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        shard_number=config.shards,
        replication_factor=config.replicas,
        write_consistency_factor=config.write_consistency,
        on_disk_payload=True if config.on_disk else None,
        hnsw_config=models.HnswConfigDiff(m=config.initial_m, ef_construct=config.hnsw_ef_construct),
        quantization_config=quantization_config(config),
    )


def create_arguments(request: models.CreateCollection) -> dict[str, Any]:
    """``QdrantClient.create_collection`` keyword arguments carrying exactly that request."""
    return {
        "vectors_config": request.vectors,
        "sparse_vectors_config": request.sparse_vectors,
        "shard_number": request.shard_number,
        "replication_factor": request.replication_factor,
        "write_consistency_factor": request.write_consistency_factor,
        "on_disk_payload": request.on_disk_payload,
        "hnsw_config": request.hnsw_config,
        "quantization_config": request.quantization_config,
    }


def finish_bulk_load_request(config: CollectionConfig, stored_m: int | None) -> models.UpdateCollection | None:
    """After a bulk load that deferred indexing (the collection's ``m`` is still 0, even after an interrupted
    run): restore HNSW ``m``, which makes the server build the graph. None when there is nothing to restore."""
    if stored_m == config.final_m or config.final_m == 0:
        return None
    return models.UpdateCollection(hnsw_config=models.HnswConfigDiff(m=config.final_m))


def search_params(config: CollectionConfig) -> models.SearchParams:
    """Per-query params: ``hnsw_ef``, exact search without a graph, rescoring of quantized candidates."""
    quantization = (
        models.QuantizationSearchParams(rescore=True, oversampling=config.oversampling) if config.quantized else None
    )
    return models.SearchParams(hnsw_ef=config.hnsw_ef, exact=not config.hnsw, quantization=quantization)
