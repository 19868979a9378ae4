"""A throw-away PostgreSQL server for tests: a fresh cluster in a temp dir on a free port.

Uses the server binaries of the machine (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<version>/bin``; ``.ci/run`` installs it). PostgreSQL refuses to
run as root, so as root the cluster belongs to the ``postgres`` user and every
command runs through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "postgres"
MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH: "
    "install them (apt-get install -y postgresql) or set POSTGRES_BIN to their folder"
)


class PostgresUnavailable(RuntimeError):
    """The machine cannot run a test PostgreSQL server; the message says what to install."""


def server_binaries() -> Path:
    """The folder holding initdb and pg_ctl (POSTGRES_BIN, else Debian's newest, else PATH)."""
    candidates = [os.environ.get("POSTGRES_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresUnavailable(MISSING)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root, but runuser is missing: PostgreSQL must run as a non-root user")
    return ["runuser", "-u", SERVER_USER, "--", *command]


def _run(command: list[str]) -> None:
    result = subprocess.run(_as_server_user(command), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise PostgresUnavailable(f"{Path(command[0]).name} failed (rc {result.returncode}): {' | '.join(detail)}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh cluster; yields its ``postgresql+psycopg://`` URL; stops and deletes it at the end."""
    binaries = server_binaries()
    root = Path(tempfile.mkdtemp(prefix="pg-test-", dir="/tmp" if os.geteuid() == 0 else None))  # the server user reaches /tmp
    if os.geteuid() == 0:
        shutil.chown(root, SERVER_USER, SERVER_USER)
    data, port = root / "data", _free_port()
    try:
        _run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=50"
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"])
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server; returns its URL."""
    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
