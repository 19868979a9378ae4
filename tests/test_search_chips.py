"""The page's query understanding: recognised words as removable chips, the switch, and the search modes (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from search_ui.controls import NO_KEYWORD_MATCH
from tests.test_search_ui import app, catalog_dir, page_for, page_text, result_names  # noqa: F401  (fixtures)


def chips(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.key and b.key.startswith("chip_")]


def test_recognised_words_show_as_chips_and_filter(app: AppTest) -> None:
    app.text_input(key="text").input("women watches").run()
    assert chips(app) == ["Women", "Watches"]
    names = result_names(app)
    assert len(names) == 6 and all(n.startswith("Women ") and n.endswith("Watches") for n in names)
    assert "<b>6 products</b>" in page_text(app)
    colours = app.multiselect(key="filter_baseColour").options
    assert len(colours) == 6 and all(c.endswith("(1)") for c in colours)  # counts follow the recognised facets


def test_a_chips_x_searches_without_it_and_plus_restores_it(app: AppTest) -> None:
    app.text_input(key="text").input("women watches").run()
    app.button(key="chip_gender_Women").click().run()
    assert chips(app) == ["Watches"]
    names = result_names(app)
    assert len(names) == 12 and {n.split()[0] for n in names} == {"Men", "Women"}
    assert dict(app.query_params)["ignore"] in ("gender", ["gender"])
    app.button(key="restore_gender_Women").click().run()
    assert chips(app) == ["Women", "Watches"] and len(result_names(app)) == 6
    app.button(key="chip_gender_Women").click().run()
    app.text_input(key="text").input("women handbags").run()  # a new search forgets removed chips
    assert chips(app) == ["Women", "Handbags"]


def test_relaxed_and_overridden_words_are_named(app: AppTest) -> None:
    app.text_input(key="text").input("mens red handbags").run()
    assert chips(app) == ["Men", "Handbags"]
    assert "only 1 product is Red Handbags for Men; searched without Red" in page_text(app)
    app.multiselect(key="filter_gender").set_value(["Women"]).run()
    assert chips(app) == ["Handbags"] and "“mens”: your Gender filter wins" in page_text(app)
    assert all(n.startswith("Women ") for n in result_names(app))


def test_query_understanding_can_be_switched_off(app: AppTest) -> None:
    app.sidebar.toggle(key="understand").set_value(False).run()
    app.text_input(key="text").input("women watches").run()
    assert chips(app) == [] and "48 best matches</b> of 60 products" in page_text(app)
    assert dict(app.query_params)["understand"] in ("0", ["0"])


@pytest.mark.parametrize("mode", ["image_vectors", "text_vectors", "keywords"])
def test_search_modes_come_from_the_sidebar_and_the_url(monkeypatch: pytest.MonkeyPatch, catalog_dir: Path, mode: str) -> None:
    at = page_for(monkeypatch, catalog_dir)
    at.query_params.update({"q": "women watches", "mode": mode, "understand": "0"})
    at.run()
    assert at.sidebar.selectbox(key="search_mode").value == mode and not at.exception
    at.sidebar.toggle(key="details").set_value(True).run()
    assert f"search mode {mode}" in at.sidebar.caption[0].value and result_names(at)
    at.sidebar.selectbox(key="search_mode").set_value("fused").run()
    assert "mode" not in dict(at.query_params)


def test_keywords_mode_without_a_matching_word_says_so(monkeypatch: pytest.MonkeyPatch, catalog_dir: Path) -> None:
    at = page_for(monkeypatch, catalog_dir)
    at.query_params.update({"q": "something nice", "mode": "keywords"})
    at.run()
    assert not result_names(at) and [w.value for w in at.warning] == [NO_KEYWORD_MATCH]


def test_keywords_mode_counts_only_the_products_holding_a_word(monkeypatch: pytest.MonkeyPatch, catalog_dir: Path) -> None:
    at = page_for(monkeypatch, catalog_dir)
    at.query_params.update({"q": "watches", "mode": "keywords", "understand": "0", "per_page": "24"})
    at.run()
    names = result_names(at)
    assert len(names) == 12 and all(n.endswith("Watches") for n in names)
    assert "<b>12 products</b> · showing 1-12 · page 1 of 1" in page_text(at) and at.button(key="next_page").disabled
