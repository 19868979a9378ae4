"""Process-wide resources and per-session state of the search page.

The retriever (model + store) is loaded once per process with ``st.cache_resource``
and shared by every browser session; it serialises its own store access. On the
embedded store it releases the files after ``IDLE_RELEASE_S`` idle seconds, so
``python -m ingest`` can run while the page is open, and reopens them on the next query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from shared.products.schema import sidebar_filters
from shared.retriever import FashionRetriever
from shared.runtime import tune_allocator
from shared.settings import Settings
from shared.storage.vector_store import YearRange

IDLE_RELEASE_S = 15.0
"""Seconds without a query after which the page lets go of the embedded store."""
PAGE_SIZES = (12, 24, 48)
FILTER_FIELDS: tuple[tuple[str, str], ...] = sidebar_filters()
"""Sidebar filters (field, label) in display order: the product schema's, gender and category first."""
SORT_OPTIONS = ("Relevance", "Name (A-Z)", "Year (newest first)")
LOCKED_MESSAGE = (
    "The embedded store is busy: an ingest is writing to it. Search again when it finishes, "
    "or run a Qdrant server (`docker compose up -d qdrant`) to search while ingesting."
)


def _release(retriever: FashionRetriever) -> None:
    retriever.close()


@st.cache_resource(show_spinner="Loading the model and opening the catalog...", max_entries=4, on_release=_release)
def load_retriever(data_dir: str, qdrant_url: str, collection: str) -> FashionRetriever:
    """One retriever per (data dir, store, collection), shared by every session of this process."""
    tune_allocator()
    settings = Settings.from_env(data_dir=data_dir, qdrant_url=qdrant_url, collection=collection)
    return FashionRetriever(settings=settings, idle_release_s=IDLE_RELEASE_S)


@dataclass(frozen=True)
class Query:
    """What the user asked for on this run: the signature decides when to go back to page 1."""

    text: str
    image_name: str | None
    image_size: int
    filters: Mapping[str, Any]
    threshold: float | None
    hybrid: bool
    text_weight: float
    page_size: int
    similar_to: int | None

    def signature(self) -> tuple[Any, ...]:
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.filters.items()))
        return (
            self.text,
            self.image_name,
            self.image_size,
            frozen,
            self.threshold,
            self.hybrid,
            self.text_weight,
            self.page_size,
            self.similar_to,
        )


WIDGET_KEYS: tuple[str, ...] = (
    *(f"filter_{field}" for field, _label in FILTER_FIELDS),
    "filter_year",
    "text",
    "text_weight",
    "threshold",
    "sort",
    "page_size",
    "hybrid",
)


def keep_widget_state() -> None:
    """Keep the widgets' values through a run that stops before drawing them (the store was busy).

    Streamlit drops the state of widgets a run does not draw; writing each value back
    marks it as the app's own. Uploads cannot be kept this way.
    """
    for key in WIDGET_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def current_page(query: Query) -> int:
    """The page to show (0-based): reset to the first when the query changed."""
    signature = query.signature()
    if st.session_state.get("query_signature") != signature:
        st.session_state["query_signature"] = signature
        st.session_state["page"] = 0
    return int(st.session_state.get("page", 0))


def set_page(page: int) -> None:
    st.session_state["page"] = max(0, page)


def show_similar(product_id: int | None) -> None:
    st.session_state["similar_to"] = product_id


def active_filters() -> dict[str, Any]:
    """The sidebar selections as a store filter mapping (empty selections left out)."""
    filters: dict[str, Any] = {}
    for field, _label in FILTER_FIELDS:
        chosen = st.session_state.get(f"filter_{field}") or []
        if chosen:
            filters[field] = list(chosen)
    years = st.session_state.get("filter_year")
    bounds = st.session_state.get("year_bounds")
    if years and bounds and tuple(years) != tuple(bounds):
        filters["year"] = YearRange(int(years[0]), int(years[1]))
    return filters


def without(filters: Mapping[str, Any], field: str) -> dict[str, Any]:
    """The filters minus one field: a facet's counts ignore its own selection."""
    return {k: v for k, v in filters.items() if k != field}
