"""Process-wide resources and per-session state of the search page.

The retriever (model + store) is loaded once per process with ``st.cache_resource``
and shared by every browser session; it serialises its own store access. On the
embedded store it releases the files after ``IDLE_RELEASE_S`` idle seconds, so
``python -m ingest`` can run while the page is open, and reopens them on the next query.

The session state holds what the user asked for: the widgets' values (keys in ``WIDGET_KEYS``),
the "more like this" examples (``like`` / ``unlike``: product ids) and the results page. Every
change of the query goes back to the first page; a new query or upload leaves "more like this".
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
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
"""Filters (field, label) in display order: the product schema's, gender and category first."""
SORT_OPTIONS = ("Relevance", "Name (A-Z)", "Year (newest first)")
SHOW_OPTIONS = ("Best matches", "All products")
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
    retriever = FashionRetriever(settings=settings, idle_release_s=IDLE_RELEASE_S)
    # one line per load in the server log: benchmarks/bench_page.py counts them (once for every session)
    print(f"search page: loaded {retriever.model_description} for {collection}", file=sys.stderr, flush=True)
    return retriever


def filter_key(field: str) -> str:
    return f"filter_{field}"


WIDGET_KEYS: tuple[str, ...] = (
    *(filter_key(field) for field, _label in FILTER_FIELDS),
    "filter_year",
    "text",
    "text_weight",
    "sort",
    "show",
    "page_size",
    "search_mode",
    "understand",
    "details",
)


def keep_widget_state() -> None:
    """Keep the widgets' values through a run that stops before drawing them (the store was busy).

    Streamlit drops the state of widgets a run does not draw; writing each value back
    marks it as the app's own. Uploads cannot be kept this way.
    """
    for key in WIDGET_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


# -- paging -------------------------------------------------------------------------------------
def current_page() -> int:
    """The page to show (0-based)."""
    return int(st.session_state.get("page", 0))


def set_page(page: int) -> None:
    st.session_state["page"] = max(0, page)


def first_page() -> None:
    """The query changed (a filter, the sort, the page size): start from its first page."""
    st.session_state["page"] = 0


# -- search modes -------------------------------------------------------------------------------
def liked() -> tuple[int, ...]:
    return tuple(st.session_state.get("like", ()))


def unliked() -> tuple[int, ...]:
    return tuple(st.session_state.get("unlike", ()))


def new_search() -> None:
    """A newly typed query or upload: leave "more like this" and start on the first page."""
    st.session_state["like"] = ()
    st.session_state["unlike"] = ()
    st.session_state["ignored_facets"] = ()
    st.session_state.pop("text_before_like", None)
    first_page()


def more_like(positive: Sequence[int], negative: Sequence[int] = ()) -> None:
    """Show products like `positive` and unlike `negative`; the typed words wait for "back"."""
    if not liked():
        st.session_state["text_before_like"] = st.session_state.get("text", "")
    st.session_state["like"] = tuple(int(i) for i in positive)
    st.session_state["unlike"] = tuple(int(i) for i in negative if int(i) not in positive)
    st.session_state["text"] = ""
    st.session_state["full_rerun"] = True  # the search box and the banner live outside the results fragment
    first_page()


def back_to_search() -> None:
    """Leave "more like this" for the search the user typed before it."""
    text = st.session_state.pop("text_before_like", "")
    new_search()
    st.session_state["text"] = text


def search_for(text: str) -> None:
    """Run a text search (an example query on the landing page)."""
    new_search()
    st.session_state["text"] = text


# -- filters ------------------------------------------------------------------------------------
def active_filters() -> dict[str, Any]:
    """The chosen filters as a store filter mapping (empty selections left out)."""
    filters: dict[str, Any] = {}
    for field, _label in FILTER_FIELDS:
        chosen = st.session_state.get(filter_key(field)) or []
        if chosen:
            filters[field] = list(chosen)
    years = st.session_state.get("filter_year")
    bounds = st.session_state.get("year_bounds")
    if years and bounds and tuple(years) != tuple(bounds):
        filters["year"] = YearRange(int(years[0]), int(years[1]))
    return filters


def clear_filters() -> None:
    for field, _label in FILTER_FIELDS:
        st.session_state[filter_key(field)] = []
    if "year_bounds" in st.session_state:
        st.session_state["filter_year"] = tuple(st.session_state["year_bounds"])
    first_page()


def without(filters: Mapping[str, Any], field: str) -> dict[str, Any]:
    """The filters minus one field: a facet's counts ignore its own selection."""
    return {k: v for k, v in filters.items() if k != field}
