from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.cli import build_parser, config_from_args
from finetune.config import LITE_RECIPE
from tests.synthetic import make_rows, write_kaggle

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_every_option() -> None:
    result = subprocess.run([sys.executable, "-m", "finetune", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--model", "--weights", "--dataset", "--subset-size", "--epochs", "--batch-size", "--lr-image", "--lr-text",
                 "--lr-projection", "--weight-decay", "--warmup", "--schedule", "--precision", "--grad-checkpointing",
                 "--accum-freq", "--lock-image", "--unlock-last-blocks", "--unlock-text-layers", "--group-batches-by", "--device", "--seed", "--output-dir", "--resume",
                 "--early-stopping", "--local-loss", "--no-gather-with-grad", "torchrun --nproc_per_node"):
        assert flag in result.stdout, flag


def test_lite_gets_the_cpu_recipe_and_flags_win() -> None:
    parser = build_parser()
    lite = config_from_args(parser.parse_args(["--model", "lite"]))
    assert all(getattr(lite, key) == value for key, value in LITE_RECIPE.items())
    assert lite.unlock_text_layers == 2 and lite.epochs == 5
    tuned = config_from_args(parser.parse_args(["--model", "lite", "--batch-size", "32", "--lr", "1e-6", "--lr-text", "2e-6"]))
    assert tuned.batch_size == 32 and tuned.lr_image == 1e-6 and tuned.lr_projection == 1e-6 and tuned.lr_text == 2e-6
    default = config_from_args(parser.parse_args([]))
    assert default.model == "ViT-B-32-quickgelu" and default.batch_size == 128
    assert default.unlock_last_blocks is None and default.unlock_text_layers is None


def test_bad_option_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "finetune", "--model", "tiny-test", "--epochs", "0", "--output-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: --epochs 0 must be at least 1"


def _finetune(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m finetune`` with its output as written (carriage returns kept, not read as newlines)."""
    result = subprocess.run([sys.executable, "-m", "finetune", *args], cwd=cwd, capture_output=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())


@pytest.mark.slow
@pytest.mark.parametrize(
    "problem",
    [["--dataset", "./no-such-dataset"], ["--model", "no-such-model-name", "--pretrained", "none"]],
    ids=["missing dataset", "unknown model"],
)
def test_failed_finetune_creates_no_folders(problem: list[str], parquet_dataset: Path, tmp_path: Path) -> None:
    args = ["--model", "tiny-test", "--pretrained", "none", "--dataset", str(parquet_dataset), "--epochs", "1",
            "--batch-size", "8", "--output-dir", str(tmp_path / "out"), *problem]
    result = _finetune(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no out/, checkpoints/ or models/


@pytest.mark.slow
def test_error_after_a_progress_bar_starts_on_its_own_line(tmp_path: Path) -> None:
    rows = make_rows(40)
    for row in rows:
        row["usage"] = ""  # --group-batches-by usage fails once the "decode images" bar has run
    dataset = write_kaggle(tmp_path / "kaggle", rows)
    result = _finetune("--model", "tiny-test", "--pretrained", "none", "--dataset", str(dataset), "--epochs", "1",
                       "--group-batches-by", "usage", "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    before = result.stderr[: result.stderr.rindex("error: ")]
    assert before == "" or before.endswith("\n"), repr(before[-80:])  # not after the bar's carriage return
    assert not (tmp_path / "out").exists()
