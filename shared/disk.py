"""Free disk space: checked before writes, and disk-full failures turned into one line.

A full disk must stop a run with "disk full at DIR: N MB free, need about M MB" and
leave what is stored intact, never with a raw SQLite or Qdrant Edge traceback, and
never with a "Bus error": Qdrant Edge memory-maps its files, and on tmpfs a write
into a mapped page that the filesystem cannot back kills the process with SIGBUS,
which no ``except`` can catch. So space is checked *before* each write, with a
reserve (``FASHION_MIN_FREE_MB``, default 50 MB) for the store's own growth (a new
32 MB vector chunk or WAL segment), and, on tmpfs, for the holes of sparse files
that opening a shard fills.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from shared.errors import FashionSearchError

MB = 1 << 20
DEFAULT_MIN_FREE_MB = 50
MIN_FREE_ENV = "FASHION_MIN_FREE_MB"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded", "not enough space")
_FILLING_FILESYSTEMS = {"tmpfs", "ramfs"}
"""Filesystems on which mapping a sparse file's hole allocates it (so opening a shard uses space)."""


class DiskSpaceError(FashionSearchError, OSError):
    """A free-space check that cannot pass: a full disk, or a bad FASHION_MIN_FREE_MB."""


class DiskFullError(DiskSpaceError):
    """Not enough free space for the next write; the message names the folder and the space needed."""


def reserve_bytes() -> int:
    """The free space kept in reserve for the store's own growth (``FASHION_MIN_FREE_MB``, default 50)."""
    text = os.environ.get(MIN_FREE_ENV, "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_MIN_FREE_MB
    except ValueError:
        raise DiskSpaceError(f"{MIN_FREE_ENV}={text!r} is not a number of megabytes; unset it or give e.g. 50") from None
    return max(0, int(megabytes * MB))


def existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest existing parent (a data dir is checked before it is created)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(existing_ancestor(path)).free


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/self/mountinfo; "" where unknown)."""
    target = str(existing_ancestor(path).resolve())
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        mount_point = fields[0].split()[4].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, kind = mount_point, fields[1].split()[0]
    return kind


def sparse_hole_bytes(folder: Path, *, any_filesystem: bool = False) -> int:
    """Bytes that mapping every file under ``folder`` may allocate: their holes, on tmpfs-like filesystems
    (``any_filesystem``: on every filesystem, as a shard opened on a disk with no byte free, ext4 included,
    can fault on a hole)."""
    if not folder.is_dir() or not (any_filesystem or filesystem_type(folder) in _FILLING_FILESYSTEMS):
        return 0
    holes = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                info = os.stat(os.path.join(root, name))
            except OSError:
                continue
            holes += max(0, info.st_size - info.st_blocks * 512)
    return holes


def disk_full_message(folder: Path, free: int, need: int) -> str:
    return (
        f"disk full at {folder}: {free // MB} MB free, need about {max(1, -(-need // MB))} MB; "
        "free some space or pass a --data-dir on a larger disk (what is stored is kept)"
    )


def disk_full_error(folder: Path, need: int = 0) -> DiskFullError:
    """The one-line error for ``folder``'s full disk, when ``need`` bytes (plus the reserve) are to be written."""
    return DiskFullError(disk_full_message(folder, free_bytes(folder), need + reserve_bytes()))


def check_free_space(folder: Path, need: int) -> None:
    """Raise DiskFullError unless ``folder``'s filesystem has ``need`` bytes plus the reserve free."""
    total = need + reserve_bytes()
    free = free_bytes(folder)
    if free < total:
        raise DiskFullError(disk_full_message(folder, free, total))


def is_disk_full(error: BaseException) -> bool:
    """Whether an exception (OSError, SQLite's OperationalError, Qdrant Edge's bare Exception, or
    a DataLoader worker's re-raised copy) says the disk or quota is full."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        text = str(current).lower()
        if any(marker in text for marker in _FULL_TEXTS) or "[errno 28]" in text:
            return True
        current = current.__cause__ or current.__context__
    return False
