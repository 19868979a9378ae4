"""Metrics of one ranked result list (search results, not embeddings: see ``finetune.metrics`` for those).

``flags`` holds one bool per returned result, in rank order: True where the result is relevant.
``relevant`` is how many gallery products are relevant to the query (the ideal list's length).

- ``P@k``: relevant results in the top k, over k (fewer than k results count as misses);
- ``R@k``: relevant results in the top k, over all relevant products;
- ``Hit@k``: 1 when any of the top k is relevant;
- ``MRR@k``: 1 / rank of the first relevant result, 0 beyond rank k;
- ``nDCG@k``: binary-gain DCG of the top k over the DCG of an ideal top k.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def precision_at(flags: Sequence[bool], k: int) -> float:
    return sum(bool(f) for f in flags[:k]) / k


def recall_at(flags: Sequence[bool], relevant: int, k: int) -> float:
    return sum(bool(f) for f in flags[:k]) / relevant if relevant else 0.0


def hit_at(flags: Sequence[bool], k: int) -> float:
    return 1.0 if any(flags[:k]) else 0.0


def reciprocal_rank_at(flags: Sequence[bool], k: int) -> float:
    return next((1.0 / rank for rank, flag in enumerate(flags[:k], start=1) if flag), 0.0)


def ndcg_at(flags: Sequence[bool], relevant: int, k: int) -> float:
    dcg = sum(1.0 / math.log2(rank + 1) for rank, flag in enumerate(flags[:k], start=1) if flag)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(relevant, k) + 1))
    return dcg / ideal if ideal else 0.0


def latency_summary(milliseconds: Sequence[float]) -> dict[str, float]:
    """``p50_ms`` and ``p95_ms`` of per-query latencies (empty: NaN)."""
    if not milliseconds:
        return {"p50_ms": math.nan, "p95_ms": math.nan}
    values = np.asarray(milliseconds, dtype=np.float64)
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def mean_rows(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per key, the mean over the rows that have it (a per-attribute metric only over queries naming it)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            sums[key] = sums.get(key, 0.0) + value
            counts[key] = counts.get(key, 0) + 1
    return {key: sums[key] / counts[key] for key in sums}
