"""A million products on one machine: the embedded store (Qdrant Edge) exact, HNSW, HNSW + int8, binary + rescore.

Points are built from REAL embeddings: the catalog's images are embedded once with the project's model
(cached as .npy under --cache-dir, outside the repo), then replicated to --points with small Gaussian noise
(re-normalised) and the real payloads (``scale_data.py``). Each variant runs in its own child process
(so its RSS delta is its own) and records upsert time, index build time (``finish_bulk_load``: HNSW
``m`` restored after a deferred bulk load, then optimize), RSS delta and disk, filtered (gender +
articleType of the query's product) and unfiltered top-10 latency p50/p95 (one query at a time), and
recall@10 against brute-force exact search. Results: JSON + a Markdown table under --out.

    nice -n 10 python benchmarks/bench_scale.py --points 100000 --cache-dir /tmp/bench_scale_cache \\
        --weights models/clip_fashion_best.pt [--image-prefix FEATURE_CACHE/image_prefix_*.pt]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_data import ScaledCatalog, catalog_embeddings  # noqa: E402

from shared.storage.vector_store import EdgeStore, SearchLeg, VectorPoint  # noqa: E402
from shared.storage.vector_store.collection_config import CollectionConfig  # noqa: E402

COLLECTION = "scale"
TOP_K = 10
VARIANTS: dict[str, CollectionConfig] = {
    "exact": CollectionConfig(hnsw=False),
    "hnsw+int8": CollectionConfig(quantization="int8", on_disk=True, defer_indexing=True),
    "binary+rescore": CollectionConfig(quantization="binary", on_disk=True, defer_indexing=True, oversampling=4.0),
    "hnsw": CollectionConfig(defer_indexing=True),
}
"""Run in this order: the cheaper builds first, so a capped run still records them."""
QUANTIZED_BYTES = {"none": 0.0, "int8": 1.0, "binary": 1 / 8}


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def vector_ram_bytes(config: CollectionConfig, points: int, dim: int) -> float:
    """Bytes of dense vectors the config keeps in RAM: the quantized copy, plus the originals unless on disk."""
    originals = 0.0 if config.on_disk else 4.0 * dim
    return points * (originals + QUANTIZED_BYTES[config.quantization] * dim)


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(times, q) * 1000)


def timed_queries(store: EdgeStore, queries: np.ndarray, filters: list[dict[str, Any]] | None) -> tuple[list[float], list[list[int]]]:
    times, results = [], []
    for index, vector in enumerate(queries):
        start = time.perf_counter()
        hits = store.query(COLLECTION, [SearchLeg("image", vector)], top_k=TOP_K, filters=filters[index] if filters else None)
        times.append(time.perf_counter() - start)
        results.append([hit.id for hit in hits])
    return times, results


def recall(results: list[list[int]], truth: list[list[int]]) -> float:
    scores = [len(set(r) & set(t)) / len(t) for r, t in zip(results, truth) if t]
    return float(np.mean(scores))


def build_variant(name: str, catalog: ScaledCatalog, folder: Path, out: Any) -> None:
    """Child process: create, bulk-load, build the index; puts the timings on ``out``."""
    from tqdm import tqdm

    store = EdgeStore(folder)
    store.configure(VARIANTS[name])
    store.create_collection(COLLECTION, catalog.dim)
    start = time.perf_counter()
    with tqdm(total=catalog.points, desc=f"{name}: upsert", unit="pt", mininterval=10) as bar:
        for first, vectors in catalog.chunks():
            points = [VectorPoint(first + i, row, catalog.payload(first + i)) for i, row in enumerate(vectors)]
            store.upsert(COLLECTION, points)
            bar.update(len(points))
    upsert_s = time.perf_counter() - start
    out.put({"upsert_s": round(upsert_s, 1), "upsert_points_per_s": round(catalog.points / upsert_s)})
    start = time.perf_counter()
    store.finish_bulk_load(COLLECTION)
    index_s = time.perf_counter() - start
    store.close()
    out.put({"index_build_s": round(index_s, 1)})


def serve_variant(name: str, catalog: ScaledCatalog, folder: Path, queries: np.ndarray, filters: list[dict[str, Any]],
                  truth: dict[str, list[list[int]]], out: Any) -> None:
    """A fresh child process: open the built shard, query it; puts RSS delta, latencies and recall on ``out``."""
    config = VARIANTS[name]
    before = rss_bytes()
    store = EdgeStore(folder)
    store.configure(config)
    timed_queries(store, queries[:20], None)  # warm-up: load the shard, touch the index
    unfiltered_times, unfiltered = timed_queries(store, queries, None)
    filtered_times, filtered = timed_queries(store, queries, filters)
    result = {
        "rss_delta_gib": round((rss_bytes() - before) / 2**30, 3),
        "vector_ram_gib_by_config": round(vector_ram_bytes(config, catalog.points, catalog.dim) / 2**30, 3),
        "disk_gib": round(disk_bytes(folder) / 2**30, 3),
        "unfiltered_p50_ms": round(percentile_ms(unfiltered_times, 50), 2),
        "unfiltered_p95_ms": round(percentile_ms(unfiltered_times, 95), 2),
        "filtered_p50_ms": round(percentile_ms(filtered_times, 50), 2),
        "filtered_p95_ms": round(percentile_ms(filtered_times, 95), 2),
        "unfiltered_recall_at_10": round(recall(unfiltered, truth["unfiltered"]), 4),
        "filtered_recall_at_10": round(recall(filtered, truth["filtered"]), 4),
    }
    store.close()
    out.put(result)


def in_child(target: Any, args: tuple[Any, ...], deadline: float) -> tuple[dict[str, Any], bool]:
    """``target(*args, queue)`` in a forked child: what it reported, and whether it finished in time without error."""
    context = mp.get_context("fork")
    outbox = context.Queue()
    child = context.Process(target=target, args=(*args, outbox))
    child.start()
    child.join(max(0.0, deadline - time.monotonic()))
    finished = not child.is_alive() and child.exitcode == 0
    if child.is_alive():
        child.kill()
        child.join()
    reported: dict[str, Any] = {}
    while (message := _result(outbox, 1.0 if finished else 0.2)) is not None:
        reported.update(message)
    return reported, finished


def ground_truth(catalog: ScaledCatalog, queries: np.ndarray, filters: list[dict[str, Any]], cache: Path) -> dict[str, list[list[int]]]:
    """Brute-force exact top-10 (unfiltered and filtered), cached next to the embeddings."""
    path = cache / f"truth_{catalog.points}_{catalog.noise}_{catalog.seed}_{len(queries)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    start = time.perf_counter()
    truth = {"unfiltered": catalog.exact_top_k(queries, None, TOP_K), "filtered": catalog.exact_top_k(queries, filters, TOP_K)}
    print(f"ground truth for {len(queries)} queries over {catalog.points} points in {time.perf_counter() - start:.0f} s")
    path.write_text(json.dumps(truth))
    return truth


def markdown(results: list[dict[str, Any]], unfinished: list[str]) -> str:
    head = ("| variant | points | upsert | index build | RSS delta | vector RAM (config) | disk | unfiltered p50 / p95 | "
            "filtered p50 / p95 | recall@10 unfiltered / filtered |")
    lines = [head, "|" + "---|" * 10]
    for r in results:
        if r.get("unfinished"):
            upsert = f"{r['upsert_s']} s ({r['upsert_points_per_s']:,} pt/s)" if "upsert_s" in r else "did not finish"
            index = f"{r['index_build_s']} s" if "index_build_s" in r else "did not finish"
            lines.append(f"| {r['variant']} | {r['points']:,} | {upsert} | {index} | not reached (time limit) | | | | | |")
            continue
        lines.append(
            f"| {r['variant']} | {r['points']:,} | {r['upsert_s']} s ({r['upsert_points_per_s']:,} pt/s) | {r['index_build_s']} s | "
            f"{r['rss_delta_gib']} GiB | {r['vector_ram_gib_by_config']} GiB | {r['disk_gib']} GiB | "
            f"{r['unfiltered_p50_ms']} / {r['unfiltered_p95_ms']} ms | {r['filtered_p50_ms']} / {r['filtered_p95_ms']} ms | "
            f"{r['unfiltered_recall_at_10']} / {r['filtered_recall_at_10']} |"
        )
    return "\n".join(lines) + "\n"


def _result(outbox: Any, timeout: float) -> dict[str, Any] | None:
    try:
        return outbox.get(timeout=timeout)
    except queue.Empty:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points to load (default: 1,000,000)")
    parser.add_argument("--cache-dir", type=Path, required=True, help="embedding and ground-truth cache (outside the repo)")
    parser.add_argument("--dataset", default="/work/shared/data/fashion-products-19k", help="catalog whose images are embedded")
    parser.add_argument("--weights", help="model weights (default: the shipped fine-tuned model)")
    parser.add_argument("--image-prefix", help="the training run's cached frozen-prefix features, to embed faster")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--queries", type=int, default=200, help="queries per kind (default: 200)")
    parser.add_argument("--noise", type=float, default=0.01, help="per-dimension noise std of replicas (default: 0.01)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench_scale_store"), help="where the shards are written")
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds for all variants; the rest is skipped")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="folder for scale_<points>.json/.md")
    args = parser.parse_args(argv)
    if args.points < 1 or args.queries < 1:
        parser.error("--points and --queries must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = time.monotonic() + args.time_limit
    base, payloads = catalog_embeddings(args.dataset, args.cache_dir, args.weights, args.image_prefix)
    catalog = ScaledCatalog(base, payloads, args.points, noise=args.noise)
    queries, filters = catalog.queries(args.queries)
    truth = ground_truth(catalog, queries, filters, args.cache_dir)
    results: list[dict[str, Any]] = []
    unfinished: list[str] = []
    for name in args.variants:
        folder = args.work_dir / name.replace("+", "_")
        shutil.rmtree(folder, ignore_errors=True)
        built, finished = in_child(build_variant, (name, catalog, folder), deadline)
        served, finished = in_child(serve_variant, (name, catalog, folder, queries, filters, truth), deadline) if finished else ({}, False)
        row = {"variant": name, "points": catalog.points, "config": vars(VARIANTS[name]), **built, **served}
        if not finished:
            row["unfinished"] = True
            unfinished.append(name)
            print(f"{name}: did not finish (time limit {args.time_limit:.0f} s, or it failed: see above); recorded: {sorted(built)}")
        results.append(row)
        print(json.dumps(row))
        shutil.rmtree(folder, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"scale_{args.points}"
    record = {"points": args.points, "dim": catalog.dim, "real_rows": len(base), "noise": args.noise,
              "queries": args.queries, "results": results, "unfinished": unfinished}
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(results, unfinished))
    print(markdown(results, unfinished))
    print(f"{len(results) - len(unfinished)} of {len(args.variants)} variants finished at {args.points:,} points -> {stem}.json / .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
