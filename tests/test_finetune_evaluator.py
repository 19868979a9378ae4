"""The one retrieval evaluator of training validation and offline evaluation."""

from __future__ import annotations

import numpy as np

from finetune.evaluator import RetrievalEvaluator
from finetune.metrics import ranking_metrics


def _unit(rows: list[list[float]]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


GALLERY = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1], [0.1, 0.9, 0]])
GALLERY_NAMES = ["red shirt", "red shirt", "blue jeans", "black shoes", "blue jeans"]
QUERY_VECTORS = {"red shirt": [1, 0, 0], "blue jeans": [0, 0.2, 1], "black shoes": [0, 0, 1], "green hat": [1, 1, 1]}


def _encode(texts: list[str]) -> np.ndarray:
    return _unit([QUERY_VECTORS[text] for text in texts])


def test_names_evaluator_gives_ranking_metrics_of_the_same_labels() -> None:
    queries = ["black shoes", "blue jeans", "green hat", "red shirt"]
    evaluator = RetrievalEvaluator.for_names(queries, GALLERY_NAMES)
    got = evaluator(_encode, GALLERY)
    expected = ranking_metrics(_encode(queries), [0, 1, 2, 3], GALLERY, [3, 3, 1, 0, 1], recall_at=(1, 10), mrr_at=10)
    assert got == expected
    assert list(got) == ["R@1", "Hit@1", "R@10", "Hit@10", "MRR@10", "MRR", "queries"]
    assert got["queries"] == 3  # "green hat" has no relevant product: left out, as ranking_metrics does
    assert len(evaluator) == 4


def test_metric_names_keep_only_those_keys_in_order() -> None:
    evaluator = RetrievalEvaluator.for_names(["red shirt", "blue jeans"], GALLERY_NAMES, metric_names=("MRR@10", "R@1"))
    assert list(evaluator(_encode, GALLERY)) == ["R@1", "MRR@10"]


def test_attribute_evaluator_asks_each_distinct_value_once() -> None:
    colours = ["red", "red", "blue", "", "blue"]
    evaluator = RetrievalEvaluator.for_attribute(colours)
    assert evaluator is not None and evaluator.queries == ["blue", "red"]
    vectors = {"blue": [0, 1, 0], "red": [1, 0, 0]}
    metrics = evaluator(lambda texts: _unit([vectors[t] for t in texts]), GALLERY)
    assert set(metrics) == {"P@1", "P@10", "MRR", "queries"} and metrics["P@1"] == 1.0 and metrics["MRR"] == 1.0
    assert RetrievalEvaluator.for_attribute(["", ""]) is None


def test_precomputed_embeddings_give_the_same_metrics() -> None:
    evaluator = RetrievalEvaluator.for_names(["red shirt", "black shoes"], GALLERY_NAMES)
    assert evaluator.from_embeddings(_encode(["red shirt", "black shoes"]), GALLERY) == evaluator(_encode, GALLERY)
