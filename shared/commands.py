"""What the command-line entry points share: cheap checks that run before any heavy import,
and ``run_cli``, which turns the expected errors (``FashionSearchError``) into one line and exit 2.

torch, open_clip, datasets and the Qdrant clients take seconds and about a gigabyte to
import, so ``--help``, a bad argument or a missing dataset path must be answered
before any of them is loaded (measured in benchmarks/bench_startup.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from shared.disk import existing_ancestor
from shared.errors import FashionSearchError

HEAVY_MODULES: tuple[str, ...] = ("torch", "open_clip", "datasets", "qdrant_edge", "qdrant_client")
"""Modules that must not be imported to print --help or an argument error."""
_LOCAL_SUFFIXES = (".parquet", ".csv")


BUILTIN_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RuntimeError)
"""What the fine-tuning commands have always printed as one line besides FashionSearchError: their option
checks raise ValueError, and torch reports a failed run (say, out of memory) as a RuntimeError."""
ERROR_EXIT = 2
"""The exit status of a command that failed with an expected error (argparse's, for a bad argument)."""


def fail(message: object) -> int:
    """Print ``error: message`` (one line) and return ERROR_EXIT, for a problem found before the work starts."""
    print(f"error: {message}", file=sys.stderr)
    return ERROR_EXIT


def run_cli(
    body: Callable[[], object],
    *,
    also: tuple[type[BaseException], ...] = (),
    describe: Callable[[BaseException], object] | None = None,
) -> int:
    """Run a command's body: the exit status it returns (0 when it returns no int), or ERROR_EXIT after
    printing ``error: ...``.

    A ``FashionSearchError`` (and any class in ``also``) is expected: its one-line message is printed after
    the live progress bars are ended. ``describe`` may give any other exception a message (say, a disk
    that filled up under a library); where it returns None, the exception propagates with its traceback.
    """
    try:
        code = body()
    except Exception as error:
        message = describe(error) if describe is not None else None
        if message is None and isinstance(error, (FashionSearchError, *also)):
            message = error
        if message is None:
            raise
        close_progress_bars()
        return fail(message)
    return code if isinstance(code, int) else 0


def looks_like_local_path(source: str) -> bool:
    """Whether a --dataset value is meant as a local path rather than a hub id like ``owner/name``."""
    return (
        source.startswith(("/", "./", "../", "~", ".\\"))
        or source in (".", "..")
        or source.lower().endswith(_LOCAL_SUFFIXES)
        or source.count("/") >= 2
        or "\\" in source
    )


def missing_dataset_message(source: str, flag: str = "--dataset") -> str | None:
    """A one-line error for a local dataset path that does not exist, else None (checked later, in full)."""
    if Path(source).exists() or not looks_like_local_path(source):
        return None
    return (
        f"{flag} {source}: no such file or folder ({Path(source).absolute()}); pass an existing parquet file or folder, "
        "a Kaggle folder (styles.csv + images/), or a Hugging Face hub id like owner/name"
    )


def unwritable_dir_message(directory: Path, flag: str) -> str | None:
    """A one-line error when ``directory`` could not be created or written, checked without creating it."""
    existing = existing_ancestor(directory)
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return None
    reason = "not a directory" if not existing.is_dir() else "permission denied"
    return f"output directory {directory} is not writable ({existing}: {reason}); pass a writable {flag}"


def close_progress_bars() -> None:
    """End every live tqdm bar, so that an error printed next starts on a line of its own."""
    if "tqdm" not in sys.modules:
        return
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def keep_finished_bars() -> bool:
    """tqdm's ``leave`` for transient progress bars: cleared in a terminal, but kept in a log (stderr
    not a terminal), where clearing only writes a carriage return and the next line, an error say,
    would be printed on the bar's line."""
    return not sys.stderr.isatty()
