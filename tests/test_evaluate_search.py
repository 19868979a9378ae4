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


def test_every_mode_end_to_end_on_an_ingested_catalog(capsys: pytest.CaptureFixture[str], catalog: Path, tmp_path: Path) -> None:
    output = tmp_path / "results" / "search_eval.json"
    args = ["--data-dir", str(catalog), "--qdrant", "edge", "--queries", "9", "--min-products", "2", "--output", str(output)]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    payload = json.loads(output.read_text(encoding="utf-8"))
    labels = [*SEARCH_MODES[:1], f"{SEARCH_MODES[0]}, understanding off", *SEARCH_MODES[1:]]
    assert list(payload["results"]) == labels
    assert payload["queries"] == {"shopper": 9, "names": 9, "composed": 9}
    assert payload["gallery"]["products"] == 120
    for tasks in payload["results"].values():
        assert tasks["shopper"]["queries"] == 9 and 0 <= tasks["shopper"]["P@10"] <= 1
        assert tasks["shopper"]["p50_ms"] > 0 and set(tasks) == {"shopper", "display_name", "composed"}
    assert 0 <= payload["photo_alone"]["P@10"] <= 1
    markdown = output.with_suffix(".md").read_text(encoding="utf-8")
    assert markdown.count("\n| ") == 2 + len(labels)  # header, rule and one row per setting
    assert "Command: `python -m finetune.evaluate_search --data-dir" in markdown
    assert out.strip().splitlines()[-1].startswith(f"evaluated {len(labels)} search setting(s) on 120 products; fused: shopper P@10")
    # the same seed gives the same queries, so the same results (latency aside)
    run(capsys, *args, "--output", str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert again["examples"] == payload["examples"]
    assert again["results"]["fused"]["shopper"]["P@10"] == payload["results"]["fused"]["shopper"]["P@10"]


def test_tune_and_a_split_ingested_into_a_work_dir(capsys: pytest.CaptureFixture[str], garments: Path, tmp_path: Path) -> None:
    output = tmp_path / "tuned.json"
    code, out, err = run(
        capsys, "--model", "tiny-test", "--dataset", str(garments), "--split", "all", "--limit", "60",
        "--work-dir", str(tmp_path / "work"), "--modes", "fused", "--queries", "3", "--min-products", "1",
        "--tune", "--output", str(output),
    )
    assert code == 0, err
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert payload["gallery"]["products"] == 60
    assert list(payload["results"]) == ["fused", "fused, understanding off"]
    scores = [t["score"] for t in payload["tuning"]]
    assert len(scores) == 27 and scores == sorted(scores, reverse=True)
    assert "best fusion weights" in out.strip().splitlines()[-1]
    assert "Fusion weights tried" in output.with_suffix(".md").read_text(encoding="utf-8")


def test_a_gallery_without_enough_products_per_combination(capsys: pytest.CaptureFixture[str], catalog: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--data-dir", str(catalog), "--qdrant", "edge", "--min-products", "500", "--output", str(tmp_path / "o.json"))
    assert code == 2
    assert "no attribute combination of the 120 products has 500 products; lower --min-products" in one_line_error(err)
    assert not (tmp_path / "o.json").exists()
