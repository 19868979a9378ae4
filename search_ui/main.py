"""The fashion search page: `streamlit run search_ui/main.py`.

Search the ingested catalog by words, by photo, or both ("this, but in red"),
narrow it with the sidebar filters, and page through the results; every result
has "more like this". Configuration comes from the environment (FASHION_DATA_DIR,
QDRANT_URL, FASHION_COLLECTION; see shared/settings.py). Add `?q=words` to the URL
to open the page with a query, and `&hybrid=1` for keyword boost.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only search_ui/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from search_ui.components import checked_upload, query_inputs, results_grid, sidebar, sort_results  # noqa: E402
from search_ui.state import (  # noqa: E402
    LOCKED_MESSAGE,
    Query,
    current_page,
    keep_widget_state,
    load_retriever,
    set_page,
    show_similar,
)
from shared.storage.catalog import CatalogError  # noqa: E402
from shared.products.images import ImageError  # noqa: E402
from shared.models import ModelLoadError  # noqa: E402
from shared.retriever import FashionRetriever  # noqa: E402
from shared.search.types import CollectionMissingError, RetrieverError, SearchResult  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage.vector_store import StoreError, StoreLockedError  # noqa: E402
from shared.models.weights import WeightsError  # noqa: E402


COMPACT_CSS = """<style>
[data-testid="stMainBlockContainer"], .block-container {padding-top: 2.5rem; padding-bottom: 1rem;}
[data-testid="stCaptionContainer"] {line-height: 1.3;}
</style>"""


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


def run_query(retriever: FashionRetriever, query: Query, image: object, page: int) -> list[SearchResult]:
    """One page of results (plus one extra to know whether a next page exists)."""
    size, offset = query.page_size + 1, page * query.page_size
    if query.similar_to is not None:
        return retriever.more_like_this([query.similar_to], top_k=size, filters=query.filters or None, offset=offset)
    return retriever.search(
        text=query.text or None,
        image=image,
        text_weight=query.text_weight,
        top_k=size,
        filters=query.filters or None,
        offset=offset,
        score_threshold=query.threshold,
        hybrid=query.hybrid,
    )


def similar_banner(retriever: FashionRetriever, product_id: int) -> None:
    found = retriever.get_products([product_id])
    name = found[0].display_name if found else f"product #{product_id}"
    left, right = st.columns([5, 1])
    left.subheader(f"More like: {name}")
    if found and found[0].image_path:
        left.image(found[0].image_path, width=90)
    right.button("Back to search", on_click=show_similar, args=(None,))


def pager(page: int, has_next: bool) -> None:
    left, middle, right = st.columns([1, 2, 1])
    left.button("Previous", disabled=page == 0, on_click=set_page, args=(page - 1,), key="previous_page")
    middle.markdown(f"<div style='text-align:center'>Page {page + 1}</div>", unsafe_allow_html=True)
    right.button("Next", disabled=not has_next, on_click=set_page, args=(page + 1,), key="next_page")


def page() -> None:
    st.set_page_config(page_title="Fashion search", page_icon=":dress:", layout="wide")
    st.markdown(COMPACT_CSS, unsafe_allow_html=True)
    st.title("Fashion catalog search")
    keep_widget_state()
    if "hybrid" not in st.session_state and st.query_params.get("hybrid") == "1":  # ?hybrid=1 turns on keyword boost
        st.session_state["hybrid"] = True
    settings = Settings.from_env()
    retriever = open_retriever(settings)
    if retriever is None:
        return
    try:
        render(retriever)
    except StoreLockedError:
        st.warning(LOCKED_MESSAGE)
    except (StoreError, RetrieverError) as error:
        st.error(str(error))


def render(retriever: FashionRetriever) -> None:
    st.caption(
        f"Backend **{retriever.backend}** · collection **{retriever.collection}** · "
        f"model **{retriever.model_description}** · {retriever.count():,} products"
    )
    options = sidebar(retriever)
    text, upload, weight = query_inputs(str(st.query_params.get("q", "")))
    image = checked_upload(upload) if upload is not None else None
    if upload is not None and image is not None:
        st.image(image, caption="Your photo", width=90)
    similar_to = st.session_state.get("similar_to")
    query = Query(
        text=text,
        image_name=upload[0] if upload else None,
        image_size=len(upload[1]) if upload else 0,
        filters=options["filters"],
        threshold=options["threshold"],
        hybrid=options["hybrid"],
        text_weight=weight,
        page_size=options["page_size"],
        similar_to=similar_to,
    )
    if similar_to is not None:
        similar_banner(retriever, int(similar_to))
    elif not text and image is None:
        if upload is None:
            st.info("Describe what you are looking for, or upload a photo of it.")
        return
    number = current_page(query)
    try:
        results = run_query(retriever, query, image, number)
    except ImageError as error:
        st.error(f"That photo is not usable ({error}); upload a jpg, png or webp photo.")
        return
    if not results:
        st.warning(
            "No products match. Relax the filters"
            + (", lower the minimum score" if query.threshold else "")
            + (" or go back a page" if number else "")
            + "."
        )
        return
    shown = sort_results(results[: query.page_size], options["sort"])
    start = number * query.page_size
    st.markdown(f"Results {start + 1}-{start + len(shown)}")
    results_grid(shown)
    pager(number, has_next=len(results) > query.page_size)


page()
