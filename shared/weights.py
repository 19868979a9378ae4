"""The fine-tuned weights file: one ``torch.save`` dict, always read back with ``weights_only=True``.

Format ``fashion-clip-weights/1``::

    {"format": "fashion-clip-weights/1", "model_name": str, "pretrained": str | None,
     "config": dict | None,   # the open_clip config when the model is not a registered name
     "state_dict": {name: tensor}, "metadata": dict}   # training metadata: epochs, metrics, dataset ...

A bare state dict (``torch.save(model.state_dict(), path)``) and an open_clip training checkpoint
(``{"state_dict": ..., "epoch": ...}``) are read too, with ``model_name`` None.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "fashion-clip-weights/1"
_FIX = "pass --weights PATH to a file written by `python -m finetune` (or torch.save(model.state_dict(), PATH))"


class WeightsError(ValueError):
    """A weights file cannot be written or read; the message names the path and the fix."""


@dataclass
class WeightsFile:
    model_name: str | None
    pretrained: str | None
    config: dict[str, Any] | None
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_plain(value: Any, where: str) -> None:
    """Metadata must load under weights_only=True: plain containers of str/int/float/bool/None."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise WeightsError(f"weights metadata key {where}[{key!r}] must be a string or an int")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise WeightsError(
        f"weights metadata {where} is a {type(value).__name__}; use plain str/int/float/bool/list/dict values"
    )


def _cpu_state_dict(model: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = model.state_dict() if isinstance(model, nn.Module) else model
    return {key: value.detach().to("cpu").clone() for key, value in state.items()}


def save_weights(
    path: str | os.PathLike[str],
    model: nn.Module | Mapping[str, torch.Tensor],
    model_name: str,
    *,
    pretrained: str | None = None,
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Write the weights file atomically (temporary file + os.replace); return its sha256."""
    metadata = dict(metadata or {})
    _check_plain(metadata, "metadata")
    if config is not None:
        _check_plain(config, "config")
    payload = {
        "format": FORMAT,
        "model_name": model_name,
        "pretrained": pretrained,
        "config": config,
        "state_dict": _cpu_state_dict(model),
        "metadata": metadata,
    }
    target = Path(path)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise WeightsError(f"cannot write weights file {target} ({exc}); choose a writable path") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return file_sha256(target)


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(key, str) and isinstance(item, torch.Tensor) for key, item in value.items())
    )


def _strip_module_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if all(key.startswith("module.") for key in state):
        return {key[len("module."):]: value for key, value in state.items()}
    return dict(state)


def read_weights(path: str | os.PathLike[str]) -> WeightsFile:
    """Read a weights file (this project's format, a bare state dict, or an open_clip checkpoint)."""
    where = str(path)
    if not os.path.isfile(where):
        raise WeightsError(f"weights file {where} does not exist or is not a file; {_FIX}")
    try:
        data = torch.load(where, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on arbitrary bytes (KeyError, EOFError ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it holds Python objects other than tensors, refused for safety"
        raise WeightsError(f"{where} is not a readable weights file ({reason[:160]}); {_FIX}") from exc
    sha = file_sha256(where)
    if isinstance(data, Mapping) and "format" in data:
        if data.get("format") != FORMAT:
            raise WeightsError(f"{where} has weights format {data.get('format')!r}, expected {FORMAT!r}; {_FIX}")
        state = data.get("state_dict")
        if not _is_state_dict(state) or not isinstance(data.get("model_name"), str):
            raise WeightsError(f"{where} is a damaged {FORMAT} file (no model_name or state_dict); {_FIX}")
        return WeightsFile(
            model_name=data["model_name"],
            pretrained=data.get("pretrained"),
            config=data.get("config"),
            state_dict=dict(state),
            metadata=dict(data.get("metadata") or {}),
            sha256=sha,
            path=where,
        )
    if isinstance(data, Mapping) and _is_state_dict(data.get("state_dict")):
        data = data["state_dict"]  # open_clip training checkpoint
    if _is_state_dict(data):
        return WeightsFile(None, None, None, _strip_module_prefix(data), {}, sha, where)
    raise WeightsError(f"{where} holds a {type(data).__name__}, not model weights (no state dict of tensors); {_FIX}")
