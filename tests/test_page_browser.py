"""The search page in a real browser: `streamlit run` on a 60-product catalog, driven by Chromium.

One server for the module (``page_url``); every test opens its own tab, so its own session.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.page_server import RUN_FINISHED_JS

pytestmark = pytest.mark.browser

SUMMARY = ".summary"
CARD_NAMES = ".card-name"


def settled(page: Page) -> Page:
    """The page once its script run has finished (no "Running..." and no stale elements left)."""
    page.wait_for_function(RUN_FINISHED_JS)
    return page


def open_page(page: Page, url: str, query: str = "") -> None:
    page.goto(url + (f"/?{query}" if query else ""))


def search(page: Page, url: str, words: str) -> None:
    open_page(page, url)
    box = page.get_by_label("Describe it")
    box.fill(words)
    box.press("Enter")
    expect(page.get_by_text(f"Searching for “{words}”")).to_be_visible()
    expect(page.locator(SUMMARY)).to_be_visible()


def pick(page: Page, facet: str, option: str) -> None:
    """Choose one option of a filter (its label carries the count: "Women (30)")."""
    page.get_by_role("combobox", name=facet).click()
    page.get_by_role("option", name=option).click()
    page.keyboard.press("Escape")


def filter_options(page: Page, facet: str) -> list[str]:
    settled(page).get_by_role("combobox", name=facet).click()
    options = [o for o in page.get_by_role("option").all_inner_texts() if o != "Select all"]
    page.keyboard.press("Escape")
    return options


def card_names(page: Page, count: int = 12) -> list[str]:
    """The names on the result cards, once `count` of them are drawn."""
    cards = page.locator(f"[data-testid='stMain'] {CARD_NAMES}")
    expect(cards).to_have_count(count)
    return settled(page).locator(f"[data-testid='stMain'] {CARD_NAMES}").all_inner_texts()


def png_file(folder: Path, colour: str) -> Path:
    path = folder / f"{colour}.png"
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), colour).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_landing_page_has_examples_tiles_and_no_deploy_button(page: Page, page_url: str) -> None:
    open_page(page, page_url)
    expect(page.get_by_text("Search 60 products")).to_be_visible()
    expect(page.get_by_text("Popular searches")).to_be_visible()
    expect(page.get_by_role("button", name="Search this")).to_have_count(4)
    assert page.get_by_text("Deploy", exact=True).count() == 0  # .streamlit/config.toml: minimal toolbar
    page.get_by_role("button", name="red summer dress").click()
    expect(page.get_by_text("Searching for “red summer dress”")).to_be_visible()
    expect(page.locator(SUMMARY)).to_contain_text("products · showing 1-")


def test_a_typed_query_shows_crisp_cards_of_one_height(page: Page, page_url: str) -> None:
    search(page, page_url, "something nice")
    expect(page.locator(SUMMARY)).to_have_text("The 48 best matches of 60 products · showing 1-12 · page 1 of 4")
    card_names(page)
    photos = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    sizes = photos.evaluate_all(
        "all => Promise.all(all.map(i => i.decode().then(() => [i.naturalWidth, i.clientWidth, i.naturalHeight, i.clientHeight])))"
    )
    assert len(sizes) == 12 and all(s == [180, 180, 240, 240] for s in sizes)  # drawn at natural size: no blur
    heights = page.locator(CARD_NAMES).evaluate_all(
        "names => names.map(n => Math.round(n.closest('[data-testid=\"stColumn\"]').getBoundingClientRect().height))"
    )
    assert len(heights) == 12 and len(set(heights)) == 1  # equal card heights, so the buttons line up
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "score" not in body and not re.search(r"#\d+", body) and "Backend" not in body


def test_a_filter_changes_results_and_counts_and_clear_filters_undoes_it(page: Page, page_url: str) -> None:
    search(page, page_url, "something nice")
    assert filter_options(page, "Colour")[0].endswith("(10)")
    pick(page, "Gender", "Women (30)")
    expect(page.locator(SUMMARY)).to_contain_text("30 products · showing 1-12 · page 1 of 3")
    assert all(name.startswith("Women ") for name in card_names(page))
    assert all(o.endswith("(5)") for o in filter_options(page, "Colour"))  # counts follow the other filters
    pick(page, "Article type", "Handbags (6)")
    expect(page.locator(SUMMARY)).to_have_text("6 products · showing 1-6 · page 1 of 1")
    assert filter_options(page, "Colour") == [o for o in filter_options(page, "Colour") if o.endswith("(1)")]
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator(SUMMARY)).to_contain_text("48 best matches of 60 products")


def test_an_empty_result_names_the_filter_and_clears(page: Page, page_url: str) -> None:
    open_page(page, page_url, "q=dress&gender=Men&articleType=Dress")
    expect(page.get_by_text("No products match Article type: Dress together with Gender: Men")).to_be_visible()
    expect(page.get_by_text("Remove Article type to see 30 products")).to_be_visible()
    page.get_by_role("button", name="Clear filters").last.click()
    expect(page.locator(SUMMARY)).to_contain_text("48 best matches")


def test_a_photo_searches_and_a_non_image_gets_one_line(page: Page, page_url: str, tmp_path: Path) -> None:
    open_page(page, page_url)
    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    uploader.set_input_files(str(png_file(tmp_path, "red")))
    expect(page.get_by_text("Searching by your photo")).to_be_visible()
    expect(page.locator(SUMMARY)).to_contain_text("best matches")
    box = page.get_by_label("Describe it")
    box.fill("but blue")
    box.press("Enter")
    expect(page.get_by_text("Searching by your photo and “but blue”")).to_be_visible()
    expect(page.locator("[data-testid='stSlider']", has_text="Text weight")).to_have_count(1)
    notes = tmp_path / "notes.png"
    notes.write_text("just some text, not a picture")
    uploader.set_input_files(str(notes))
    error = page.locator("[data-testid='stAlertContentError']")
    expect(error).to_have_text("notes.png cannot be searched: not an image (unrecognised format). Upload a jpg, png or webp photo.")
    expect(page.locator("[data-testid='stSlider']", has_text="Text weight")).to_have_count(0)
    expect(page.get_by_text("Searching for “but blue”")).to_be_visible()


def test_more_like_this_then_a_new_query(page: Page, page_url: str) -> None:
    search(page, page_url, "handbag")
    first = card_names(page)[0]
    page.get_by_role("button", name="More like this").first.click()
    expect(page.get_by_text(f"Similar to {first}")).to_be_visible()
    expect(page.get_by_label("Describe it")).to_have_value("")
    assert first not in card_names(page)
    box = page.get_by_label("Describe it")
    box.fill("watch")
    box.press("Enter")
    expect(page.get_by_text("Searching for “watch”")).to_be_visible()
    expect(page.get_by_text("Similar to")).to_have_count(0)
    settled(page).get_by_role("button", name="More like this").first.click()
    page.get_by_role("button", name="Back to “watch”").click()
    expect(page.get_by_text("Searching for “watch”")).to_be_visible()


def test_the_detail_dialog_shows_every_attribute_and_refines(page: Page, page_url: str) -> None:
    search(page, page_url, "handbag")
    first = card_names(page)[0]
    page.get_by_role("button", name="View details").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(first)
    for label in ("Gender", "Category", "Subcategory", "Article type", "Colour", "Season", "Usage", "Year"):
        expect(dialog.locator("th").filter(has_text=re.compile(f"^{label}$"))).to_have_count(1)
    photo = dialog.locator("img")
    assert photo.evaluate("i => i.decode().then(() => [i.naturalWidth, i.clientWidth])") == [300, 300]
    dialog.get_by_role("button", name="Less like this").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text(f"unlike {first}")).to_be_visible()
    assert first not in card_names(page)
    page.get_by_role("button", name="View details").first.click()
    page.get_by_role("dialog").get_by_role("button", name="More like this").click()
    expect(page.get_by_text("unlike")).to_have_count(0)
    expect(page.get_by_text("Similar to")).to_be_visible()


def test_the_url_reproduces_the_view_and_back_works(page: Page, page_url: str) -> None:
    search(page, page_url, "nice")
    pick(page, "Gender", "Women (30)")
    expect(page.locator(SUMMARY)).to_contain_text("30 products · showing 1-12")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(SUMMARY)).to_contain_text("showing 13-24")
    page.wait_for_url(re.compile(r"\?q=nice&gender=Women&page=2$"))
    names = card_names(page)
    other = page.context.new_page()
    other.goto(page.url)  # a shared link: a new session shows the same view
    expect(other.locator(SUMMARY)).to_contain_text("30 products · showing 13-24")
    assert card_names(other) == names
    expect(other.get_by_label("Describe it")).to_have_value("nice")
    page.go_back()  # page 1 again
    expect(page.locator(SUMMARY)).to_contain_text("showing 1-12")
    page.go_back()  # no gender filter
    expect(page.locator(SUMMARY)).to_contain_text("of 60 products")
    expect(page.get_by_label("Describe it")).to_have_value("nice")


def test_recognised_words_are_chips_whose_x_searches_without_them(page: Page, page_url: str) -> None:
    search(page, page_url, "women watches")
    expect(page.locator(SUMMARY)).to_have_text("6 products · showing 1-6 · page 1 of 1")
    settled(page).get_by_role("button", name="Watches", exact=True).wait_for()
    page.get_by_role("button", name="Women", exact=True).click()
    expect(page.locator(SUMMARY)).to_have_text("12 products · showing 1-12 · page 1 of 1")
    assert {name.split()[0] for name in card_names(page)} == {"Men", "Women"}
    page.wait_for_url(re.compile(r"ignore=gender"))
    expect(page.get_by_role("button", name="Women", exact=True)).to_be_visible()  # now the "+ Women" chip that restores it
