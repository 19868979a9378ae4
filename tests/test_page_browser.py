"""The search page in a real browser: `streamlit run` on a 60-product catalog, driven by Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def search(page: Page, url: str, words: str) -> None:
    page.goto(url)
    box = page.get_by_label("Describe it")
    box.fill(words)
    box.press("Enter")


def test_a_typed_query_shows_results(page: Page, page_url: str) -> None:
    search(page, page_url, "red shoes")
    expect(page.get_by_role("button", name="More like this").first).to_be_visible()
    assert page.get_by_role("button", name="More like this").count() == 12
