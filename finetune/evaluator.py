"""One text-to-image retrieval evaluator, for training's validation and for ``python -m finetune.evaluate``.

Like sentence-transformers' ``InformationRetrievalEvaluator``: built once from the data (the query texts,
what each query and each gallery item is about, which metrics), then called with a text encoder and the
gallery's image embeddings; it returns the metrics dict of ``finetune.metrics.ranking_metrics``.
A gallery item is relevant to a query when their targets are equal (same display name, same attribute value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from finetune.metrics import encode_labels, ranking_metrics

if TYPE_CHECKING:
    import numpy as np
    import torch

    Embeddings = np.ndarray | torch.Tensor

TextEncoder = Callable[[list[str]], "Embeddings"]
"""L2-normalised text embeddings, one row per text in order."""
NAME_RECALL_AT = (1, 10)
NAME_MRR_AT = 10
"""Display-name retrieval: R@1, R@10 (and Hit@k), MRR@10 (and MRR)."""
ATTRIBUTE_PRECISION_AT = (1, 10)
"""Attribute-value queries (subCategory, articleType, baseColour): P@1, P@10, MRR."""

class RetrievalEvaluator:
    """Ranking metrics of one set of text queries against one gallery."""

    def __init__(
        self,
        queries: Sequence[str],
        query_targets: Sequence[object],
        gallery_targets: Sequence[object],
        *,
        recall_at: Sequence[int] = (),
        precision_at: Sequence[int] = (),
        mrr_at: int | None = None,
        metric_names: Sequence[str] | None = None,
    ) -> None:
        """``metric_names`` keeps only those keys of the result (in ranking_metrics' order); None keeps all."""
        if len(queries) != len(query_targets):
            raise ValueError("every query needs exactly one target")
        labels, _ = encode_labels([*query_targets, *gallery_targets])
        self.queries = [str(query) for query in queries]
        self.query_labels, self.gallery_labels = labels[: len(queries)], labels[len(queries) :]
        self.recall_at, self.precision_at, self.mrr_at = tuple(recall_at), tuple(precision_at), mrr_at
        self.metric_names = None if metric_names is None else set(metric_names)

    @classmethod
    def for_names(
        cls, query_names: Sequence[str], gallery_names: Sequence[object], metric_names: Sequence[str] | None = None
    ) -> RetrievalEvaluator:
        """Display-name queries: a name finds every product of exactly that name."""
        return cls(query_names, query_names, gallery_names, recall_at=NAME_RECALL_AT, mrr_at=NAME_MRR_AT, metric_names=metric_names)

    @classmethod
    def for_attribute(cls, values: Sequence[str]) -> RetrievalEvaluator | None:
        """Each distinct non-empty value of one attribute over the gallery as a raw query (None when there is none)."""
        queries = sorted({value for value in values if value})
        return cls(queries, queries, values, precision_at=ATTRIBUTE_PRECISION_AT) if queries else None

    def __len__(self) -> int:
        return len(self.queries)

    def __call__(self, encode_texts: TextEncoder, gallery_embeddings: Embeddings) -> dict[str, float]:
        """The metrics with the queries encoded by ``encode_texts``, against ``gallery_embeddings``."""
        return self.from_embeddings(encode_texts(self.queries), gallery_embeddings)

    def from_embeddings(self, query_embeddings: Embeddings, gallery_embeddings: Embeddings) -> dict[str, float]:
        metrics = ranking_metrics(
            query_embeddings, self.query_labels, gallery_embeddings, self.gallery_labels,
            recall_at=self.recall_at, precision_at=self.precision_at, mrr_at=self.mrr_at,
        )
        if self.metric_names is None:
            return metrics
        return {key: value for key, value in metrics.items() if key in self.metric_names}

