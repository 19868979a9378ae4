"""The vector store and the catalog in step: writer leases between concurrent ingests, repair."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.consistency import WriterLease, compare, repair
from shared.storage.catalog import Catalog
from shared.storage.vector_store import ServerStore, VectorPoint

ROOT = Path(__file__).resolve().parents[1]
HOLD_LEASE = """
import sys
from ingest.consistency import WriterLease
from shared.storage.catalog import Catalog
lease = WriterLease(Catalog(sys.argv[1]), "c")
lease.share()
print("sole" if lease.sole else "shared", flush=True)
sys.stdin.read()
"""


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _hold_lease(url: str) -> subprocess.Popen[str]:
    """Another process in the middle of an ingest of collection 'c'."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, url], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "sole"
    return process


def test_a_lease_is_sole_only_without_other_live_ingests(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    other = _hold_lease(catalog_url)
    with WriterLease(catalog, "c") as lease, WriterLease(catalog, "elsewhere") as elsewhere:
        assert not lease.sole and elsewhere.sole
    os.kill(other.pid, signal.SIGKILL)  # killed, not closed: its lease ends with it
    other.wait()
    with WriterLease(catalog, "c") as lease:
        assert lease.sole


def test_repair_leaves_the_vectors_of_a_live_ingest(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    store = ServerStore.in_memory()
    store.create_collection("c", 4)
    points = [VectorPoint(i, np.ones(4, dtype=np.float32), {}, None) for i in (1, 2, 3)]
    store.upsert("c", points)
    catalog.upsert_products("c", [{"id": 1}, {"id": 9}])  # 2 and 3: a batch between its two writes
    other = _hold_lease(catalog_url)
    with WriterLease(catalog, "c") as lease:
        repaired = repair(store, catalog, "c", lease)
    assert (repaired.vectors_without_rows, repaired.rows_without_vectors) == (frozenset(), {9})
    assert store.all_ids("c") == {1, 2, 3}
    other.communicate("")  # that ingest ends without writing its rows: the next one repairs
    with WriterLease(catalog, "c") as lease:
        assert repair(store, catalog, "c", lease).vectors_without_rows == {2, 3}
    assert compare(store, catalog, "c").in_step and store.all_ids("c") == catalog.product_ids("c") == {1}
