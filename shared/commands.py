"""What the command-line entry points share: cheap checks that run before any heavy import,
and the expected errors they turn into one line.

torch, open_clip, datasets and the Qdrant clients take seconds and about a gigabyte to
import, so ``--help``, a bad argument or a missing dataset path must be answered
before any of them is loaded (measured in benchmarks/bench_startup.py).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.disk import existing_ancestor

HEAVY_MODULES: tuple[str, ...] = ("torch", "open_clip", "datasets", "qdrant_edge", "qdrant_client")
"""Modules that must not be imported to print --help or an argument error."""
_LOCAL_SUFFIXES = (".parquet", ".csv")


def loaded_error_classes(names: Sequence[str]) -> tuple[type[BaseException], ...]:
    """The exception classes among ``"module:Class"`` names whose module is already imported.

    Used as ``except loaded_error_classes(EXPECTED) as error:``; the tuple is built only
    when an exception is being matched, and a class whose module was never imported
    cannot have been raised, so nothing heavy is imported just to catch errors.
    """
    classes: list[type[BaseException]] = []
    for name in names:
        module_name, class_name = name.split(":")
        if module_name in sys.modules:
            classes.append(getattr(importlib.import_module(module_name), class_name))
    return tuple(classes)


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
