"""The product schema: every place that lists product fields derives from it, so a new field is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import Integer, String, Text

from shared.storage.catalog import ProductRecord
from shared.products.schema import (
    ATTRIBUTE_FIELDS,
    FILTER_FIELDS,
    KEYWORD_FIELDS,
    PRODUCT_FIELDS,
    ProductField,
    labels,
    payload_of,
    sidebar_filters,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_schema_gives_the_fields_every_layer_used_before() -> None:
    keywords = ("gender", "masterCategory", "subCategory", "articleType", "baseColour", "season", "usage")
    assert KEYWORD_FIELDS == keywords
    assert ATTRIBUTE_FIELDS == (*keywords, "year", "productDisplayName")
    assert FILTER_FIELDS == (*keywords, "year")
    assert sidebar_filters()[:2] == (("gender", "Gender"), ("masterCategory", "Category"))
    assert [name for name, _ in sidebar_filters()] == list(keywords)
    assert labels()["year"] == "Year"
    assert payload_of({"year": 2012, "gender": "Men", "image_path": "x.jpg"}) == {"gender": "Men", "year": 2012}


def test_sql_columns_keep_their_names_types_lengths_and_indexes() -> None:
    """Existing catalogs still open: the products table is what it was before the schema."""
    columns = ProductRecord.__table__.columns
    assert list(columns.keys()) == ["collection", "id", *ATTRIBUTE_FIELDS, "image_path"]
    lengths = {"gender": 64, "masterCategory": 128, "subCategory": 128, "articleType": 128, "baseColour": 64,
               "season": 32, "usage": 64}
    for name, length in lengths.items():
        assert isinstance(columns[name].type, String) and columns[name].type.length == length
        assert columns[name].nullable
    assert isinstance(columns["year"].type, Integer)
    assert isinstance(columns["productDisplayName"].type, Text) and isinstance(columns["image_path"].type, Text)
    indexed = {index.name for index in ProductRecord.__table__.indexes}
    assert indexed == {f"ix_products_{name}" for name in ("gender", "masterCategory", "subCategory", "articleType")}
    assert [c.name for c in ProductRecord.__table__.primary_key.columns] == ["collection", "id"]


def test_every_field_has_a_label_and_a_known_kind() -> None:
    assert len({f.name for f in PRODUCT_FIELDS}) == len(PRODUCT_FIELDS)
    assert all(f.label and f.kind in ("keyword", "integer", "text") for f in PRODUCT_FIELDS)
    assert all(f.sql_length is not None for f in PRODUCT_FIELDS if f.kind == "keyword")


NEW_FIELD = '    ProductField("material", "keyword", "Material", filterable=True, sql_length=16),\n'
ONE_MORE_FIELD = f'''
import pathlib, sys, types
source = pathlib.Path("shared/products/schema.py").read_text()
anchor = '    ProductField("productDisplayName", "text", "Name"),\\n'
assert source.count(anchor) == 1
import shared
module = types.ModuleType("shared.products.schema")
module.__file__ = "shared/products/schema.py"
sys.modules["shared.products.schema"] = module
exec(compile(source.replace(anchor, anchor + {NEW_FIELD!r}), module.__file__, "exec"), module.__dict__)

import numpy as np
from sqlalchemy import String
from shared.storage.catalog import Catalog, CatalogError, ProductRecord
from shared.products.datasets import KaggleProducts
from shared.products.schema import payload_of
from shared.storage.vector_store import VectorPoint
from shared.storage.vector_store.base import FILTER_FIELDS
from shared.storage.vector_store.edge import EdgeStore
from search_ui.filters import FIELD_LABELS
from search_ui.state import FILTER_FIELDS as SIDEBAR

tmp = pathlib.Path(sys.argv[1])
column = ProductRecord.__table__.columns["material"]
assert isinstance(column.type, String) and column.type.length == 16, column.type
catalog = Catalog(f"sqlite:///{{tmp / 'catalog.db'}}")
catalog.upsert_products("c", [{{"id": 1, "material": "Silk"}}])
assert catalog.get_products("c", [1])[1]["material"] == "Silk"
try:
    catalog.upsert_products("c", [{{"id": 2, "material": "x" * 17}}])
    raise SystemExit("a too-long material was stored")
except CatalogError as error:
    assert "material has 17 characters, more than the 16" in str(error), error

folder = tmp / "kaggle"
(folder / "images").mkdir(parents=True)
(folder / "styles.csv").write_text("id,gender,material\\n1,Men,silk\\n2,Women,Silk\\n3,Women,Silk\\n")
products = KaggleProducts(folder)
assert products[0].attributes == {{"gender": "Men", "material": "Silk"}}, products[0].attributes
assert payload_of(products[0].attributes) == {{"gender": "Men", "material": "Silk"}}

assert "material" in FILTER_FIELDS
store = EdgeStore(tmp / "edge")
store.create_collection("c", 4)
vectors = np.eye(4, dtype=np.float32)
store.upsert("c", [VectorPoint(i, vectors[i], payload_of(products[i].attributes)) for i in range(3)])
assert store.count("c", {{"material": ["Silk"]}}) == 3
assert store.facet_counts("c", "material") == {{"Silk": 3}}
store.close()

assert ("material", "Material") in SIDEBAR and FIELD_LABELS["material"] == "Material"
print("ok")
'''


def test_adding_a_field_is_one_line(tmp_path: Path) -> None:
    """One more line in PRODUCT_FIELDS (in a fresh interpreter, the real schema untouched) gives the field
    an SQL column with its length, a place in dataset attributes and payloads, a filterable payload index,
    and a labelled sidebar filter."""
    result = subprocess.run(
        [sys.executable, "-c", ONE_MORE_FIELD, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    assert "material" not in ATTRIBUTE_FIELDS  # the real schema is unchanged
    assert ProductField("material", "keyword", "Material") not in PRODUCT_FIELDS
