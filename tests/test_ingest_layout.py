"""`python -m ingest`'s collection layout flags (--shards, --replicas, --write-consistency, --quantization, --on-disk)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.cli import build_parser
from shared.settings import Settings
from shared.storage.vector_store import SearchLeg, open_store
from tests.ingest_cli import TINY, run_cli as _run, status_of as _status


def test_help_names_the_layout_flags() -> None:
    text = build_parser().format_help()
    for flag in ("--shards", "--replicas", "--write-consistency", "--quantization {none,int8,binary}", "--on-disk"):
        assert flag in text


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--shards", "0"], "--shards 0: give a whole number of 1 or more"),
        (["--write-consistency", "2"], "--write-consistency 2 exceeds --replicas 1"),
        (["--quantization", "pq"], "invalid choice: 'pq'"),
    ],
)
def test_bad_layout_flags_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path, flags: list[str], expected: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(capsys, *TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path / "d"), *flags)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and expected in err and err.strip().splitlines()[-1].startswith("python -m ingest: error:")


def test_cluster_flags_are_refused_on_the_embedded_store(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path
) -> None:
    code, _, err = _run(
        capsys, *TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path / "d"), "--qdrant", "edge",
        "--shards", "3",
    )
    assert code == 2 and err.count("\n") == 1
    assert "--shards applies to a Qdrant server collection" in err and "--qdrant http://HOST:6333" in err
    assert not (tmp_path / "d").exists()  # refused before anything was written


def test_int8_on_disk_ingest_builds_hnsw_after_loading(
    capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path
) -> None:
    code, out, _ = _run(
        capsys, *TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path), "--qdrant", "edge",
        "--workers", "0", "--quantization", "int8", "--on-disk",
    )
    assert code == 0 and "ingested 60" in out
    settings = Settings.from_env(data_dir=tmp_path, qdrant_url="edge")
    stored = json.loads((settings.edge_dir / settings.collection / "edge_config.json").read_text())
    assert stored["hnsw_config"]["m"] == 16  # created with m=0, restored once loaded
    assert stored["quantization_config"]["scalar"]["type"] == "int8"
    assert stored["vectors"]["image"]["memory"] == "cold" and stored["payload_memory"] == "cold"
    assert _status(capsys, tmp_path)["vectors"] == 60
    with open_store(settings) as store:
        [point_id] = list(store.all_ids(settings.collection))[:1]
        vector = store.retrieve_vectors(settings.collection, [point_id])[point_id]
        hits = store.query(settings.collection, [SearchLeg("image", vector)], top_k=20)
        best = hits[0].score  # products with the same generated picture tie with it
        assert best > 0.999 and point_id in {hit.id for hit in hits if hit.score >= best - 1e-6}


def test_cluster_layout_on_a_server_collection(capsys: pytest.CaptureFixture[str], parquet_dataset: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        capsys, *TINY, "--dataset", str(parquet_dataset), "--data-dir", str(tmp_path), "--qdrant", ":memory:",
        "--workers", "0", "--shards", "2", "--replicas", "2", "--write-consistency", "2", "--quantization", "binary",
    )
    assert code == 0 and "ingested 60" in out
