"""The embedded store's layout: CollectionConfig as qdrant_edge's classes, and a real shard made with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import qdrant_edge as qe

from shared.storage.vector_store import SearchLeg, VectorPoint
from shared.storage.vector_store.collection_config import CollectionConfig
from shared.storage.vector_store.edge import CONFIG_FILE, EdgeStore
from shared.storage.vector_store.edge_layout import edge_config, loaded_config, search_params


def _stored(folder: Path) -> dict:
    return json.loads((folder / "c" / CONFIG_FILE).read_text())


def test_int8_on_disk_config_as_edge_classes() -> None:
    config = edge_config(384, CollectionConfig(quantization="int8", on_disk=True, defer_indexing=True))
    assert set(config.vectors) == {"image", "text"} and set(config.sparse_vectors) == {"name_bm25"}
    image = config.vectors["image"]
    assert (image.size, image.distance, image.memory) == (384, qe.Distance.Cosine, qe.Memory.Cold)
    assert config.payload_memory == qe.Memory.Cold
    assert isinstance(config.quantization_config, qe.ScalarQuantizationConfig)
    assert config.quantization_config.type == qe.ScalarType.Int8 and config.quantization_config.memory == qe.Memory.Cached
    assert config.hnsw_config.m == 0  # deferred
    assert loaded_config(384, CollectionConfig(defer_indexing=True, hnsw_m=24)).hnsw_config.m == 24


def test_default_config_keeps_vectors_in_ram_without_quantization() -> None:
    config = edge_config(8, CollectionConfig())
    assert config.vectors["image"].memory is None and config.payload_memory is None
    assert config.quantization_config is None and config.hnsw_config.m == 16
    assert isinstance(edge_config(8, CollectionConfig(quantization="binary")).quantization_config, qe.BinaryQuantizationConfig)


def test_search_params_rescore_and_exact() -> None:
    params = search_params(CollectionConfig(quantization="binary", oversampling=4.0, hnsw_ef=64))
    assert (params.hnsw_ef, params.exact) == (64, False)
    assert (params.quantization.rescore, params.quantization.oversampling) == (True, 4.0)
    assert search_params(CollectionConfig(hnsw=False)).exact is True


def test_deferred_bulk_load_builds_hnsw_with_int8_on_a_real_shard(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    with EdgeStore(tmp_path) as store:
        store.configure(CollectionConfig(quantization="int8", on_disk=True, defer_indexing=True))
        store.create_collection("c", 32)
        assert _stored(tmp_path)["hnsw_config"]["m"] == 0
        store.upsert("c", [VectorPoint(i, v, {"gender": "Men" if i % 3 else "Women"}) for i, v in enumerate(vectors)])
        store.finish_bulk_load("c")
        stored = _stored(tmp_path)
        assert stored["hnsw_config"]["m"] == 16
        assert stored["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "memory": "cached"}}
        assert stored["vectors"]["image"]["memory"] == "cold"
    with EdgeStore(tmp_path) as reopened:  # a later process searches it with the default config
        assert reopened.count("c") == 300
        hits = reopened.query("c", [SearchLeg("image", vectors[9])], top_k=5, filters={"gender": "Women"})
    assert hits[0].id == 9 and all(h.id % 3 == 0 for h in hits)


def test_exact_collection_stays_without_graph(tmp_path: Path) -> None:
    with EdgeStore(tmp_path) as store:
        store.configure(CollectionConfig(hnsw=False))
        store.create_collection("c", 4)
        store.upsert("c", [VectorPoint(i, np.eye(4, dtype=np.float32)[i % 4] + i * 1e-3) for i in range(8)])
        store.finish_bulk_load("c")
        assert _stored(tmp_path)["hnsw_config"]["m"] == 0
        assert store.search("c", np.array([0, 1, 0, 0], dtype=np.float32), top_k=2)[0].id in {1, 5}
