"""catalog_results: store hits in order, filled in from the catalog, with an image path usable from here."""

from __future__ import annotations

from pathlib import Path

from shared.storage.catalog import Catalog
from shared.storage.collection import find_image
from shared.search.catalog_results import catalog_results
from shared.storage.vector_store import ScoredHit


def test_the_recorded_image_path_wins_while_it_exists(tmp_path: Path) -> None:
    recorded, local = tmp_path / "elsewhere" / "7.jpg", tmp_path / "images" / "things" / "7.jpg"
    assert find_image(str(recorded), tmp_path / "images", "things", 7) == str(recorded)  # neither exists: as recorded
    assert find_image(None, tmp_path / "images", "things", 7) is None
    local.parent.mkdir(parents=True)
    local.write_bytes(b"jpeg")
    assert find_image(str(recorded), tmp_path / "images", "things", 7) == str(local)  # moved data dir: the local copy
    assert find_image(None, tmp_path / "images", "things", 7) == str(local)
    recorded.parent.mkdir(parents=True)
    recorded.write_bytes(b"jpeg")
    assert find_image(str(recorded), tmp_path / "images", "things", 7) == str(recorded)


def test_hits_without_a_catalog_record_keep_their_payload(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        hits = [ScoredHit(5, 0.5, {"productDisplayName": "Red Dress", "image_path": None}), ScoredHit(3, 0.25, {})]
        results = catalog_results(catalog, "things", tmp_path / "images", hits)
    finally:
        catalog.close()
    assert [(r.id, r.score) for r in results] == [(5, 0.5), (3, 0.25)]
    assert results[0].display_name == "Red Dress" and results[1].display_name == "product 3"
