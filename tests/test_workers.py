"""shared.workers: DataLoader workers hold none of their parent's descriptors and die with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from torch.utils.data import DataLoader

from shared.workers import worker_loader_options
from tests.processes import WorkerProbe, descendants, wait_gone

ROOT = Path(__file__).resolve().parents[1]

LOADER_SCRIPT = """
import sys
from torch.utils.data import DataLoader
from shared.workers import worker_loader_options
from tests.processes import WorkerProbe
loader = DataLoader(WorkerProbe(), batch_size=None, **worker_loader_options(2))
for index, _pid, _paths in loader:
    if index == 3:
        print("running", flush=True)
"""


def test_workers_do_not_inherit_the_parents_descriptors(tmp_path: Path) -> None:
    held = tmp_path / "store.lock"
    fd = os.open(held, os.O_RDWR | os.O_CREAT)  # like the store's lock and WAL, open before the loader starts
    try:
        loader = DataLoader(WorkerProbe(4, 0.0), batch_size=None, **worker_loader_options(1))
        (_, worker_pid, paths), *_ = list(loader)
    finally:
        os.close(fd)
    assert worker_pid != os.getpid()
    assert str(held) not in paths


def test_no_workers_means_no_processes() -> None:
    assert worker_loader_options(0) == {"num_workers": 0}
    (_, pid, _), *_ = list(DataLoader(WorkerProbe(2, 0.0), batch_size=None, **worker_loader_options(0)))
    assert pid == os.getpid()


def test_workers_die_when_the_main_process_is_killed_alone() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    main = subprocess.Popen([sys.executable, "-c", LOADER_SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert main.stdout is not None and main.stdout.readline().strip() == "running"
        below = descendants(main.pid)
        assert len(below) >= 2  # at least the two workers (and the forkserver they start from)
        main.send_signal(signal.SIGKILL)  # the main pid alone, not its process group
        main.wait(timeout=10)
        assert wait_gone(below, timeout=15) == set(), "worker processes outlived their killed parent"
    finally:
        main.kill()
