"""Start-up hygiene of every command line: --help and argument errors answer without the heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.commands import (
    HEAVY_MODULES,
    close_progress_bars,
    looks_like_local_path,
    missing_dataset_message,
    run_cli,
    unwritable_dir_message,
)

ROOT = Path(__file__).resolve().parents[1]
_RUN_MAIN = """
import json, sys
from importlib import import_module
main = import_module(sys.argv[1]).main
try:
    code = main(sys.argv[2:])
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "loaded": sorted(sys.modules)}))
"""


def run_main(module: str, *args: str, cwd: Path = ROOT) -> tuple[int, set[str], str]:
    """Call ``module.main(args)`` in a fresh interpreter: its exit code, the modules it loaded, its stderr."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN_MAIN, module, *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["code"], {name.split(".")[0] for name in report["loaded"]}, result.stderr


@pytest.mark.parametrize(
    ("module", "args", "code"),
    [
        ("ingest.cli", ["--help"], 0),
        ("ingest.cli", ["--no-such-flag"], 2),
        ("ingest.cli", ["--batch-size", "0"], 2),
        ("ingest.cli", ["--limit", "0"], 2),
        ("ingest.cli", ["--dataset", "./no-such-folder"], 2),
        ("ingest.cli", ["--weights", "no-such-file.pt", "--dataset", "./no-such-folder"], 2),
        ("finetune.cli", ["--help"], 0),
        ("finetune.cli", ["--epochs", "0"], 2),
        ("finetune.cli", ["--dataset", "/no/such/dataset"], 2),
        ("finetune.evaluate", ["--help"], 0),
        ("finetune.interpolate", ["--help"], 0),
    ],
)
def test_help_and_argument_errors_import_nothing_heavy(module: str, args: list[str], code: int, tmp_path: Path) -> None:
    exit_code, loaded, stderr = run_main(module, *args, cwd=tmp_path)
    assert exit_code == code, stderr
    assert not loaded & set(HEAVY_MODULES), f"{module} {args} imported {sorted(loaded & set(HEAVY_MODULES))}"
    assert list(tmp_path.iterdir()) == []  # nothing created either
    if code == 2:
        assert "error: " in stderr.strip().splitlines()[-1]


def test_ingest_status_loads_no_model(tmp_path: Path) -> None:
    exit_code, loaded, stderr = run_main("ingest.cli", "--status", "--data-dir", str(tmp_path / "d"), "--qdrant", "edge")
    assert exit_code == 0, stderr
    assert not loaded & {"torch", "open_clip", "datasets", "qdrant_client"}
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("hub_id", ["ashraq/fashion-product-images-small", "ceyda/fashion-products-small", "mnist"])
def test_hub_ids_are_left_to_the_dataset_reader(hub_id: str) -> None:
    assert not looks_like_local_path(hub_id)
    assert missing_dataset_message(hub_id) is None


@pytest.mark.parametrize("path", ["./data", "../shared/data/x", "/abs/folder", "products.parquet", "a/b/c", "styles.csv"])
def test_missing_local_dataset_paths_say_so(path: str) -> None:
    message = missing_dataset_message(path)
    assert message is not None and path in message and "no such file or folder" in message and "network" not in message


def test_existing_dataset_path_passes(parquet_dataset: Path) -> None:
    assert missing_dataset_message(str(parquet_dataset)) is None


def test_unwritable_dir_is_found_without_creating_it(tmp_path: Path) -> None:
    assert unwritable_dir_message(tmp_path / "new" / "checkpoints", "--output-dir") is None
    assert not (tmp_path / "new").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    message = unwritable_dir_message(blocker / "out", "--output-dir")
    assert message is not None and "not a directory" in message and "--output-dir" in message


def test_run_cli_turns_a_project_error_into_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.errors import FashionSearchError

    def broken() -> None:
        raise FashionSearchError("it broke; fix it")

    assert run_cli(broken) == 2
    assert capsys.readouterr().err == "error: it broke; fix it\n"
    assert run_cli(lambda: 3) == 3 and run_cli(lambda: {"a": 1}) == 0


def test_run_cli_lets_unexpected_errors_through(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_cli(broken)
    assert run_cli(broken, also=(LookupError,)) == 2
    assert run_cli(broken, describe=lambda error: f"described {error}") == 2
    assert capsys.readouterr().err.splitlines() == ["error: 'bug'", "error: described 'bug'"]


def test_open_progress_bars_are_ended(capsys: pytest.CaptureFixture[str]) -> None:
    from tqdm import tqdm

    bar = tqdm(total=10, desc="work", leave=False)
    bar.update(3)
    close_progress_bars()
    assert bar.disable  # closed
    print("error: next line", file=sys.stderr)
    err = capsys.readouterr().err
    assert err.endswith("\rerror: next line\n") or err.endswith("\nerror: next line\n")
