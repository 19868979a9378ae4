"""Fixtures for the browser tests: a small ingested catalog served by `streamlit run`, and Chromium.

One server and one browser per test module (``page_url``, ``browser``); each test gets a fresh tab
(``page``), so its session starts from the landing page. Loaded as a plugin by ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.page_server import BrowserUnavailable, chromium_path, page_server
from tests.search_fixtures import ingested_edge_catalog

BROWSER_COLLECTION = "browser_test"
STEP_TIMEOUT_MS = 30_000
"""How long one browser step may wait for the page (the first query loads the model)."""


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory, parquet_dataset: Path) -> Iterator[str]:
    """The URL of `streamlit run search_ui/main.py` on the 60-product catalog (tiny model, embedded store)."""
    data_dir = tmp_path_factory.mktemp("browser-catalog")
    ingested_edge_catalog(data_dir, parquet_dataset, BROWSER_COLLECTION)
    with page_server(data_dir, BROWSER_COLLECTION) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; the test fails (never skips) when it is missing."""
    try:
        executable = chromium_path()
    except BrowserUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser, page_url: str) -> Iterator[Page]:
    """A fresh tab (its own Streamlit session) at a desktop size."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    yield tab
    context.close()
