"""The product schema: every catalog field of a product, declared once.

Each :class:`ProductField` names a field, its kind, its label on the search page,
whether it can be filtered (and faceted) and, for keyword fields, how many characters
the SQL catalog holds. Everything else derives from :data:`PRODUCT_FIELDS`: the SQL
columns (``shared.storage.catalog_tables``), the vector store's payload indexes
(``FILTER_FIELDS``), the payload stored with each vector (:func:`payload_of`), the
attributes read from a dataset row, and the page's labels and sidebar filters.
Adding a field is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FieldKind = Literal["keyword", "integer", "text"]
"""keyword: a short facet value (exact-match filters); integer: a whole number (range filters); text: free text."""


@dataclass(frozen=True)
class ProductField:
    """One product attribute, as the catalog, the vector store, the datasets and the page see it."""

    name: str
    kind: FieldKind
    label: str
    filterable: bool = False
    """Filtered and faceted in the vector store (it gets a payload index)."""
    sql_length: int | None = None
    """Most characters the SQL column holds (keyword fields); None: unbounded text."""
    sql_index: bool = False
    """Whether the SQL catalog indexes the column."""


PRODUCT_FIELDS: tuple[ProductField, ...] = (
    ProductField("gender", "keyword", "Gender", filterable=True, sql_length=64, sql_index=True),
    ProductField("masterCategory", "keyword", "Category", filterable=True, sql_length=128, sql_index=True),
    ProductField("subCategory", "keyword", "Subcategory", filterable=True, sql_length=128, sql_index=True),
    ProductField("articleType", "keyword", "Article type", filterable=True, sql_length=128, sql_index=True),
    ProductField("baseColour", "keyword", "Colour", filterable=True, sql_length=64),
    ProductField("season", "keyword", "Season", filterable=True, sql_length=32),
    ProductField("usage", "keyword", "Usage", filterable=True, sql_length=64),
    ProductField("year", "integer", "Year", filterable=True),
    ProductField("productDisplayName", "text", "Name"),
)
"""Every catalog attribute a product may carry (any of them may be absent), in payload order."""


def field_names(fields: Sequence[ProductField] = PRODUCT_FIELDS) -> tuple[str, ...]:
    return tuple(f.name for f in fields)


def keyword_fields(fields: Sequence[ProductField] = PRODUCT_FIELDS) -> tuple[str, ...]:
    """Facet fields: each value gets one spelling per dataset."""
    return tuple(f.name for f in fields if f.kind == "keyword")


def filter_fields(fields: Sequence[ProductField] = PRODUCT_FIELDS) -> tuple[str, ...]:
    """Payload fields that can be filtered and faceted (each has a payload index)."""
    return tuple(f.name for f in fields if f.filterable)


def sidebar_filters(fields: Sequence[ProductField] = PRODUCT_FIELDS) -> tuple[tuple[str, str], ...]:
    """(field, label) of the page's multiselect filters: the filterable keyword fields, in schema order."""
    return tuple((f.name, f.label) for f in fields if f.filterable and f.kind == "keyword")


def labels(fields: Sequence[ProductField] = PRODUCT_FIELDS) -> dict[str, str]:
    """Field name -> its label on the page."""
    return {f.name: f.label for f in fields}


def kind_of(name: str, fields: Sequence[ProductField] = PRODUCT_FIELDS) -> FieldKind | None:
    """The kind of the field called ``name`` (None for a name the schema does not hold)."""
    return next((f.kind for f in fields if f.name == name), None)


def payload_of(attributes: Mapping[str, Any], fields: Sequence[ProductField] = PRODUCT_FIELDS) -> dict[str, Any]:
    """The payload stored with a vector: every schema field the product has, in schema order."""
    return {f.name: attributes[f.name] for f in fields if f.name in attributes}


NAME_FIELD = "productDisplayName"
"""The product's display name (BM25-encoded for keyword search)."""
YEAR_FIELD = "year"
ATTRIBUTE_FIELDS: tuple[str, ...] = field_names()
KEYWORD_FIELDS: tuple[str, ...] = keyword_fields()
FILTER_FIELDS: tuple[str, ...] = filter_fields()
