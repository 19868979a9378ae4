from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.models import LoadedModel, load_model
from tests.postgres_server import PostgresUnavailable, fresh_database, postgres_server
from tests.synthetic import make_rows, write_kaggle, write_parquet

pytest_plugins = [
    "tests.search_fixtures",  # the `retriever` fixture: an ingested catalog on both store backends
    "tests.browser_fixtures",  # `page_url`, `browser`, `page`: the real page in Chromium
    "tests.shipped_fixtures",  # `finetuned_lite` and its shipped export `shipped_lite`
]


@pytest.fixture(scope="session")
def product_rows() -> list[dict[str, Any]]:
    """60 generated products: 5 article types x 6 colours x 2 genders."""
    return make_rows(60)


@pytest.fixture(scope="session")
def parquet_dataset(tmp_path_factory: pytest.TempPathFactory, product_rows: list[dict[str, Any]]) -> Path:
    return write_parquet(tmp_path_factory.mktemp("parquet"), product_rows)


@pytest.fixture(scope="session")
def kaggle_dataset(tmp_path_factory: pytest.TempPathFactory, product_rows: list[dict[str, Any]]) -> Path:
    return write_kaggle(tmp_path_factory.mktemp("kaggle"), product_rows)


@pytest.fixture(scope="module")
def tiny() -> LoadedModel:
    """The tiny ViT test model (seeded init: the same in every process)."""
    return load_model("tiny-test", None)


@pytest.fixture(scope="module")
def tiny_hf() -> LoadedModel:
    """The tiny test model with a Hugging Face text tower (like lite's)."""
    return load_model("tiny-hf-test", None)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL cluster for the session (fails, never skips, without the server binaries)."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """The URL of an empty database of its own on the session's PostgreSQL server."""
    return fresh_database(postgres_server_url)
