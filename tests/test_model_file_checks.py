"""Weights files checked before a model is built: config within the known architectures
(shared/models/registry.py), no download, no large allocation (shared/models/loading.py)."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import open_clip
import pytest
import torch

from shared.models import ModelLoadError, load_model, registry
from shared.models.weights import save_weights


def _refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> socket.socket:
        pytest.fail("a weights file must never reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_config_beyond_every_known_architecture_is_refused_before_building(tmp_path: Path) -> None:
    config = registry.get_config("tiny-test")
    config["vision_cfg"]["width"] = 10**6  # building this would need terabytes
    path = tmp_path / "huge.pt"
    save_weights(path, {"logit_scale": torch.ones(())}, "my-huge", config=config)
    assert path.stat().st_size < 4096
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as refused:
        load_model(weights=path)
    message = str(refused.value)
    assert "unlike any known architecture (vision_cfg.width=1000000, outside the known architectures' range" in message
    assert str(path) in message and "\n" not in message and time.monotonic() - start < 5


@pytest.mark.parametrize("in_file", [True, False], ids=["config-in-file", "registered-name"])
def test_small_file_of_a_big_known_model_is_refused_without_memory(tmp_path: Path, in_file: bool) -> None:
    """ViT-L-14 holds 428 M parameters (1.7 GB): the tiny state dict is refused before any of it exists."""
    path = tmp_path / "small.pt"
    config = registry.get_config("ViT-L-14") if in_file else None
    save_weights(path, {"logit_scale": torch.ones(())}, "ViT-L-14", config=config)
    before = _peak_rss_mb()
    with pytest.raises(ModelLoadError) as refused:
        load_model(weights=path)
    grown = _peak_rss_mb() - before
    assert grown < 400, f"refusing a {path.stat().st_size}-byte file raised the peak memory by {grown:.0f} MB"
    assert re.search(r"do not fit the model ViT-L-14 they name \(\d+ missing keys", str(refused.value))


def test_config_naming_an_unknown_hub_repo_is_refused_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _refuse_network(monkeypatch)
    config = registry.get_config("tiny-hf-test")
    config["text_cfg"]["hf_model_name"] = "someone/huge-model"
    path = tmp_path / "hub.pt"
    save_weights(path, load_model("tiny-hf-test", None).model, "my-hub-model", config=config)
    with pytest.raises(ModelLoadError, match=r"text_cfg.hf_model_name='someone/huge-model', which no known architecture uses"):
        load_model(weights=path)


def test_known_hub_model_missing_from_the_cache_is_not_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _refuse_network(monkeypatch)
    path = tmp_path / "roberta.pt"
    save_weights(path, {"logit_scale": torch.ones(())}, "roberta-ViT-B-32")  # open_clip's config: text tower roberta-base
    with pytest.raises(ModelLoadError, match=r"need roberta-base from the Hugging Face hub, which is not in the local cache"):
        load_model(weights=path)


def test_every_known_architecture_passes_the_file_config_check() -> None:
    for name in open_clip.list_models():
        registry.check_file_config(registry.get_config(name))
    for bad, key in (({"foo": 1}, "key foo"), ({"embed_dim": "x"}, "embed_dim='x'"), ({"vision_cfg": {"layers": [1] * 99}}, "vision_cfg.layers")):
        with pytest.raises(registry.ConfigError, match=key):
            registry.check_file_config(bad)
