from __future__ import annotations

import numpy as np
import pytest

from finetune.metrics import encode_labels, ranking_metrics


def _unit(angle_degrees: list[float]) -> np.ndarray:
    radians = np.radians(angle_degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def test_hand_computed_case() -> None:
    # gallery at angles 0, 10, 20, 90, 100; query at 0 -> ranking by angle: 0, 10, 20, 90, 100
    gallery = _unit([0, 10, 20, 90, 100])
    gallery_labels = [0, 1, 0, 1, 2]
    queries = _unit([0, 95])
    query_labels = [1, 2]
    # query 0 (label 1) ranks gallery [0,1,2,3,4] -> relevant {1,3} at ranks 2 and 4
    # query 1 (label 2) at 95 deg ranks [3 or 4 first: 90 and 100 tie at 5 deg] -> gallery order: 3 then 4
    m = ranking_metrics(queries, query_labels, gallery, gallery_labels, recall_at=(1, 2, 4), precision_at=(1, 2), mrr_at=2)
    assert m["queries"] == 2
    assert m["R@1"] == pytest.approx((0 + 0) / 2)
    assert m["R@2"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["R@4"] == pytest.approx((1.0 + 1.0) / 2)
    assert m["Hit@2"] == pytest.approx(1.0)
    assert m["P@1"] == pytest.approx(0.0)
    assert m["P@2"] == pytest.approx((0.5 + 0.5) / 2)
    assert m["MRR@2"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert m["MRR"] == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_mrr_beyond_cutoff_and_queries_without_relevant_items() -> None:
    gallery = _unit([0, 10, 20, 30])
    m = ranking_metrics(_unit([0, 0]), [3, 9], gallery, [0, 1, 2, 3], recall_at=(1,), mrr_at=2)
    assert m["queries"] == 1  # label 9 has no relevant item: skipped
    assert m["MRR@2"] == 0.0
    assert m["MRR"] == pytest.approx(1 / 4)


def test_chunking_does_not_change_results() -> None:
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(50, 8)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    queries = gallery[:20] + 0.3 * rng.normal(size=(20, 8)).astype(np.float32)
    labels = rng.integers(0, 10, size=50)
    a = ranking_metrics(queries, labels[:20], gallery, labels, recall_at=(1, 10), precision_at=(10,), mrr_at=10, chunk_size=3)
    b = ranking_metrics(queries, labels[:20], gallery, labels, recall_at=(1, 10), precision_at=(10,), mrr_at=10, chunk_size=100)
    assert a == pytest.approx(b)


def test_encode_labels() -> None:
    labels, values = encode_labels(["b", "a", "b"])
    assert labels.tolist() == [0, 1, 0] and values == ["b", "a"]
