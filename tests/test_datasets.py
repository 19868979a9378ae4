from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.products.datasets import DatasetError, Product, open_products
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


MESSY_IDS: list[Any] = ["1000", "3001.4", "3001.9", "2006.0", "2_004", "-5", "1000", "", "1001"]


@pytest.mark.parametrize("layout", ["parquet", "kaggle"])
def test_every_layout_applies_one_id_rule(layout: str, tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    rows = [{**row, "id": value} for row, value in zip(product_rows, MESSY_IDS)]
    folder = (write_parquet if layout == "parquet" else write_kaggle)(tmp_path / layout, rows)
    table = open_products(str(folder))
    assert table.ids() == [1000, 2006, 1001] and len(table) == 3
    assert [table[i].id for i in range(3)] == [1000, 2006, 1001]
    assert table[1].attributes["articleType"] == rows[3]["articleType"]  # 2006's own row, not a neighbour's
    assert table[2].attributes["articleType"] == rows[8]["articleType"]
    assert table.rejected == {
        "3001.4": "not a whole number", "3001.9": "not a whole number", "2_004": "not a plain whole number",
        "-5": "negative", "row 8": "empty id",
    }
    assert table.duplicates == [1000]
    limited = open_products(str(folder), limit=2)
    assert limited.ids() == [1000, 2006] and set(limited.rejected) == {"3001.4", "3001.9"} and limited.duplicates == []


def test_float_ids_are_never_truncated_into_one_product(tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    values = [3001.4, 3001.9, 3002.0, float("nan")]
    folder = write_parquet(tmp_path / "floats", [{**row, "id": v} for row, v in zip(product_rows, values)])
    table = open_products(str(folder))
    assert table.ids() == [3002] and table[0].image == product_rows[2]["image"]
    assert set(table.rejected) == {"3001.4", "3001.9", "row 4"}


def test_a_dataset_without_any_valid_id_is_refused_in_one_line(tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    folder = write_kaggle(tmp_path / "k", [{**row, "id": f"-{row['id']}"} for row in product_rows[:3]])
    with pytest.raises(DatasetError, match="none of its 3 rows has a valid product id .*negative") as caught:
        open_products(str(folder))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("layout", ["parquet", "kaggle"])
def test_facet_values_are_normalised_and_nan_is_missing(layout: str, tmp_path: Path, product_rows: list[dict[str, Any]]) -> None:
    genders = ["Men", "men", "MEN", " Men ", "Women", "WOMEN", "Women"]
    rows = [{**row, "gender": g, "baseColour": "Navy  Blue", "usage": float("nan")} for row, g in zip(product_rows, genders)]
    if layout == "kaggle":
        rows = [{**row, "usage": ""} for row in rows]  # what an empty CSV cell holds
    folder = (write_parquet if layout == "parquet" else write_kaggle)(tmp_path / layout, rows)
    table = open_products(str(folder))
    products = [table[i] for i in range(len(table))]
    assert [p.attributes["gender"] for p in products] == ["Men"] * 4 + ["Women"] * 3
    assert {p.attributes["baseColour"] for p in products} == {"Navy Blue"}
    assert all("usage" not in p.attributes for p in products)


@pytest.mark.parametrize("source", ["no/such/folder", "missing.parquet", "./here", "../shared/data/not-there"])
def test_missing_local_path_says_it_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as caught:
        open_products(source)
    message = str(caught.value)
    assert f"dataset path {source} does not exist" in message and "network" not in message


def test_a_file_that_is_not_parquet_is_named(tmp_path: Path) -> None:
    styles = tmp_path / "styles.csv"
    styles.write_text("id,gender\n1,Men\n")
    with pytest.raises(DatasetError, match="is not a .parquet file"):
        open_products(str(styles))
