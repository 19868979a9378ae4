from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.synthetic import make_rows, write_kaggle, write_parquet


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
