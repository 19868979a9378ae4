"""Precision and speed of query understanding on real text: each product's display name as a query.

The vocabulary is built from the catalog's own values (as the retriever builds it from the store's
facet counts) plus the shipped synonym table. For gender, articleType and baseColour: the share of
names in which the parser recognised the field (found), and of those, the share where the parsed
value equals the product's own value (exact: one value, the right one; any-of: the right one among
the parsed values). Then the parse time per name (the best of 3 parses of each name, so that other
processes on a shared machine do not count).

    python benchmarks/bench_query_understanding.py --dataset ../shared/data/fashion-products-19k
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.commands import run_cli  # noqa: E402
from shared.products.datasets import open_products  # noqa: E402
from shared.products.schema import NAME_FIELD  # noqa: E402
from shared.search.query_understanding import PARSED_FIELDS, FacetVocabulary, facet_filters, parse_query  # noqa: E402

MEASURED_FIELDS = ("gender", "articleType", "baseColour")


def measure(dataset: str, limit: int | None) -> str:
    table = open_products(dataset, limit)
    columns = table.dataset.select([table.index.rows[i] for i in range(len(table))]).select_columns(
        [NAME_FIELD, *PARSED_FIELDS]
    ).to_dict()
    vocabulary = FacetVocabulary.from_values({f: {v for v in columns[f] if v} for f in PARSED_FIELDS})
    names = columns[NAME_FIELD]
    found = dict.fromkeys(MEASURED_FIELDS, 0)
    exact = dict.fromkeys(MEASURED_FIELDS, 0)
    any_of = dict.fromkeys(MEASURED_FIELDS, 0)
    seconds: list[float] = []
    for row, name in enumerate(names):
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            facets = parse_query(name or "", vocabulary)
            timings.append(time.perf_counter() - started)
        seconds.append(min(timings))
        parsed = facet_filters(facets)
        for field in MEASURED_FIELDS:
            if field not in parsed:
                continue
            values = parsed[field] if isinstance(parsed[field], list) else [parsed[field]]
            found[field] += 1
            exact[field] += values == [columns[field][row]]
            any_of[field] += columns[field][row] in values
    count = len(names)
    lines = [
        "## Query understanding: display names as queries",
        "",
        "`python benchmarks/bench_query_understanding.py --dataset DATASET --out benchmarks/results/query_understanding.md`",
        "",
        f"Parsed {count} display names of {Path(dataset).name} (vocabulary: {len(vocabulary)} phrases)",
        "",
        "| field | found in name | exact, of found | any-of, of found |",
        "| --- | ---: | ---: | ---: |",
    ]
    for field in MEASURED_FIELDS:
        share = found[field] / count
        lines.append(
            f"| {field} | {share:.3f} | {exact[field] / max(found[field], 1):.3f} | {any_of[field] / max(found[field], 1):.3f} |"
        )
    micro = sorted(s * 1e6 for s in seconds)
    lines += [
        "",
        f"parse time per name (best of 3): p50 {statistics.median(micro):.1f} us, p99 {micro[int(0.99 * (len(micro) - 1))]:.1f} us, "
        f"mean {statistics.fmean(micro):.1f} us",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="hub id or local parquet folder of the catalog")
    parser.add_argument("--limit", type=int, default=None, help="only the first N products")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)

    def body() -> None:
        report = measure(args.dataset, args.limit)
        print(report)
        if args.out:
            args.out.write_text(report + "\n", encoding="utf-8")

    return run_cli(body, also=(OSError,))


if __name__ == "__main__":
    raise SystemExit(main())
