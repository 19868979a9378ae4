"""Retrieval metrics for text-to-image search, as Marqo's KAGL benchmark defines its tasks.

Queries and gallery items carry integer labels; a gallery item is relevant to a query when
their labels are equal (same display name, or same attribute value).

- ``R@k``: recall, the share of a query's relevant items found in its top k;
- ``Hit@k``: 1 when at least one relevant item is in the top k;
- ``P@k``: precision, the share of the top k that is relevant;
- ``MRR@k``: reciprocal rank of the first relevant item, 0 beyond rank k;
- ``MRR``: reciprocal rank of the first relevant item over the whole gallery.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def encode_labels(values: Sequence[object]) -> tuple[np.ndarray, list[object]]:
    """Integer label per value (equal values share one) and the distinct values in label order."""
    index: dict[object, int] = {}
    labels = np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)
    return labels, list(index)


def ranking_metrics(
    query_embeddings: np.ndarray | torch.Tensor,
    query_labels: np.ndarray | Sequence[int],
    gallery_embeddings: np.ndarray | torch.Tensor,
    gallery_labels: np.ndarray | Sequence[int],
    *,
    recall_at: Sequence[int] = (),
    precision_at: Sequence[int] = (),
    mrr_at: int | None = None,
    chunk_size: int = 512,
) -> dict[str, float]:
    """Mean retrieval metrics over the queries that have at least one relevant gallery item.

    Embeddings are L2-normalised rows (cosine similarity = dot product). Ties are broken by
    gallery order. Returns keys ``R@k``, ``Hit@k``, ``P@k``, ``MRR@k`` (when ``mrr_at``), ``MRR``
    and ``queries``.
    """
    queries = torch.as_tensor(np.asarray(query_embeddings), dtype=torch.float32)
    gallery = torch.as_tensor(np.asarray(gallery_embeddings), dtype=torch.float32)
    q_labels = torch.as_tensor(np.asarray(query_labels), dtype=torch.long)
    g_labels = torch.as_tensor(np.asarray(gallery_labels), dtype=torch.long)
    if queries.shape[0] != q_labels.shape[0] or gallery.shape[0] != g_labels.shape[0]:
        raise ValueError("every query and gallery embedding needs exactly one label")
    if gallery.shape[0] == 0:
        raise ValueError("the gallery is empty; evaluate on a dataset with products")
    max_k = min(max([*recall_at, *precision_at, mrr_at or 1]), gallery.shape[0])
    label_count = int(max(int(q_labels.max()) if q_labels.numel() else 0, int(g_labels.max())) + 1)
    relevant_per_label = torch.bincount(g_labels, minlength=label_count)
    sums: dict[str, float] = {}
    counted = 0

    def add(key: str, values: torch.Tensor) -> None:
        sums[key] = sums.get(key, 0.0) + float(values.double().sum())

    for start in range(0, queries.shape[0], chunk_size):
        labels = q_labels[start : start + chunk_size]
        n_relevant = relevant_per_label[labels]
        keep = n_relevant > 0
        if not bool(keep.any()):
            continue
        labels, n_relevant = labels[keep], n_relevant[keep].double()
        scores = queries[start : start + chunk_size][keep] @ gallery.t()
        is_relevant = g_labels[None, :] == labels[:, None]
        top = torch.topk(scores, max_k, dim=1, sorted=True)
        # stable tie-break by gallery order: topk on (score, -index) via a tiny index penalty is
        # unreliable in float, so re-sort ties explicitly
        order = torch.argsort(top.indices, dim=1)
        indices = torch.gather(top.indices, 1, order)
        values = torch.gather(top.values, 1, order)
        resort = torch.argsort(-values, dim=1, stable=True)
        top_indices = torch.gather(indices, 1, resort)
        top_relevant = torch.gather(is_relevant, 1, top_indices).double()
        for k in recall_at:
            add(f"R@{k}", top_relevant[:, :k].sum(1) / n_relevant)
            add(f"Hit@{k}", (top_relevant[:, :k].sum(1) > 0).double())
        for k in precision_at:
            add(f"P@{k}", top_relevant[:, :k].sum(1) / k)
        ranks = torch.arange(1, max_k + 1, dtype=torch.float64)
        if mrr_at:
            first = torch.where(top_relevant[:, :mrr_at] > 0, 1.0 / ranks[: min(mrr_at, max_k)], 0.0)
            add(f"MRR@{mrr_at}", first.max(dim=1).values)
        best_relevant = torch.where(is_relevant, scores, torch.tensor(float("-inf"))).max(dim=1).values
        rank = 1 + (scores > best_relevant[:, None]).sum(1).double()
        # items scoring equal to the best relevant one but placed before it in gallery order
        first_relevant_index = torch.where(
            is_relevant & (scores == best_relevant[:, None]), torch.arange(scores.shape[1]), scores.shape[1]
        ).min(dim=1).values
        ties_before = ((scores == best_relevant[:, None]) & (torch.arange(scores.shape[1])[None, :] < first_relevant_index[:, None])).sum(1)
        add("MRR", 1.0 / (rank + ties_before.double()))
        counted += int(labels.shape[0])
    result = {key: value / counted for key, value in sums.items()} if counted else {}
    result["queries"] = float(counted)
    return result
