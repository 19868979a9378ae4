"""The filter panel: one multiselect per facet with live counts, a year range and "Clear filters".

Counts follow the other filters and the facets recognised in the words (a facet's own selection
does not narrow its counts, the usual facet behaviour); options with no product under the other filters are left out, except ones
already chosen, so they can be removed. When the filters leave nothing, ``emptied_message`` names
the filter to drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from search_ui.state import FILTER_FIELDS, active_filters, clear_filters, filter_key, first_page, without
from shared.products.schema import YEAR_FIELD, labels
from shared.retriever import FashionRetriever
from shared.storage.vector_store import YearRange

FIELD_LABELS = labels()
"""Field name -> label, from the product schema."""


def facet_options(counts: Mapping[str, int], chosen: list[str]) -> list[str]:
    """Values with products under the other filters, most products first, plus the chosen ones."""
    shown = [value for value in counts if counts[value] > 0]
    shown.sort(key=lambda value: (-counts[value], str(value)))
    return shown + [value for value in chosen if value not in shown]


def filter_panel(retriever: FashionRetriever, recognised: Mapping[str, Any] | None = None) -> None:
    """Draw the filters, each counted under the other filters and the facets recognised in the words."""
    selected = active_filters()
    effective = {**(recognised or {}), **selected}  # the shopper's own filter on a field wins
    top = st.container(horizontal=True, vertical_alignment="center")
    top.markdown("**Filters**")
    top.button("Clear filters", key="clear_filters", on_click=clear_filters, disabled=not selected, type="tertiary")
    for field, label in FILTER_FIELDS:
        counts = retriever.facet_counts(field, without(effective, field) or None)
        chosen = list(st.session_state.get(filter_key(field)) or [])
        st.multiselect(
            label,
            facet_options(counts, chosen),
            key=filter_key(field),
            format_func=lambda value, c=counts: f"{value} ({c.get(value, 0)})",
            placeholder="Any",
            on_change=first_page,
        )
    years = sorted(int(y) for y in retriever.facet_counts(YEAR_FIELD))
    if len(years) > 1:
        st.session_state["year_bounds"] = (years[0], years[-1])
        st.session_state.setdefault("filter_year", (years[0], years[-1]))
        st.slider(FIELD_LABELS[YEAR_FIELD], years[0], years[-1], key="filter_year", on_change=first_page)


def describe(field: str, value: Any) -> str:
    """A filter as a shopper reads it: "Article type: Dress", "Year: 2012-2014"."""
    if isinstance(value, YearRange):
        shown = f"{value.minimum}-{value.maximum}" if value.minimum != value.maximum else str(value.minimum)
    elif isinstance(value, (list, tuple)):
        shown = " or ".join(str(v) for v in value)
    else:
        shown = str(value)
    return f"{FIELD_LABELS.get(field, field)}: {shown}"


def emptied_message(retriever: FashionRetriever, filters: Mapping[str, Any]) -> str:
    """Why no product matches, naming the filter whose removal brings products back."""
    if not filters:
        return "No products match."
    for field in reversed(list(filters)):
        rest = without(filters, field)
        found = retriever.count(rest or None)
        if found:
            others = "; ".join(describe(f, v) for f, v in rest.items())
            context = f" together with {others}" if others else ""
            return (
                f"No products match {describe(field, filters[field])}{context}. "
                f"Remove {FIELD_LABELS.get(field, field)} to see {found:,} products, or clear the filters."
            )
    return f"No products match {'; '.join(describe(f, v) for f, v in filters.items())}. Clear the filters."
