"""The page's controls: the sidebar's search settings, the results toolbar, the summary line and the pager."""

from __future__ import annotations

import streamlit as st

from search_ui.results import BEST_MATCHES, DEFAULT_MODE, ResultsPage, View
from search_ui.state import PAGE_SIZES, SHOW_OPTIONS, SORT_OPTIONS, current_page, first_page, set_page
from shared.retriever import FashionRetriever
from shared.search.types import SEARCH_MODES

MODE_LABELS = {
    "fused": "Fused: vectors and keywords (recommended)",
    "image_vectors": "Photos only (CLIP text to image)",
    "text_vectors": "Product text only (vectors)",
    "keywords": "Keywords only (BM25)",
}
"""How each search mode reads in the sidebar; SEARCH_MODES gives the order."""
NO_KEYWORD_MATCH = "No product's name or attributes hold these words; the fused search mode also finds look-alikes."


def sidebar(retriever: FashionRetriever) -> tuple[str, bool]:
    """Search settings and the catalog facts; returns the search mode and whether words are understood."""
    st.sidebar.header("Search settings")
    st.session_state.setdefault("search_mode", DEFAULT_MODE)
    mode = st.sidebar.selectbox(
        "Search mode",
        SEARCH_MODES,
        key="search_mode",
        format_func=lambda m: MODE_LABELS.get(m, m),
        on_change=first_page,
        help="How words are matched: fused ranks by product photos, product text and keywords together.",
    )
    st.session_state.setdefault("understand", True)
    understand = st.sidebar.toggle(
        "Query understanding",
        key="understand",
        on_change=first_page,
        help="Recognise catalog words (\"mens\", \"navy\", \"sneakers\") and filter by them; each shows as a chip.",
    )
    details = st.sidebar.toggle("Show details", key="details", help="Show match scores and product ids on the cards.")
    if details:
        st.sidebar.caption(
            f"Backend {retriever.backend} · collection {retriever.collection} · "
            f"model {retriever.model_description} · {retriever.count():,} products · search mode {mode}"
        )
    return str(mode), bool(understand)


def toolbar() -> View:
    """The cut-off, the order and the page size above the results."""
    show, sort, size = st.columns([3, 2, 1], vertical_alignment="bottom")
    st.session_state.setdefault("show", SHOW_OPTIONS[0])
    show.segmented_control("Show", SHOW_OPTIONS, key="show", on_change=first_page, label_visibility="collapsed")
    sort.selectbox("Sort by", SORT_OPTIONS, key="sort", on_change=first_page)
    size.selectbox("Per page", PAGE_SIZES, key="page_size", on_change=first_page)
    return View(
        best_only=st.session_state.get("show") != SHOW_OPTIONS[1],
        sort=str(st.session_state.get("sort", SORT_OPTIONS[0])),
        page=current_page(),
        page_size=int(st.session_state.get("page_size", PAGE_SIZES[0])),
    )


def summary(found: ResultsPage, best_only: bool) -> str:
    if best_only and found.matches == BEST_MATCHES < found.total:
        head = f"The <b>{found.matches:,} best matches</b> of {found.total:,} products"
    else:
        head = f"<b>{found.matches:,} products</b>"
    return f"{head} · showing {found.first:,}-{found.last:,} · page {found.page + 1} of {found.pages}"


def pager(found: ResultsPage) -> None:
    left, middle, right = st.columns([1, 2, 1])
    left.button("Previous", disabled=found.page == 0, on_click=set_page, args=(found.page - 1,), key="previous_page")
    middle.markdown(f"<div style='text-align:center'>Page {found.page + 1} of {found.pages}</div>", unsafe_allow_html=True)
    right.button(
        "Next", disabled=found.page + 1 >= found.pages, on_click=set_page, args=(found.page + 1,), key="next_page"
    )
