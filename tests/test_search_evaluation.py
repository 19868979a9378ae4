"""Running the search-evaluation tasks: exact metrics through a scripted retriever, and the real retriever."""

from __future__ import annotations

import math
from typing import Any

import pytest

from finetune.search_evaluation import (
    SearchSetting,
    SearchTasks,
    composed_metrics,
    evaluate_setting,
    search_settings,
    tune_fusion,
)
from finetune.search_gallery import gallery_products
from finetune.shopper_queries import GalleryProduct, NameQuery, ShopperQuery, composed_queries, name_queries, shopper_queries
from shared.retriever import FashionRetriever
from shared.search.types import SEARCH_MODES, FusionWeights, RetrieverError, SearchResult


def _product(product_id: int, **attributes: str) -> GalleryProduct:
    return GalleryProduct(product_id, attributes, f"{product_id}.jpg")


# 4 red men's watches (ids 1-4), 2 blue men's watches (5-6), 4 red women's watches (7-10)
GALLERY = [
    *(_product(i, gender="Men", baseColour="Red", articleType="Watches", productDisplayName="Red Watch") for i in range(1, 5)),
    *(_product(i, gender="Men", baseColour="Blue", articleType="Watches", productDisplayName="Blue Watch") for i in (5, 6)),
    *(_product(i, gender="Women", baseColour="Red", articleType="Watches", productDisplayName="Red Watch") for i in range(7, 11)),
]


class ScriptedRetriever:
    """Returns a fixed ranking per query text, and records the options it was called with."""

    def __init__(self, rankings: dict[str, list[int]]) -> None:
        self.rankings = rankings
        self.by_id = {p.id: p for p in GALLERY}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fusion = FusionWeights()

    def _results(self, key: str) -> list[SearchResult]:
        return [SearchResult(i, 1.0, dict(self.by_id[i].attributes)) for i in self.rankings.get(key, [])]

    def search_by_text(self, query: str, top_k: int = 10, **options: Any) -> list[SearchResult]:
        self.calls.append((query, options))
        return self._results(query)[:top_k]

    def clear_query_cache(self) -> None:
        self.calls.append(("cleared", {}))

    def search_by_image(self, image: str, top_k: int = 10) -> list[SearchResult]:
        return self._results(image)[:top_k]

    def search(self, text: str, image: str, top_k: int = 10, **options: Any) -> list[SearchResult]:
        return self._results(f"{image} {text}")[:top_k]


def test_shopper_and_name_metrics_are_exact() -> None:
    query = ShopperQuery("mens red watch", {"gender": "Men", "baseColour": "Red", "articleType": "Watches"})
    # ranks: women's red (colour, type), men's red, men's blue (gender, type), men's red
    retriever = ScriptedRetriever({"mens red watch": [7, 1, 5, 2], "Blue Watch": [1, 6, 5]})
    tasks = SearchTasks(GALLERY, [query], [NameQuery("Blue Watch")])
    metrics = evaluate_setting(retriever, SearchSetting("fused", mode="fused"), tasks, progress=False)  # type: ignore[arg-type]
    shopper = metrics["shopper"]
    assert shopper["P@10"] == pytest.approx(0.2)
    assert shopper["gender P@10"] == pytest.approx(0.3)
    assert shopper["colour P@10"] == pytest.approx(0.3)
    assert shopper["type P@10"] == pytest.approx(0.4)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, 5))  # 4 relevant products
    assert shopper["nDCG@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert shopper["p50_ms"] >= 0 and shopper["queries"] == 1
    names = metrics["display_name"]
    assert names == pytest.approx({"R@10": 1.0, "MRR@10": 0.5, "Hit@10": 1.0, "queries": 1.0})
    # one untimed search, an empty query cache, then the timed queries, each with the setting's options
    fused = {"mode": "fused"}
    assert retriever.calls == [("warm up", fused), ("cleared", {}), ("mens red watch", fused), ("Blue Watch", fused)]


def test_only_the_options_a_setting_sets_reach_the_retriever() -> None:
    settings = search_settings(list(SEARCH_MODES))
    assert [s.label for s in settings][:2] == ["fused", "fused, understanding off"]
    assert settings[1].options() == {"mode": "fused", "understand": False}
    assert len(settings) == len(SEARCH_MODES) + 1
    assert SearchSetting("default").options() == {}
    assert [s.label for s in search_settings(["keywords"])] == ["keywords"]


def test_composed_photo_with_text_against_photo_alone() -> None:
    tasks = SearchTasks(GALLERY, [], [], composed_queries(GALLERY, 1, 0, min_products=2))
    query = tasks.composed[0]
    relevant = [p.id for p in GALLERY if query.is_relevant(p.attributes)]
    other = [p.id for p in GALLERY if not query.is_relevant(p.attributes)]
    retriever = ScriptedRetriever({query.image_path: other[:3] + relevant[:1], f"{query.image_path} {query.text}": relevant[:2]})
    assert composed_metrics(retriever, SearchSetting("fused"), tasks, False)["P@10"] == pytest.approx(0.2)  # type: ignore[arg-type]
    assert composed_metrics(retriever, None, tasks, False)["P@10"] == pytest.approx(0.1)  # type: ignore[arg-type]


class WeightedRetriever(ScriptedRetriever):
    """Ranks well only when the keyword leg is off and the text leg is heavy."""

    def search_by_text(self, query: str, top_k: int = 10, **options: Any) -> list[SearchResult]:
        good = self.fusion.keywords == 0 and self.fusion.text == 2.0
        return self._results("good" if good else "bad")[:top_k]


def test_tuning_finds_the_best_weights_and_puts_the_old_ones_back() -> None:
    retriever = WeightedRetriever({"good": [1, 2, 3, 4], "bad": [5, 6]})
    retriever.fusion = FusionWeights(image=0.7)
    tasks = SearchTasks(GALLERY, [ShopperQuery("red watch for men", {"gender": "Men", "baseColour": "Red"})], [NameQuery("Red Watch")])
    trials = tune_fusion(retriever, tasks, progress=False)  # type: ignore[arg-type]
    assert trials[0]["weights"]["text"] == 2.0 and trials[0]["weights"]["keywords"] == 0.0
    assert trials[0]["score"] == pytest.approx(0.4 + 1.0) and trials[-1]["score"] == 0.0
    assert retriever.fusion == FusionWeights(image=0.7)
    assert not any(t["weights"]["image"] == t["weights"]["text"] == t["weights"]["keywords"] == 0 for t in trials)


def test_tuning_a_retriever_without_fusion_weights_is_a_clear_error() -> None:
    retriever = ScriptedRetriever({})
    retriever.fusion = None  # type: ignore[assignment]
    with pytest.raises(RetrieverError, match="no fusion weights"):
        tune_fusion(retriever, SearchTasks(GALLERY, [], []), progress=False)  # type: ignore[arg-type]


def test_the_real_retriever_on_both_backends(retriever: FashionRetriever) -> None:
    gallery = gallery_products(retriever)
    assert len(gallery) == 60 and all(p.image_path for p in gallery)
    tasks = SearchTasks(
        gallery,
        shopper_queries(gallery, 12, 0, min_products=2),
        name_queries(gallery, 6, 0),
        composed_queries(gallery, 4, 0, min_products=2),
    )
    results = {s.label: evaluate_setting(retriever, s, tasks, progress=False) for s in search_settings(list(SEARCH_MODES))}
    assert len(results) == len(SEARCH_MODES) + 1
    for metrics in results.values():
        assert metrics["shopper"]["queries"] == 12 and metrics["display_name"]["queries"] == 6
        assert metrics["composed"]["queries"] == 4
        assert 0 < metrics["shopper"]["p50_ms"] <= metrics["shopper"]["p95_ms"]
        for task in metrics.values():
            assert all(0.0 <= v <= 1.0 for k, v in task.items() if k not in ("queries", "p50_ms", "p95_ms"))
    # the colours, genders and types the queries name are the catalog's facets: understanding them helps
    understood, not_understood = results["fused"]["shopper"], results["fused, understanding off"]["shopper"]
    assert understood["P@10"] > not_understood["P@10"]
