"""Argument checks of the store front: ids, vectors, collection names, paging, text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from shared.products.fields import MAX_PRODUCT_ID
from shared.storage.vector_store.errors import FilterError, StoreError

MAX_TOP_K = 10_000
"""Most results one search returns (page further with offset)."""
MAX_OFFSET = 1_000_000
"""Largest offset a search accepts."""
MAX_LISTED_IDS = 10
"""Ids an error message lists before it says how many more there are."""

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def is_whole_number(value: object) -> bool:
    """Whether value is a Python or numpy integer (not a bool, float or string)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_text(text: str, what: str) -> str:
    """Return text if it can be encoded (UTF-8), else raise FilterError naming the bad character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise FilterError(
            f"{what} holds a character that is not valid text (a lone surrogate {text[error.start]!r} "
            f"at position {error.start}); type or paste it again"
        ) from None
    return text


def listed_ids(ids: Sequence[object]) -> str:
    """At most MAX_LISTED_IDS ids, then "and N more"."""
    shown = ", ".join(str(i) for i in ids[:MAX_LISTED_IDS])
    return shown + (f" and {len(ids) - MAX_LISTED_IDS} more" if len(ids) > MAX_LISTED_IDS else "")


def check_collection_name(name: str) -> str:
    """Return name if it is a safe collection name (also a folder name), else raise."""
    if not isinstance(name, str) or not _COLLECTION_NAME.match(name):
        raise StoreError(
            f"invalid collection name {name!r}; use letters, digits, '_', '.', '-' (max 128)"
        )
    return name


def check_dimension(dim: object) -> int:
    """dim as an int if it is a positive whole number, else raise StoreError."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise StoreError(f"vector dimension must be a positive integer, got {dim!r}")
    return int(dim)


def as_matrix(points_or_vectors: Sequence[np.ndarray] | np.ndarray, dim: int | None, what: str) -> np.ndarray:
    """Stack vectors into a float32 (n, dim) matrix, checking the dimension."""
    matrix = np.asarray(points_or_vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise StoreError(f"{what} must be 1-D vectors, got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise StoreError(
            f"{what} have dimension {matrix.shape[1]} but the collection stores {dim}; "
            "re-create the collection for this model"
        )
    if not np.all(np.isfinite(matrix)):
        raise StoreError(f"{what} contain NaN or infinite values")
    return matrix


def check_product_id(value: object, what: str = "product id") -> int:
    """value as an int if it is a whole number from 0 to 2**63 - 1, else raise StoreError."""
    if not is_whole_number(value) or not 0 <= int(value) <= MAX_PRODUCT_ID:  # type: ignore[call-overload]
        raise StoreError(f"{what} must be a non-negative integer below 2**63, got {value!r}")
    return int(value)  # type: ignore[call-overload]


def check_example_ids(ids: object, what: str) -> list[int]:
    """A list of product ids given as examples (recommend), or StoreError."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise StoreError(f"{what} must be a list of product ids, got {ids!r}")
    return [check_product_id(i, f"{what} entry") for i in ids]


def check_top_k(top_k: int, offset: int = 0, score_threshold: float | None = None) -> None:
    """Raise StoreError unless top_k is a whole number in 1..MAX_TOP_K, offset in 0..MAX_OFFSET
    and score_threshold a finite number or None."""
    if not is_whole_number(top_k) or not 1 <= top_k <= MAX_TOP_K:
        raise StoreError(f"top_k must be a whole number from 1 to {MAX_TOP_K:,}, got {top_k!r}")
    if not is_whole_number(offset) or not 0 <= offset <= MAX_OFFSET:
        raise StoreError(f"offset must be a whole number from 0 to {MAX_OFFSET:,}, got {offset!r}")
    if score_threshold is not None and (
        isinstance(score_threshold, (bool, np.bool_))
        or not isinstance(score_threshold, (int, float, np.integer, np.floating))
        or not np.isfinite(score_threshold)
    ):
        raise StoreError(f"score_threshold must be a number or None, got {score_threshold!r}")
