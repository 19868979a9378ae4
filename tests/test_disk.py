"""A full disk stops ingest and --status with one line, keeps what is stored, and never crashes with a Bus error.

The real cases run on a small tmpfs (mounted here when the tests run as root; skipped
where mounting is not permitted); the reserve setting FASHION_MIN_FREE_MB makes the
same checks fire on any disk.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.storage.catalog import Catalog
from shared.disk import MB, DiskFullError, check_free_space, filesystem_type, free_bytes, is_disk_full, sparse_hole_bytes
from shared.settings import Settings
from shared.storage.vector_store import open_store
from tests.synthetic import make_rows, write_parquet

ROOT = Path(__file__).resolve().parents[1]


def _ingest(*args: str, reserve_mb: float | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if reserve_mb is not None:
        env["FASHION_MIN_FREE_MB"] = str(reserve_mb)
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _ingest_args(dataset: Path, data_dir: Path, *extra: str) -> list[str]:
    return ["--model", "tiny-test", "--dataset", str(dataset), "--data-dir", str(data_dir), "--qdrant", "edge", "--workers", "0", *extra]


def _assert_one_disk_full_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])  # not 135 / -7, a Bus error
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: disk full at "), result.stderr[-500:]
    assert "MB free, need about" in errors[0] and "Traceback" not in result.stderr


def _ids(data_dir: Path) -> tuple[set[int], set[int]]:
    settings = Settings.from_env(data_dir=data_dir, qdrant_url="edge")
    with open_store(settings) as store:
        stored = store.all_ids(settings.collection) if store.collection_exists(settings.collection) else set()
    return Catalog(settings.catalog_url).product_ids(settings.collection), stored


def _mount(folder: Path, size_mb: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_mb`` at ``folder``, unmounted afterwards."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'}); FASHION_MIN_FREE_MB tests cover the checks")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """20 MB: less than the reserve, as in the fault probe."""
    yield from _mount(tmp_path / "tmpfs", 20)


@pytest.fixture
def roomy_tmpfs(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "tmpfs", 320)


@pytest.mark.slow
def test_ingest_and_status_on_a_20mb_tmpfs_answer_in_one_line(small_tmpfs: Path, parquet_dataset: Path) -> None:
    assert filesystem_type(small_tmpfs) == "tmpfs"
    data_dir = small_tmpfs / "d"
    first = _ingest(*_ingest_args(parquet_dataset, data_dir))
    if first.returncode != 0:
        _assert_one_disk_full_line(first)
    status = _ingest("--status", "--data-dir", str(data_dir), "--qdrant", "edge")  # opening a shard fills its sparse files
    if status.returncode != 0:
        _assert_one_disk_full_line(status)


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_stops_between_batches_and_keeps_what_is_stored(roomy_tmpfs: Path, tmp_path: Path) -> None:
    rows = make_rows(1500)
    dataset = write_parquet(tmp_path / "data", rows)
    data_dir = roomy_tmpfs / "d"
    assert _ingest(*_ingest_args(dataset, data_dir, "--limit", "100")).returncode == 0
    # leave room for a few hundred more products: the reserve is what is free once the shard is reopened
    # (which fills its sparse files on tmpfs), less 3 MB
    room = free_bytes(roomy_tmpfs) - sparse_hole_bytes(data_dir / "qdrant_edge")
    result = _ingest(*_ingest_args(dataset, data_dir, "--batch-size", "32"), reserve_mb=room / MB - 3)
    _assert_one_disk_full_line(result)

    copy = tmp_path / "copy"  # the stopped run's data dir, reopened where there is room
    shutil.copytree(data_dir, copy)
    catalog_ids, stored = _ids(copy)
    assert 100 < len(catalog_ids) < 1500 and catalog_ids == stored
    rerun = _ingest(*_ingest_args(dataset, copy))
    assert rerun.returncode == 0, rerun.stderr[-500:]
    assert _ids(copy) == ({row["id"] for row in rows},) * 2


@pytest.fixture
def small_ext4(tmp_path: Path) -> Iterator[Path]:
    """A 10 MB ext4 filesystem in a loop file, unmounted afterwards."""
    image, folder = tmp_path / "ext4.img", tmp_path / "ext4"
    with image.open("wb") as handle:
        handle.truncate(10 * MB)
    folder.mkdir()
    made = subprocess.run(["mkfs.ext4", "-q", str(image)], capture_output=True, text=True)
    mounted = made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(folder)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot make and mount an ext4 loop filesystem here; FASHION_MIN_FREE_MB tests cover the checks")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_writes_that_find_the_disk_full_end_in_one_line_and_keep_the_store(small_ext4: Path, tmp_path: Path) -> None:
    """No reserve, so the writes themselves meet the full disk (SQLite's "database or disk is full",
    Qdrant Edge's flush error): one line, and the catalog and the store still hold the same products."""
    dataset = write_parquet(tmp_path / "data", make_rows(2000))
    data_dir = small_ext4 / "d"
    _assert_one_disk_full_line(_ingest(*_ingest_args(dataset, data_dir), reserve_mb=0))
    status = _ingest("--status", "--json", "--data-dir", str(data_dir), "--qdrant", "edge")
    if status.returncode != 0:  # Qdrant Edge cannot open a shard on a disk with no byte free
        _assert_one_disk_full_line(status)
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    status = _ingest("--status", "--json", "--data-dir", str(copy), "--qdrant", "edge")
    row = json.loads(status.stdout)[0]
    assert 0 < row["products"] == row["vectors"] < 2000


@pytest.mark.slow
def test_the_reserve_setting_refuses_an_ingest_and_keeps_the_store(parquet_dataset: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    assert _ingest(*_ingest_args(parquet_dataset, data_dir, "--limit", "10")).returncode == 0
    before = _ids(data_dir)
    _assert_one_disk_full_line(_ingest(*_ingest_args(parquet_dataset, data_dir), reserve_mb=10**9))  # more than any disk has
    assert _ids(data_dir) == before and len(before[0]) == 10
    fresh = tmp_path / "fresh"
    _assert_one_disk_full_line(_ingest(*_ingest_args(parquet_dataset, fresh), reserve_mb=10**9))
    assert not fresh.exists()


def test_check_free_space_names_the_folder_and_the_need(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASHION_MIN_FREE_MB", "0")
    check_free_space(tmp_path / "not-yet", 1)  # measured at the nearest existing folder
    with pytest.raises(DiskFullError, match=rf"disk full at {tmp_path}: \d+ MB free, need about \d+ MB") as caught:
        check_free_space(tmp_path, free_bytes(tmp_path) + 1024 * MB)
    assert "\n" not in str(caught.value)
    monkeypatch.setenv("FASHION_MIN_FREE_MB", "lots")
    with pytest.raises(OSError, match="FASHION_MIN_FREE_MB"):
        check_free_space(tmp_path, 0)


def test_disk_full_errors_are_recognised() -> None:
    worker = OSError("Caught OSError in DataLoader worker process 0.\nOriginal Traceback:\nOSError: [Errno 28] No space left on device")
    full = [OSError(errno.ENOSPC, "No space left on device"), sqlite3.OperationalError("database or disk is full"),
            Exception("Service internal error: No space left on device (os error 28)"), worker]
    assert all(is_disk_full(error) for error in full)
    assert not any(is_disk_full(error) for error in (ValueError("bad id"), OSError(errno.EACCES, "Permission denied")))


def test_sparse_files_count_only_where_mapping_fills_them(tmp_path: Path) -> None:
    sparse = tmp_path / f"sparse-{uuid.uuid4().hex}"
    sparse.mkdir()
    with (sparse / "chunk.mmap").open("wb") as handle:
        handle.truncate(32 * MB)
    expected = 32 * MB if filesystem_type(sparse) == "tmpfs" else 0
    assert abs(sparse_hole_bytes(sparse) - expected) < MB
