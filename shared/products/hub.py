"""The Hugging Face hub, as the dataset reader sees it: which strings are hub ids, and whether it answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connect (skips minutes of retries when it cannot)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def offline_hub() -> Iterator[None]:
    """Use only the local Hugging Face cache while inside (no network retries)."""
    import datasets
    from huggingface_hub import constants

    saved = (constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOCAL_SUFFIXES = (".parquet", ".csv", ".json", ".jsonl", ".arrow")


def is_hub_id(source: str) -> bool:
    """Whether a dataset string looks like a Hugging Face hub id (``owner/name``), not a local path."""
    return bool(_HUB_ID.match(source)) and ".." not in source and not source.lower().endswith(_LOCAL_SUFFIXES)
