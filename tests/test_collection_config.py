"""CollectionConfig: validation with one-line errors, the backend check, and the HNSW m of a bulk load."""

from __future__ import annotations

import pytest

from shared.storage.vector_store import ServerStore, StoreError
from shared.storage.vector_store.collection_config import CollectionConfig
from shared.storage.vector_store.edge import EdgeStore


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shards": 0}, "--shards 0: give a whole number of 1 or more"),
        ({"replicas": -1}, "--replicas -1: give a whole number of 1 or more"),
        ({"write_consistency": 2}, "--write-consistency 2 exceeds --replicas 1"),
        ({"write_consistency": 3, "replicas": 2}, "--write-consistency 3 exceeds --replicas 2"),
        ({"quantization": "pq"}, "--quantization 'pq': choose one of none, int8, binary"),
        ({"oversampling": 0.5}, "oversampling 0.5: give a number of 1 or more"),
        ({"defer_indexing": True, "hnsw": False}, "--defer-indexing defers building the HNSW graph"),
    ],
)
def test_bad_values_are_refused_in_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(StoreError) as error:
        CollectionConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(error.value) and "\n" not in str(error.value)


def test_bulk_load_creates_without_graph_and_restores_m() -> None:
    deferred = CollectionConfig(defer_indexing=True, hnsw_m=32)
    assert (deferred.initial_m, deferred.final_m) == (0, 32)
    assert (CollectionConfig().initial_m, CollectionConfig().final_m) == (16, 16)
    assert (CollectionConfig(hnsw=False).initial_m, CollectionConfig(hnsw=False).final_m) == (0, 0)


@pytest.mark.parametrize("flag", ["shards", "replicas", "write_consistency"])
def test_cluster_layout_is_refused_on_the_embedded_store(flag: str, tmp_path: object) -> None:
    store = EdgeStore(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=f"--{flag.replace('_', '-')} applies to a Qdrant server collection") as error:
        store.configure(CollectionConfig(**{flag: 1}))  # type: ignore[arg-type]
    assert "\n" not in str(error.value)
    assert store.collection_config == CollectionConfig()  # unchanged


def test_server_and_embedded_stores_take_quantization_and_disk_placement(tmp_path: object) -> None:
    config = CollectionConfig(quantization="binary", on_disk=True)
    with ServerStore.in_memory() as server:
        server.configure(CollectionConfig(shards=2, replicas=2, write_consistency=2))
        assert server.collection_config.shards == 2
    with EdgeStore(tmp_path) as edge:  # type: ignore[arg-type]
        edge.configure(config)
        assert edge.collection_config is config
