from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.datasets import DatasetError, Product, open_products
from tests.synthetic import write_kaggle, write_parquet


@pytest.mark.parametrize("layout", ["parquet", "kaggle"])
def test_every_layout_reads_the_same_products(layout: str, request: pytest.FixtureRequest, product_rows: list[dict[str, Any]]) -> None:
    folder: Path = request.getfixturevalue(f"{layout}_dataset")
    table = open_products(str(folder))
    assert len(table) == len(product_rows)
    assert table.ids() == [row["id"] for row in product_rows]
    product = table[7]
    row = product_rows[7]
    assert product.id == row["id"]
    assert product.image == row["image"]
    assert product.attributes["articleType"] == row["articleType"]
    assert product.attributes["year"] == row["year"] and isinstance(product.attributes["year"], int)
    assert product.display_name == row["productDisplayName"]


def test_single_parquet_file_and_limit(parquet_dataset: Path) -> None:
    table = open_products(str(parquet_dataset / "train-00000-of-00001.parquet"), limit=5)
    assert len(table) == 5 and table[4].id == table.ids()[4]


def test_missing_attribute_columns_are_fine(tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    folder = write_parquet(tmp_path / "few", product_rows[:4], drop=("articleType", "baseColour", "productDisplayName"))
    product = open_products(str(folder))[0]
    assert "articleType" not in product.attributes
    assert product.attributes["gender"] == product_rows[0]["gender"]
    assert product.display_name  # built from what is there


@pytest.mark.parametrize("missing", ["id", "image"])
def test_missing_id_or_image_column_lists_the_columns(tmp_path: Path, product_rows: list[dict[str, Any]], missing: str) -> None:
    folder = write_parquet(tmp_path / "bad", product_rows[:3], drop=(missing,))
    with pytest.raises(DatasetError) as caught:
        open_products(str(folder))
    message = str(caught.value)
    assert repr(missing) in message and "columns found:" in message and "gender" in message
    assert "\n" not in message


def test_kaggle_display_names_with_unquoted_commas(tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    folder = write_kaggle(tmp_path / "k", product_rows[:2])
    styles = folder / "styles.csv"
    lines = styles.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",Men Red, Blue Tshirts"
    styles.write_text("\n".join(lines) + "\n")
    assert open_products(str(folder))[0].display_name == "Men Red, Blue Tshirts"


def test_kaggle_missing_image_file_gives_no_bytes(tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    folder = write_kaggle(tmp_path / "k", product_rows[:2])
    (folder / "images" / f"{product_rows[1]['id']}.jpg").unlink()
    assert open_products(str(folder))[1].image is None


def test_empty_folder_and_unknown_hub_id_fail_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="neither styles.csv nor parquet"):
        open_products(str(tmp_path))
    with pytest.raises(DatasetError, match="--dataset"):  # no network here: fails fast, no retries
        open_products("no-such-user/no-such-dataset-xyz")


def test_non_positive_limit_is_refused(parquet_dataset: Path) -> None:
    with pytest.raises(DatasetError, match="--limit 0"):
        open_products(str(parquet_dataset), limit=0)


def test_display_name_falls_back_to_attributes() -> None:
    assert Product(5, {"gender": "Women", "baseColour": "Red", "articleType": "Tops"}).display_name == "Women Red Tops"
    assert Product(5).display_name == "product 5"
