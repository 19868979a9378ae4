"""The page's building blocks: sidebar filters, query inputs, and the results grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image

from search_ui.state import FILTER_FIELDS, PAGE_SIZES, SORT_OPTIONS, active_filters, show_similar, without
from shared.products.images import ImageError, as_pil
from shared.products.schema import YEAR_FIELD, labels
from shared.retriever import FashionRetriever
from shared.search.types import SearchResult

MAX_UPLOAD_MB = 10
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp"]
GRID_COLUMNS = 6
FIELD_LABELS = labels()
"""Field name -> label, from the product schema."""
KEY_ATTRIBUTES = ("gender", "articleType", "baseColour", "season", "usage", "year")


def sidebar(retriever: FashionRetriever) -> dict[str, Any]:
    """Filters with product counts, threshold, sort and paging; returns the chosen options."""
    st.sidebar.header("Filters")
    selected = active_filters()
    for field, label in FILTER_FIELDS:
        everything = retriever.facet_counts(field)
        counts = retriever.facet_counts(field, without(selected, field) or None)
        options = sorted(everything, key=lambda v: (-everything[v], str(v)))
        st.sidebar.multiselect(
            label,
            options,
            key=f"filter_{field}",
            format_func=lambda value, c=counts: f"{value} ({c.get(value, 0)})",
            placeholder="Any",
        )
    years = sorted(int(y) for y in retriever.facet_counts("year"))
    if len(years) > 1:
        st.session_state["year_bounds"] = (years[0], years[-1])
        st.session_state.setdefault("filter_year", (years[0], years[-1]))
        st.sidebar.slider(FIELD_LABELS[YEAR_FIELD], years[0], years[-1], key="filter_year")
    st.sidebar.header("Results")
    st.session_state.setdefault("threshold", 0.0)
    threshold = st.sidebar.slider(
        "Minimum score", 0.0, 1.0, step=0.01, key="threshold", help="Hide matches whose cosine score is lower."
    )
    sort = st.sidebar.selectbox("Sort by", SORT_OPTIONS, key="sort", help="Orders the results on the current page.")
    page_size = st.sidebar.selectbox("Per page", PAGE_SIZES, key="page_size")
    hybrid = st.sidebar.toggle(
        "Keyword boost", key="hybrid", help="Fuse BM25 matches on product names (brands, model words) with the vector results."
    )
    return {
        "filters": active_filters(),
        "threshold": threshold if threshold > 0 else None,
        "sort": sort,
        "page_size": int(page_size),
        "hybrid": bool(hybrid),
    }


def query_inputs(default_text: str) -> tuple[str, tuple[str, bytes] | None, float]:
    """The text box, the image upload and (when both are given) the text weight."""
    left, right = st.columns([3, 2])
    if "text" not in st.session_state:
        st.session_state["text"] = default_text
    text = left.text_input("Describe it", key="text", placeholder="e.g. red summer dress, Puma running shoes")
    upload = right.file_uploader(
        "...or upload a photo", type=UPLOAD_TYPES, key="upload", max_upload_size=MAX_UPLOAD_MB
    )
    image = (upload.name, upload.getvalue()) if upload is not None else None
    weight = 0.5
    if image is not None and text.strip():
        st.session_state.setdefault("text_weight", 0.5)
        weight = st.slider(
            "Text weight", 0.0, 1.0, step=0.05, key="text_weight", help="0: only the photo counts; 1: only the words."
        )
    return text.strip(), image, weight


def checked_upload(image: tuple[str, bytes]) -> Image.Image | None:
    """The uploaded photo decoded through the upload guard, or None after showing why not."""
    name, data = image
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        st.error(f"{name} is {len(data) / 1e6:.1f} MB, over the {MAX_UPLOAD_MB} MB limit; upload a smaller photo.")
        return None
    try:
        return as_pil(data)
    except ImageError as error:
        st.error(f"{name} is not a usable image ({error}); upload a jpg, png or webp photo.")
        return None


def sort_results(results: Sequence[SearchResult], order: str) -> list[SearchResult]:
    if order == SORT_OPTIONS[1]:
        return sorted(results, key=lambda r: r.display_name.lower())
    if order == SORT_OPTIONS[2]:
        return sorted(results, key=lambda r: -int(r.get("year") or 0))
    return list(results)


def result_card(result: SearchResult) -> None:
    if result.image_path and Path(result.image_path).is_file():
        st.image(result.image_path, width="stretch")
    st.markdown(f"**{result.display_name}**")
    details = " · ".join(str(result.get(k)) for k in KEY_ATTRIBUTES if result.get(k) is not None)
    st.caption(f"{details}  \nscore {result.score:.3f} · #{result.id}")
    st.button("More like this", key=f"similar_{result.id}", on_click=show_similar, args=(result.id,))


def results_grid(results: Sequence[SearchResult]) -> None:
    for start in range(0, len(results), GRID_COLUMNS):
        row = results[start : start + GRID_COLUMNS]
        for column, result in zip(st.columns(GRID_COLUMNS), row):
            with column:
                result_card(result)
