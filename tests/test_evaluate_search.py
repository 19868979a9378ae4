"""`python -m finetune.evaluate_search`: bad inputs are one-line errors; end to end on a tiny ingested catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.evaluate_search import main
from ingest.cli import main as ingest_main
from shared.search.types import SEARCH_MODES
from tests.ingest_cli import TINY
from tests.synthetic import make_rows, write_parquet


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_missing_data_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path / "nowhere"))
    assert code == 2
    assert "--data-dir" in one_line_error(err) and "python -m ingest" in err


def test_unknown_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "--modes", "fused", "semantic")
    assert code == 2
    assert "--modes semantic: unknown search mode; choose from fused, image_vectors" in one_line_error(err)


def test_no_gallery_and_half_a_gallery(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "pass --data-dir" in one_line_error(err)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    code, _, err = run(capsys, "--weights", str(weights))
    assert code == 2 and "needs --work-dir" in one_line_error(err)
    code, _, err = run(capsys, "--model", "lite", "--work-dir", str(tmp_path))
    assert code == 2 and "--model lite has no validation split" in one_line_error(err)
    code, _, err = run(capsys, "--weights", str(weights), "--work-dir", str(tmp_path), "--limit", "5")
    assert code == 2 and "--limit 5" in one_line_error(err)
    code, _, err = run(capsys, "--weights", str(tmp_path / "none.pt"), "--work-dir", str(tmp_path))
    assert code == 2 and "no such file" in one_line_error(err)


def test_bad_counts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "--queries", "0")
    assert code == 2 and "--queries 0" in one_line_error(err)


def test_a_data_dir_with_nothing_ingested(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path), "--qdrant", "edge", "--output", str(tmp_path / "out.json"))
    assert code == 2
    assert "ingest" in one_line_error(err)


@pytest.fixture(scope="module")
def garments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 generated products (each gender x colour x type twice, each display name twice)."""
    return write_parquet(tmp_path_factory.mktemp("garments"), make_rows(120))


@pytest.fixture(scope="module")
def catalog(garments: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The garments ingested with the tiny model into an embedded store."""
    data_dir = tmp_path_factory.mktemp("catalog")
    assert ingest_main(["--dataset", str(garments), "--data-dir", str(data_dir), "--qdrant", "edge", *TINY, "--workers", "0"]) == 0
    return data_dir


def test_a_gallery_without_enough_products_per_combination(capsys: pytest.CaptureFixture[str], catalog: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(catalog), "--qdrant", "edge", "--min-products", "500", "--output", str(tmp_path / "o.json"))
    assert code == 2
    assert "no attribute combination of the 120 products has 500 products; lower --min-products" in one_line_error(err)
    assert not (tmp_path / "o.json").exists()
