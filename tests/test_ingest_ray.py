"""`python -m ingest --engine ray` on a local 2-CPU Ray cluster, against the plain engine on the same data."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.pipeline import IngestOptions, IngestSummary, ingest
from shared.model_spec import ModelSpec, spec_from_flags
from shared.models import LoadedModel
from shared.products.datasets import open_products
from shared.settings import Settings
from shared.storage.catalog import Catalog
from shared.storage.vector_store import open_store
from tests.ingest_cli import TINY, run_cli
from tests.synthetic import make_rows, write_parquet

import ray  # the distributed extra, part of dev: these tests fail, never skip, without it
from ingest.ray_engine import ProductEmbedder, RayOptions, ingest_on_ray

MARKER_DIR = "INGEST_RAY_TEST_MARKERS"
BROKEN = {1003: b"\xff\xd8\xff not a jpeg", 1017: b"", 1030: b"hello"}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local Ray cluster of 2 CPUs; yields a folder its workers see (through the environment) for marker files."""
    markers = tmp_path_factory.mktemp("markers")
    os.environ[MARKER_DIR] = str(markers)  # the cluster's workers inherit it
    os.environ.setdefault("RAY_worker_register_timeout_seconds", "600")  # a busy CI machine starts workers slowly
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield markers
    ray.shutdown()
    os.environ.pop(MARKER_DIR, None)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = make_rows(40)
    for row in rows:
        row["image"] = BROKEN.get(row["id"], row["image"])
    return write_parquet(tmp_path_factory.mktemp("ray-data"), rows)


class DiesOnce(ProductEmbedder):
    """An embedding actor whose first batch kills its process, once per cluster (a marker file remembers)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        marker = Path(os.environ[MARKER_DIR]) / "embedder-died"
        if not marker.exists():
            marker.touch()
            os._exit(1)
        return super().__call__(batch)


def _spec() -> ModelSpec:
    return spec_from_flags("tiny-test", None, None)


def _run(engine: str, model: LoadedModel, dataset: Path, data_dir: Path, embedder: type[ProductEmbedder] = ProductEmbedder) -> IngestSummary:
    settings = Settings(data_dir=data_dir, qdrant_url="edge", database_url=os.environ.get("TEST_CATALOG_URL"))
    table = open_products(str(dataset))
    data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(settings.catalog_url)
    options = IngestOptions(settings.collection, str(dataset), settings.images_dir, batch_size=8, workers=0, progress=False)
    with open_store(settings) as store:
        if engine == "plain":
            return ingest(model, table, store, catalog, options)
        return ingest_on_ray(_spec(), model, table, store, catalog, settings, options, RayOptions(concurrency=1, write_batch_size=16), embedder)


def _stored(data_dir: Path) -> tuple[dict[int, dict[str, Any]], dict[int, np.ndarray], dict[int, np.ndarray]]:
    """The catalog rows (image file names only) and the image and text vectors, by product id."""
    settings = Settings(data_dir=data_dir, qdrant_url="edge")
    catalog = Catalog(settings.catalog_url)
    rows = catalog.get_products(settings.collection, sorted(catalog.product_ids(settings.collection)))
    rows = {i: {**row, "image_path": Path(row["image_path"]).name} for i, row in rows.items()}
    with open_store(settings) as store:
        ids = store.all_ids(settings.collection)
        assert ids == set(rows), "the store and the catalog hold different ids"
        return rows, store.retrieve_vectors(settings.collection, ids), store.retrieve_vectors(settings.collection, ids, using="text")


@pytest.mark.slow
def test_ray_stores_what_the_plain_engine_stores_and_a_rerun_adds_nothing(
    ray_cluster: Path, dataset: Path, tiny: LoadedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _run("plain", tiny, dataset, tmp_path / "plain")
    on_ray = _run("ray", tiny, dataset, tmp_path / "ray")
    assert (on_ray.requested, on_ray.ingested, on_ray.skipped) == (plain.requested, plain.ingested, plain.skipped) == (40, 37, 0)
    assert sorted(on_ray.failed) == sorted(plain.failed) == sorted(BROKEN)
    plain_rows, plain_images, plain_texts = _stored(tmp_path / "plain")
    ray_rows, ray_images, ray_texts = _stored(tmp_path / "ray")
    assert ray_rows == plain_rows and len(ray_rows) == 37
    for product_id in plain_rows:
        np.testing.assert_allclose(ray_images[product_id], plain_images[product_id], atol=1e-5)
        np.testing.assert_allclose(ray_texts[product_id], plain_texts[product_id], atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "ray" / "images" / "fashion_products").glob("*")) == sorted(r["image_path"] for r in ray_rows.values())

    args = [*TINY, "--dataset", str(dataset), "--data-dir", str(tmp_path / "ray"), "--qdrant", "edge", "--engine", "ray"]
    code, out, err = run_cli(capsys, *args, "--concurrency", "2")  # two actors would leave no CPU to decode on
    assert code == 2 and err.splitlines()[-1].startswith("error: --concurrency 2: the Ray cluster has 2 CPUs")
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "ingested 0, skipped 37 (already stored), failed 3 of 40" in out
    assert "failed ids: 1003, 1017, 1030" in out
    assert _stored(tmp_path / "ray")[0] == plain_rows


@pytest.mark.slow
def test_a_killed_embedding_actor_is_restarted_and_the_run_completes(
    ray_cluster: Path, dataset: Path, tiny: LoadedModel, tmp_path: Path
) -> None:
    summary = _run("ray", tiny, dataset, tmp_path, embedder=DiesOnce)
    assert (ray_cluster / "embedder-died").exists(), "the actor never died: the test tested nothing"
    assert (summary.ingested, len(summary.failed)) == (37, 3)
    rows, images, texts = _stored(tmp_path)
    expected = {row["id"] for row in make_rows(40)} - set(BROKEN)
    assert set(rows) == set(images) == set(texts) == expected


@pytest.mark.slow
def test_ray_ingest_into_a_postgres_catalog(ray_cluster: Path, dataset: Path, tiny: LoadedModel, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CATALOG_URL", postgres_url)
    summary = _run("ray", tiny, dataset, tmp_path)
    assert (summary.ingested, sorted(summary.failed)) == (37, sorted(BROKEN))
    catalog = Catalog(postgres_url)
    with open_store(Settings(data_dir=tmp_path, qdrant_url="edge")) as store:
        assert catalog.product_ids("fashion_products") == store.all_ids("fashion_products")
    assert len(catalog.product_ids("fashion_products")) == 37
    assert _run("ray", tiny, dataset, tmp_path).skipped == 37


def test_engine_ray_without_ray_names_the_extra(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dataset: Path, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, out, err = run_cli(capsys, *TINY, "--dataset", str(dataset), "--data-dir", str(tmp_path), "--engine", "ray")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: --engine ray needs Ray Data") and 'pip install -e ".[distributed]"' in err
    assert not tmp_path.joinpath("catalog.db").exists()


def test_ray_flags_without_engine_ray_are_refused(capsys: pytest.CaptureFixture[str], dataset: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli(capsys, *TINY, "--dataset", str(dataset), "--concurrency", "4")
    assert exited.value.code == 2 and "add --engine ray" in capsys.readouterr().err
