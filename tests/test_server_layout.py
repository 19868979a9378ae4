"""The qdrant-client requests a CollectionConfig becomes (no server here: the requests themselves, then run on local mode)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qdrant_client import models

from shared.storage.vector_store import SearchLeg, ServerStore, VectorPoint
from shared.storage.vector_store.bm25 import bm25_query
from shared.storage.vector_store.collection_config import CollectionConfig
from shared.storage.vector_store.points import QueryLeg, StoreQuery
from shared.storage.vector_store.server import _request
from shared.storage.vector_store.server_layout import (
    create_arguments,
    create_request,
    finish_bulk_load_request,
    search_params,
)

CLUSTER = CollectionConfig(shards=6, replicas=2, write_consistency=2, quantization="int8", on_disk=True, defer_indexing=True)


def test_cluster_layout_becomes_one_create_collection_request() -> None:
    body = create_request(384, CLUSTER).model_dump(exclude_none=True, mode="json")
    dense = {"size": 384, "distance": "Cosine", "on_disk": True}
    assert body == {
        "vectors": {"image": dense, "text": dense},
        "sparse_vectors": {"name_bm25": {"modifier": "idf"}},
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 2,
        "on_disk_payload": True,
        "hnsw_config": {"m": 0, "ef_construct": 100},  # no graph while the bulk load streams in
        "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
    }


def test_default_layout_leaves_the_server_defaults() -> None:
    body = create_request(512, CollectionConfig()).model_dump(exclude_none=True, mode="json")
    assert set(body) == {"vectors", "sparse_vectors", "hnsw_config"}
    assert body["hnsw_config"] == {"m": 16, "ef_construct": 100}
    assert "on_disk" not in body["vectors"]["image"]


def test_binary_quantization_keeps_the_bits_in_ram() -> None:
    body = create_request(512, CollectionConfig(quantization="binary")).model_dump(exclude_none=True, mode="json")
    assert body["quantization_config"] == {"binary": {"always_ram": True}}


def test_create_arguments_carry_the_whole_request() -> None:
    request = create_request(384, CLUSTER)
    arguments = create_arguments(request)
    rebuilt = models.CreateCollection(
        vectors=arguments["vectors_config"], sparse_vectors=arguments["sparse_vectors_config"],
        **{k: v for k, v in arguments.items() if not k.endswith("vectors_config")},
    )
    assert rebuilt == request


def test_finish_bulk_load_restores_m_once() -> None:
    request = finish_bulk_load_request(CLUSTER, stored_m=0)
    assert request is not None
    assert request.model_dump(exclude_none=True, mode="json") == {"hnsw_config": {"m": 16}}
    assert finish_bulk_load_request(CLUSTER, stored_m=16) is None  # already built
    assert finish_bulk_load_request(CollectionConfig(hnsw=False), stored_m=0) is None  # exact search only


def test_search_params_rescore_quantized_candidates_with_the_originals() -> None:
    params = search_params(CLUSTER)
    assert (params.hnsw_ef, params.exact) == (128, False)
    assert params.quantization == models.QuantizationSearchParams(rescore=True, oversampling=2.0)
    assert search_params(CollectionConfig(hnsw=False)).exact is True
    assert search_params(CollectionConfig()).quantization is None


def test_fused_request_gives_params_to_dense_legs_only() -> None:
    params = search_params(CLUSTER)
    keywords = bm25_query("blue shirt")
    assert keywords is not None
    query = StoreQuery((QueryLeg("image", [1.0, 0.0]), QueryLeg("name_bm25", keywords)), top_k=5)
    request = _request(query, params)
    assert [p.params for p in request.prefetch] == [params, None]
    single = _request(StoreQuery((QueryLeg("image", [1.0, 0.0]),), top_k=5), params)
    assert single.params == params


@pytest.mark.parametrize("quantization", ["none", "int8", "binary"])
def test_local_mode_accepts_the_layout_and_searches_it(quantization: str) -> None:
    config = CollectionConfig(quantization=quantization, on_disk=True, defer_indexing=True)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    with ServerStore.in_memory() as store, warnings.catch_warnings():
        warnings.simplefilter("error")  # local mode warns about search params it ignores: none are sent
        store.configure(config)
        store.create_collection("c", 16)
        store.upsert("c", [VectorPoint(i, v, {"gender": "Men" if i % 2 else "Women"}) for i, v in enumerate(vectors)])
        store.finish_bulk_load("c")
        stored = store.client.get_collection("c").config.params.vectors["image"]
        assert stored.on_disk is True
        hits = store.query("c", [SearchLeg("image", vectors[7])], top_k=3, filters={"gender": "Men"})
    assert hits[0].id == 7 and all(h.id % 2 == 1 for h in hits)
