from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from shared.weights import FORMAT, WeightsError, file_sha256, read_weights, save_weights


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))


class Exploit:
    """Unpickling this would create a directory: read_weights must refuse it before that happens."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.makedirs, (self.marker,))


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "sub" / "weights.pt"
    metadata = {"epochs": 3, "metrics": {"recall@10": 0.5}, "dataset": "x", "tags": ["a", None, 1.5]}
    sha = save_weights(path, model, "tiny-test", pretrained=None, metadata=metadata)
    loaded = read_weights(path)
    assert loaded.model_name == "tiny-test" and loaded.pretrained is None and loaded.config is None
    assert loaded.metadata == metadata
    assert sha == loaded.sha256 == file_sha256(path)
    assert loaded.path == str(path)
    original = model.state_dict()
    assert list(loaded.state_dict) == list(original)
    for key, value in original.items():
        assert torch.equal(loaded.state_dict[key], value) and loaded.state_dict[key].dtype == value.dtype


def test_save_is_atomic_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    first = save_weights(path, _model(), "a")
    model = _model()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    second = save_weights(path, model, "b", config={"embed_dim": 2})
    assert first != second
    assert read_weights(path).model_name == "b" and read_weights(path).config == {"embed_dim": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]  # no temporary file left


def test_metadata_must_be_plain(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    with pytest.raises(WeightsError, match="metadata"):
        save_weights(path, _model(), "a", metadata={"when": object()})
    assert not path.exists()


def test_bare_state_dict_and_open_clip_checkpoint(tmp_path: Path) -> None:
    model = _model()
    bare = tmp_path / "bare.pt"
    torch.save(model.state_dict(), bare)
    loaded = read_weights(bare)
    assert loaded.model_name is None and loaded.metadata == {}
    assert torch.equal(loaded.state_dict["0.weight"], model.state_dict()["0.weight"])

    checkpoint = tmp_path / "epoch_1.pt"
    torch.save({"epoch": 1, "name": "run", "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, checkpoint)
    loaded = read_weights(checkpoint)
    assert loaded.model_name is None and set(loaded.state_dict) == set(model.state_dict())


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="nope.pt does not exist"):
        read_weights(tmp_path / "nope.pt")
    with pytest.raises(WeightsError, match="--weights"):
        read_weights(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello", b"not a torch file at all", b"PK\x03\x04garbage"])
def test_not_a_torch_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="junk.pt is not a readable weights file"):
        read_weights(path)


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Exploit(str(marker))}, path)
    with pytest.raises(WeightsError, match="refused for safety"):
        read_weights(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"foo": 1}, "not model weights"),
        ([torch.zeros(2)], "not model weights"),
        ({"format": "fashion-clip-weights/9", "state_dict": {}}, "expected 'fashion-clip-weights/1'"),
        ({"format": FORMAT, "model_name": "x", "state_dict": {"a": 1}}, "damaged"),
    ],
)
def test_wrong_content(tmp_path: Path, payload: object, message: str) -> None:
    path = tmp_path / "w.pt"
    torch.save(payload, path)
    with pytest.raises(WeightsError, match=message):
        read_weights(path)
