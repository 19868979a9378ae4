"""The search page in a real browser: submit-to-results time, cold and warm, and 10 concurrent sessions.

    python -m ingest --model lite --dataset ../shared/data/fashion-products-19k --limit 2000 --data-dir /tmp/page-data
    python benchmarks/bench_page.py --data-dir /tmp/page-data --output benchmarks/results/page.md

Starts `streamlit run search_ui/main.py` on the catalog (tests/page_server.py) and drives it with
Debian's Chromium (Playwright). A timing runs from pressing Enter in the search box (or picking a
filter) until the page shows that search's results and its run has finished (no stale element
left). "Cold" is the first query after the server starts, in the first session; "warm" queries
use new words each time, so each one encodes its text. The concurrent part opens ``--sessions``
tabs (each its own Streamlit session) and runs ``--queries-per-session`` queries in each at once.
Last, the same page runs in-process (Streamlit's AppTest, no browser) to show the server's share.
The server prints one line per model load; the report counts them (1: shared by every session).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.async_api import Page, async_playwright  # noqa: E402

from tests.page_server import RUN_FINISHED_JS, chromium_path, page_server  # noqa: E402

WARM_QUERIES = (
    "black leather handbag", "navy blue shirt", "white sneakers", "red summer dress", "men's sports shoes",
    "women's watch", "denim jeans", "green kurta", "sunglasses for men", "pink top", "brown belt",
    "grey track pants", "silver earrings", "blue jeans for women", "formal black shoes", "yellow t-shirt",
)  # fmt: skip
LOAD_LINE = "search page: loaded"
FINISHED = f"() => ({RUN_FINISHED_JS})() && !!document.querySelector('.summary')"
STEP_TIMEOUT_MS = 300_000


async def submit(page: Page, words: str) -> float:
    """Seconds from Enter to the results of `words` on screen."""
    box = page.get_by_label("Describe it")
    await box.fill(words)
    started = time.perf_counter()
    await box.press("Enter")
    await page.get_by_text(f"Searching for “{words}”").wait_for(timeout=STEP_TIMEOUT_MS)
    await page.wait_for_function(FINISHED, timeout=STEP_TIMEOUT_MS, polling=20)
    return time.perf_counter() - started


async def pick_first_filter(page: Page, facet: str) -> float:
    """Seconds from choosing the first option of a filter to its results (a fragment rerun)."""
    before = await page.locator(".summary").inner_text()
    await page.get_by_role("combobox", name=facet).click()
    option = page.get_by_role("option").filter(has_not_text="Select all").first
    started = time.perf_counter()
    await option.click()
    await page.wait_for_function(
        f"(before) => ({FINISHED})() && document.querySelector('.summary').innerText !== before",
        arg=before,
        timeout=STEP_TIMEOUT_MS,
        polling=20,
    )
    elapsed = time.perf_counter() - started
    await page.keyboard.press("Escape")
    return elapsed


async def open_landing(page: Page, url: str) -> float:
    started = time.perf_counter()
    await page.goto(url, timeout=STEP_TIMEOUT_MS)
    await page.get_by_text("Popular searches").wait_for(timeout=STEP_TIMEOUT_MS)
    return time.perf_counter() - started


def stats(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"{statistics.median(ms):.0f} ms | {p90:.0f} ms | {ms[-1]:.0f} ms | {len(ms)}"


async def session(browser: object, url: str, queries: list[str]) -> list[float]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    await open_landing(page, url)
    timings = [await submit(page, words) for words in queries]
    await context.close()
    return timings


class Rows(list[tuple[str, str]]):
    """The table's rows, each also printed as it is measured."""

    def append(self, row: tuple[str, str]) -> None:
        print(f"{row[0]}: {row[1]}", file=sys.stderr, flush=True)
        super().append(row)


async def measure(url: str, sessions: int, per_session: int, warm_repeats: int) -> list[tuple[str, str]]:
    rows = Rows()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path())
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        rows.append(("first page load after start (model load, landing tiles)", stats([await open_landing(page, url)])))
        rows.append(("cold: first query after start", stats([await submit(page, "red summer dress for women")])))
        warm = [await submit(page, WARM_QUERIES[i % len(WARM_QUERIES)] + f" {i}") for i in range(warm_repeats)]
        rows.append(("warm: a new query, one session", stats(warm)))
        repeated = [await submit(page, WARM_QUERIES[0] + f" {i % 2}") for i in range(4)]
        rows.append(("warm: a repeated query (text encoding cached)", stats(repeated)))
        rows.append(("warm: pick a filter (reruns the results fragment only)", stats([await pick_first_filter(page, "Season")])))
        await context.close()
        plans = [[f"{WARM_QUERIES[(s + q) % len(WARM_QUERIES)]} s{s}q{q}" for q in range(per_session)] for s in range(sessions)]
        started = time.perf_counter()
        results = await asyncio.gather(*(session(browser, url, plan) for plan in plans))
        wall = time.perf_counter() - started
        everything = [t for timings in results for t in timings]
        rows.append((f"{sessions} concurrent sessions x {per_session} queries (wall {wall:.1f} s)", stats(everything)))
        await browser.close()
    return rows


def script_runs(data_dir: Path, collection: str | None, repeats: int) -> list[tuple[str, str]]:
    """The server's share: one script run of the page in-process (AppTest), after the browser part."""
    from streamlit.testing.v1 import AppTest

    os.environ.update(FASHION_DATA_DIR=str(data_dir), QDRANT_URL="edge")
    if collection:
        os.environ["FASHION_COLLECTION"] = collection
    app = AppTest.from_file(str(ROOT / "search_ui" / "main.py"), default_timeout=STEP_TIMEOUT_MS / 1000).run()

    def run(words: str) -> float:
        started = time.perf_counter()
        app.text_input(key="text").input(words).run()
        return time.perf_counter() - started

    run(WARM_QUERIES[0])
    fresh = [run(f"{WARM_QUERIES[i % len(WARM_QUERIES)]} run{i}") for i in range(repeats)]
    repeated = [run(WARM_QUERIES[i % 2]) for i in range(repeats)]
    return [
        ("server only (AppTest): script run of a new query", stats(fresh)),
        ("server only (AppTest): script run of a repeated query", stats(repeated)),
    ]


def report(rows: list[tuple[str, str]], loads: int, command: str) -> str:
    lines = [
        f"`{command}`",
        "",
        "| what | median | p90 | max | n |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {label} | {figures} |" for label, figures in rows),
        "",
        f"Model loads in the server log: {loads} (every session shares one retriever).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="an ingested data dir (python -m ingest --data-dir)")
    parser.add_argument("--collection", default=None, help="the collection (default: FASHION_COLLECTION or fashion_products)")
    parser.add_argument("--sessions", type=int, default=10, help="concurrent browser sessions (default 10)")
    parser.add_argument("--queries-per-session", type=int, default=3)
    parser.add_argument("--warm-repeats", type=int, default=8, help="warm queries in one session (default 8)")
    parser.add_argument("--output", type=Path, default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"error: --data-dir {args.data_dir} does not exist; ingest a catalog into it first", file=sys.stderr)
        return 2
    with page_server(args.data_dir, args.collection, timeout=180) as server:
        rows = asyncio.run(measure(server.url, args.sessions, args.queries_per_session, args.warm_repeats))
        loads = server.log.read_text(errors="replace").count(LOAD_LINE)
    rows += script_runs(args.data_dir, args.collection, args.warm_repeats)  # the server has let go of the store
    command = "python benchmarks/bench_page.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = report(rows, loads, command)
    print(text)
    if args.output:
        args.output.write_text("# Search page in the browser (`benchmarks/bench_page.py`)\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
