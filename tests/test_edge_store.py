"""The embedded store's own guarantees: reopen, one process per folder, kill -9, read-only mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared.storage.vector_store import EdgeStore, StoreError, StoreLockedError, VectorPoint
from tests.vector_store_cases import (  # noqa: F401, F811 (fixtures)
    DIM, N, NAME, edge_root, ids, make_points, points,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_edge_reopen_keeps_size_and_data(edge_root: Path, points: list[VectorPoint]) -> None:
    first = EdgeStore(edge_root)
    first.create_collection(NAME, DIM)
    first.upsert(NAME, points)
    first.close()
    second = EdgeStore(edge_root)
    with ThreadPoolExecutor(4) as pool:  # concurrent first use loads the shard once, no self-lock
        assert list(pool.map(lambda _: second.count(NAME), range(8))) == [N] * 8
    assert second.vector_size(NAME) == DIM
    assert ids(second.search(NAME, points[9].vector, top_k=1)) == [points[9].id]
    second.close()


def test_edge_second_opener_gets_a_lock_error(edge_root: Path, points: list[VectorPoint]) -> None:
    holder = EdgeStore(edge_root)
    holder.create_collection(NAME, DIM)
    intruder = EdgeStore(edge_root)
    with pytest.raises(StoreLockedError) as caught:
        intruder.count(NAME)
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message and "docker compose up qdrant" in message and "\n" not in message
    holder.close()
    assert intruder.count(NAME) == 0  # free once the holder closed
    intruder.close()


def test_edge_upsert_survives_kill_9(edge_root: Path) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        from tests.vector_store_cases import make_points
        from shared.storage.vector_store import EdgeStore
        store = EdgeStore({str(edge_root)!r})
        store.create_collection("products", {DIM})
        store.upsert("products", make_points())
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == -9, result.stderr
    reopened = EdgeStore(edge_root)  # the dead process's lock is gone with it
    assert reopened.count(NAME) == N and reopened.vector_size(NAME) == DIM
    assert reopened.count(NAME, {"articleType": "Watches"}) == N // 5
    reopened.close()


def test_read_only_edge_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    with EdgeStore(tmp_path) as store:
        store.create_collection(NAME, DIM)
        store.upsert(NAME, make_points())
    reader = EdgeStore(tmp_path, read_only=True)
    try:
        assert reader.count(NAME) == N and reader.search(NAME, make_points(1)[0].vector, top_k=1)
        for write in (lambda: reader.upsert(NAME, make_points(1)), lambda: reader.create_collection("other", DIM),
                      lambda: reader.delete_collection(NAME)):
            with pytest.raises(StoreError, match="read-only"):
                write()
    finally:
        reader.close()
    with EdgeStore(tmp_path) as store:
        assert store.count(NAME) == N
