"""The real search page for browser tests, benchmarks and screenshots: `streamlit run` on a free port,
driven by Debian's Chromium through Playwright (never a downloaded browser).

``chromium_path()`` finds the browser or raises ``BrowserUnavailable`` naming the install command,
so a browser test fails (never skips) on a machine without it; ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "search_ui" / "main.py"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser")
MISSING_BROWSER = (
    "Chromium not found (CHROMIUM_PATH, /usr/bin/chromium, chromium on PATH): install it with "
    "`apt-get install -y chromium` (the browser tests never download one)"
)

RUN_FINISHED_JS = (
    "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'"
    " && !document.querySelector('[data-stale=\"true\"]')"
)
"""A browser-side test: the page's script run has finished and no element of an older run is left."""


class BrowserUnavailable(RuntimeError):
    """No Chromium binary on this machine; the message says how to install it."""


class PageServerError(RuntimeError):
    """`streamlit run` did not come up; the message holds the end of its log."""


def chromium_path() -> str:
    """The Chromium binary: CHROMIUM_PATH, else Debian's, else one on PATH; BrowserUnavailable otherwise."""
    candidates = [os.environ.get("CHROMIUM_PATH", ""), *CHROMIUM_CANDIDATES]
    candidates += [shutil.which("chromium") or "", shutil.which("chromium-browser") or ""]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BrowserUnavailable(MISSING_BROWSER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass(frozen=True)
class RunningPage:
    """A running `streamlit run`: its URL and the file that collects its output."""

    url: str
    log: Path


@contextmanager
def page_server(data_dir: Path, collection: str | None = None, timeout: float = 90.0) -> Iterator[RunningPage]:
    """`streamlit run search_ui/main.py` on the catalog in data_dir, once it serves (its log in a temp dir)."""
    port = free_port()
    env = {**os.environ, "FASHION_DATA_DIR": str(data_dir), "QDRANT_URL": "edge", "PYTHONPATH": str(ROOT)}
    if collection:
        env["FASHION_COLLECTION"] = collection
    log_path = Path(tempfile.mkdtemp(prefix="page-server-")) / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(PAGE),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _serves(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise PageServerError(f"streamlit run did not serve {url} within {timeout:.0f} s; its log ends: {tail}")
            time.sleep(0.2)
        yield RunningPage(url, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
