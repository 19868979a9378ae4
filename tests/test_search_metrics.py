"""Ranked-list metrics of the search evaluation, on hand-built rankings with values worked out by hand."""

from __future__ import annotations

import math

import pytest

from finetune.search_metrics import (
    hit_at,
    latency_summary,
    mean_rows,
    ndcg_at,
    precision_at,
    recall_at,
    reciprocal_rank_at,
)

#            rank: 1      2     3      4     5
RANKING = [False, True, False, True, False]


def test_precision_counts_missing_results_as_misses() -> None:
    assert precision_at(RANKING, 10) == pytest.approx(0.2)
    assert precision_at(RANKING, 2) == pytest.approx(0.5)
    assert precision_at([], 10) == 0.0


def test_recall_hit_and_reciprocal_rank() -> None:
    assert recall_at(RANKING, 4, 10) == pytest.approx(0.5)
    assert recall_at(RANKING, 2, 3) == pytest.approx(0.5)
    assert recall_at(RANKING, 0, 10) == 0.0
    assert hit_at(RANKING, 1) == 0.0 and hit_at(RANKING, 2) == 1.0
    assert reciprocal_rank_at(RANKING, 10) == pytest.approx(0.5)
    assert reciprocal_rank_at(RANKING, 1) == 0.0
    assert reciprocal_rank_at([False, False, True], 10) == pytest.approx(1 / 3)


def test_ndcg_against_the_ideal_ranking() -> None:
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert ndcg_at(RANKING, 2, 10) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    # more relevant products than k: the ideal list is k relevant results
    ideal_three = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at([True, True, False], 10, 3) == pytest.approx((1 + 1 / math.log2(3)) / ideal_three)
    assert ndcg_at([True, True], 2, 10) == pytest.approx(1.0)
    assert ndcg_at([False], 0, 10) == 0.0


def test_latency_percentiles() -> None:
    summary = latency_summary([float(ms) for ms in range(1, 101)])
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p95_ms"] == pytest.approx(95.05)
    assert math.isnan(latency_summary([])["p50_ms"])


def test_mean_rows_averages_each_key_over_the_rows_that_have_it() -> None:
    rows = [{"P@10": 0.2, "gender P@10": 1.0}, {"P@10": 0.4}, {"P@10": 0.6, "gender P@10": 0.5}]
    assert mean_rows(rows) == pytest.approx({"P@10": 0.4, "gender P@10": 0.75})
