"""BM25 encoding of display names, done once in the store front so both backends tokenize alike.

Qdrant Edge's ``Bm25`` encoder is the tokenizer; its documents and queries become the
``name_bm25`` sparse vector (the collection applies the IDF modifier at query time).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeAlias

from shared.storage.vector_store.checks import check_text

SparseVector: TypeAlias = tuple[list[int], list[float]]
"""(indices, values) of a sparse vector."""


@lru_cache(maxsize=1)
def _bm25() -> Any:
    from qdrant_edge import Bm25

    return Bm25()


def bm25_document(text: str | None) -> SparseVector | None:
    """BM25 document encoding (indices, values) of a display name; None if it has no tokens."""
    if not text:
        return None
    sparse = _bm25().embed_document(text)
    return (list(sparse.indices), list(sparse.values)) if sparse.indices else None


def bm25_query(text: str | None) -> SparseVector | None:
    """BM25 query encoding (each unique token weight 1); None if it has no tokens."""
    if not text or not text.strip():
        return None
    sparse = _bm25().embed_query(check_text(text, "keyword query"))
    return (list(sparse.indices), list(sparse.values)) if sparse.indices else None
