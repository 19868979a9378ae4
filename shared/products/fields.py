"""The rules for a dataset row's fields, in one place for every input layout.

- :func:`parse_product_id`: what a product id is (a non-negative whole number below 2**63).
- :func:`index_rows`: which rows of a dataset become products; rows with an invalid id are
  rejected and repeated ids dropped (the first row wins), both reported by id.
- :func:`canonical_spellings`, :func:`clean_attribute` and :func:`read_attributes`: one spelling per facet value
  (``men``, ``MEN`` and ``Men`` become the dataset's dominant spelling), missing values
  (None, NaN, empty) left out rather than stored as the text ``'nan'``.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared.errors import FashionSearchError
from shared.products.schema import ATTRIBUTE_FIELDS, kind_of

MAX_PRODUCT_ID = 2**63 - 1
"""Largest product id: the SQL catalog stores ids as signed 64-bit integers."""
_DECIMAL_TEXT = re.compile(r"^(-?)([0-9]+)(?:\.([0-9]*))?$")
_MISSING_TEXTS = frozenset({"", "nan", "none", "null"})


class ProductIdError(FashionSearchError, ValueError):
    """A value that is not a product id; the message says why."""


def parse_product_id(value: Any) -> int:
    """The product id a dataset cell holds, or ProductIdError.

    Accepted: non-negative integers below 2**63, integral floats (``2006.0``) and the
    same as text (``'2006'``, ``' 2006.0 '``). Refused, as numbers or text alike: fractions
    (``3001.4``), negatives, NaN and infinities; also booleans, empty cells and any other
    text (``'2_004'``, ``'1e3'``, ``'+5'``).
    """
    if value is None:
        raise ProductIdError("empty id")
    if isinstance(value, (bool, np.bool_)):
        raise ProductIdError("a boolean, not a number")
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ProductIdError("empty id" if math.isnan(value) else "not a finite number")
        if not float(value).is_integer():
            raise ProductIdError("not a whole number")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ProductIdError("empty id")
        decimal = _DECIMAL_TEXT.match(text)
        if decimal is None:
            raise ProductIdError("not a plain whole number")
        sign, whole, fraction = decimal.groups()
        if fraction and fraction.strip("0"):
            raise ProductIdError("not a whole number")
        number = -int(whole) if sign else int(whole)
    else:
        raise ProductIdError(f"a {type(value).__name__}, not a number")
    if number < 0:
        raise ProductIdError("negative")
    if number > MAX_PRODUCT_ID:
        raise ProductIdError("larger than 2**63 - 1")
    return number


@dataclass
class RowIndex:
    """The rows of a dataset that are products, and the rows left out (by id)."""

    rows: list[int] = field(default_factory=list)
    """Row number (in the dataset) of each product, in order."""
    ids: list[int] = field(default_factory=list)
    """The product id of each of those rows."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Invalid id as written (``row N``, counted from 1, when empty; ``id (row N)`` when repeated) -> why refused."""
    rejected_rows: dict[str, int] = field(default_factory=dict)
    """The row number of each rejected id."""
    repeated_rows: list[tuple[int, int]] = field(default_factory=list)
    """(id, row number) of each row left out because an earlier row has its id."""

    @property
    def duplicates(self) -> list[int]:
        """Ids that appear in more than one row (each later row is left out, never merged)."""
        return list(dict.fromkeys(product_id for product_id, _ in self.repeated_rows))

    def head(self, count: int) -> "RowIndex":
        """The first `count` products, and what was left out before the last of them."""
        if count >= len(self.rows):
            return self
        last_row = self.rows[count - 1] if count > 0 else -1
        kept = {label for label, row in self.rejected_rows.items() if row <= last_row}
        return RowIndex(
            self.rows[:count],
            self.ids[:count],
            {label: why for label, why in self.rejected.items() if label in kept},
            {label: row for label, row in self.rejected_rows.items() if label in kept},
            [(i, row) for i, row in self.repeated_rows if row <= last_row],
        )


def _id_label(value: Any, row: int, taken: Mapping[str, Any]) -> str:
    text = "" if value is None else str(value).strip()
    if not text or text.lower() == "nan":
        return f"row {row + 1}"
    return f"{text} (row {row + 1})" if text in taken else text


def index_rows(raw_ids: Iterable[Any]) -> RowIndex:
    """Apply :func:`parse_product_id` to every row's id: products, rejects and repeated ids."""
    index = RowIndex()
    seen: set[int] = set()
    for row, value in enumerate(raw_ids):
        try:
            product_id = parse_product_id(value)
        except ProductIdError as error:
            label = _id_label(value, row, index.rejected)
            index.rejected[label] = str(error)
            index.rejected_rows[label] = row
            continue
        if product_id in seen:
            index.repeated_rows.append((product_id, row))
            continue
        seen.add(product_id)
        index.rows.append(row)
        index.ids.append(product_id)
    return index


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(value)
    return isinstance(value, str) and value.strip().lower() in _MISSING_TEXTS


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def canonical_spellings(values: Iterable[Any]) -> dict[str, str]:
    """Case-folded value -> the spelling most rows use (ties: the first one with mixed case, else the first seen)."""
    counts: Counter[str] = Counter(_squeeze(str(v)) for v in values if not _is_missing(v))
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for spelling in counts:  # first-seen order
        groups[spelling.casefold()].append(spelling)
    chosen: dict[str, str] = {}
    for key, spellings in groups.items():
        top = max(counts[s] for s in spellings)
        tied = [s for s in spellings if counts[s] == top]
        mixed = [s for s in tied if s != s.upper() and s != s.lower()]
        chosen[key] = (mixed or tied)[0]
    return chosen


def clean_attribute(key: str, value: Any, spellings: Mapping[str, str] | None = None) -> str | int | None:
    """A row's value for one attribute: None when missing, an integer field (year) as an int, text squeezed and canonical."""
    if _is_missing(value):
        return None
    if kind_of(key) == "integer":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return int(number) if math.isfinite(number) else None
    text = _squeeze(str(value))
    if spellings is not None:
        text = spellings.get(text.casefold(), text)
    return text or None


Spellings = dict[str, dict[str, str]]
"""Keyword field -> case-folded value -> the dataset's spelling of it."""


def read_attributes(row: Mapping[str, Any], spellings: Spellings) -> dict[str, str | int]:
    """A dataset row's product attributes: every schema field the row has a value for, cleaned."""
    attrs: dict[str, str | int] = {}
    for key in ATTRIBUTE_FIELDS:
        value = clean_attribute(key, row.get(key), spellings.get(key))
        if value is not None:
            attrs[key] = value
    return attrs


def left_out_report(rejected: Mapping[str, str], duplicates: Sequence[int], shown: int = 20) -> str:
    """``"; rejected ids: ...; duplicate ids ..."`` for a summary line ('' when nothing was left out)."""
    text = ""
    if rejected:
        items = [f"{label} ({why})" for label, why in list(rejected.items())[:shown]]
        more = f" and {len(rejected) - shown} more" if len(rejected) > shown else ""
        text += f"; rejected {len(rejected)} rows with invalid ids: {', '.join(items)}{more}"
    if duplicates:
        more = f" and {len(duplicates) - shown} more" if len(duplicates) > shown else ""
        text += f"; {len(duplicates)} duplicate ids (first row kept): {', '.join(map(str, duplicates[:shown]))}{more}"
    return text
