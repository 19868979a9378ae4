"""Shareable URLs: the query, filters, mode and page live in ``st.query_params``.

``?q=red+shoes&gender=Women&articleType=Heels&year=2011-2014&sort=year&show=all&page=2``, or
``?like=12,40&unlike=7`` for "more like this"; ``mode=keywords`` (a search mode other than fused),
``understand=0`` (query understanding off) and ``ignore=gender,baseColour`` (removed chips). A photo cannot travel in a URL; its words do.

Each change of the view writes the URL (Streamlit pushes a browser history entry); a URL that
differs from the one the page last wrote (a link just opened, or the back button) is read into the
session state before any widget is drawn, so the link reproduces the view.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from search_ui.results import DEFAULT_MODE
from search_ui.state import FILTER_FIELDS, PAGE_SIZES, SHOW_OPTIONS, SORT_OPTIONS, filter_key
from shared.search.types import SEARCH_MODES

FILTER_FIELD_NAMES = frozenset(field for field, _label in FILTER_FIELDS)
SORT_NAMES = {"name": SORT_OPTIONS[1], "year": SORT_OPTIONS[2]}
Params = dict[str, list[str]]


def _ids(values: list[str]) -> tuple[int, ...]:
    found: list[int] = []
    for part in ",".join(values).split(","):
        if part.strip().isdigit():
            found.append(int(part))
    return tuple(found)


def _number(values: list[str], default: int) -> int:
    text = values[0] if values else ""
    return int(text) if text.strip().isdigit() else default


def params_of_state() -> Params:
    """The URL parameters that reproduce the session's view (defaults left out)."""
    state = st.session_state
    params: Params = {}
    if state.get("like"):
        params["like"] = [",".join(str(i) for i in state["like"])]
        if state.get("unlike"):
            params["unlike"] = [",".join(str(i) for i in state["unlike"])]
        if state.get("text_before_like"):
            params["q"] = [state["text_before_like"]]
    elif str(state.get("text", "")).strip():
        params["q"] = [str(state["text"]).strip()]
    for field, _label in FILTER_FIELDS:
        chosen = state.get(filter_key(field)) or []
        if chosen:
            params[field] = [str(v) for v in chosen]
    years, bounds = state.get("filter_year"), state.get("year_bounds")
    if years and bounds and tuple(years) != tuple(bounds):
        params["year"] = [f"{years[0]}-{years[1]}"]
    names = {label: name for name, label in SORT_NAMES.items()}
    if state.get("sort") in names:
        params["sort"] = [names[state["sort"]]]
    if state.get("show") == SHOW_OPTIONS[1]:
        params["show"] = ["all"]
    if state.get("page_size", PAGE_SIZES[0]) != PAGE_SIZES[0]:
        params["per_page"] = [str(state["page_size"])]
    if state.get("page", 0):
        params["page"] = [str(int(state["page"]) + 1)]
    if state.get("search_mode", DEFAULT_MODE) != DEFAULT_MODE:
        params["mode"] = [str(state["search_mode"])]
    if state.get("understand") is False:
        params["understand"] = ["0"]
    if state.get("ignored_facets"):
        params["ignore"] = [",".join(state["ignored_facets"])]
    return params


def apply_params(params: Mapping[str, list[str]]) -> None:
    """Set the session's view from URL parameters (absent ones take their defaults)."""
    state = st.session_state
    like, unlike = _ids(params.get("like", [])), _ids(params.get("unlike", []))
    text = (params.get("q") or [""])[0]
    state["like"], state["unlike"] = like, unlike if like else ()
    if like:
        state["text"], state["text_before_like"] = "", text
    else:
        state["text"] = text
        state.pop("text_before_like", None)
    for field, _label in FILTER_FIELDS:
        state[filter_key(field)] = list(dict.fromkeys(params.get(field, [])))
    years = (params.get("year") or [""])[0].split("-")
    if len(years) == 2 and all(y.strip().isdigit() for y in years):
        state["filter_year"] = (int(years[0]), int(years[1]))
    elif "year_bounds" in state:
        state["filter_year"] = tuple(state["year_bounds"])
    else:
        state.pop("filter_year", None)
    state["sort"] = SORT_NAMES.get((params.get("sort") or [""])[0], SORT_OPTIONS[0])
    state["show"] = SHOW_OPTIONS[1] if (params.get("show") or [""])[0] == "all" else SHOW_OPTIONS[0]
    size = _number(params.get("per_page", []), PAGE_SIZES[0])
    state["page_size"] = size if size in PAGE_SIZES else PAGE_SIZES[0]
    state["page"] = max(0, _number(params.get("page", []), 1) - 1)
    mode = (params.get("mode") or [DEFAULT_MODE])[0]
    state["search_mode"] = mode if mode in SEARCH_MODES else DEFAULT_MODE
    state["understand"] = (params.get("understand") or ["1"])[0] != "0"
    ignored = ",".join(params.get("ignore", [])).split(",")
    state["ignored_facets"] = tuple(f for f in ignored if f in FILTER_FIELD_NAMES)


def read_url() -> None:
    """Take the view from the URL when it is not the one this page last wrote (a new link, or "back")."""
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    if st.session_state.get("url_written") != current:
        apply_params(current)
        st.session_state["url_written"] = current


def write_url() -> None:
    """Put the session's view in the URL (a history entry) when it changed."""
    wanted = params_of_state()
    if st.session_state.get("url_written") != wanted:
        st.query_params.from_dict(wanted)
        st.session_state["url_written"] = wanted
