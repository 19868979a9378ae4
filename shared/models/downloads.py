"""Pretrained open_clip weights: use the local cache, else download with open_clip's own code, failing fast offline.

huggingface_hub retries an unreachable host five times with back-off (about 45 s for one model); before any
download this module checks the cache, honours ``HF_HUB_OFFLINE``, then tries one TCP connection to the host
(or the configured HTTPS proxy) with a short timeout, and only calls open_clip's download when that answers.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from open_clip.pretrained import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME, download_pretrained, get_pretrained_cfg

from shared.errors import FashionSearchError

PROBE_TIMEOUT_S = 4.0
OFFLINE_HINT = "on a machine without internet use --model lite, or --weights PATH to a saved weights file"


class DownloadError(FashionSearchError, RuntimeError):
    """Weights or a hub model cannot be fetched; the message says why, without the caller's prefix."""


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline() -> bool:
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def _hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _hf_candidates(hf_hub: str) -> tuple[str, list[str]]:
    """(repo id, file names open_clip would try, in order) for a pretrained cfg's ``hf_hub`` entry."""
    repo_id, filename = os.path.split(hf_hub)
    filename = filename or HF_WEIGHTS_NAME
    names = []
    if filename == HF_WEIGHTS_NAME:
        names.append(HF_SAFE_WEIGHTS_NAME)
    elif filename.endswith((".bin", ".pth")):
        names.append(filename[:-4] + ".safetensors")
    return repo_id, names + [filename]


def cached_checkpoint(cfg: dict[str, Any], cache_dir: str | None = None) -> str | None:
    """The local path of the checkpoint a pretrained cfg names, when it is already downloaded."""
    if cfg.get("file"):
        return str(cfg["file"])
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        repo_id, names = _hf_candidates(cfg["hf_hub"])
        for name in names:
            found = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    if cfg.get("url"):
        folder = Path(cache_dir) if cache_dir else Path("~/.cache/clip").expanduser()
        candidate = folder / os.path.basename(cfg["url"])
        if candidate.is_file():
            return str(candidate)
    return None


def _probe_target(url: str) -> tuple[str, int]:
    proxy = urllib.request.getproxies().get(urlparse(url).scheme or "https")
    parsed = urlparse(proxy if proxy else url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.hostname or "", port


def check_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """One TCP connection to the host of ``url`` (or its proxy); DownloadError within ``timeout`` if none."""
    host, port = _probe_target(url)
    outcome: dict[str, BaseException | None] = {}

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome["error"] = None
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, daemon=True)  # getaddrinfo has no timeout of its own
    worker.start()
    worker.join(timeout + 0.5)
    if "error" not in outcome:
        raise DownloadError(f"{host}:{port} did not answer within {timeout:.0f} s")
    if outcome["error"] is not None:
        raise DownloadError(f"{host}:{port} unreachable: {outcome['error']}")


def pretrained_checkpoint(model_name: str, tag: str, cache_dir: str | None = None) -> tuple[str, dict[str, Any]]:
    """(local checkpoint path, open_clip pretrained cfg) for ``model_name``/``tag``, downloading when needed."""
    cfg = get_pretrained_cfg(model_name, tag)
    if not cfg:
        raise DownloadError(f"open_clip has no pretrained tag {tag!r} for {model_name}")
    cached = cached_checkpoint(cfg, cache_dir)
    if cached:
        return cached, cfg
    use_hub = bool(cfg.get("hf_hub"))
    if use_hub and hub_offline():
        raise DownloadError("HF_HUB_OFFLINE is set and the weights are not in the local cache")
    check_reachable(_hf_endpoint() if use_hub else cfg["url"])
    try:
        path = download_pretrained(cfg, cache_dir=cache_dir)
    except Exception as exc:  # open_clip / hub raise many types; the message is what matters
        raise DownloadError(str(exc).splitlines()[0][:200]) from exc
    if not path:
        raise DownloadError(f"open_clip returned no file for {model_name}/{tag}")
    return path, cfg


def ensure_hf_model_available(name_or_path: str, cache_dir: str | None = None) -> None:
    """A HF text tower named by hub id needs its config from the hub: check the cache or reachability first."""
    if os.path.isdir(name_or_path):
        return
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(name_or_path, "config.json", cache_dir=cache_dir)
    if isinstance(found, str):
        return
    if hub_offline():
        raise DownloadError(f"HF_HUB_OFFLINE is set and {name_or_path} is not in the local cache")
    check_reachable(_hf_endpoint())


HUB_CACHE_PROBES = ("config.json", "tokenizer_config.json", "tokenizer.json")


def hub_model_cached(name_or_path: str, cache_dir: str | None = None) -> bool:
    """Whether a hub id (model or tokenizer) can be loaded from the local cache alone."""
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(name_or_path, probe, cache_dir=cache_dir), str) for probe in HUB_CACHE_PROBES)


_offline_lock = threading.RLock()


@contextmanager
def offline_hub() -> Iterator[None]:
    """Inside, huggingface_hub (and transformers through it) reads the local cache only: no request at all."""
    from huggingface_hub import constants

    with _offline_lock:
        saved = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE = saved
