from __future__ import annotations

from pathlib import Path

import pytest

from shared.catalog import Catalog, CatalogError, ModelIdentity

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


def test_model_identity_compares_weights_by_hash() -> None:
    tuned = ModelIdentity("lite", None, "a.pt", "ab" * 32, 512)
    assert tuned.same_model(ModelIdentity("lite", None, "elsewhere.pt", "ab" * 32, 512))
    assert not tuned.same_model(LITE)
    assert LITE.same_model(ModelIdentity("lite", None, None, None, 512))
    assert not LITE.same_model(ModelIdentity("ViT-B-32-quickgelu", "openai", None, None, 512))


def test_unopenable_database_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="DATABASE_URL"):
        Catalog(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
