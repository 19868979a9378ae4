"""Product datasets: one reader for every layout the project accepts.

A dataset is given as one string, resolved in this order:

1. a local folder holding ``styles.csv`` and ``images/<id>.jpg`` (the Kaggle layout);
2. a local ``.parquet`` file, or a folder holding parquet files in the Hugging Face
   schema (like ``../shared/data/fashion-products-19k``);
3. otherwise a Hugging Face hub id (default ``ashraq/fashion-product-images-small``;
   ``ceyda/fashion-products-small`` works too).

Rows come back as :class:`Product` records holding the raw image bytes: decoding
happens later, per product, so one broken image never stops a whole run. Every
layout applies the same field rules (``shared.products.fields``): a row whose id is
not a non-negative whole number is rejected, a repeated id keeps its first row, and
both are reported by id (``rejected``, ``duplicates``); facet values get one spelling.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shared.errors import FashionSearchError
from shared.products.hub import hub_reachable, is_hub_id, offline_hub
from shared.products.fields import RowIndex, Spellings, canonical_spellings, index_rows, read_attributes
from shared.products.schema import ATTRIBUTE_FIELDS, KEYWORD_FIELDS, NAME_FIELD

__all__ = ["ATTRIBUTE_FIELDS", "KEYWORD_FIELDS", "NAME_FIELD", "DatasetError", "Product", "ProductTable", "hub_reachable", "is_hub_id", "open_products"]

ID_COLUMN = "id"
IMAGE_COLUMN = "image"


class DatasetError(FashionSearchError, ValueError):
    """A dataset that cannot be read; the message names the input and the fix."""


@dataclass(frozen=True)
class Product:
    """One catalog product: its id, the attributes it has, and its image bytes."""

    id: int
    attributes: dict[str, str | int] = field(default_factory=dict)
    image: bytes | None = None

    @property
    def display_name(self) -> str:
        name = self.attributes.get(NAME_FIELD)
        if name:
            return str(name)
        parts = [self.attributes.get(k) for k in ("gender", "baseColour", "articleType", "subCategory")]
        return " ".join(str(p) for p in parts if p) or f"product {self.id}"


class ProductTable(Protocol):
    """A sized, indexable collection of products (safe to share with DataLoader workers)."""

    name: str
    column_names: list[str]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Product: ...

    def ids(self) -> list[int]: ...

    @property
    def rejected(self) -> dict[str, str]:
        """Rows left out for an invalid id: the id as written -> why."""
        ...

    @property
    def duplicates(self) -> list[int]:
        """Ids found in more than one row (the first row is the product; the others are left out)."""
        ...


class _IndexedRows:
    """What every layout shares: the products are the rows `index` kept, in order."""

    index: RowIndex

    def __len__(self) -> int:
        return len(self.index.rows)

    def ids(self) -> list[int]:
        """Every product id, in row order, without decoding any image."""
        return list(self.index.ids)

    @property
    def rejected(self) -> dict[str, str]:
        return self.index.rejected

    @property
    def duplicates(self) -> list[int]:
        return self.index.duplicates


def _require_columns(source: str, columns: Sequence[str]) -> None:
    missing = [c for c in (ID_COLUMN, IMAGE_COLUMN) if c not in columns]
    if missing:
        raise DatasetError(
            f"dataset {source} has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns found: {', '.join(columns) or 'none'}); it needs 'id' and 'image'"
        )


class HuggingFaceProducts(_IndexedRows):
    """Products from a ``datasets.Dataset`` (hub id or local parquet), images undecoded."""

    def __init__(self, dataset: Any, name: str, index: RowIndex | None = None, spellings: Spellings | None = None) -> None:
        import datasets

        _require_columns(name, dataset.column_names)
        if isinstance(dataset.features.get(IMAGE_COLUMN), datasets.Image):
            dataset = dataset.cast_column(IMAGE_COLUMN, datasets.Image(decode=False))
        self.dataset = dataset
        self.name = name
        self.column_names = list(dataset.column_names)
        if index is None or spellings is None:  # whole columns at once: fast (row by row takes seconds)
            keywords = [key for key in KEYWORD_FIELDS if key in self.column_names]
            columns = dataset.select_columns([ID_COLUMN, *keywords]).to_dict()
            index = index if index is not None else index_rows(columns[ID_COLUMN])
            spellings = spellings if spellings is not None else {key: canonical_spellings(columns[key]) for key in keywords}
        self.index = index
        self.spellings = spellings

    def __getitem__(self, index: int) -> Product:
        row = self.dataset[self.index.rows[int(index)]]
        image = row.get(IMAGE_COLUMN)
        data = image.get("bytes") if isinstance(image, dict) else image
        if data is None and isinstance(image, dict) and image.get("path"):
            path = Path(image["path"])
            data = path.read_bytes() if path.is_file() else None
        product_id = self.index.ids[int(index)]
        return Product(product_id, read_attributes(row, self.spellings), data if isinstance(data, bytes) else None)

    def select(self, count: int) -> "HuggingFaceProducts":
        """The first `count` products (with what was left out before them)."""
        return HuggingFaceProducts(self.dataset, self.name, self.index.head(count), self.spellings)


class KaggleProducts(_IndexedRows):
    """Products from a Kaggle-layout folder: ``styles.csv`` plus ``images/<id>.jpg``."""

    def __init__(
        self,
        folder: Path,
        rows: list[dict[str, str]] | None = None,
        index: RowIndex | None = None,
        spellings: Spellings | None = None,
    ) -> None:
        self.folder = folder
        self.name = str(folder)
        if rows is None:
            rows, columns = self._read_styles(folder / "styles.csv")
        else:
            columns = list(rows[0]) if rows else []
        self.rows = rows
        self.column_names = [*columns, IMAGE_COLUMN]
        if ID_COLUMN not in columns:
            _require_columns(self.name, columns)
        self.index = index if index is not None else index_rows(row.get(ID_COLUMN) for row in rows)
        if spellings is None:
            spellings = {key: canonical_spellings(row.get(key) for row in rows) for key in KEYWORD_FIELDS if key in columns}
        self.spellings = spellings

    @staticmethod
    def _read_styles(path: Path) -> tuple[list[dict[str, str]], list[str]]:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = []
            for cells in reader:
                if not cells:
                    continue
                # The Kaggle file has display names with unquoted commas: the
                # extra cells belong to the last column.
                if len(cells) > len(header):
                    cells = [*cells[: len(header) - 1], ",".join(cells[len(header) - 1 :])]
                rows.append(dict(zip(header, cells)))
        return rows, header

    def __getitem__(self, index: int) -> Product:
        row = self.rows[self.index.rows[int(index)]]
        product_id = self.index.ids[int(index)]
        path = self.folder / "images" / f"{product_id}.jpg"
        data = path.read_bytes() if path.is_file() else None
        return Product(product_id, read_attributes(row, self.spellings), data)

    def select(self, count: int) -> "KaggleProducts":
        """The first `count` products (with what was left out before them)."""
        return KaggleProducts(self.folder, self.rows, self.index.head(count), self.spellings)


def _check_local_source(source: str, path: Path) -> None:
    """Refuse, with what to pass instead, a dataset that is neither an existing parquet/folder nor a hub id."""
    if path.is_file() and path.suffix != ".parquet":
        raise DatasetError(
            f"dataset file {source} is not a .parquet file; pass a parquet file or folder, "
            "a Kaggle folder (styles.csv + images/) or a hub id"
        )
    if not path.exists() and not is_hub_id(source):
        raise DatasetError(
            f"dataset path {source} does not exist; pass an existing parquet file or folder, "
            "a Kaggle folder (styles.csv + images/), or a hub id such as ashraq/fashion-product-images-small"
        )


def _load_hf(source: str) -> Any:
    import datasets

    path = Path(source)
    _check_local_source(source, path)
    try:
        if path.is_file() and path.suffix == ".parquet":
            return datasets.load_dataset("parquet", data_files=str(path), split="train")
        if path.is_dir():
            files = sorted(str(p) for p in path.rglob("*.parquet"))
            if not files:
                raise DatasetError(
                    f"dataset folder {source} holds neither styles.csv nor parquet files; "
                    "pass a parquet folder, a Kaggle folder (styles.csv + images/) or a hub id"
                )
            return datasets.load_dataset("parquet", data_files=files, split="train")
        if hub_reachable():
            return datasets.load_dataset(source, split="train")
        with offline_hub():  # the hub is unreachable: a cached copy still loads
            return datasets.load_dataset(source, split="train")
    except DatasetError:
        raise
    except Exception as error:  # hub unreachable, unknown id, unreadable parquet
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if path.exists():
            raise DatasetError(f"could not read dataset {source} ({first}); check that its parquet files are whole") from None
        raise DatasetError(
            f"could not load dataset {source!r} from the hub ({first}), and no local path of that name exists; "
            "check the hub id and the network, or pass a local parquet or Kaggle folder with --dataset"
        ) from None


def open_products(source: str, limit: int | None = None) -> HuggingFaceProducts | KaggleProducts:
    """Open a dataset given as a Kaggle folder, a parquet file or folder, or a hub id."""
    if limit is not None and limit < 1:
        raise DatasetError(f"--limit {limit} selects no products; give a positive number or leave it out")
    path = Path(source)
    table: HuggingFaceProducts | KaggleProducts
    if path.is_dir() and (path / "styles.csv").is_file():
        table = KaggleProducts(path)
    else:
        table = HuggingFaceProducts(_load_hf(source), source)
    if not len(table) and table.rejected:
        label, why = next(iter(table.rejected.items()))
        raise DatasetError(
            f"dataset {source}: none of its {len(table.rejected)} rows has a valid product id (e.g. {label!r}: {why}); "
            "ids must be non-negative whole numbers"
        )
    if limit is not None and limit < len(table):
        table = table.select(limit)
    return table

