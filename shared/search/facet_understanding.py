"""Query understanding against one collection: its own facet values, recognised in a text query.

The vocabulary (every value of the understood fields, plus the synonym table) is read from the store's
facet counts once and kept until the store is reopened (an ingest may have changed the catalog).
Recognised facets are applied as soft filters: each one only while enough products still match
(``MIN_FACET_MATCHES``), else it is relaxed and reported so (``shared.search.query_understanding``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shared.search.query_understanding import FacetVocabulary, apply_facets, parse_query
from shared.search.types import QueryUnderstanding
from shared.storage.vector_store import Filters, VectorStore

UNDERSTOOD_FIELDS: tuple[str, ...] = ("gender", "masterCategory", "subCategory", "articleType", "baseColour", "usage", "season")
"""Catalog fields whose values a query may name."""
MIN_FACET_MATCHES = 5
"""A recognised facet is applied as a filter only while at least this many products match."""


class FilterCounter:
    """The store's product count per filter mapping, each mapping counted once (one query's soft-filter
    checks and its result total ask for the same counts)."""

    def __init__(self, store: VectorStore, collection: str) -> None:
        self.store, self.collection = store, collection
        self._counts: dict[str, int] = {}

    def __call__(self, filters: Filters | None) -> int:
        key = repr(sorted((filters or {}).items()))
        if key not in self._counts:
            self._counts[key] = self.store.count(self.collection, filters or None)
        return self._counts[key]


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
        self,
        store: VectorStore,
        text: str,
        filters: Filters | None,
        ignore_fields: Sequence[str] = (),
        count: Callable[[Filters | None], int] | None = None,
    ) -> tuple[Filters | None, QueryUnderstanding]:
        """The filters with the query's recognised facets applied (softly), and what was understood;
        ``count`` (default: the store's) gives how many products a filter mapping admits."""
        facets = parse_query(text, self.vocabulary(store))
        if not facets:
            return filters, QueryUnderstanding(text)
        effective, understanding = apply_facets(
            facets,
            dict(filters or {}),
            count or FilterCounter(store, self.collection),
            self.min_matches,
            ignore_fields=tuple(ignore_fields),
            query=text,
        )
        return (effective or None), understanding
