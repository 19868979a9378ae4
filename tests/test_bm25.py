"""BM25 encoding of display names and keyword queries (shared by both backends)."""

from __future__ import annotations

import pytest

from shared.storage.vector_store import FilterError
from shared.storage.vector_store.bm25 import bm25_document, bm25_query


def test_blank_text_has_no_encoding() -> None:
    for blank in (None, "", "   "):
        assert bm25_query(blank) is None
    assert bm25_document(None) is None and bm25_document("") is None


def test_query_tokens_match_document_tokens() -> None:
    document, query = bm25_document("Zephyr Aurora Satchel"), bm25_query("satchel zephyr")
    assert document is not None and query is not None
    assert set(query[0]) <= set(document[0]) and len(query[0]) == 2
    assert all(value == 1.0 for value in query[1])  # each unique query token weighs 1


def test_lone_surrogate_in_a_keyword_query_is_a_filter_error() -> None:
    with pytest.raises(FilterError, match="keyword query .* position 4"):
        bm25_query("red \ud800 shoes")
