"""The embedded store's folder lock: one live holder, never a dead one, never an inherited one."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared.storage.vector_store import StoreLockedError
from shared.storage.vector_store.folder_lock import LOCK_FILE, acquire_folder_lock, release_folder_lock
from tests.processes import alive, wait_gone

ROOT = Path(__file__).resolve().parents[1]

HOLDER = """
import os, sys, time
from pathlib import Path
from shared.storage.vector_store.folder_lock import acquire_folder_lock
acquire_folder_lock(Path(sys.argv[1]))
child = os.fork() if sys.argv[2] == "fork" else None
if child == 0:
    time.sleep(120)  # a forked child, like a DataLoader worker: it has the lock file open too
    os._exit(0)
print(child or os.getpid(), flush=True)
time.sleep(120)
"""


@contextmanager
def holder(folder: Path, mode: str = "plain") -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Another process that takes the folder's lock; yields it and the pid it reports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), mode], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        yield process, int(process.stdout.readline())
    finally:
        process.kill()
        process.wait()


def test_a_live_holder_is_refused_and_named(tmp_path: Path) -> None:
    with holder(tmp_path) as (process, _):
        with pytest.raises(StoreLockedError) as refused:
            acquire_folder_lock(tmp_path)
    message = str(refused.value)
    assert f"pid {process.pid}, alive" in message and "\n" not in message


def test_a_killed_holders_lock_is_recovered_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with holder(tmp_path) as (process, _):
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (tmp_path / LOCK_FILE).read_text() == str(process.pid)  # it died without releasing
    with caplog.at_level(logging.WARNING, logger="shared.storage.vector_store.folder_lock"):
        fd = acquire_folder_lock(tmp_path)
    try:
        assert f"from pid {process.pid} (no longer running)" in caplog.text
        assert (tmp_path / LOCK_FILE).read_text() == str(os.getpid())
    finally:
        release_folder_lock(fd)
    assert (tmp_path / LOCK_FILE).read_text() == ""  # a clean release leaves no pid behind


def test_a_forked_child_does_not_keep_a_dead_holders_lock(tmp_path: Path) -> None:
    with holder(tmp_path, "fork") as (process, child):
        process.send_signal(signal.SIGKILL)  # the main pid alone: its forked child lives on
        process.wait()
        try:
            assert alive(child)
            release_folder_lock(acquire_folder_lock(tmp_path))
        finally:
            os.kill(child, signal.SIGKILL)
            wait_gone({child}, timeout=10)


def test_a_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    fd = acquire_folder_lock(tmp_path)
    try:
        with pytest.raises(StoreLockedError, match=f"this process \\(pid {os.getpid()}\\)"):
            acquire_folder_lock(tmp_path)
        fd_again = None
    finally:
        release_folder_lock(fd)
    fd_again = acquire_folder_lock(tmp_path)  # released: free again
    release_folder_lock(fd_again)
