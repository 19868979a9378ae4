"""`python -m ingest` end to end on generated data with a tiny model, on both store backends."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from ingest.pipeline import IngestOptions, ingest
from shared.storage.catalog import Catalog
from shared.products.datasets import open_products
from shared.models import load_model
from shared.settings import Settings
from shared.storage.vector_store import open_store
from shared.models.weights import read_weights, save_weights
from tests.ingest_cli import TINY, ids_everywhere as _ids_everywhere, run_cli as _run, status_of as _status
from tests.synthetic import make_rows, write_kaggle, write_parquet

ROOT = Path(__file__).resolve().parents[1]


def test_ingest_then_again_adds_nothing(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    args = [*TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path), "--qdrant", "edge", "--workers", "0"]
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "ingested 60, skipped 0 (already stored), failed 0 of 60" in out
    status = _status(capsys, tmp_path)
    assert (status["products"], status["vectors"], status["model"], status["backend"]) == (60, 60, "tiny-test", "edge")
    assert len(list((tmp_path / "images" / "fashion_products").glob("*.jpg"))) == 60

    code, out, _ = _run(capsys, *args)
    assert code == 0 and "ingested 0, skipped 60" in out
    code, out, _ = _run(capsys, "--status", "--data-dir", str(tmp_path), "--qdrant", "edge")
    assert out == "fashion_products: 60 products, 60 vectors, model tiny-test (base weights), backend edge\n"


def test_kaggle_layout_and_limit(capsys: pytest.CaptureFixture[str], kaggle_dataset: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        capsys, *TINY, "--dataset", str(kaggle_dataset), "--limit", "25", "--data-dir", str(tmp_path), "--qdrant", "edge"
    )
    assert code == 0 and "ingested 25" in out
    catalog_ids, stored = _ids_everywhere(tmp_path)
    assert catalog_ids == stored == {row["id"] for row in make_rows(25)}


def _bad_images() -> dict[str, bytes]:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG")
    good = make_rows(1)[0]["image"]
    return {"corrupt": b"\xff\xd8\xff" + os.urandom(500), "truncated": good[: len(good) // 3], "empty": b"", "text": b"hello", "bomb": buffer.getvalue()}


def test_broken_images_are_skipped_and_listed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = make_rows(12)
    bad = _bad_images()
    for row, data in zip(rows, bad.values()):
        row["image"] = data
    dataset = write_kaggle(tmp_path / "kaggle", rows)
    (dataset / "images" / f"{rows[5]['id']}.jpg").unlink()  # a missing file, too
    code, out, _ = _run(capsys, *TINY, "--dataset", str(dataset), "--data-dir", str(tmp_path / "d"), "--qdrant", "edge")
    assert code == 0, out
    assert "ingested 6, skipped 0 (already stored), failed 6 of 12" in out
    failed = ", ".join(str(row["id"]) for row in rows[:6])
    assert f"failed ids: {failed}" in out
    catalog_ids, stored = _ids_everywhere(tmp_path / "d")
    assert catalog_ids == stored == {row["id"] for row in rows[6:]}


def test_rejected_and_duplicate_ids_are_listed_and_never_merged(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = make_rows(8)
    for row, value in zip(rows, ["1000", "3001.4", "3001.9", "2006.0", "2_004", "-5", "1000", "1007"]):
        row["id"] = value
    dataset = write_parquet(tmp_path / "messy", rows)
    code, out, _ = _run(capsys, *TINY, "--dataset", str(dataset), "--data-dir", str(tmp_path / "d"), "--qdrant", "edge")
    assert code == 0, out
    assert "ingested 3, skipped 0 (already stored), failed 0 of 3 products" in out
    assert (
        "; rejected 4 rows with invalid ids: 3001.4 (not a whole number), 3001.9 (not a whole number), "
        "2_004 (not a plain whole number), -5 (negative); 1 duplicate ids (first row kept): 1000"
    ) in out
    catalog_ids, stored = _ids_everywhere(tmp_path / "d")
    assert catalog_ids == stored == {1000, 2006, 1007}
    catalog = Catalog(Settings.from_env(data_dir=tmp_path / "d").catalog_url)
    assert catalog.get_products("fashion_products", [2006])[2006]["articleType"] == rows[3]["articleType"]


def test_pipeline_on_the_server_backend(parquet_dataset: Path, tmp_path: Path) -> None:
    model = load_model("tiny-test", None)
    store = open_store(Settings.from_env(qdrant_url=":memory:"))
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    options = IngestOptions("things", str(parquet_dataset), tmp_path / "images", batch_size=16, workers=0, progress=False)
    table = open_products(str(parquet_dataset))
    first = ingest(model, table, store, catalog, options)
    again = ingest(model, table, store, catalog, options)
    assert (first.ingested, again.ingested, again.skipped) == (60, 0, 60)
    assert store.backend == "server" and store.all_ids("things") == catalog.product_ids("things") == set(table.ids())
    vector = store.retrieve_vectors("things", [1003])[1003]
    hit = store.search("things", vector, top_k=1, filters={"gender": "Men"})[0]
    assert len(vector) == model.embed_dim
    assert (hit.id, hit.payload["articleType"], hit.payload["baseColour"]) == (1003, "Handbags", "Red")


def test_other_weights_are_refused_until_recreate(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    common = ["--dataset", str(parquet_dataset), "--limit", "10", "--data-dir", str(tmp_path / "d"), "--qdrant", "edge"]
    assert _run(capsys, *TINY, *common)[0] == 0
    other = load_model("tiny-test", None)
    weights = tmp_path / "other.pt"
    save_weights(weights, other.model, "tiny-test")
    code, _, err = _run(capsys, "--weights", str(weights), *common)
    assert code == 2 and "--recreate" in err and err.count("\n") == 1
    assert _status(capsys, tmp_path / "d")["weights_sha256"] is None  # nothing changed
    code, out, _ = _run(capsys, "--weights", str(weights), *common, "--recreate")
    assert code == 0 and "ingested 10" in out
    status = _status(capsys, tmp_path / "d")
    assert status["weights_sha256"] and status["vectors"] == 10


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"not a checkpoint at all", "weights"), (None, "do not fit")],
)
def test_bad_weights_files_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "w.pt"
    if content is None:  # a real weights file of another architecture, named as tiny-test
        import torch

        torch.save({"visual.weight": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    code, _, err = _run(capsys, "--weights", str(path), *TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path))
    assert code == 2 and expected in err and str(path) in err and err.count("\n") == 1
    assert not (tmp_path / "catalog.db").exists()


def test_unreachable_server_fails_in_one_line(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    code, _, err = _run(capsys, *TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path), "--qdrant", url)
    assert code == 2 and url in err and "docker compose up qdrant" in err and err.count("\n") == 1


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_locked_embedded_store_fails_in_one_line(parquet_dataset: Path, tmp_path: Path) -> None:
    settings = Settings.from_env(data_dir=tmp_path, qdrant_url="edge")
    with open_store(settings) as store:
        store.create_collection(settings.collection, 32)  # the first use of a collection takes its lock
        process = _cli(*TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path), "--qdrant", "edge")
        _, err = process.communicate(timeout=120)
    assert process.returncode == 2 and err.count("error:") == 1
    assert err.strip().splitlines()[-1].startswith("error: embedded store") and "in use by another process" in err


@pytest.mark.slow
def test_killed_run_completes_when_run_again(tmp_path: Path) -> None:
    rows = make_rows(400)
    dataset = write_parquet(tmp_path / "data", rows)
    data_dir = tmp_path / "d"
    args = [*TINY, "--dataset", str(dataset), "--data-dir", str(data_dir), "--qdrant", "edge", "--batch-size", "4", "--workers", "0"]
    process = _cli(*args)
    catalog_db = data_dir / "catalog.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if catalog_db.exists() and Catalog(f"sqlite:///{catalog_db}").count("fashion_products") >= 20:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = Catalog(f"sqlite:///{catalog_db}").count("fashion_products")
    assert 20 <= partial < 400, "the run was not killed mid-way"

    rerun = _cli(*args)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    catalog_ids, stored = _ids_everywhere(data_dir)
    assert catalog_ids == stored == {row["id"] for row in rows}
    assert "failed 0 of 400" in out


@pytest.mark.parametrize("dataset", ["./no-such-dataset", "empty-folder"], ids=["missing path", "folder without data"])
def test_failed_ingest_leaves_no_data_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path, dataset: str) -> None:
    (tmp_path / "empty-folder").mkdir()
    data_dir = tmp_path / "d"
    code, _, err = _run(capsys, *TINY, "--dataset", str(tmp_path / dataset), "--data-dir", str(data_dir), "--qdrant", "edge")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not data_dir.exists()


def test_status_of_a_data_dir_that_does_not_exist_creates_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, "--status", "--data-dir", str(tmp_path / "none"), "--qdrant", "edge")
    assert code == 0, err
    assert out.startswith("no collections yet")
    assert list(tmp_path.iterdir()) == []


_HOLD_STORE = """
import sys, time
from shared.settings import Settings
from shared.storage.vector_store import open_store
settings = Settings.from_env(data_dir=sys.argv[1], qdrant_url="edge")
store = open_store(settings)
store.count(settings.collection)  # opening the collection takes the store's lock
print("holding", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_store_in_use_is_refused_before_the_model_loads(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    common = ["--dataset", str(parquet_dataset), "--limit", "5", "--data-dir", str(data_dir), "--qdrant", "edge", "--workers", "0"]
    assert _run(capsys, *TINY, *common)[0] == 0
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_STORE, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        code, loaded, err = _main_in_subprocess(*TINY, *common)
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and "in use by another process" in err and err.count("error:") == 1
    assert not loaded & {"torch", "open_clip"}, "the model was loaded before the lock was tried"
    assert elapsed < 60


def _main_in_subprocess(*args: str) -> tuple[int, set[str], str]:
    """Call ``ingest.cli.main(args)`` in a fresh interpreter: exit code, top-level modules it loaded, stderr."""
    script = (
        "import json, sys\nfrom ingest.cli import main\ncode = main(sys.argv[1:])\n"
        "print(json.dumps({'code': code, 'loaded': sorted({m.split('.')[0] for m in sys.modules})}))"
    )
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], set(report["loaded"]), result.stderr


@pytest.mark.slow
def test_no_model_flags_ingest_with_the_shipped_model(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path, shipped_lite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASHION_SHIPPED_WEIGHTS", str(shipped_lite))
    data_dir = tmp_path / "d"
    code, out, err = _run(capsys, "--dataset", str(parquet_dataset), "--limit", "4", "--data-dir", str(data_dir), "--qdrant", "edge", "--workers", "0")
    assert code == 0, err
    status = _status(capsys, data_dir)
    assert status["model"] == "lite" and status["vectors"] == 4
    assert status["weights_sha256"] == read_weights(shipped_lite).sha256


def test_a_missing_shipped_model_says_how_to_make_it(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "shipped" / "fashion-lite.pt"
    monkeypatch.setenv("FASHION_SHIPPED_WEIGHTS", str(missing))
    for flags in ([], ["--model", "fashion-lite"]):
        code, _, err = _run(capsys, *flags, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path / "d"), "--qdrant", "edge")
        assert code == 2 and err.count("\n") == 1
        assert err.startswith(f"error: the default model fashion-lite needs {missing}, which is missing; make it with ")
        assert "`python -m finetune --model lite --dataset DATASET` then `python -m finetune.export_shipped --weights " in err
    assert not (tmp_path / "d").exists()
