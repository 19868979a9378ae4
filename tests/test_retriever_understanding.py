"""The retriever's search modes and query understanding, on both store backends.

The catalog (tests/search_fixtures.py) has 60 products: 5 article types x 6 colours x 2 genders, one
product per combination, so how many products each facet admits is known exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.retriever import FashionRetriever
from shared.search.types import SEARCH_MODES, RetrieverError
from shared.storage.vector_store.filters import payload_matches


def uses(results: Any) -> dict[str, tuple[str, str]]:
    return {f.field: (f.value, f.use) for f in results.understanding.facets}


def test_recognised_facets_filter_when_enough_products_match(retriever: FashionRetriever) -> None:
    results = retriever.search_by_text("women's watches", top_k=20)
    assert uses(results) == {"gender": ("Women", "filter"), "articleType": ("Watches", "filter")}
    assert results.total == 6 and len(results) == 6
    assert all(r.get("gender") == "Women" and r.get("articleType") == "Watches" for r in results)
    assert results.mode == "fused"


def test_a_facet_that_leaves_too_few_products_is_relaxed_not_a_hard_filter(retriever: FashionRetriever) -> None:
    results = retriever.search_by_text("red watches", top_k=20)  # 2 red watches: fewer than 5
    assert uses(results) == {"baseColour": ("Red", "relaxed"), "articleType": ("Watches", "filter")}
    relaxed = next(f for f in results.understanding.facets if f.use == "relaxed")
    assert "Red" in relaxed.reason and "\n" not in relaxed.reason
    assert results.total == 12 and all(r.get("articleType") == "Watches" for r in results)
    assert {r.get("baseColour") for r in results} > {"Red"}  # other colours fill the page


def test_removed_overridden_and_switched_off(retriever: FashionRetriever) -> None:
    removed = retriever.search_by_text("women's watches", top_k=20, ignore_facets=("gender",))
    assert uses(removed) == {"gender": ("Women", "removed"), "articleType": ("Watches", "filter")}
    assert removed.total == 12
    overridden = retriever.search_by_text("women's watches", top_k=20, filters={"gender": "Men"})
    assert uses(overridden)["gender"] == ("Women", "overridden")
    assert overridden.total == 6 and all(r.get("gender") == "Men" for r in overridden)
    off = retriever.search_by_text("women's watches", top_k=60, understand=False)
    assert off.understanding is None and off.total == 60 and len(off) == 60


def test_understand_alone_reports_what_a_search_would_apply(retriever: FashionRetriever) -> None:
    understood = retriever.understand("Blue trousers for men")
    searched = retriever.search_by_text("Blue trousers for men", top_k=5).understanding
    assert understood == searched
    assert {(f.field, f.value) for f in understood.facets} == {("baseColour", "Blue"), ("articleType", "Trousers"), ("gender", "Men")}
    assert retriever.understand("something nice").facets == ()


def test_photo_plus_words_applies_the_words_facets(retriever: FashionRetriever, product_rows: list[dict[str, Any]]) -> None:
    watch = next(r for r in product_rows if r["articleType"] == "Watches" and r["baseColour"] == "Black")
    alone = retriever.search_by_image(watch["image"], top_k=10)
    in_yellow = retriever.search(text="in yellow", image=watch["image"], top_k=10)
    assert uses(in_yellow) == {"baseColour": ("Yellow", "filter")}
    assert all(r.get("baseColour") == "Yellow" for r in in_yellow) and in_yellow.total == 10
    assert sum(r.get("baseColour") == "Yellow" for r in alone) < len(in_yellow)


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_every_mode_runs_under_filters(retriever: FashionRetriever, mode: str) -> None:
    filters = {"gender": "Men"}
    results = retriever.search_by_text("Men Green Handbags", top_k=10, filters=filters, mode=mode, understand=False)
    assert results.mode == mode and results
    assert all(payload_matches(r.attributes, filters) for r in results)
    if mode == "keywords":  # BM25 on the product's own words finds it first
        assert results[0].display_name == "Men Green Handbags"


def test_hybrid_maps_onto_modes_and_bad_modes_are_refused(retriever: FashionRetriever) -> None:
    assert retriever.search_by_text("watch", hybrid=False).mode == "image_vectors"
    assert retriever.search_by_text("watch", hybrid=True).mode == "fused"
    assert retriever.search_by_text("watch", hybrid=True, mode="keywords").mode == "keywords"
    with pytest.raises(RetrieverError, match="search mode 'dense' is not one of fused, image_vectors, text_vectors, keywords"):
        retriever.search_by_text("watch", mode="dense")
