"""The Streamlit search page, driven by AppTest over a small ingested catalog (embedded store)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from shared.settings import Settings
from shared.storage.vector_store.edge import EdgeStore
from tests.search_fixtures import ingest_into

PAGE = str(Path(__file__).resolve().parent.parent / "search_ui" / "main.py")
COLLECTION = "ui_test"
TIMEOUT = 60


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory, parquet_dataset: Path) -> Iterator[Path]:
    data_dir = tmp_path_factory.mktemp("ui-catalog")
    settings = Settings(data_dir=data_dir, qdrant_url="edge", collection=COLLECTION)
    store = EdgeStore(settings.edge_dir)
    ingest_into(settings, store, parquet_dataset)
    store.close()
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


def result_names(at: AppTest) -> list[str]:
    return [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]


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


def test_page_shows_backend_collection_model_and_counts(app: AppTest) -> None:
    header = app.caption[0].value
    assert "edge" in header and COLLECTION in header and "tiny-test" in header and "60 products" in header
    gender = app.multiselect(key="filter_gender")
    assert sorted(gender.options) == ["Men (30)", "Women (30)"]
    assert any("Describe what you are looking for" in i.value for i in app.info)


def test_filters_change_the_results(app: AppTest) -> None:
    app.text_input(key="text").input("red shoes").run()
    everyone = result_names(app)
    assert len(everyone) == 12
    app.multiselect(key="filter_gender").set_value(["Women"]).run()
    women = result_names(app)
    assert women and all(name.startswith("Women ") for name in women)
    assert "Red (5)" in app.multiselect(key="filter_baseColour").options  # counts follow the other filters
    app.multiselect(key="filter_articleType").set_value(["Watches", "Handbags"]).run()
    narrowed = result_names(app)
    assert narrowed and all(n.startswith("Women ") and n.endswith(("Watches", "Handbags")) for n in narrowed)
    assert len(narrowed) == 12  # 2 types x 6 colours


def test_no_results_suggests_relaxing_filters(app: AppTest) -> None:
    app.text_input(key="text").input("watch").run()
    app.sidebar.slider(key="threshold").set_value(1.0).run()
    assert not result_ids(app)
    assert any("Relax the filters" in w.value for w in app.warning)


def test_pagination_walks_through_the_results(app: AppTest) -> None:
    app.text_input(key="text").input("something nice").run()
    first = result_ids(app)
    assert len(first) == 12 and app.button(key="previous_page").disabled
    app.button(key="next_page").click().run()
    second = result_ids(app)
    assert len(second) == 12 and not set(first) & set(second)
    assert any("Results 13-24" in m.value for m in app.markdown)
    for _ in range(3):
        app.button(key="next_page").click().run()
    assert len(result_ids(app)) == 12 and app.button(key="next_page").disabled  # page 5 of 60 products
    app.button(key="previous_page").click().run()
    assert any("Results 37-48" in m.value for m in app.markdown)


def test_good_upload_searches_by_image(app: AppTest) -> None:
    app.file_uploader(key="upload").set_value(("red.png", png_of("red"), "image/png")).run()
    assert not app.error and len(result_ids(app)) == 12
    app.text_input(key="text").input("but shinier").run()  # photo + words: the blend weight appears
    assert app.slider(key="text_weight").value == 0.5 and len(result_ids(app)) == 12


@pytest.mark.parametrize(
    "upload",
    [("notes.png", b"just some text, not a picture", "image/png"), ("empty.jpg", b"", "image/jpeg")],
)
def test_bad_upload_gets_a_clear_message(app: AppTest, upload: tuple[str, bytes, str]) -> None:
    app.file_uploader(key="upload").set_value(upload).run()
    assert not app.exception
    assert any(upload[0] in e.value and "not a usable image" in e.value for e in app.error)
    assert not result_ids(app)


def test_more_like_this_shows_similar_products(app: AppTest) -> None:
    app.text_input(key="text").input("handbag").run()
    chosen = result_ids(app)[0]
    app.button(key=f"similar_{chosen}").click().run()
    assert any(s.value.startswith("More like:") for s in app.subheader)
    similar = result_ids(app)
    assert similar and chosen not in similar
    app.button(key="next_page").click().run()  # more like this pages too
    assert result_ids(app) and not set(result_ids(app)) & set(similar)
    next(b for b in app.button if b.label == "Back to search").click().run()
    assert not any(s.value.startswith("More like:") for s in app.subheader)
    assert result_ids(app)[0] == chosen


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
