from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared.storage.catalog import Catalog, CatalogError, InvalidProductError, ModelIdentity, check_product_row

ROOT = Path(__file__).resolve().parents[1]

LITE = ModelIdentity("lite", None, None, None, 512)


def _catalog(tmp_path: Path) -> Catalog:
    return Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")


def test_products_upsert_replace_and_read_back(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    catalog.upsert_products("c", [{"id": 1, "gender": "Men", "year": 2012, "image_path": "a.jpg"}, {"id": 2, "gender": "Women"}])
    catalog.upsert_products("c", [{"id": 1, "gender": "Unisex", "image_path": "b.jpg"}])
    assert catalog.count("c") == 2 and catalog.product_ids("c") == {1, 2}
    assert catalog.get_products("c", [1, 99]) == {1: {"id": 1, "gender": "Unisex", "image_path": "b.jpg"}}
    assert catalog.distinct_values("c", "gender") == ["Unisex", "Women"]


def test_collections_are_separate(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    catalog.upsert_products("a", [{"id": 1}])
    catalog.upsert_products("b", [{"id": 1}, {"id": 2}])
    catalog.delete_collection("a")
    assert catalog.collections() == ["b"] and catalog.count("b") == 2


def test_runs_record_the_model_and_interruptions(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    run = catalog.start_run("c", LITE, "data", "edge", 10)
    assert catalog.latest_run("c").finished_at is None  # type: ignore[union-attr]
    catalog.finish_run(run, ingested=8, skipped=0, failed_ids=[3, 4])
    latest = catalog.latest_run("c")
    assert latest is not None and latest.finished_at is not None and latest.failed == 2
    assert catalog.model_of("c") == LITE


def test_unopenable_database_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="DATABASE_URL"):
        Catalog(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")


# -- rows every database can hold (issue 9) ----------------------------------------
TOO_BIG = {
    "season": "S" * 33,
    "gender": "G" * 65,
    "masterCategory": "M" * 129,
    "articleType": "A" * 129,
    "year": 3_000_000_000,
}


@pytest.fixture(params=["sqlite", "postgres"])
def any_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Catalog:
    if request.param == "sqlite":
        return _catalog(tmp_path)
    return Catalog(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize(("field", "value"), TOO_BIG.items())
def test_rows_no_column_can_hold_are_refused_before_writing(any_catalog: Catalog, field: str, value: object) -> None:
    any_catalog.upsert_products("c", [{"id": 1, "gender": "Men"}])
    with pytest.raises(CatalogError, match=f"product 2 .*{field}") as raised:
        any_catalog.upsert_products("c", [{"id": 1, "gender": "Women"}, {"id": 2, field: value}])
    assert "\n" not in str(raised.value)
    assert any_catalog.get_products("c", [1, 2]) == {1: {"id": 1, "gender": "Men", "image_path": None}}
    with pytest.raises(InvalidProductError, match=field):
        check_product_row({"id": 2, field: value})


def test_nul_bytes_are_stripped_on_every_database(any_catalog: Catalog) -> None:
    any_catalog.upsert_products("c", [{"id": 7, "productDisplayName": "Blue\x00 Shirt", "season": "\x00", "year": 2012}])
    assert any_catalog.get_products("c", [7]) == {7: {"id": 7, "productDisplayName": "Blue Shirt", "year": 2012, "image_path": None}}


def test_row_check_follows_the_column_definitions() -> None:
    assert check_product_row({"id": 2**63 - 1, "season": "S" * 32, "year": -(2**31)})["season"] == "S" * 32
    for row in ({"id": 2**63}, {"id": 1, "year": 2012.5}, {"id": 1, "usage": "bad \udc80 text"}):
        with pytest.raises(InvalidProductError):
            check_product_row(row)


# -- opening PostgreSQL ------------------------------------------------------------
OPEN_AT = """
import sys, time
from shared.storage.catalog import Catalog
start = float(sys.argv[1])
for round, url in enumerate(sys.argv[2:]):
    time.sleep(max(0.0, start + round - time.time()))
    Catalog(url).close()
"""


def _open_fresh_catalogs_at_once(urls: list[str], processes: int = 6) -> None:
    """``processes`` processes open each fresh catalog of ``urls`` at the same moment (one a second)."""
    start = time.time() + 4.0  # every process is imported and waiting by then
    running = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT, str(start), *urls], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    errors = [p.communicate(timeout=120)[1] for p in running]
    assert [p.returncode for p in running] == [0] * processes, "\n".join(e for e in errors if e)[-2000:]


@pytest.mark.slow
def test_six_processes_create_a_fresh_postgres_schema_at_once(postgres_url: str) -> None:
    _open_fresh_catalogs_at_once([postgres_url])
    assert Catalog(postgres_url).collections() == []


@pytest.mark.slow
def test_six_processes_create_fresh_sqlite_catalogs_at_once(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'catalog{i}.db'}" for i in range(4)]
    _open_fresh_catalogs_at_once(urls)
    assert all(Catalog(url).collections() == [] for url in urls)


def test_postgres_without_its_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(CatalogError) as raised:
        Catalog("postgresql+psycopg://user:secret@127.0.0.1:1/shop")
    message = str(raised.value)
    assert "psycopg" in message and "fashion-clip-search[postgres]" in message and "\n" not in message
    assert "secret" not in message and "127.0.0.1:1/shop" in message


def test_a_collection_is_claimed_by_one_store(any_catalog: Catalog) -> None:
    assert any_catalog.claim_collection("c", "edge:/a") == "edge:/a"
    assert any_catalog.claim_collection("c", "edge:/b") == "edge:/a"
    assert any_catalog.claim_collection("c", "edge:/b", replacing="edge:/x") == "edge:/a"
    assert any_catalog.claim_collection("c", "edge:/b", replacing="edge:/a") == "edge:/b"
    any_catalog.delete_collection("c")
    assert any_catalog.store_of("c") is None


def test_writers_upserting_the_same_products_at_once_lose_no_rows(postgres_url: str) -> None:
    """Four writers upsert the same 400 products in the same order at the same moment, and 100 of their own."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        catalog = Catalog(postgres_url)
        ids = [*range(400), *range(1000 * (writer + 1), 1000 * (writer + 1) + 100)]
        rows = [{"id": product_id, "gender": f"writer {writer}", "image_path": f"{product_id}.jpg"} for product_id in ids]
        barrier.wait()
        try:
            for start in range(0, len(rows), 25):
                catalog.upsert_products("c", rows[start : start + 25])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            catalog.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [str(error) for error in errors] == []
    catalog = Catalog(postgres_url)
    expected = {*range(400), *(product_id for w in range(4) for product_id in range(1000 * (w + 1), 1000 * (w + 1) + 100))}
    assert catalog.product_ids("c") == expected and catalog.count("c") == 800
    products = catalog.get_products("c", [0, 399, 4099])
    assert products[4099]["gender"] == "writer 3" and products[399]["image_path"] == "399.jpg"
    assert products[0]["gender"] in {f"writer {w}" for w in range(4)}


def test_an_upsert_replaces_every_column_and_keeps_the_last_of_repeated_ids(any_catalog: Catalog) -> None:
    any_catalog.upsert_products("c", [{"id": 1, "gender": "Men", "year": 2012, "image_path": "a.jpg"}])
    any_catalog.upsert_products("c", [{"id": 1, "gender": "Women", "image_path": "b.jpg"}, {"id": 1, "gender": "Unisex", "image_path": "c.jpg"}])
    assert any_catalog.get_products("c", [1]) == {1: {"id": 1, "gender": "Unisex", "image_path": "c.jpg"}}
