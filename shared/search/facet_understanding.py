"""Query understanding against one collection: its own facet values, recognised in a text query.

The vocabulary (every value of the understood fields, plus the synonym table) is read from the store's
facet counts once and kept until the store is reopened (an ingest may have changed the catalog).
Recognised facets are applied as soft filters: each one only while enough products still match
(``MIN_FACET_MATCHES``), else it is relaxed and reported so (``shared.search.query_understanding``).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.search.query_understanding import FacetVocabulary, apply_facets, parse_query
from shared.search.types import QueryUnderstanding
from shared.storage.vector_store import Filters, VectorStore

UNDERSTOOD_FIELDS: tuple[str, ...] = ("gender", "masterCategory", "subCategory", "articleType", "baseColour", "usage", "season")
"""Catalog fields whose values a query may name."""
MIN_FACET_MATCHES = 5
"""A recognised facet is applied as a filter only while at least this many products match."""


class FacetUnderstanding:
    """Parses text queries against one collection's facet values; callers serialise the calls."""

    def __init__(self, collection: str, min_matches: int = MIN_FACET_MATCHES) -> None:
        self.collection = collection
        self.min_matches = min_matches
        self._vocabulary: FacetVocabulary | None = None

    def forget(self) -> None:
        """Read the facet values again on the next query (after a reopen)."""
        self._vocabulary = None

    def vocabulary(self, store: VectorStore) -> FacetVocabulary:
        if self._vocabulary is None:
            values = {f: [str(v) for v in store.facet_counts(self.collection, f)] for f in UNDERSTOOD_FIELDS}
            self._vocabulary = FacetVocabulary.from_values(values)
        return self._vocabulary

    def apply(
        self, store: VectorStore, text: str, filters: Filters | None, ignore_fields: Sequence[str] = ()
    ) -> tuple[Filters | None, QueryUnderstanding]:
        """The filters with the query's recognised facets applied (softly), and what was understood."""
        facets = parse_query(text, self.vocabulary(store))
        if not facets:
            return filters, QueryUnderstanding(text)
        effective, understanding = apply_facets(
            facets,
            dict(filters or {}),
            lambda candidate: store.count(self.collection, candidate or None),
            self.min_matches,
            ignore_fields=tuple(ignore_fields),
            query=text,
        )
        return (effective or None), understanding
