"""What the page understood in the words: recognised facets as removable chips.

"mens navy running shoes" -> [Men x] [Navy Blue x] [Sports Shoes x]. A chip's x reruns the search
with that field in ``ignore_facets`` (the retriever reports it as "removed"); a removed facet stays
as a "+ Men" chip that puts it back. Facets the retriever relaxed (too few products) or that the
shopper's own filter overrides are named in one muted line.
"""

from __future__ import annotations

import html

import streamlit as st

from search_ui.filters import FIELD_LABELS
from search_ui.state import first_page
from shared.search.types import QueryUnderstanding, UnderstoodFacet


def ignored_facets() -> tuple[str, ...]:
    return tuple(st.session_state.get("ignored_facets", ()))


def remove_facet(field: str) -> None:
    st.session_state["ignored_facets"] = (*ignored_facets(), field)
    first_page()


def restore_facet(field: str) -> None:
    st.session_state["ignored_facets"] = tuple(f for f in ignored_facets() if f != field)
    first_page()


def _note(facet: UnderstoodFacet) -> str:
    if facet.use == "overridden":
        return f"“{facet.phrase}”: your {FIELD_LABELS.get(facet.field, facet.field)} filter wins"
    return facet.reason or f"“{facet.phrase}” not applied"


def understanding_chips(understanding: QueryUnderstanding | None) -> None:
    """The recognised facets as chips (applied: x removes; removed: + restores) and a line for the rest."""
    if understanding is None or not understanding.facets:
        return
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.markdown("<span class='chips-label'>Understood:</span>", unsafe_allow_html=True)
    seen: set[str] = set()
    for facet in understanding.facets:
        key = f"{facet.field}_{facet.value}".replace(" ", "_")
        if facet.use == "filter":
            row.button(
                facet.label, key=f"chip_{key}", icon=":material/close:", icon_position="right",
                on_click=remove_facet, args=(facet.field,),
                help=f"“{facet.phrase}” filters {FIELD_LABELS.get(facet.field, facet.field)}; click to search without it",
            )  # fmt: skip
        elif facet.use == "removed" and facet.field not in seen:
            row.button(
                facet.label, key=f"restore_{key}", icon=":material/add:", type="tertiary", on_click=restore_facet,
                args=(facet.field,), help=f"Filter by {facet.label} again",
            )  # fmt: skip
        seen.add(facet.field)
    notes = [_note(f) for f in understanding.facets if f.use in ("relaxed", "overridden")]
    if notes:
        st.markdown(f"<div class='chips-note'>{html.escape('; '.join(notes))}</div>", unsafe_allow_html=True)
