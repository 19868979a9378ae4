"""The fashion search page: `streamlit run search_ui/main.py`.

Search the ingested catalog by words, by photo, or both ("this, but in red"), narrow it with
the filters, and page through the results; every result has a detail dialog and "more like
this". Configuration comes from the environment (FASHION_DATA_DIR, QDRANT_URL,
FASHION_COLLECTION; see shared/settings.py); the view lives in the URL (search_ui/url_state.py),
so a link reproduces it. The filters and results form one fragment: changing a filter reruns only them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only search_ui/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from search_ui.cards import PAGE_CSS, results_grid  # noqa: E402
from search_ui.detail import product_dialog  # noqa: E402
from search_ui.filters import emptied_message, filter_panel  # noqa: E402
from search_ui.inputs import search_bar, searching_line  # noqa: E402
from search_ui.landing import landing  # noqa: E402
from search_ui.results import ResultsPage, SearchRequest, View, results_page  # noqa: E402
from search_ui.state import (  # noqa: E402
    LOCKED_MESSAGE,
    PAGE_SIZES,
    SHOW_OPTIONS,
    SORT_OPTIONS,
    clear_filters,
    current_page,
    first_page,
    keep_widget_state,
    liked,
    load_retriever,
    set_page,
    unliked,
)
from search_ui.url_state import read_url, write_url  # noqa: E402
from shared.models import ModelLoadError  # noqa: E402
from shared.models.weights import WeightsError  # noqa: E402
from shared.products.images import ImageError  # noqa: E402
from shared.retriever import FashionRetriever  # noqa: E402
from shared.search.types import CollectionMissingError, RetrieverError  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage.catalog import CatalogError  # noqa: E402
from shared.storage.vector_store import StoreError, StoreLockedError  # noqa: E402


def open_retriever(settings: Settings) -> FashionRetriever | None:
    """The shared retriever, or None after showing a friendly reason why there is none."""
    try:
        return load_retriever(str(settings.data_dir), settings.qdrant_url, settings.collection)
    except CollectionMissingError as error:
        st.info(f"There is no catalog to search yet: collection `{settings.collection}` is empty. Fill it with:")
        st.code(error.command, language="bash")
    except StoreLockedError:
        st.warning(LOCKED_MESSAGE)
    except (RetrieverError, StoreError, CatalogError, ModelLoadError, WeightsError) as error:
        st.error(str(error))
    return None


def sidebar(retriever: FashionRetriever) -> bool:
    """Search settings and the catalog facts; returns whether keyword boost is on."""
    st.sidebar.header("Search settings")
    hybrid = st.sidebar.toggle(
        "Keyword boost",
        key="hybrid",
        on_change=first_page,
        help="Fuse BM25 matches on product names (brands, model words) with the vector results.",
    )
    details = st.sidebar.toggle("Show details", key="details", help="Show match scores and product ids on the cards.")
    if details:
        st.sidebar.caption(
            f"Backend {retriever.backend} · collection {retriever.collection} · "
            f"model {retriever.model_description} · {retriever.count():,} products"
        )
    return bool(hybrid)


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
    if best_only and found.matches < found.total:
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


@st.fragment
def results_section(retriever: FashionRetriever, request: SearchRequest) -> None:
    """Filters beside the results: a filter change, a sort or a page reruns only this part."""
    if st.session_state.pop("full_rerun", False):
        st.rerun()  # "more like this" changes the search bar and the line above: rerun the whole page
    guarded(filters_and_results, retriever, request)  # a fragment keeps its errors: say them here


def guarded(draw: Callable[..., None], *args: Any) -> None:
    """Run a part of the page; a busy or failing store gets one line instead of a traceback."""
    try:
        draw(*args)
    except StoreLockedError:
        st.warning(LOCKED_MESSAGE)
    except (StoreError, RetrieverError) as error:
        st.error(str(error))


def filters_and_results(retriever: FashionRetriever, request: SearchRequest) -> None:
    panel, body = st.columns([1, 5], gap="medium")
    with panel:
        filters = filter_panel(retriever)
    with body:
        view = toolbar()
        asked = SearchRequest(request.text, request.image, request.text_weight, liked(), unliked(), request.hybrid, filters)
        try:
            found = results_page(retriever, asked, view)
        except ImageError as error:
            st.error(f"That photo cannot be searched: {error}. Upload a jpg, png or webp photo.")
            return
        st.session_state["page"] = found.page
        st.session_state["shown_ids"] = [r.id for r in found.results]
        if not found.results:
            st.warning(emptied_message(retriever, filters) if filters else "No products match this search.")
            if filters:
                st.button("Clear filters", key="clear_filters_empty", on_click=clear_filters)
        else:
            st.markdown(f"<div class='summary'>{summary(found, view.best_only)}</div>", unsafe_allow_html=True)
            results_grid(found.results, bool(st.session_state.get("details")))
            pager(found)
    write_url()
    chosen = st.session_state.pop("detail", None)
    if chosen is not None:
        product_dialog(retriever, int(chosen))


def page() -> None:
    st.set_page_config(page_title="Fashion search", page_icon=":dress:", layout="wide", initial_sidebar_state="collapsed")
    st.markdown(PAGE_CSS, unsafe_allow_html=True)
    keep_widget_state()
    read_url()
    settings = Settings.from_env()
    retriever = open_retriever(settings)
    if retriever is not None:
        guarded(render, retriever)


def render(retriever: FashionRetriever) -> None:
    hybrid = sidebar(retriever)
    st.title("Fashion catalog search")
    text, image, weight = search_bar()
    request = SearchRequest(text, image, weight, liked(), unliked(), hybrid)
    if request.kind == "none":
        write_url()
        if st.session_state.get("upload") is None:
            landing(retriever)
        return
    searching_line(retriever, request)
    results_section(retriever, request)


page()
