"""Vector-store benchmark: upsert time and filtered-query latency of both backends.

Random 512-d vectors with payloads sampled from the real catalog's attribute rows
(gender, masterCategory, subCategory, articleType, baseColour, year, display name),
or from a synthetic generator when the data set is absent. Backends:

- ``edge``: the embedded Qdrant Edge store (``EdgeStore``), as ingest writes it;
- ``edge+hnsw``: the same shard after ``EdgeShard.optimize()`` builds its HNSW index;
- ``local``: ``ServerStore`` on qdrant-client's in-memory local mode (``":memory:"``),
  the same client code path as a real server (no server runs here);
- ``numpy``: a brute-force baseline (boolean mask + matrix product), same queries.

Recall@10 is measured against the numpy baseline's exact results.

    flock /tmp/cpu-heavy.lock python benchmarks/bench_store.py --sizes 20000 100000
"""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.storage.vector_store import EdgeStore, ServerStore, VectorPoint, VectorStore  # noqa: E402
from shared.storage.vector_store.filters import Condition, YearRange, normalize_filters  # noqa: E402

DATA_GLOB = "/work/shared/data/fashion-products-19k/data/*.parquet"
FIELDS = ("gender", "masterCategory", "subCategory", "articleType", "baseColour", "year", "productDisplayName")
TOP_K = 10


def catalog_rows(pattern: str) -> list[dict[str, Any]]:
    """Attribute rows of the real catalog (no images), or synthetic rows if absent."""
    files = glob.glob(pattern)
    if files:
        import pyarrow.parquet as pq

        table = pq.read_table(files, columns=list(FIELDS))
        rows = [r for r in table.to_pylist() if r["year"] is not None]
        for row in rows:
            row["year"] = int(row["year"])
        return rows
    rng = np.random.default_rng(1)
    articles = [f"Article{i}" for i in range(120)]
    return [
        {
            "gender": rng.choice(["Men", "Women", "Unisex", "Boys", "Girls"], p=[0.5, 0.42, 0.04, 0.02, 0.02]),
            "masterCategory": ["Apparel", "Accessories", "Footwear", "Personal Care", "Free Items", "Home"][i % 6],
            "subCategory": f"Sub{i % 42}",
            "articleType": articles[int(rng.zipf(1.5)) % 120],
            "baseColour": f"Colour{int(rng.zipf(1.4)) % 45}",
            "year": int(rng.integers(2007, 2019)),
            "productDisplayName": f"Brand{i % 500} Article {i}",
        }
        for i in range(20_000)
    ]


def make_points(rows: list[dict[str, Any]], n: int, dim: int, rng: np.random.Generator) -> tuple[np.ndarray, list[VectorPoint]]:
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    picks = rng.integers(0, len(rows), size=n)
    points = []
    for i in range(n):
        payload = {k: v for k, v in rows[picks[i]].items() if v is not None}
        points.append(VectorPoint(i, vectors[i], payload, payload.get("productDisplayName")))
    return vectors, points


def make_queries(points: list[VectorPoint], count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, dict[str, Any]]]:
    """Query vectors near stored points, each with a filter drawn from a real payload."""
    templates: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
        lambda p: {"gender": p["gender"]},
        lambda p: {"gender": p["gender"], "masterCategory": p["masterCategory"]},
        lambda p: {"articleType": p["articleType"]},
        lambda p: {"gender": p["gender"], "baseColour": [p["baseColour"], "Black", "White"]},
        lambda p: {"subCategory": p["subCategory"], "year": YearRange(p["year"] - 1, p["year"] + 1)},
    ]
    queries = []
    for q in range(count):
        point = points[int(rng.integers(0, len(points)))]
        vector = point.vector + rng.normal(size=point.vector.shape).astype(np.float32)
        queries.append((vector, templates[q % len(templates)](point.payload)))
    return queries


class NumpyBaseline:
    """Exact filtered top-k: integer-coded columns -> boolean mask, then one matrix product."""

    def __init__(self, vectors: np.ndarray, points: list[VectorPoint]) -> None:
        self.matrix = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.codes: dict[str, dict[Any, int]] = {}
        self.columns: dict[str, np.ndarray] = {}
        for field in FIELDS[:-1]:
            values = [p.payload.get(field) for p in points]
            if field == "year":
                self.columns[field] = np.array([-1 if v is None else v for v in values], dtype=np.int64)
                continue
            codes = self.codes.setdefault(field, {})
            self.columns[field] = np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int32)

    def _mask(self, condition: Condition) -> np.ndarray:
        column = self.columns[condition.field]
        if condition.values is not None:
            codes = self.codes.get(condition.field)
            wanted = [codes.get(v, -2) for v in condition.values] if codes is not None else list(condition.values)
            return np.isin(column, wanted)
        low = condition.minimum if condition.minimum is not None else np.iinfo(np.int64).min
        high = condition.maximum if condition.maximum is not None else np.iinfo(np.int64).max
        return (column >= low) & (column <= high)

    def search(self, vector: np.ndarray, filters: dict[str, Any] | None) -> list[int]:
        conditions = normalize_filters(filters)
        query = vector / np.linalg.norm(vector)
        if conditions:
            rows = np.flatnonzero(np.logical_and.reduce([self._mask(c) for c in conditions]))
            scores = self.matrix[rows] @ query
        else:
            rows, scores = None, self.matrix @ query
        k = min(TOP_K, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return (best if rows is None else rows[best]).tolist()


def latencies(run: Callable[[np.ndarray, dict[str, Any] | None], list[int]], queries: list[tuple[np.ndarray, dict[str, Any]]],
              filtered: bool) -> tuple[list[float], list[list[int]]]:
    times, results = [], []
    for vector, filters in queries:
        start = time.perf_counter()
        results.append(run(vector, filters if filtered else None))
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def recall(results: list[list[int]], truth: list[list[int]]) -> float:
    hits = sum(len(set(r) & set(t)) for r, t in zip(results, truth))
    return hits / max(1, sum(len(t) for t in truth))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_size(n: int, args: argparse.Namespace, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = np.random.default_rng(n)
    vectors, points = make_points(rows, n, args.dim, rng)
    queries = make_queries(points, args.queries, rng)
    baseline = NumpyBaseline(vectors, points)
    truth_f = [baseline.search(v, f) for v, f in queries]
    truth_u = [baseline.search(v, None) for v, _ in queries]
    report: list[dict[str, Any]] = []

    def measure(label: str, run: Callable[[np.ndarray, dict[str, Any] | None], list[int]], upsert_s: float | None,
                count: int, extra: str = "") -> None:
        subset = queries[:count]
        run(subset[0][0], subset[0][1])  # warm-up
        filtered, res_f = latencies(run, subset, True)
        plain, res_u = latencies(run, subset, False)
        row = {
            "n": n, "backend": label, "upsert_s": upsert_s, "queries": count,
            "p50": pct(filtered, 50), "p95": pct(filtered, 95), "p50_nofilter": pct(plain, 50),
            "recall_f": recall(res_f, truth_f[:count]), "recall_u": recall(res_u, truth_u[:count]), "note": extra,
        }
        report.append(row)
        print(f"  {label:10s} upsert {upsert_s if upsert_s is not None else float('nan'):7.2f} s | filtered p50 "
              f"{row['p50']:8.2f} ms p95 {row['p95']:8.2f} ms | unfiltered p50 {row['p50_nofilter']:8.2f} ms | "
              f"recall@10 {row['recall_f']:.3f}/{row['recall_u']:.3f} ({count} queries) {extra}", flush=True)

    def store_runner(store: VectorStore) -> Callable[[np.ndarray, dict[str, Any] | None], list[int]]:
        return lambda v, f: [h.id for h in store.search("bench", v, top_k=TOP_K, filters=f)]

    measure("numpy", baseline.search, None, len(queries))

    with tempfile.TemporaryDirectory() as folder:
        edge = EdgeStore(folder)
        edge.create_collection("bench", args.dim)
        start = time.perf_counter()
        edge.upsert("bench", points)
        edge_upsert = time.perf_counter() - start
        measure("edge", store_runner(edge), edge_upsert, len(queries), "plain segments (as ingested)")
        if n <= args.optimize_max:
            start = time.perf_counter()
            edge._shard("bench").optimize()
            built = time.perf_counter() - start
            measure("edge+hnsw", store_runner(edge), edge_upsert, len(queries), f"after optimize(): {built:.1f} s")
        edge.close()

    warnings.filterwarnings("ignore", message="Local mode is not recommended")
    local = ServerStore.in_memory()
    local.create_collection("bench", args.dim)
    start = time.perf_counter()
    local.upsert("bench", points)
    local_upsert = time.perf_counter() - start
    local_count = min(len(queries), args.local_queries)
    measure("local", store_runner(local), local_upsert, local_count, 'qdrant-client QdrantClient(":memory:")')
    local.close()
    return report


def write_markdown(path: Path, report: list[dict[str, Any]], command: str, args: argparse.Namespace) -> None:
    lines = [
        "# Vector store benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"{args.dim}-d random float32 vectors, payloads sampled from the real catalog's attribute rows; "
        f"top-{TOP_K}; latency per single query, in ms, measured sequentially on this 2-core shared machine. "
        "Filtered queries cycle through 5 realistic filters (gender; gender+masterCategory; articleType; "
        "gender+3 colours; subCategory+year range). Recall@10 against the exact numpy result (filtered/unfiltered).",
        "",
        "| points | backend | upsert (s) | queries | filtered p50 | filtered p95 | unfiltered p50 | recall@10 f/u | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report:
        upsert = "-" if r["upsert_s"] is None else f"{r['upsert_s']:.2f}"
        lines.append(
            f"| {r['n']:,} | {r['backend']} | {upsert} | {r['queries']} | {r['p50']:.2f} | {r['p95']:.2f} | "
            f"{r['p50_nofilter']:.2f} | {r['recall_f']:.3f}/{r['recall_u']:.3f} | {r['note']} |"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200, help="queries per backend")
    parser.add_argument("--local-queries", type=int, default=20, help="queries for qdrant-client local mode (slow)")
    parser.add_argument("--optimize-max", type=int, default=20_000,
                        help="build Edge's HNSW index (edge+hnsw row) only up to this many points (slow)")
    parser.add_argument("--data", default=DATA_GLOB, help="parquet files to sample payloads from")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "store.md")
    args = parser.parse_args(argv)
    rows = catalog_rows(args.data)
    report: list[dict[str, Any]] = []
    started = time.perf_counter()
    for n in args.sizes:
        print(f"{n:,} points x {args.dim}-d:", flush=True)
        report.extend(bench_size(n, args, rows))
    command = "python benchmarks/bench_store.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_markdown(args.out, report, command.strip(), args)
    print(f"done: {len(report)} measurements in {time.perf_counter() - started:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
