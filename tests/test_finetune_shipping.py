"""finetune.shipping / finetune.export_shipped: a fine-tuned lite file cut down to the shipped model."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import torch

from finetune.cli import build_parser, config_from_args
from finetune.export_shipped import main
from finetune.shipping import MAX_SHIPPED_BYTES, ExportError, export_shipped, training_command
from shared.models import load_model
from shared.models.building import LITE_TAG
from shared.models.partial_weights import RECORDED_PACKAGES, installed_version, tensors_sha256
from shared.models.weights import read_weights, save_weights
from tests.shipped_fixtures import TRAINING


def test_the_file_is_small_and_its_metadata_says_how_it_was_made(shipped_lite: Path, finetuned_lite: Path) -> None:
    assert shipped_lite.stat().st_size < MAX_SHIPPED_BYTES
    assert shipped_lite.stat().st_size < finetuned_lite.stat().st_size / 5
    shipped = read_weights(shipped_lite)
    metadata = shipped.metadata
    assert metadata["recipe"] == TRAINING
    assert metadata["data"] == {
        "dataset": "data/catalog", "products": 100, "train_products": 85, "val_products": 15,
        "split_seed": 3, "val_fraction": 0.15, "subset_size": None,
    }
    assert metadata["packages"] == {package: installed_version(package) for package in RECORDED_PACKAGES}
    assert metadata["tensors_sha256"] == tensors_sha256(shipped.state_dict)
    assert metadata["source_sha256"] == read_weights(finetuned_lite).sha256
    assert metadata["best_epoch"] == 8 and metadata["val_metrics"] == {"r@10": 0.5}


def test_the_recorded_command_gives_the_recorded_recipe() -> None:
    command = training_command(TRAINING)
    assert command == "python -m finetune --model lite --dataset data/catalog --epochs 8 --seed 3"
    args = build_parser().parse_args(shlex.split(command)[3:])
    assert config_from_args(args).to_dict() == TRAINING


def test_a_file_over_the_size_bound_is_refused(finetuned_lite: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"over the 1 MB a shipped file may hold; train with fewer unlocked layers"):
        export_shipped(finetuned_lite, tmp_path / "big.pt", max_bytes=1_000_000)
    assert not (tmp_path / "big.pt").exists()


def test_the_untrained_base_and_other_models_are_refused(tmp_path: Path, tiny: object, shipped_lite: Path) -> None:
    base = tmp_path / "epoch0.pt"
    save_weights(base, load_model("lite").model, "lite", pretrained=LITE_TAG)
    with pytest.raises(ExportError, match=r"equals the base lite model \(nothing was trained\)"):
        export_shipped(base, tmp_path / "out.pt")
    other = tmp_path / "tiny.pt"
    save_weights(other, tiny.model, tiny.name)  # type: ignore[attr-defined]
    with pytest.raises(ExportError, match=r"holds model tiny-test, not lite"):
        export_shipped(other, tmp_path / "out.pt")
    with pytest.raises(ExportError, match=r"is already a shipped \(partial\) file"):
        export_shipped(shipped_lite, tmp_path / "out.pt")


def test_the_command_writes_the_file_and_says_what_it_holds(
    finetuned_lite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "shipped" / "fashion-lite.pt"
    assert main(["--weights", str(finetuned_lite), "--output", str(output), "--training-command", "python -m finetune --model lite"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {output}: ") and "tensors (the ones training changed)" in out
    assert read_weights(output).metadata["command"] == "python -m finetune --model lite"
    assert torch.load(output, map_location="cpu", weights_only=True)["base"]["model"] == "lite"


def test_the_command_refuses_a_missing_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--weights", str(tmp_path / "none.pt"), "--output", str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --weights ") and err.count("\n") == 1
