from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from finetune.cli import build_parser, config_from_args
from finetune.config import LITE_RECIPE

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_every_option() -> None:
    result = subprocess.run([sys.executable, "-m", "finetune", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for flag in ("--model", "--weights", "--dataset", "--subset-size", "--epochs", "--batch-size", "--lr-image", "--lr-text",
                 "--lr-projection", "--weight-decay", "--warmup", "--schedule", "--precision", "--grad-checkpointing",
                 "--accum-freq", "--lock-image", "--unlock-last-blocks", "--unlock-text-layers", "--group-batches-by", "--device", "--seed", "--output-dir", "--resume",
                 "--early-stopping"):
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
