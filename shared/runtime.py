"""The process's runtime: the device a model runs on, and allocator tuning for CPU inference and training.

``resolve_device`` imports torch only when called, so a command line can import this module for
``tune_allocator`` and still answer ``--help`` without torch.

glibc's malloc hands every large tensor buffer back to the kernel (mmap/munmap)
and trims the heap after each free, so a CPU forward pass spends much of its time
in page faults zeroing fresh memory. Raising both thresholds keeps the buffers in
the heap for reuse. This is what `MALLOC_MMAP_THRESHOLD_` and
`MALLOC_TRIM_THRESHOLD_` do when set before a process starts; `tune_allocator()`
does the same from inside, so `python -m ingest` and friends need no wrapper.
Measured in benchmarks/results/embedding.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import TYPE_CHECKING

from shared.errors import FashionSearchError

if TYPE_CHECKING:
    import torch

THRESHOLD_BYTES = 1 << 30
"""1 GiB: allocations under it come from (and return to) the heap, which is not trimmed below it."""
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_tuned = False


class DeviceError(FashionSearchError, RuntimeError):
    """The requested device is not available; one line naming it and the fix."""


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when available else cpu; "cuda" without a GPU -> DeviceError."""
    import torch

    if isinstance(spec, torch.device):
        return spec
    text = str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {spec!r} requested but no CUDA GPU is available; use --device cpu or auto")
    try:
        return torch.device(text)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {spec!r}; use auto, cpu or cuda") from exc


def libc() -> ctypes.CDLL:
    """The C library of this process (glibc on the Linux machines this runs on)."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def tune_allocator(threshold: int = THRESHOLD_BYTES) -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where not glibc or disabled.

    Set FASHION_TUNE_MALLOC=0 to leave the allocator alone; variables already set by
    the user (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) are respected.
    """
    global _tuned
    if _tuned:
        return True
    if os.environ.get("FASHION_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = libc().mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    ok = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        ok = mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and ok
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        ok = mallopt(_M_TRIM_THRESHOLD, threshold) == 1 and ok
    _tuned = ok
    return ok


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
