"""DataLoader worker processes that never hold the store and never outlive their parent.

A plain ``fork`` worker inherits every descriptor of the main process, the embedded
store's folder lock and write-ahead log among them. When the main process is killed
(``kill -9``, the OOM killer, a container stop), a forked worker used to survive as an
orphan, asleep in a futex inherited mid-lock, holding the store forever.

Two rules prevent that, for ingest and fine-tuning alike:

- Workers start from a ``forkserver`` (``spawn`` where there is none): a clean
  process that was exec'd without the parent's descriptors, so a worker holds no
  store lock, WAL or database handle, and no lock another thread held at fork time.
- Each worker dies with the main process that started it. A forkserver worker's
  parent is the forkserver, which stays up as long as any worker does, so the
  worker watches the main process itself: a thread waits on a pidfd of it
  (``pidfd_open``; polling where there is none) and ends the worker when it exits.
  The kernel also kills the worker if its own parent dies (``PR_SET_PDEATHSIG``).
  Once the workers are gone, the forkserver and the resource tracker exit too.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from multiprocessing.context import BaseContext
from typing import Any

from shared.runtime import libc, process_alive

PR_SET_PDEATHSIG = 1
PRELOAD = ("torch", "shared.products.images", "shared.products.preprocessing")
"""Imported once by the forkserver, so each worker forks with them loaded."""


def worker_context() -> BaseContext:
    """The start method for worker processes: forkserver where available, else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


def _set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send `sig` to this process when its parent exits; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return libc().prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_when_gone(pid: int, poll_s: float = 0.5) -> None:
    """Block until process `pid` exits, then end this whole process at once."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or already gone
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])  # a pidfd turns readable when its process exits
    else:
        while process_alive(pid):
            time.sleep(poll_s)
    os._exit(1)


def die_with(main_pid: int, _worker_id: int = 0) -> None:
    """``worker_init_fn``: end this worker when `main_pid` (the process that owns the loader) exits."""
    _set_parent_death_signal(signal.SIGKILL)
    if not process_alive(main_pid):  # it died before the watch was armed
        os._exit(1)
    threading.Thread(target=_exit_when_gone, args=(main_pid,), name="die-with-main", daemon=True).start()


def worker_loader_options(workers: int) -> dict[str, Any]:
    """DataLoader keyword arguments for `workers` worker processes (none for 0)."""
    if workers <= 0:
        return {"num_workers": 0}
    return {
        "num_workers": workers,
        "multiprocessing_context": worker_context(),
        "worker_init_fn": functools.partial(die_with, os.getpid()),
    }
