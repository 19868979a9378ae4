"""The vector store and the catalog in step: writer leases between concurrent ingests, repair."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from ingest.consistency import WriterLease, repair
from shared.storage.catalog import Catalog
from shared.settings import Settings
from shared.storage.collection import compare
from shared.storage.vector_store import ServerStore, VectorPoint
from tests.ingest_cli import TINY, ids_everywhere as _ids_everywhere, run_cli as _run, status_of as _status
from tests.synthetic import make_rows, write_parquet

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


# -- store and catalog in step (issue 9) ---------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A DATABASE_URL outside every data dir, set in the environment."""
    url = f"sqlite:///{tmp_path / 'shared.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_rows_the_catalog_cannot_hold_are_skipped_and_listed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shared_database: str
) -> None:
    rows = make_rows(12)
    rows[1]["productDisplayName"] = "Blue\x00 Shirt"  # kept, without the NUL byte
    rows[2]["season"] = "S" * 40
    rows[3]["gender"] = "G" * 70
    rows[4]["masterCategory"] = "M" * 200
    rows[5]["year"] = 3_000_000_000
    args = [*TINY, "--dataset", str(write_parquet(tmp_path / "data", rows)), "--data-dir", str(tmp_path / "d"), "--qdrant", "edge"]
    for _ in range(2):  # a rerun fails the same rows again, and nothing else
        code, out, _ = _run(capsys, *args, "--workers", "0")
        assert code == 0, out
        assert "failed 4 of 12" in out and "failed ids: 1002, 1003, 1004, 1005" in out
    catalog_ids, stored = _ids_everywhere(tmp_path / "d")
    assert catalog_ids == stored == {row["id"] for row in rows} - {1002, 1003, 1004, 1005}
    assert Catalog(shared_database).get_products("fashion_products", [1001])[1001]["productDisplayName"] == "Blue Shirt"
    assert sorted(p.stem for p in (tmp_path / "d" / "images" / "fashion_products").glob("*.jpg")) == sorted(map(str, stored))


@pytest.mark.slow
def test_two_data_dirs_sharing_a_database_keep_their_rows(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path, shared_database: str
) -> None:
    common = [*TINY, "--dataset", str(parquet_dataset), "--qdrant", "edge", "--workers", "0"]
    first, second = tmp_path / "a", tmp_path / "b"
    assert _run(capsys, *common, "--data-dir", str(first))[0] == 0
    code, _, err = _run(capsys, *common, "--limit", "20", "--data-dir", str(second))
    assert code == 2 and err.count("\n") == 1 and "--collection" in err and "DATABASE_URL" in err
    assert _ids_everywhere(first) == ({row["id"] for row in make_rows(60)},) * 2

    code, out, _ = _run(capsys, *common, "--limit", "20", "--data-dir", str(second), "--collection", "second")
    assert code == 0 and "ingested 20" in out
    code, out, _ = _run(capsys, *common, "--data-dir", str(first))
    assert code == 0 and "ingested 0, skipped 60" in out
    code, out, _ = _run(capsys, "--status", "--data-dir", str(first), "--qdrant", "edge")
    ours, theirs = out.splitlines()  # status lists the other data dir's collection, and says whose it is
    assert ours.startswith("fashion_products: 60 products, 60 vectors") and "out of step" not in ours
    assert theirs.startswith("second: 20 products, 0 vectors") and "belong to the vector store" in theirs


def test_a_moved_data_dir_is_still_its_own(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    common = [*TINY, "--dataset", str(parquet_dataset), "--limit", "10", "--qdrant", "edge", "--workers", "0"]
    assert _run(capsys, *common, "--data-dir", str(tmp_path / "a"))[0] == 0
    shutil.copytree(tmp_path / "a", tmp_path / "copy")  # a copy has its own catalog.db
    (tmp_path / "a").rename(tmp_path / "moved")
    for data_dir in ("copy", "moved"):
        code, out, _ = _run(capsys, *common, "--data-dir", str(tmp_path / data_dir))
        assert code == 0 and "ingested 0, skipped 10" in out


def test_status_reports_and_ingest_repairs_a_store_out_of_step(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "d"
    args = [*TINY, "--dataset", str(parquet_dataset), "--data-dir", str(data_dir), "--qdrant", "edge", "--workers", "0"]
    assert _run(capsys, *args)[0] == 0
    settings = Settings.from_env(data_dir=data_dir, qdrant_url="edge")
    catalog = Catalog(settings.catalog_url)
    ids = sorted(catalog.product_ids(settings.collection))
    catalog.delete_products(settings.collection, ids[-12:])  # killed between the vector and catalog writes
    catalog.upsert_products(settings.collection, [{"id": i} for i in (9001, 9002, 9003)])  # rows without vectors
    status = _status(capsys, data_dir)
    assert (status["vectors_without_rows"], status["rows_without_vectors"], status["in_step"]) == (12, 3, False)
    code, out, _ = _run(capsys, "--status", "--data-dir", str(data_dir), "--qdrant", "edge")
    assert "out of step: 12 vectors without catalog rows, 3 catalog rows without vectors: run ingest again" in out

    code, out, _ = _run(capsys, *args, "--limit", "20")  # a smaller dataset: the 12 are not in it
    assert code == 0 and "ingested 0, skipped 20" in out and "removed 15" in out
    assert _ids_everywhere(data_dir) == (set(ids[:-12]),) * 2
    assert _status(capsys, data_dir)["in_step"]


def test_rows_of_an_older_catalog_are_claimed_only_by_their_store(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    common = [*TINY, "--dataset", str(parquet_dataset), "--limit", "20", "--qdrant", "edge", "--workers", "0"]
    assert _run(capsys, *common, "--data-dir", str(tmp_path / "a"))[0] == 0
    with Catalog(url).engine.begin() as connection:  # as a catalog written before stores were recorded
        connection.execute(text("DELETE FROM collection_stores"))
    code, _, err = _run(capsys, *common, "--limit", "5", "--data-dir", str(tmp_path / "b"))
    assert code == 2 and "has 20 products that the vector store" in err and err.count("\n") == 1
    code, out, _ = _run(capsys, *common, "--data-dir", str(tmp_path / "a"))
    assert code == 0 and "skipped 20" in out and Catalog(url).store_of("fashion_products") is not None
