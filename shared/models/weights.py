"""The fine-tuned weights file: one ``torch.save`` dict, always read back with ``weights_only=True``.

Format ``fashion-clip-weights/1``::

    {"format": "fashion-clip-weights/1", "model_name": str, "pretrained": str | None,
     "config": dict | None,   # the open_clip config when the model is not a registered name
     "state_dict": {name: tensor}, "metadata": dict,   # training metadata: epochs, metrics, dataset ...
     "base": dict}   # only in a partial file: the packaged model its tensors overlay (see shared.models.partial_weights)

A bare state dict (``torch.save(model.state_dict(), path)``) and an open_clip training checkpoint
(``{"state_dict": ..., "epoch": ...}``) are read too, with ``model_name`` None.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.errors import FashionSearchError

FORMAT = "fashion-clip-weights/1"
_FIX = "use a .pt file written by `python -m finetune` (or by torch.save(model.state_dict(), PATH))"
_HASH_CACHE_SIZE = 32
RACY_WINDOW_NS = 2_000_000_000
"""A file modified less than this long ago is hashed again on every read: a second write within the same
file-system timestamp tick (coarse on some file systems, 2 s on FAT) would leave size and mtime unchanged."""


class WeightsError(FashionSearchError, ValueError):
    """A weights file cannot be written or read; the message names the path and the fix."""


class WeightsMismatchError(WeightsError):
    """A weights file is not the one expected (its sha256 differs from a recorded one)."""

    def __init__(self, path: str, expected_sha256: str, actual_sha256: str) -> None:
        super().__init__(f"weights {path} have sha256 {actual_sha256[:12]}, expected {expected_sha256[:12]}")
        self.path = path
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256


@dataclass
class WeightsFile:
    model_name: str | None
    pretrained: str | None
    config: dict[str, Any] | None
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""
    base: dict[str, Any] | None = None
    """Set for a partial file (a delta over a packaged base model, ``shared.models.partial_weights``): which base,
    built from which package versions. ``state_dict`` then holds only the tensors that differ from it."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


FileVersion = tuple[str, int, int, int]
"""(resolved path, size, mtime_ns, inode): a rewrite in place or a replace changes it."""

_hash_cache: OrderedDict[FileVersion, str] = OrderedDict()
_hash_cache_lock = threading.Lock()


def file_version(path: str | os.PathLike[str]) -> FileVersion:
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return (str(resolved), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def cached_file_sha256(path: str | os.PathLike[str]) -> str:
    """``file_sha256``, remembered per file version: an unchanged file is hashed once per process
    (once it is older than RACY_WINDOW_NS; a fresher one is hashed on every call)."""
    for _attempt in range(3):
        version = file_version(path)
        with _hash_cache_lock:
            if version in _hash_cache:
                _hash_cache.move_to_end(version)
                return _hash_cache[version]
        sha = file_sha256(version[0])
        if file_version(path) == version:
            if time.time_ns() - version[2] < RACY_WINDOW_NS:  # a rewrite now could keep this mtime: don't trust it
                return sha
            with _hash_cache_lock:
                _hash_cache[version] = sha
                while len(_hash_cache) > _HASH_CACHE_SIZE:
                    _hash_cache.popitem(last=False)
            return sha
    raise WeightsError(f"weights file {path} keeps changing while it is read (is a training run writing it?); retry when it is written")


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
    base: dict[str, Any] | None = None,
) -> str:
    """Write the weights file atomically (temporary file + os.replace); return its sha256.

    ``base`` makes it a partial file: ``model`` then holds only the tensors that differ from that base."""
    metadata = dict(metadata or {})
    _check_plain(metadata, "metadata")
    if config is not None:
        _check_plain(config, "config")
    if base is not None:
        _check_plain(base, "base")
    payload = {
        "format": FORMAT,
        "model_name": model_name,
        "pretrained": pretrained,
        "config": config,
        "state_dict": _cpu_state_dict(model),
        "metadata": metadata,
    }
    if base is not None:
        payload["base"] = dict(base)
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
    return cached_file_sha256(target)


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


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:  # perhaps cut inside a character: judge the rest
        text = head[:-4].decode("utf-8", errors="replace")
        if "\ufffd" in text:
            return False
    return all(char.isprintable() or char in "\t\r\n\f" for char in text)


def _what_it_is(head: bytes, size: int) -> str:
    """What a file torch.load cannot read looks like, for a message a user understands."""
    if size == 0:
        return "the file is empty (0 bytes)"
    if head.startswith(b"PK\x03\x04"):
        return f"it is a zip archive of {size} bytes but not a complete torch.save file (damaged, truncated or another zip)"
    if head.startswith(b"\x80"):
        return f"it is a Python pickle of {size} bytes that torch cannot read (damaged or truncated)"
    if len(head) > 8 and head[8:10] == b'{"':
        return f"it is a safetensors file of {size} bytes that torch cannot read (damaged or truncated)"
    for magic, kind in ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image")):
        if head.startswith(magic):
            return f"it is {kind}"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        return "it is a compressed archive (gzip/bzip2/xz); unpack it first"
    if _looks_like_text(head):
        start = head[:24].decode("utf-8", errors="replace").strip().replace("\n", " ")
        return f"it is a text file of {size} bytes starting {start!r}"
    return f"it is {size} bytes of binary data, not a file torch.save wrote"


def _unreadable(where: str, exc: BaseException) -> WeightsError:
    size = os.path.getsize(where)
    with open(where, "rb") as handle:
        head = handle.read(64)
    torch_file = head.startswith((b"PK\x03\x04", b"\x80"))
    if torch_file and "global" in str(exc).lower():  # "Unsupported global" / "unsupported GLOBAL posix.system"
        what = "it holds Python objects other than tensors, refused for safety"
    else:
        what = _what_it_is(head, size)
    return WeightsError(f"{where} is not a torch weights file: {what}; {_FIX}")


def read_weights(path: str | os.PathLike[str], expected_sha256: str | None = None) -> WeightsFile:
    """Read a weights file (this project's format, a bare state dict, or an open_clip checkpoint).

    The file's sha256 comes from a cache keyed by the file's version (``cached_file_sha256``), so
    a file read again is not hashed again. With ``expected_sha256`` a different file is refused
    (``WeightsMismatchError``) before its tensors are read.
    """
    where = str(path)
    if not os.path.isfile(where):
        raise WeightsError(f"weights file {where} does not exist or is not a file; {_FIX}")
    version = file_version(where)
    sha = cached_file_sha256(where)
    if expected_sha256 is not None and sha != expected_sha256:
        raise WeightsMismatchError(where, expected_sha256, sha)
    try:
        data = torch.load(where, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on arbitrary bytes (KeyError, EOFError ...)
        raise _unreadable(where, exc) from exc
    if file_version(where) != version:
        raise WeightsError(f"weights file {where} changed while it was read (is a training run writing it?); retry when it is written")
    if isinstance(data, Mapping) and "format" in data:
        if data.get("format") != FORMAT:
            raise WeightsError(f"{where} has weights format {data.get('format')!r}, expected {FORMAT!r}; {_FIX}")
        state = data.get("state_dict")
        if not _is_state_dict(state) or not isinstance(data.get("model_name"), str):
            raise WeightsError(f"{where} is a damaged {FORMAT} file (no model_name or state_dict); {_FIX}")
        base = data.get("base")
        if base is not None and not isinstance(base, Mapping):
            raise WeightsError(f"{where} is a damaged {FORMAT} file (its base is a {type(base).__name__}, not a dict); {_FIX}")
        return WeightsFile(
            model_name=data["model_name"],
            pretrained=data.get("pretrained"),
            config=data.get("config"),
            state_dict=dict(state),
            metadata=dict(data.get("metadata") or {}),
            sha256=sha,
            path=where,
            base=dict(base) if base is not None else None,
        )
    if isinstance(data, Mapping) and _is_state_dict(data.get("state_dict")):
        data = data["state_dict"]  # open_clip training checkpoint
    if _is_state_dict(data):
        return WeightsFile(None, None, None, _strip_module_prefix(data), {}, sha, where)
    raise WeightsError(f"{where} holds a {type(data).__name__}, not model weights (no state dict of tensors); {_FIX}")
