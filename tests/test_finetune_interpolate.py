from __future__ import annotations

from pathlib import Path

import pytest
import torch

from finetune.interpolate import main
from finetune.wise_ft import interpolate_files, interpolate_state
from shared.models import load_model
from shared.models.weights import WeightsError, read_weights, save_weights


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    torch.manual_seed(0)
    base = load_model("tiny-test", None).model
    torch.manual_seed(1)
    tuned = load_model("tiny-test", None).model
    save_weights(tmp_path / "base.pt", base, "tiny-test")
    save_weights(tmp_path / "tuned.pt", tuned, "tiny-test", metadata={"epoch": 3})
    return tmp_path / "base.pt", tmp_path / "tuned.pt"


def test_alpha_zero_and_one_reproduce_the_inputs(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base, tuned = pair
    assert main(["--base", str(base), "--finetuned", str(tuned), "--alpha", "0", "1", "0.5", "--output", str(tmp_path / "wise{alpha}.pt")]) == 0
    b, t = read_weights(base).state_dict, read_weights(tuned).state_dict
    zero, one, half = (read_weights(tmp_path / f"wise{a}.pt") for a in ("0", "1", "0.5"))
    assert all(torch.equal(zero.state_dict[k], b[k]) for k in b)
    assert all(torch.equal(one.state_dict[k], t[k]) for k in t)
    key = "visual.proj"
    assert torch.allclose(half.state_dict[key], (b[key] + t[key]) / 2)
    assert half.metadata["wise_ft"]["alpha"] == 0.5 and half.metadata["epoch"] == 3
    assert half.model_name == "tiny-test"


def test_another_architecture_is_refused(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = pair
    other = tmp_path / "other.pt"
    save_weights(other, load_model("tiny-hf-test", None).model, "tiny-hf-test")
    with pytest.raises(WeightsError, match="same architecture"):
        interpolate_files(str(base), str(other), 0.5, str(tmp_path / "out.pt"))
    with pytest.raises(WeightsError, match="different architectures"):
        interpolate_state({"a": torch.zeros(2)}, {"b": torch.zeros(2)}, 0.5)


def test_alpha_out_of_range(pair: tuple[Path, Path], tmp_path: Path) -> None:
    base, tuned = pair
    assert main(["--base", str(base), "--finetuned", str(tuned), "--alpha", "1.5", "--output", str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.slow
def test_a_shipped_partial_file_interpolates_as_the_whole_model(shipped_lite: Path, tmp_path: Path) -> None:
    output = tmp_path / "wise.pt"
    interpolate_files("lite", str(shipped_lite), 1.0, str(output))
    mixed = read_weights(output)
    assert mixed.base is None  # a full file
    shipped = load_model(weights=shipped_lite).model.state_dict()
    assert set(mixed.state_dict) == set(shipped)
    assert all(torch.equal(mixed.state_dict[key], value) for key, value in shipped.items())
