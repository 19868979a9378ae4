"""The evaluation gallery: finetune's validation split of a trained model, ingested into a work dir."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from finetune.config import TrainConfig
from finetune.search_gallery import GalleryError, TrainingSplit, ingest_split, split_table, validation_ids
from finetune.train import TrainResult, train
from shared.products.datasets import open_products
from shared.models.weights import read_weights
from shared.settings import Settings
from tests.search_fixtures import tiny_weights
from tests.synthetic import make_rows, write_parquet


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 products, 60 display names (each twice)."""
    return write_parquet(tmp_path_factory.mktemp("garments"), make_rows(120))


@pytest.fixture(scope="module")
def trained(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """One epoch of the tiny model on the first 100 products, a quarter of the names held out, seed 7."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    config = TrainConfig(
        model="tiny-test", pretrained=None, dataset=str(dataset), subset_size=100, val_fraction=0.25, seed=7,
        epochs=1, batch_size=16, output_dir=str(tmp_path_factory.mktemp("run")), progress=False,
    )
    try:
        return train(config)
    finally:
        torch.set_num_threads(threads)


def test_validation_split_is_the_one_training_held_out(trained: TrainResult, dataset: Path) -> None:
    split = TrainingSplit.of(read_weights(trained.final_path).metadata, trained.final_path)
    assert (split.subset_size, split.val_fraction, split.seed) == (100, 0.25, 7)
    table = open_products(str(dataset))
    held_out = validation_ids(table, split, progress=False)
    assert len(held_out) == read_weights(trained.final_path).metadata["val_size"]
    names = {table[i].id: table[i].display_name for i in range(len(table))}
    first_hundred = set(table.ids()[:100])
    assert held_out <= first_hundred
    trained_names = {names[i] for i in first_hundred - held_out}
    assert trained_names and not trained_names & {names[i] for i in held_out}
    # another seed holds out other products: the recorded seed is the one used
    other = validation_ids(table, TrainingSplit(split.dataset, 100, 0.25, 8), progress=False)
    assert other != held_out


def test_ingest_split_holds_exactly_the_held_out_products(trained: TrainResult, dataset: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "work", qdrant_url="edge", collection="search_eval_validation")
    line = ingest_split(trained.final_path, None, "validation", settings, progress=False)
    table = open_products(str(dataset))
    held_out = validation_ids(table, TrainingSplit.of(read_weights(trained.final_path).metadata, trained.final_path), progress=False)
    assert line.startswith("validation split of ") and f"ingested {len(held_out)}," in line
    catalog_ids, stored_ids = _ids(settings)
    assert catalog_ids == stored_ids == held_out
    again = ingest_split(trained.final_path, None, "validation", settings, progress=False)
    assert f"ingested 0, skipped {len(held_out)}" in again


def _ids(settings: Settings) -> tuple[set[int], set[int]]:
    from shared.storage.catalog import Catalog
    from shared.storage.vector_store import open_store

    with open_store(settings) as store:
        stored = store.all_ids(settings.collection)
    return Catalog(settings.catalog_url).product_ids(settings.collection), stored


def test_split_table_keeps_the_rows_of_the_ids(dataset: Path) -> None:
    table = open_products(str(dataset))
    rows = split_table(table, {1003, 1050, 1119})
    assert len(rows) == 3 and rows.ids() == [1003, 1050, 1119]
    assert [rows[i].id for i in range(3)] == [1003, 1050, 1119]
    assert rows[1].image is not None


def test_weights_without_a_training_split_are_refused_for_validation(tmp_path: Path) -> None:
    weights = tiny_weights(tmp_path / "tiny.pt")
    settings = Settings(data_dir=tmp_path / "work", qdrant_url="edge", collection="search_eval_validation")
    with pytest.raises(GalleryError, match=r"record no training split .*--split all"):
        ingest_split(str(weights), None, "validation", settings, progress=False)
