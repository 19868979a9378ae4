"""The landing page: example queries, each as a tile with the product that best matches it."""

from __future__ import annotations

import html

import streamlit as st

from search_ui.state import search_for
from search_ui.thumbnails import CARD_FRAME, product_photo, show_photo
from shared.retriever import FashionRetriever
from shared.search.types import SearchResult

EXAMPLE_QUERIES = (
    "red summer dress",
    "men's running shoes",
    "black leather handbag",
    "navy blue shirt",
    "women's watch",
    "denim jeans",
    "white sneakers",
    "sunglasses",
)
TILES = 4


def example_tiles(retriever: FashionRetriever, queries: tuple[str, ...] = EXAMPLE_QUERIES) -> list[tuple[str, SearchResult]]:
    """(query, its best product) for each example, each product at most once, at most ``TILES``."""
    tiles: list[tuple[str, SearchResult]] = []
    seen: set[int] = set()
    for query in queries:
        found = [r for r in retriever.search_by_text(query, top_k=TILES + 1) if r.id not in seen]
        if found:
            tiles.append((query, found[0]))
            seen.add(found[0].id)
        if len(tiles) == TILES:
            break
    return tiles


def landing(retriever: FashionRetriever) -> None:
    st.markdown(
        f"Search {retriever.count():,} products by words, by photo, or both (“this, but in red”). Try:"
    )
    chips = st.container(horizontal=True)
    for index, query in enumerate(EXAMPLE_QUERIES):
        chips.button(query, key=f"example_{index}", on_click=search_for, args=(query,), type="secondary")
    st.markdown("**Popular searches**")
    for column, (query, product) in zip(st.columns(TILES, gap="medium"), example_tiles(retriever)):
        with column.container(border=True):
            show_photo(product_photo(product.image_path, CARD_FRAME), CARD_FRAME)
            name = html.escape(product.display_name)
            st.markdown(f"<div class='card-name'>“{html.escape(query)}”</div>", unsafe_allow_html=True)
            st.markdown(f"<div class='card-meta'>{name}</div>", unsafe_allow_html=True)
            st.button("Search this", key=f"tile_{product.id}", on_click=search_for, args=(query,), width="stretch")
