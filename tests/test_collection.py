"""The collection contract: model identity, whether a model fits, image files, and the status."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.storage.catalog import Catalog
from shared.storage.catalog import ModelIdentity as CatalogModelIdentity
from shared.storage.collection import (
    CollectionFacts,
    MisfitError,
    ModelIdentity,
    check_fits,
    collection_images,
    collection_status,
    compare,
    find_image,
    image_file,
)
from shared.settings import Settings
from shared.storage.vector_store import VectorPoint
from shared.storage.vector_store.edge import EdgeStore

LITE = ModelIdentity("lite", None, None, None, 512)


def test_model_identity_compares_weights_by_hash() -> None:
    tuned = ModelIdentity("lite", None, "a.pt", "ab" * 32, 512)
    assert tuned.same_model(ModelIdentity("lite", None, "elsewhere.pt", "ab" * 32, 512))
    assert not tuned.same_model(LITE)
    assert LITE.same_model(ModelIdentity("lite", None, None, None, 512))
    assert not LITE.same_model(ModelIdentity("ViT-B-32-quickgelu", "openai", None, None, 512))


def test_model_identity_is_still_importable_from_the_catalog() -> None:
    assert CatalogModelIdentity is ModelIdentity


def test_a_new_or_matching_collection_fits() -> None:
    check_fits(LITE, CollectionFacts("c"))
    check_fits(LITE, CollectionFacts("c", ModelIdentity("lite", None, None, None, 512), 512))


def test_another_model_does_not_fit() -> None:
    tuned = ModelIdentity("lite", None, "/w/a.pt", "ab" * 32, 512)
    with pytest.raises(MisfitError) as caught:
        check_fits(LITE, CollectionFacts("c", tuned, 512))
    assert str(caught.value) == (
        f"collection 'c' holds vectors of lite weights /w/a.pt (sha256 {'ab' * 6}), not lite pretrained=None"
    )
    assert caught.value.facts.recorded == tuned and caught.value.model == LITE


def test_vectors_of_another_size_do_not_fit() -> None:
    with pytest.raises(MisfitError, match=r"^collection 'c' holds 32-d vectors but the model makes 512-d ones$"):
        check_fits(LITE, CollectionFacts("c", None, 32))


def test_image_files_live_under_the_collection(tmp_path: Path) -> None:
    folder = collection_images(tmp_path / "images", "c")
    assert image_file(folder, 7) == tmp_path / "images" / "c" / "7.jpg"
    assert find_image("/nowhere/7.jpg", tmp_path / "images", "c", 7) == "/nowhere/7.jpg"  # nothing better here
    folder.mkdir(parents=True)
    image_file(folder, 7).write_bytes(b"jpeg")
    assert find_image("/nowhere/7.jpg", tmp_path / "images", "c", 7) == str(folder / "7.jpg")
    assert find_image(None, tmp_path / "images", "c", 8) is None
    recorded = tmp_path / "elsewhere.jpg"
    recorded.write_bytes(b"jpeg")
    assert find_image(str(recorded), tmp_path / "images", "c", 7) == str(recorded)


def test_status_counts_products_vectors_and_the_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, qdrant_url="edge", collection="c")
    catalog = Catalog(settings.catalog_url)
    store = EdgeStore(settings.edge_dir)
    try:
        assert collection_status(settings, store, None) == []
        store.create_collection("c", 4)
        store.upsert("c", [VectorPoint(i, np.eye(4, dtype=np.float32)[i]) for i in (1, 2)])
        catalog.upsert_products("c", [{"id": 2}, {"id": 3}])
        run = catalog.start_run("c", LITE, "data", "edge", 3)
        assert compare(store, catalog, "c").vectors_without_rows == {1}
        [row] = collection_status(settings, store, catalog)
        assert row == {
            "collection": "c", "products": 2, "vectors": 2, "model": "lite", "pretrained": None, "weights_sha256": None,
            "embedding_dim": 512, "backend": "edge", "last_run_finished": False, "vectors_without_rows": 1,
            "rows_without_vectors": 1, "in_step": False, "rows_of_other_store": None,
        }
        catalog.finish_run(run, ingested=2, skipped=0, failed_ids=[])
        catalog.upsert_products("c", [{"id": 1}])
        catalog.delete_products("c", [3])
        [row] = collection_status(settings, store, catalog)
        assert row["in_step"] and row["last_run_finished"] and row["products"] == 2
    finally:
        store.close()
        catalog.close()
