"""The results grid: cards of one height with a crisp photo, the name, key attributes and two actions.

Scores and product ids stay hidden unless the sidebar's "Show details" is on.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from search_ui.state import more_like
from search_ui.thumbnails import CARD_FRAME, product_photo, show_photo
from shared.search.types import SearchResult

GRID_COLUMNS = 4
CARD_ATTRIBUTES = ("gender", "articleType", "baseColour", "year")
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"], .block-container {padding-top: 2.2rem; padding-bottom: 1rem;}
.card-name {font-weight: 600; line-height: 1.3em; height: 2.6em; overflow: hidden;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical;}
.card-meta {color: #666; font-size: 0.82em; line-height: 1.3em; height: 2.6em; overflow: hidden;}
.photo-missing {display: flex; align-items: center; justify-content: center; background: #f4f4f4;
  color: #999; width: 180px;}
[data-testid="stImage"] {width: 100% !important; display: flex; justify-content: center;}
.searching {font-size: 1.05em; margin: 0.2rem 0 0.4rem 0;}
.chips-label {color: #666; font-size: 0.9em;}
.chips-note {color: #888; font-size: 0.82em; margin-top: -0.3rem;}
.summary {color: #444; margin: 0.3rem 0 0.6rem 0;}
</style>"""


def open_detail(product_id: int) -> None:
    st.session_state["detail"] = int(product_id)


def card_meta(result: SearchResult, show_details: bool) -> str:
    parts = [str(result.get(k)) for k in CARD_ATTRIBUTES if result.get(k) is not None]
    line = " · ".join(html.escape(p) for p in parts)
    if show_details:
        line += f"<br>score {result.score:.3f} · id {result.id}"
    return line


def result_card(result: SearchResult, show_details: bool) -> None:
    show_photo(product_photo(result.image_path, CARD_FRAME), CARD_FRAME)
    name = html.escape(result.display_name)
    st.markdown(f"<div class='card-name' title='{name}'>{name}</div>", unsafe_allow_html=True)
    st.markdown(f"<div class='card-meta'>{card_meta(result, show_details)}</div>", unsafe_allow_html=True)
    st.button("View details", key=f"detail_{result.id}", on_click=open_detail, args=(result.id,), width="stretch")
    st.button("More like this", key=f"similar_{result.id}", on_click=more_like, args=([result.id],), width="stretch")


def results_grid(results: Sequence[SearchResult], show_details: bool) -> None:
    for start in range(0, len(results), GRID_COLUMNS):
        row = results[start : start + GRID_COLUMNS]
        for column, result in zip(st.columns(GRID_COLUMNS, gap="medium"), row):
            with column.container(border=True):
                result_card(result, show_details)
