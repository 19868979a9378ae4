"""The base class of every error this project raises on purpose: each names its cause and the fix in one
line, so a command line catches ``FashionSearchError`` alone and prints it (see ``shared.commands.run_cli``).

Each subclass keeps its older built-in base too (``ValueError``, ``RuntimeError``, ``OSError``), so code that
catches those still does."""

from __future__ import annotations


class FashionSearchError(Exception):
    """An expected failure with a one-line message naming the cause and the fix."""
