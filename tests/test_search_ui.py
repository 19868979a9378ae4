"""The Streamlit search page, driven by AppTest over a small ingested catalog (embedded store)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from shared.settings import Settings
from shared.storage.vector_store.edge import EdgeStore
from tests.search_fixtures import ingested_edge_catalog

PAGE = str(Path(__file__).resolve().parent.parent / "search_ui" / "main.py")
COLLECTION = "ui_test"
TIMEOUT = 60


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory, parquet_dataset: Path) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("ui-catalog")
    ingested_edge_catalog(data_dir, parquet_dataset, COLLECTION)
    yield data_dir
    st.cache_resource.clear()  # closes the cached retrievers (and their store locks)


def page_for(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> AppTest:
    monkeypatch.setenv("FASHION_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QDRANT_URL", "edge")
    monkeypatch.setenv("FASHION_COLLECTION", COLLECTION)
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT)


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, catalog_dir: Path) -> AppTest:
    at = page_for(monkeypatch, catalog_dir).run()
    assert not at.exception, at.exception
    return at


def result_ids(at: AppTest) -> list[int]:
    return [int(b.key.removeprefix("similar_")) for b in at.button if b.key and b.key.startswith("similar_")]


CARD_NAME = re.compile(r"<div class='card-name'[^>]*>(.*?)</div>")


def result_names(at: AppTest) -> list[str]:
    return [html.unescape(m.group(1)) for m in (CARD_NAME.match(md.value) for md in at.markdown) if m]


def page_text(at: AppTest) -> str:
    return "\n".join(md.value for md in at.markdown)


def png_of(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 60), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_empty_collection_shows_the_ingest_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = page_for(monkeypatch, tmp_path).run()
    assert not at.exception
    assert any("no catalog to search" in i.value for i in at.info)
    assert at.code[0].value.startswith("python -m ingest")
    assert f"--collection {COLLECTION}" in at.code[0].value


def test_landing_page_offers_example_queries_and_product_tiles(app: AppTest) -> None:
    assert "Search 60 products" in page_text(app)
    examples = [b for b in app.button if b.key and b.key.startswith("example_")]
    tiles = [b for b in app.button if b.key and b.key.startswith("tile_")]
    assert len(examples) >= 4 and len(tiles) == 4
    examples[0].click().run()
    assert app.text_input(key="text").value == examples[0].label and result_ids(app)


def test_cards_hide_scores_ids_and_backend_unless_details_are_on(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    shown = page_text(app) + " ".join(c.value for c in app.caption)
    assert "score" not in shown and " id " not in shown and "Backend" not in shown and "collection" not in shown
    app.sidebar.toggle(key="details").set_value(True).run()
    shown = page_text(app)
    assert shown.count("<br>score ") == 12 and shown.count(" · id ") == 12
    about = app.sidebar.caption[0].value
    assert "edge" in about and COLLECTION in about and "tiny-test" in about and "60 products" in about


def test_filters_change_the_results_and_counts_follow_the_other_filters(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    assert sorted(app.multiselect(key="filter_gender").options) == ["Men (30)", "Women (30)"]
    assert len(result_names(app)) == 12
    app.multiselect(key="filter_gender").set_value(["Women"]).run()
    women = result_names(app)
    assert women and all(name.startswith("Women ") for name in women)
    assert "Red (5)" in app.multiselect(key="filter_baseColour").options  # counts follow the other filters
    assert sorted(app.multiselect(key="filter_gender").options) == ["Men (30)", "Women (30)"]  # not its own
    app.multiselect(key="filter_articleType").set_value(["Watches", "Handbags"]).run()
    narrowed = result_names(app)
    assert narrowed and all(n.startswith("Women ") and n.endswith(("Watches", "Handbags")) for n in narrowed)
    assert len(narrowed) == 12  # 2 types x 6 colours
    assert "<b>12 products</b>" in page_text(app)


def test_options_with_no_product_under_the_other_filters_are_hidden(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    seasons = app.multiselect(key="filter_season").options
    app.multiselect(key="filter_gender").set_value(["Women"]).run()
    app.multiselect(key="filter_articleType").set_value(["Watches"]).run()
    app.multiselect(key="filter_baseColour").set_value(["Red"]).run()
    assert len(result_ids(app)) == 1
    narrowed = app.multiselect(key="filter_season").options
    assert len(narrowed) == 1 < len(seasons) and narrowed[0].endswith("(1)")
    assert all(not option.endswith("(0)") for option in app.multiselect(key="filter_articleType").options)


def test_clear_filters_brings_every_product_back(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    assert app.button(key="clear_filters").disabled
    app.multiselect(key="filter_gender").set_value(["Men"]).run()
    app.multiselect(key="filter_articleType").set_value(["Handbags"]).run()
    assert len(result_ids(app)) == 6
    app.button(key="clear_filters").click().run()
    assert app.multiselect(key="filter_gender").value == [] and app.multiselect(key="filter_articleType").value == []
    assert "48 best matches</b> of 60 products" in page_text(app)


def test_an_empty_result_names_the_filter_that_emptied_it(monkeypatch: pytest.MonkeyPatch, catalog_dir: Path) -> None:
    at = page_for(monkeypatch, catalog_dir)
    at.query_params.update({"q": "dress", "gender": "Men", "articleType": "Dress"})
    at.run()
    assert not result_ids(at) and not at.exception
    message = at.warning[0].value
    assert "Article type: Dress" in message and "Remove Article type to see 30 products" in message
    at.button(key="clear_filters_empty").click().run()
    assert len(result_ids(at)) == 12


def test_results_have_a_total_pages_and_a_best_matches_cut_off(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    assert "The <b>48 best matches</b> of 60 products · showing 1-12 · page 1 of 4" in page_text(app)
    first = result_ids(app)
    assert len(first) == 12 and app.button(key="previous_page").disabled
    app.button(key="next_page").click().run()
    second = result_ids(app)
    assert len(second) == 12 and not set(first) & set(second)
    assert "showing 13-24" in page_text(app)
    for _ in range(2):
        app.button(key="next_page").click().run()
    assert len(result_ids(app)) == 12 and app.button(key="next_page").disabled  # best matches: 4 pages
    app.segmented_control(key="show").set_value("All products").run()
    assert "<b>60 products</b> · showing 1-12 · page 1 of 5" in page_text(app)  # a new view starts on page 1
    for _ in range(4):
        app.button(key="next_page").click().run()
    assert "showing 49-60" in page_text(app) and app.button(key="next_page").disabled


def test_sorting_orders_every_match_not_one_page(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    app.segmented_control(key="show").set_value("All products").run()
    app.selectbox(key="sort").set_value("Name (A-Z)").run()
    names = result_names(app)
    for _ in range(4):
        app.button(key="next_page").click().run()
        names += result_names(app)
    assert len(names) == 60 and names == sorted(names, key=str.lower)
    app.selectbox(key="sort").set_value("Year (newest first)").run()
    newest = page_text(app)
    assert "page 1 of 5" in newest and newest.count("· 2014</div>") == 12  # every product of the newest year first


def test_good_upload_searches_by_image_and_says_so(app: AppTest) -> None:
    app.file_uploader(key="upload").set_value(("red.png", png_of("red"), "image/png")).run()
    assert not app.error and len(result_ids(app)) == 12
    assert "Searching by <b>your photo</b>" in page_text(app)
    app.text_input(key="text").input("but shinier").run()  # photo + words: the blend weight appears
    assert app.slider(key="text_weight").value == 0.5 and len(result_ids(app)) == 12
    assert "your photo</b> and <b>“but shinier”</b>" in page_text(app)


@pytest.mark.parametrize(
    "upload",
    [("notes.png", b"just some text, not a picture", "image/png"), ("empty.jpg", b"", "image/jpeg")],
)
def test_bad_upload_gets_one_clear_line_and_no_weight_slider(app: AppTest, upload: tuple[str, bytes, str]) -> None:
    app.text_input(key="text").input("red").run()
    app.file_uploader(key="upload").set_value(upload).run()
    assert not app.exception
    [message] = [e.value for e in app.error]
    assert message.startswith(f"{upload[0]} cannot be searched: ") and message.endswith("Upload a jpg, png or webp photo.")
    assert "((" not in message and "))" not in message and "\n" not in message
    assert not [s for s in app.slider if s.key == "text_weight"]
    assert "Searching for <b>“red”</b>" in page_text(app)  # the words alone are searched


def test_more_like_this_then_a_new_query_leaves_it(app: AppTest) -> None:
    app.text_input(key="text").input("handbag").run()
    chosen = result_ids(app)[0]
    app.button(key=f"similar_{chosen}").click().run()
    assert "Similar to <b>" in page_text(app) and app.text_input(key="text").value == ""
    similar = result_ids(app)
    assert similar and chosen not in similar
    app.button(key="next_page").click().run()  # more like this pages too
    assert "showing 13-24" in page_text(app) and len(set(result_ids(app)) - set(similar)) >= 11
    app.text_input(key="text").input("watch").run()  # a new query starts a new search
    assert "Similar to" not in page_text(app) and "Searching for <b>“watch”</b>" in page_text(app)
    assert "showing 1-12" in page_text(app)


def test_back_from_more_like_this_restores_the_search(app: AppTest) -> None:
    app.text_input(key="text").input("handbag").run()
    before = result_ids(app)
    app.button(key=f"similar_{before[0]}").click().run()
    assert app.button(key="back_to_search").label == "Back to “handbag”"
    app.button(key="back_to_search").click().run()
    assert "Similar to" not in page_text(app) and app.text_input(key="text").value == "handbag"
    assert result_ids(app) == before


def test_the_url_holds_the_view_and_reproduces_it(monkeypatch: pytest.MonkeyPatch, app: AppTest, catalog_dir: Path) -> None:
    app.text_input(key="text").input("nice").run()
    app.multiselect(key="filter_gender").set_value(["Women"]).run()
    app.button(key="next_page").click().run()
    params = dict(app.query_params)
    assert params["q"] == ["nice"] or params["q"] == "nice"
    assert "Women" in str(params["gender"]) and str(params["page"]).strip("[]'") == "2"
    shared = page_for(monkeypatch, catalog_dir)
    shared.query_params.update(params)
    shared.run()
    assert shared.text_input(key="text").value == "nice" and shared.multiselect(key="filter_gender").value == ["Women"]
    assert result_ids(shared) == result_ids(app) and "page 2 of" in page_text(shared)


def test_a_running_ingest_gets_one_line_and_the_page_recovers(app: AppTest, catalog_dir: Path) -> None:
    from search_ui.state import LOCKED_MESSAGE, load_retriever

    app.text_input(key="text").input("bag").run()
    assert result_ids(app)
    load_retriever(str(catalog_dir), "edge", COLLECTION).release()  # what the idle timer does
    writer = EdgeStore(Settings(data_dir=catalog_dir, qdrant_url="edge").edge_dir)
    writer.count(COLLECTION)  # an ingest now holds the embedded store
    try:
        app.run()
        assert [w.value for w in app.warning] == [LOCKED_MESSAGE] and not app.exception
    finally:
        writer.close()
    app.run()
    assert result_ids(app) and not app.warning
