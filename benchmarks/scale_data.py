"""Data for ``bench_scale.py``: the real catalog's image embeddings (cached), replicated with noise.

``catalog_embeddings`` embeds every product image of a dataset once with the project's model and
caches the matrix (``.npy``) and the payloads (``.json``) under a cache folder outside the repo.
``ScaledCatalog`` turns those ~19.6k real rows into any number of points: point ``i`` is real row
``i % rows`` plus small Gaussian noise, re-normalised, with that row's real payload. Chunks are
generated deterministically from (seed, chunk index), so the ground truth can be recomputed chunk
by chunk without holding a million vectors twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 20_000
"""Points generated per chunk (and upserted per store call)."""


def _cache_stem(cache_dir: Path, dataset: str, model: str) -> Path:
    slug = "".join(c if c.isalnum() else "_" for c in f"{Path(dataset).name}_{model}")
    return cache_dir / f"catalog_{slug}"


def catalog_embeddings(
    dataset: str, cache_dir: Path, weights: str | None = None, image_prefix: str | None = None
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(unit-normalised image embeddings (rows, dim) float32, payloads) of every decodable product, cached.

    The model: ``weights`` (a file written by ``python -m finetune``), else the shipped fine-tuned model.
    ``image_prefix``: that training run's cached frozen-prefix features (``--feature-cache-dir/image_prefix_*.pt``),
    checked against a fresh computation, as ``python -m finetune.evaluate --image-prefix`` uses them."""
    from shared.model_spec import shipped_spec, spec_from_flags

    spec = spec_from_flags(None, None, weights) if weights else shipped_spec()
    stem = _cache_stem(cache_dir, dataset, Path(spec.weights).stem if spec.weights else spec.name)
    vectors_path, payloads_path = stem.with_suffix(".npy"), stem.with_suffix(".json")
    if vectors_path.is_file() and payloads_path.is_file():
        return np.load(vectors_path), json.loads(payloads_path.read_text())
    from finetune.data import decode_products
    from finetune.evaluation import embed_gallery
    from shared.products.datasets import open_products
    from shared.products.schema import payload_of
    from shared.runtime import tune_allocator

    tune_allocator()
    products = decode_products(open_products(dataset))
    loaded = spec.load(device="cpu")
    start = time.perf_counter()
    matrix = embed_gallery([loaded], products, range(len(products)), prefix_cache=image_prefix)[0].astype(np.float32)
    elapsed = time.perf_counter() - start
    print(f"embedded {len(matrix)} images in {elapsed:.0f} s ({len(matrix) / elapsed:.1f} img/s) -> {vectors_path}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(vectors_path, matrix)
    payloads_path.write_text(json.dumps([payload_of(a) for a in products.attributes]))
    return matrix, json.loads(payloads_path.read_text())


@dataclass(frozen=True)
class ScaledCatalog:
    """``points`` vectors made from ``base`` (real rows): row ``i % len(base)`` + noise, re-normalised."""

    base: np.ndarray
    payloads: list[dict[str, Any]]
    points: int
    noise: float = 0.01
    seed: int = 0

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    def base_row(self, point_id: int) -> int:
        return point_id % len(self.base)

    def chunk(self, start: int) -> np.ndarray:
        """Vectors of points ``start .. start + CHUNK`` (capped at ``points``); ``start`` is a multiple of CHUNK."""
        stop = min(start + CHUNK, self.points)
        rng = np.random.default_rng((self.seed, start // CHUNK))
        rows = self.base[np.arange(start, stop) % len(self.base)]
        noisy = rows + rng.normal(scale=self.noise, size=rows.shape).astype(np.float32)
        return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.points, CHUNK):
            yield start, self.chunk(start)

    def payload(self, point_id: int) -> dict[str, Any]:
        return self.payloads[self.base_row(point_id)]

    def queries(self, count: int, seed: int = 1) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Query vectors (real rows with fresh noise) and each one's filter: its row's gender + articleType."""
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(self.base), size=count, replace=False)
        noisy = self.base[picks] + rng.normal(scale=self.noise, size=(count, self.dim)).astype(np.float32)
        filters = [{f: self.payloads[p][f] for f in ("gender", "articleType") if f in self.payloads[p]} for p in picks]
        return noisy / np.linalg.norm(noisy, axis=1, keepdims=True), filters

    def exact_top_k(self, queries: np.ndarray, filters: list[dict[str, Any]] | None, k: int = 10) -> list[list[int]]:
        """Exact top-k point ids per query (brute force over every chunk), with each query's filter when given."""
        rows = len(self.base)
        masks = None
        if filters is not None:  # which base rows match each query's filter
            masks = np.array([[all(p.get(f) == v for f, v in flt.items()) for p in self.payloads] for flt in filters])
        best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        best_ids = np.full((len(queries), k), -1, dtype=np.int64)
        for start, vectors in self.chunks():
            scores = queries @ vectors.T
            ids = np.arange(start, start + len(vectors))
            if masks is not None:
                scores = np.where(masks[:, ids % rows], scores, -np.inf)
            merged_scores = np.concatenate([best_scores, scores], axis=1)
            merged_ids = np.concatenate([best_ids, np.broadcast_to(ids, scores.shape)], axis=1)
            top = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(merged_scores, top, axis=1)
            best_ids = np.take_along_axis(merged_ids, top, axis=1)
        order = np.argsort(-best_scores, axis=1)
        ranked = np.take_along_axis(best_ids, order, axis=1)
        ranked_scores = np.take_along_axis(best_scores, order, axis=1)
        return [[int(i) for i, s in zip(r, sc) if np.isfinite(s)] for r, sc in zip(ranked, ranked_scores)]
