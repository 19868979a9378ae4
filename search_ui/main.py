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
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only search_ui/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from search_ui.cards import PAGE_CSS, results_grid  # noqa: E402
from search_ui.chips import ignored_facets, understanding_chips  # noqa: E402
from search_ui.controls import NO_KEYWORD_MATCH, pager, sidebar, summary, toolbar  # noqa: E402
from search_ui.detail import product_dialog  # noqa: E402
from search_ui.filters import emptied_message, filter_panel  # noqa: E402
from search_ui.inputs import search_bar, searching_line  # noqa: E402
from search_ui.landing import landing  # noqa: E402
from search_ui.results import ResultsPage, SearchRequest, View, applied_facet_filters, results_page  # noqa: E402
from search_ui.state import (  # noqa: E402
    LOCKED_MESSAGE,
    active_filters,
    clear_filters,
    keep_widget_state,
    liked,
    load_retriever,
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


def show_results(retriever: FashionRetriever, found: ResultsPage, filters: dict[str, Any], view: View, mode: str) -> None:
    st.session_state["page"] = found.page
    st.session_state["shown_ids"] = [r.id for r in found.results]
    understanding_chips(found.understanding)
    if not found.results:
        if filters and not retriever.count(filters):
            st.warning(emptied_message(retriever, filters))
        else:
            st.warning(NO_KEYWORD_MATCH if mode == "keywords" else "No products match this search.")
        if filters:
            st.button("Clear filters", key="clear_filters_empty", on_click=clear_filters)
        return
    st.markdown(f"<div class='summary'>{summary(found, view.best_only)}</div>", unsafe_allow_html=True)
    results_grid(found.results, bool(st.session_state.get("details")))
    pager(found)


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
    filters = active_filters()  # the filter widgets are drawn after the search, with its recognised facets
    found = None
    with body:
        view = toolbar()
        asked = replace(request, like=liked(), unlike=unliked(), ignore_facets=ignored_facets(), filters=filters)
        try:
            found = results_page(retriever, asked, view)
        except ImageError as error:
            st.error(f"That photo cannot be searched: {error}. Upload a jpg, png or webp photo.")
        if found is not None:
            show_results(retriever, found, filters, view, asked.mode)
    with panel:
        filter_panel(retriever, applied_facet_filters(found.understanding if found else None))
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
    mode, understand = sidebar(retriever)
    st.title("Fashion catalog search")
    text, image, weight = search_bar()
    request = SearchRequest(text, image, weight, liked(), unliked(), mode, understand)
    if request.kind == "none":
        write_url()
        if st.session_state.get("upload") is None:
            landing(retriever)
        return
    searching_line(retriever, request)
    results_section(retriever, request)


page()
