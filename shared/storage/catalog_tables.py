"""The SQL tables of the catalog, and the check every product row passes before a write.

The ``products`` columns derive from the product schema (``shared.products.schema``):
a keyword field is a ``String`` of its length, an integer an ``Integer``, text a
``Text``. Rows are checked against those column definitions (:func:`check_product_row`),
so every database accepts the same rows.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, SmallInteger, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from shared.errors import FashionSearchError
from shared.products.schema import ATTRIBUTE_FIELDS, PRODUCT_FIELDS, ProductField

_INTEGER_BITS = {SmallInteger: 16, BigInteger: 64, Integer: 32}  # most specific type first


class InvalidProductError(FashionSearchError, ValueError):
    """A product row that no catalog column can hold; the message names the field and the limit."""


class Base(DeclarativeBase):
    pass


def sql_type(field: ProductField) -> TypeEngine[Any]:
    """The SQL column type of a product field."""
    if field.kind == "integer":
        return Integer()
    if field.kind == "keyword" and field.sql_length is not None:
        return String(field.sql_length)
    return Text()


def product_columns(fields: Sequence[ProductField] = PRODUCT_FIELDS) -> dict[str, Any]:
    """The ``products`` table's columns, keys first, then one per schema field, then the image path."""
    return {
        "collection": mapped_column(String(255), primary_key=True),
        "id": mapped_column(BigInteger, primary_key=True, autoincrement=False),
        **{f.name: mapped_column(sql_type(f), index=f.sql_index, nullable=True) for f in fields},
        "image_path": mapped_column(Text, nullable=True),
    }


def _to_dict(self: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": self.id}
    for key in ATTRIBUTE_FIELDS:
        value = getattr(self, key)
        if value is not None:
            data[key] = value
    data["image_path"] = self.image_path
    return data


ProductRecord: Any = type(
    "ProductRecord",
    (Base,),
    {
        "__doc__": "One product of one collection: every catalog attribute and its image path.",
        "__tablename__": "products",
        "__module__": __name__,
        **product_columns(),
        "to_dict": _to_dict,
    },
)


class CollectionStore(Base):
    """Which vector store a collection's rows belong to (see ``Catalog.claim_collection``)."""

    __tablename__ = "collection_stores"

    collection: Mapped[str] = mapped_column(String(255), primary_key=True)
    store: Mapped[str] = mapped_column(Text)


class IngestRun(Base):
    """One run of ``python -m ingest``; ``finished_at`` is empty for an interrupted run."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(255), index=True)
    model_name: Mapped[str] = mapped_column(String(255))
    pretrained: Mapped[str | None] = mapped_column(String(255))
    weights_path: Mapped[str | None] = mapped_column(Text)
    weights_sha256: Mapped[str | None] = mapped_column(String(64))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    dataset: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(32))
    requested: Mapped[int] = mapped_column(Integer, default=0)
    ingested: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    failed_ids: Mapped[str] = mapped_column(Text, default="[]")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def _check_value(column: Column[Any], value: Any) -> Any:
    """The value as the column stores it; InvalidProductError if no database could hold it."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, String):
        cleaned = str(value).replace("\x00", "")  # PostgreSQL text cannot hold NUL bytes
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidProductError(f"{column.name} is not valid UTF-8 text") from None
        if kind.length is not None and len(cleaned) > kind.length:
            raise InvalidProductError(
                f"{column.name} has {len(cleaned)} characters, more than the {kind.length} the catalog holds"
            )
        return cleaned.strip() or None
    if isinstance(kind, Integer):
        bits = next(b for t, b in _INTEGER_BITS.items() if isinstance(kind, t))
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InvalidProductError(f"{column.name} {value!r} is not a whole number")
        if not -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1):
            raise InvalidProductError(f"{column.name} {value} is out of range (a {bits}-bit integer)")
        return int(value)
    return value


def check_product_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row normalised for the ``products`` table (NUL bytes stripped, blank text dropped).

    Raises InvalidProductError for a value no catalog database can hold (text longer
    than its column, an integer out of its column's range, text that is not UTF-8),
    the same on every dialect, so a row is refused before anything is written.
    """
    columns = ProductRecord.__table__.columns
    checked: dict[str, Any] = {"id": _check_value(columns["id"], row["id"])}
    for key in (*ATTRIBUTE_FIELDS, "image_path"):
        value = _check_value(columns[key], row.get(key))
        if value is not None:
            checked[key] = value
    return checked
