"""Running `python -m ingest` in-process in tests, and reading back what it stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest.cli import main
from shared.settings import Settings
from shared.storage.catalog import Catalog
from shared.storage.vector_store import open_store

TINY = ["--model", "tiny-test"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def status_of(capsys: pytest.CaptureFixture[str], data_dir: Path) -> dict[str, Any]:
    code, out, _ = run_cli(capsys, "--status", "--json", "--data-dir", str(data_dir), "--qdrant", "edge")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 1
    return rows[0]


def ids_everywhere(data_dir: Path) -> tuple[set[int], set[int]]:
    settings = Settings.from_env(data_dir=data_dir, qdrant_url="edge")
    with open_store(settings) as store:
        stored = store.all_ids(settings.collection)
    return Catalog(settings.catalog_url).product_ids(settings.collection), stored
