"""open_store picks the backend; an unreachable server is one line; importing loads no client library."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import shared.storage.vector_store as vector_store
from shared.settings import Settings
from shared.storage.vector_store import EdgeStore, ServerStore, StoreError, StoreUnavailableError, open_store

REPO_ROOT = Path(__file__).resolve().parents[1]


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(Settings(data_dir=tmp_path, qdrant_url=url))
    message = str(caught.value)
    assert url in message and "docker compose up qdrant" in message and "\n" not in message


def test_open_store_picks_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_store, "LOCAL_SERVER_URL", f"http://127.0.0.1:{_unused_port()}")
    auto = open_store(Settings(data_dir=tmp_path), probe_timeout=0.2)
    assert isinstance(auto, EdgeStore) and auto.backend == "edge" and auto.root == tmp_path / "qdrant_edge"
    memory = open_store(Settings(data_dir=tmp_path, qdrant_url=":memory:"))
    assert isinstance(memory, ServerStore) and memory.backend == "server"
    with pytest.raises(StoreError, match="not a URL"):
        open_store(Settings(data_dir=tmp_path, qdrant_url="localhost"))
    for opened in (auto, memory):
        opened.close()


def test_importing_the_package_loads_no_client_library() -> None:
    script = "import sys, shared.storage.vector_store; print(sorted({'qdrant_client', 'qdrant_edge'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
