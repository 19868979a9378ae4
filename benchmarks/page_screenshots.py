"""The README's screenshots of the search page, taken in Debian's Chromium on a real `streamlit run`.

    python benchmarks/page_screenshots.py --data-dir data --out docs/

Writes page_landing.png (the landing page), page_search.png (a text search with its recognised
words as chips and a filter), page_detail.png (the product dialog) and page_photo.png (a catalog
photo plus words). The photo is the first product of the text search, as a shopper's own photo.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.page_server import RUN_FINISHED_JS, chromium_path, page_server  # noqa: E402

VIEWPORT = {"width": 1440, "height": 1100}
TIMEOUT_MS = 180_000
FINISHED = f"() => ({RUN_FINISHED_JS})() && Array.from(document.images).every(i => i.complete)"


def settle(page: Page) -> None:
    page.wait_for_function(FINISHED, timeout=TIMEOUT_MS)
    page.wait_for_timeout(600)  # let the fade-in of new elements finish


def shoot(url: str, out: Path, query: str, category: str, modifier: str) -> list[Path]:
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.get_by_text("Popular searches").wait_for()
        settle(page)
        written.append(out / "page_landing.png")
        page.screenshot(path=str(written[-1]))

        params = urllib.parse.urlencode({"q": query, "masterCategory": category})
        page.goto(f"{url}/?{params}")
        page.locator(".summary").wait_for()
        settle(page)
        written.append(out / "page_search.png")
        page.screenshot(path=str(written[-1]))

        page.get_by_role("button", name="View details").first.click()
        page.get_by_role("dialog").wait_for()
        settle(page)
        written.append(out / "page_detail.png")
        page.screenshot(path=str(written[-1]))
        photo = page.get_by_role("dialog").locator("img").first.get_attribute("src") or ""

        page.goto(url)
        page.get_by_text("Popular searches").wait_for()
        with tempfile.TemporaryDirectory() as folder:
            upload = Path(folder) / "my-photo.png"
            upload.write_bytes(page.request.get(urllib.parse.urljoin(url + "/", photo)).body())
            page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(upload))
            page.get_by_text("Searching by your photo").wait_for()
            box = page.get_by_label("Describe it")
            box.fill(modifier)
            box.press("Enter")
            page.get_by_text(f"Searching by your photo and “{modifier}”").wait_for()
            settle(page)
        written.append(out / "page_photo.png")
        page.screenshot(path=str(written[-1]))
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="an ingested data dir")
    parser.add_argument("--collection", default=None, help="the collection (default: FASHION_COLLECTION or fashion_products)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNG files (default docs/)")
    parser.add_argument("--query", default="men's navy blue sports shoes", help="the text search shown")
    parser.add_argument("--category", default="Footwear", help="the category filter of the text search")
    parser.add_argument("--modifier", default="but in red", help="the words searched with the photo")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"error: --data-dir {args.data_dir} does not exist; ingest a catalog into it first", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with page_server(args.data_dir, args.collection, timeout=180) as server:
        written = shoot(server.url, args.out, args.query, args.category, args.modifier)
    print(f"wrote {len(written)} screenshots: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
