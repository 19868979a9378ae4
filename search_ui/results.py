"""What the page searches for, and one page of its results: totals, the relevance cut-off and sorting.

"Best matches" keeps the ``BEST_MATCHES`` most relevant products; "All products" ranks every
product the filters admit. Sorting by name or year orders the whole of that set (not one page),
then pages through it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from search_ui.state import SORT_OPTIONS
from shared.retriever import FashionRetriever
from shared.search.types import QueryUnderstanding, SearchResult

BEST_MATCHES = 48
"""How many products "Best matches" keeps: the most relevant ones, in up to four pages of 12."""
DEFAULT_MODE = "fused"
SearchKind = Literal["none", "text", "photo", "both", "similar"]


@dataclass(frozen=True)
class SearchRequest:
    """What the user searches for on this run."""

    text: str = ""
    image: Image.Image | None = None
    text_weight: float = 0.5
    like: tuple[int, ...] = ()
    unlike: tuple[int, ...] = ()
    mode: str = DEFAULT_MODE
    understand: bool = True
    ignore_facets: tuple[str, ...] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> SearchKind:
        if self.like:
            return "similar"
        if self.image is not None:
            return "both" if self.text else "photo"
        return "text" if self.text else "none"


@dataclass(frozen=True)
class View:
    """How the results are shown: the cut-off, the order and the page."""

    best_only: bool = True
    sort: str = SORT_OPTIONS[0]
    page: int = 0
    page_size: int = 12


@dataclass(frozen=True)
class ResultsPage:
    """One page of results and where it sits: `matches` products in `pages` pages, of `total` admitted."""

    results: list[SearchResult]
    total: int
    matches: int
    page: int
    pages: int
    page_size: int
    understanding: QueryUnderstanding | None = None
    """The facets recognised in the words and how each was used (None: not reported)."""

    @property
    def first(self) -> int:
        """1-based position of the page's first result."""
        return self.page * self.page_size + 1

    @property
    def last(self) -> int:
        return self.page * self.page_size + len(self.results)


def ranked(retriever: FashionRetriever, request: SearchRequest, top_k: int, offset: int = 0) -> list[SearchResult]:
    """Results `offset` .. `offset + top_k` in relevance order."""
    filters = dict(request.filters) or None
    if request.like:
        return retriever.more_like_this(request.like, request.unlike, top_k=top_k, filters=filters, offset=offset)
    return retriever.search(
        text=request.text or None,
        image=request.image,
        text_weight=request.text_weight,
        top_k=top_k,
        filters=filters,
        offset=offset,
        mode=request.mode,  # type: ignore[arg-type]
        understand=request.understand,
        ignore_facets=request.ignore_facets,
    )


def applied_facet_filters(understanding: QueryUnderstanding | None) -> dict[str, list[str]]:
    """The filters the recognised words added (field -> values), as the retriever applied them."""
    filters: dict[str, list[str]] = {}
    for facet in understanding.applied if understanding is not None else ():
        filters.setdefault(facet.field, []).append(facet.value)
    return filters


def admitted(retriever: FashionRetriever, request: SearchRequest, results: list[SearchResult] | None = None) -> int:
    """How many products can match: the results' own total when the retriever reports one, else a count."""
    total = getattr(results, "total", None)
    if total is None:
        total = retriever.count(dict(request.filters) or None)
    if request.like:  # the examples themselves are never among the results
        total = max(0, total - len(set(request.like) | set(request.unlike)))
    return int(total)


def sort_key(order: str) -> Any:
    if order == SORT_OPTIONS[1]:
        return lambda r: (r.display_name.lower(), r.id)
    return lambda r: (-int(r.get("year") or 0), r.display_name.lower(), r.id)


def results_page(retriever: FashionRetriever, request: SearchRequest, view: View) -> ResultsPage:
    """The page of results the view asks for (clamped to the last page)."""
    size = view.page_size
    found = ranked(retriever, request, size, view.page * size)
    total = admitted(retriever, request, found)
    matches = min(total, BEST_MATCHES) if view.best_only else total
    pages = max(1, math.ceil(matches / size))
    page = min(view.page, pages - 1)
    if view.sort != SORT_OPTIONS[0]:  # order every match, then cut the page out
        pool = sorted(ranked(retriever, request, matches) if matches else [], key=sort_key(view.sort))
    understanding = getattr(found, "understanding", None)
    if view.sort != SORT_OPTIONS[0]:  # order every match, then cut the page out
        pool = sorted(ranked(retriever, request, matches) if matches else [], key=sort_key(view.sort))
        return ResultsPage(pool[page * size : (page + 1) * size], total, matches, page, pages, size, understanding)
    if page != view.page:
        found = ranked(retriever, request, size, page * size)
    if len(found) < size:  # the ranking ended early (keywords mode ranks only products holding a word)
        matches = min(matches, page * size + len(found))
        pages = max(1, math.ceil(matches / size))
    shown = list(found)[: max(0, matches - page * size)]
    return ResultsPage(shown, total, matches, page, pages, size, understanding)
