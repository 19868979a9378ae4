"""The folder lock of an embedded store: one process at a time, and never a dead one.

A POSIX record lock (``lockf``) on ``<folder>/.lock``: the kernel releases it when its
process dies, however it dies (``kill -9``, the OOM killer), and a forked child never
inherits it, so no orphan can keep a store locked. The file names the holder's pid:
a refusal says whether that process is alive and what it runs, and a lock left
named by a dead holder is taken over and the recovery logged.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from shared.runtime import process_alive
from shared.storage.vector_store.errors import StoreLockedError

try:  # POSIX only; elsewhere Edge's own WAL lock still refuses a second opener.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
log = logging.getLogger(__name__)

_held: dict[Path, int] = {}
"""Lock files this process holds, by resolved path (POSIX locks do not conflict within a process)."""
_held_guard = threading.Lock()


def _command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(raw.decode(errors="replace").replace("\0", " ").split())[:120]


def _holder_of(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def locked_message(path: Path, pid: int | None) -> str:
    if pid is None:
        holder = "another process"
    elif pid == os.getpid():
        holder = f"this process (pid {pid}) through another open store; close that one first"
    elif process_alive(pid):
        command = _command_of(pid)
        holder = f"another process (pid {pid}, alive{': ' + command if command else ''})"
    else:
        holder = f"another process (pid {pid} is no longer running; a process it started may hold the lock)"
    return (
        f"embedded store {path} is in use by {holder}; stop it, "
        "or run a Qdrant server: docker compose up qdrant and --qdrant http://localhost:6333"
    )


def acquire_folder_lock(path: Path) -> int | None:
    """Take the exclusive lock of a shard folder; raise StoreLockedError if another holder has it.

    The lock is a POSIX record lock (``lockf``): the kernel releases it when its process
    dies, however it dies, and a forked child never inherits it. The file names the
    holder's pid; a pid left there by a holder that died is reported in the log when
    the lock is recovered.
    """
    if fcntl is None:  # pragma: no cover
        return None
    path.mkdir(parents=True, exist_ok=True)
    lock_path = (path / LOCK_FILE).resolve()
    with _held_guard:
        if lock_path in _held:  # opening the file again here would drop this process's lock on close
            raise StoreLockedError(locked_message(path, os.getpid()))
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EAGAIN or EACCES: another process holds it
            holder = _holder_of(fd)
            os.close(fd)
            raise StoreLockedError(locked_message(path, holder)) from None
        previous = _holder_of(fd)
        if previous is not None and previous != os.getpid():
            state = "alive, but not holding it" if process_alive(previous) else "no longer running"
            log.warning("recovered the lock of embedded store %s from pid %s (%s)", path, previous, state)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _held[lock_path] = fd
    return fd


def release_folder_lock(fd: int | None) -> None:
    if fd is None or fcntl is None:
        return
    with _held_guard:
        for lock_path, held_fd in list(_held.items()):
            if held_fd == fd:
                del _held[lock_path]
        try:
            os.ftruncate(fd, 0)  # a clean release leaves no pid behind
        except OSError:
            pass
        os.close(fd)  # closing releases the POSIX lock
