"""kill -9 of the main process alone (as the OOM killer or a container runtime does it),
at several points of an ingest and of a fine-tuning run with DataLoader workers: no
worker outlives it, and the same command run right after succeeds, exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.storage.catalog import Catalog
from shared.settings import Settings
from shared.storage.vector_store import open_store
from tests.processes import descendants, wait_gone
from tests.synthetic import make_rows, write_parquet

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "fashion_products"
PRODUCTS = 1000
"""Enough that a tiny-model ingest is still running when a loaded machine's poll sees its first batches."""


def _start(module: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {process.communicate()[1][-2000:]}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _kill_main_alone(process: subprocess.Popen[str]) -> None:
    """SIGKILL the main pid only (not its process group); its children must go by themselves."""
    below = descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert wait_gone(below, timeout=20) == set(), "processes outlived the killed main process"


def _catalog_count(data_dir: Path) -> int:
    database = data_dir / "catalog.db"
    if not database.exists():
        return 0
    try:
        return Catalog(f"sqlite:///{database}").count(COLLECTION)
    except Exception:  # the tables may not be created yet
        return 0


def _lock_taken(data_dir: Path, pid: int) -> bool:
    lock = data_dir / "qdrant_edge" / COLLECTION / ".lock"
    return lock.is_file() and lock.read_text().strip() == str(pid)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["store opened", "first batches", "mid-run"])
def test_ingest_killed_at_any_point_reruns_exactly(tmp_path: Path, point: str) -> None:
    rows = make_rows(PRODUCTS)
    dataset = write_parquet(tmp_path / "dataset", rows)
    data_dir = tmp_path / "d"
    args = ["--model", "tiny-test", "--dataset", str(dataset), "--data-dir", str(data_dir), "--qdrant", "edge",
            "--batch-size", "8", "--workers", "1"]
    process = _start("ingest", *args)
    reached: dict[str, Callable[[], bool]] = {
        "store opened": lambda: _lock_taken(data_dir, process.pid),
        "first batches": lambda: _catalog_count(data_dir) >= 8,
        "mid-run": lambda: _catalog_count(data_dir) >= PRODUCTS // 4,
    }
    _wait_for(reached[point], process, point)
    _kill_main_alone(process)
    assert _catalog_count(data_dir) < PRODUCTS, "the run was not killed mid-way"

    rerun = _start("ingest", *args)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"failed 0 of {PRODUCTS}" in out
    settings = Settings.from_env(data_dir=data_dir, qdrant_url="edge")
    with open_store(settings) as store:
        vector_ids = store.all_ids(COLLECTION)
    sql_ids = Catalog(settings.catalog_url).product_ids(COLLECTION)
    assert sql_ids == vector_ids == {row["id"] for row in rows}


@pytest.mark.slow
def test_finetune_killed_mid_epoch_leaves_no_worker_and_resumes(tmp_path: Path) -> None:
    dataset = write_parquet(tmp_path / "dataset", make_rows(60))
    output = tmp_path / "run"
    args = ["--model", "tiny-test", "--dataset", str(dataset), "--output-dir", str(output), "--batch-size", "8",
            "--num-workers", "2", "--quiet", "--device", "cpu"]
    log = output / "checkpoints" / "train_log.jsonl"
    process = _start("finetune", *args, "--epochs", "200")
    _wait_for(lambda: log.is_file() and len(log.read_text().splitlines()) >= 2, process, "two epochs")
    _kill_main_alone(process)
    done = len(log.read_text().splitlines())

    rerun = _start("finetune", *args, "--epochs", str(done + 1), "--resume")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    epochs = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    assert epochs[-1] == done + 1
    assert (output / "models" / "clip_fashion_final.pt").is_file()
