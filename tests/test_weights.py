from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from shared.models.weights import (
    FORMAT,
    WeightsError,
    WeightsMismatchError,
    cached_file_sha256,
    file_sha256,
    read_weights,
    save_weights,
)


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
    with pytest.raises(WeightsError, match="python -m finetune"):
        read_weights(tmp_path)


@pytest.mark.parametrize(
    "content, what",
    [
        (b"", "the file is empty"),
        (b"hello", "a text file of 5 bytes starting 'hello'"),
        (b'{"epochs": 3}\n', "a text file"),
        (b"PK\x03\x04garbage", "a zip archive of 11 bytes but not a complete torch.save file"),
        (b"\x80\x02garbage", "a Python pickle of 9 bytes that torch cannot read"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "a PNG image"),
        (bytes(range(256)) * 4, "1024 bytes of binary data, not a file torch.save wrote"),
    ],
)
def test_not_a_torch_file_says_what_it_is(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as refused:
        read_weights(path)
    message = str(refused.value)
    assert message.startswith(f"{path} is not a torch weights file: ") and what in message
    assert "written by `python -m finetune`" in message and "\n" not in message
    assert "(101)" not in message and "--weights" not in message  # no raw pickle codes, no flag of one CLI


def test_safetensors_file_reads_and_a_truncated_one_is_named(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"w": torch.ones(64)}, str(path))
    assert torch.equal(read_weights(path).state_dict["w"], torch.ones(64))  # torch.load reads safetensors
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsError, match="is not a torch weights file: it is a safetensors file of 100 bytes that torch cannot read"):
        read_weights(path)


def _age(path: Path, seconds: float, same_as: os.stat_result | None = None) -> os.stat_result:
    """Set a file's mtime ``seconds`` in the past (or to ``same_as``'s); its new stat."""
    mtime_ns = same_as.st_mtime_ns if same_as is not None else time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path.stat()


def test_hash_cache_follows_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 100)
    old = _age(path, 60)
    first = cached_file_sha256(path)
    assert first == file_sha256(path)
    path.write_bytes(b"b" * 100)  # same size, rewritten in place ...
    _age(path, 0, same_as=old)  # ... and the old mtime: the cache is trusted
    assert cached_file_sha256(path) == first  # not hashed again
    _age(path, 30)
    assert cached_file_sha256(path) == file_sha256(path) != first  # a new mtime is a new version
    changed_mtime = cached_file_sha256(path)
    path.write_bytes(b"b" * 101)
    _age(path, 30)
    assert cached_file_sha256(path) == file_sha256(path) != changed_mtime  # so is a new size


def test_a_fresh_file_is_not_trusted_to_its_mtime(tmp_path: Path) -> None:
    """Two writes within one timestamp tick leave size and mtime alike: a fresh file is always hashed."""
    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 100)
    now = _age(path, 0)
    assert cached_file_sha256(path) == file_sha256(path)
    path.write_bytes(b"b" * 100)
    _age(path, 0, same_as=now)
    assert cached_file_sha256(path) == file_sha256(path)  # the second content, not the cached first


def test_unchanged_file_is_hashed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.models.weights as weights_module

    path = tmp_path / "w.pt"
    sha = save_weights(path, _model(), "a")
    _age(path, 10)
    hashed: list[str] = []
    monkeypatch.setattr(weights_module, "file_sha256", lambda p: hashed.append(str(p)) or file_sha256(p))
    for _ in range(3):
        assert read_weights(path).sha256 == sha
    assert len(hashed) == 1  # three reads of one file version: hashed once
    save_weights(path, _model(), "b")
    assert read_weights(path).sha256 != sha and len(hashed) == 3  # a new version: hashed again (save, read)


def test_expected_hash_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    sha = save_weights(path, _model(), "a")
    assert read_weights(path, expected_sha256=sha).sha256 == sha
    with pytest.raises(WeightsMismatchError) as refused:
        read_weights(path, expected_sha256="0" * 64)
    assert refused.value.actual_sha256 == sha and refused.value.expected_sha256 == "0" * 64


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
