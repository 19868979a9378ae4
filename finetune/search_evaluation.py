"""Run the search-evaluation tasks through a ``FashionRetriever``, per search setting, and tune fusion weights.

Tasks (queries from ``finetune.shopper_queries``; metrics from ``finetune.search_metrics``), top 10 each:

- shopper queries: P@10 with every named attribute matching, P@10 per attribute (over the queries that
  name it), nDCG@10, and end-to-end latency p50/p95 in ms (one ``search_by_text`` call each, the query
  cache emptied first, so each query is encoded);
- display names: R@10, MRR@10, Hit@10;
- composed: a product photo plus "in COLOUR": P@10 of photo + text (per setting), and of the photo alone.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from finetune.search_metrics import (
    hit_at,
    latency_summary,
    mean_rows,
    ndcg_at,
    precision_at,
    recall_at,
    reciprocal_rank_at,
)
from finetune.shopper_queries import SHOPPER_FIELDS, ComposedQuery, GalleryProduct, NameQuery, ShopperQuery
from shared.commands import keep_finished_bars
from shared.search.types import SEARCH_MODES, FusionWeights, RetrieverError, SearchResult

if TYPE_CHECKING:
    from shared.retriever import FashionRetriever

TOP_K = 10
DEFAULT_MODE = SEARCH_MODES[0]
FIELD_LABELS = {"gender": "gender", "baseColour": "colour", "articleType": "type", "usage": "usage"}
TUNE_GRID: dict[str, tuple[float, ...]] = {"image": (0.0, 0.5, 1.0), "text": (0.5, 1.0, 2.0), "keywords": (0.0, 0.5, 1.0)}
"""The weights ``--tune`` tries for the text legs of fused search."""


@dataclass(frozen=True)
class SearchSetting:
    """One way of running the queries: a search mode (None: the retriever's default) and query understanding
    on or off (None: the retriever's default). Only what is set is passed to the retriever."""

    label: str
    mode: str | None = None
    understand: bool | None = None

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in (("mode", self.mode), ("understand", self.understand)) if v is not None}


def search_settings(modes: Sequence[str]) -> list[SearchSetting]:
    """Every mode asked for, plus the default mode with query understanding off."""
    settings = [SearchSetting(mode, mode=mode) for mode in modes]
    if DEFAULT_MODE in modes:
        settings.insert(modes.index(DEFAULT_MODE) + 1, SearchSetting(f"{DEFAULT_MODE}, understanding off", DEFAULT_MODE, False))
    return settings


@dataclass
class SearchTasks:
    """The queries of every task and the gallery they are scored on."""

    gallery: Sequence[GalleryProduct]
    shopper: Sequence[ShopperQuery]
    names: Sequence[NameQuery]
    composed: Sequence[ComposedQuery] = ()
    _relevant: dict[Any, int] = field(default_factory=dict, repr=False)

    def relevant(self, query: ShopperQuery | NameQuery | ComposedQuery) -> int:
        """How many gallery products are relevant to a query (counted once per distinct attribute set)."""
        if not self._relevant:
            self._relevant.update(_attribute_counts(self.gallery))
        if isinstance(query, NameQuery):
            return self._relevant.get(("productDisplayName", query.text), 0)
        return self._relevant.get(tuple(sorted(query.attributes.items())), 0)


def _attribute_counts(gallery: Sequence[GalleryProduct]) -> Counter[Any]:
    counts: Counter[Any] = Counter()
    fields = (*SHOPPER_FIELDS, "productDisplayName")
    for product in gallery:
        values = [(f, v) for f in SHOPPER_FIELDS if (v := product.value(f)) is not None]
        for size in range(1, len(values) + 1):
            counts.update(tuple(sorted(c)) for c in itertools.combinations(values, size))
        if (name := product.value(fields[-1])) is not None:
            counts[("productDisplayName", name)] += 1
    return counts


def _bar(items: Sequence[Any], label: str, progress: bool) -> Any:
    return tqdm(items, desc=label, unit="query", disable=not progress, leave=keep_finished_bars())


def _timed(search: Callable[[], Sequence[SearchResult]]) -> tuple[Sequence[SearchResult], float]:
    started = time.perf_counter()
    results = search()
    return results, (time.perf_counter() - started) * 1000.0


def _cold_start(retriever: FashionRetriever, setting: SearchSetting) -> None:
    """One untimed search (first-call costs), then an empty query cache: every timed query is encoded."""
    retriever.search_by_text("warm up", top_k=TOP_K, **setting.options())
    clear = getattr(retriever, "clear_query_cache", None)
    if clear is not None:
        clear()


def shopper_metrics(retriever: FashionRetriever, setting: SearchSetting, tasks: SearchTasks, progress: bool = True) -> dict[str, float]:
    rows: list[dict[str, float]] = []
    latencies: list[float] = []
    _cold_start(retriever, setting)
    for query in _bar(tasks.shopper, f"{setting.label}: shopper", progress):
        results, ms = _timed(lambda: retriever.search_by_text(query.text, top_k=TOP_K, **setting.options()))
        latencies.append(ms)
        flags = [query.is_relevant(r.attributes) for r in results]
        row = {"P@10": precision_at(flags, TOP_K), "nDCG@10": ndcg_at(flags, tasks.relevant(query), TOP_K)}
        for name, value in query.attributes.items():
            row[f"{FIELD_LABELS.get(name, name)} P@10"] = precision_at([str(r.get(name)) == value for r in results], TOP_K)
        rows.append(row)
    return {**mean_rows(rows), **latency_summary(latencies), "queries": float(len(rows))}


def name_metrics(retriever: FashionRetriever, setting: SearchSetting, tasks: SearchTasks, progress: bool = True) -> dict[str, float]:
    rows = []
    for query in _bar(tasks.names, f"{setting.label}: display names", progress):
        flags = [query.is_relevant(r.attributes) for r in retriever.search_by_text(query.text, top_k=TOP_K, **setting.options())]
        relevant = tasks.relevant(query)
        rows.append({"R@10": recall_at(flags, relevant, TOP_K), "MRR@10": reciprocal_rank_at(flags, TOP_K), "Hit@10": hit_at(flags, TOP_K)})
    return {**mean_rows(rows), "queries": float(len(rows))}


def composed_metrics(
    retriever: FashionRetriever, setting: SearchSetting | None, tasks: SearchTasks, progress: bool = True
) -> dict[str, float]:
    """P@10 of photo + "in COLOUR" under ``setting``, or of the photo alone when ``setting`` is None."""
    label = setting.label if setting is not None else "photo alone"
    precisions = []
    for query in _bar(tasks.composed, f"{label}: composed", progress):
        if setting is None:
            results = retriever.search_by_image(query.image_path, top_k=TOP_K)
        else:
            results = retriever.search(text=query.text, image=query.image_path, top_k=TOP_K, **setting.options())
        precisions.append(precision_at([query.is_relevant(r.attributes) for r in results], TOP_K))
    return {"P@10": sum(precisions) / len(precisions) if precisions else float("nan"), "queries": float(len(precisions))}


def evaluate_setting(retriever: FashionRetriever, setting: SearchSetting, tasks: SearchTasks, progress: bool = True) -> dict[str, dict[str, float]]:
    """Every task's metrics under one setting."""
    result = {"shopper": shopper_metrics(retriever, setting, tasks, progress), "display_name": name_metrics(retriever, setting, tasks, progress)}
    if tasks.composed:
        result["composed"] = composed_metrics(retriever, setting, tasks, progress)
    return result


def tune_score(metrics: Mapping[str, Mapping[str, float]]) -> float:
    """What ``--tune`` maximises: shopper all-attribute P@10 plus display-name Hit@10."""
    return metrics["shopper"]["P@10"] + metrics["display_name"]["Hit@10"]


@contextmanager
def fusion_weights(retriever: FashionRetriever, weights: FusionWeights) -> Iterator[None]:
    """The retriever searches with ``weights`` inside the block, and with its own weights after it."""
    before = retriever.fusion  # type: ignore[attr-defined]
    retriever.fusion = weights  # type: ignore[attr-defined]
    try:
        yield
    finally:
        retriever.fusion = before  # type: ignore[attr-defined]


def tune_fusion(
    retriever: FashionRetriever, tasks: SearchTasks, grid: Mapping[str, Sequence[float]] = TUNE_GRID, progress: bool = True
) -> list[dict[str, Any]]:
    """Every weight combination of ``grid`` (all zero left out) on the fused mode, best first."""
    if not isinstance(getattr(retriever, "fusion", None), FusionWeights):
        raise RetrieverError("this retriever has no fusion weights to tune (FashionRetriever.fusion); drop --tune")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values()) if any(values)]
    setting = SearchSetting(DEFAULT_MODE, mode=DEFAULT_MODE)
    trials = []
    for combo in tqdm(combos, desc="tune fusion weights", unit="weights", disable=not progress, leave=keep_finished_bars()):
        weights = FusionWeights(**combo)
        with fusion_weights(retriever, weights):
            metrics = {"shopper": shopper_metrics(retriever, setting, tasks, False), "display_name": name_metrics(retriever, setting, tasks, False)}
        trials.append({"weights": dict(combo), "score": tune_score(metrics),
                       "shopper P@10": metrics["shopper"]["P@10"], "name Hit@10": metrics["display_name"]["Hit@10"]})
    return sorted(trials, key=lambda t: -t["score"])
