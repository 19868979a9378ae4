"""A product's words: its display name and attributes as one text, for the ``text`` vector and BM25.

Both the text tower (the product's ``text`` vector) and BM25 read this one text, so a shopper's words
("mens navy sports shoes") meet the catalog's own values even where the display name leaves them out
("Nike Downshifter"). The attributes are written in the order a shopper names them: gender, colour,
article type, then category, usage and season.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.products.schema import NAME_FIELD

DESCRIBED_FIELDS: tuple[str, ...] = ("gender", "baseColour", "articleType", "subCategory", "usage", "season")
"""Attributes written after the display name, in this order."""


def product_text(attributes: Mapping[str, Any]) -> str:
    """"<display name>. <gender> <colour> <article type>, <subcategory>, <usage>, <season>" (missing parts left out)."""
    name = str(attributes.get(NAME_FIELD) or "").strip()
    values = [str(attributes[f]).strip() for f in DESCRIBED_FIELDS if attributes.get(f) not in (None, "")]
    head = " ".join(values[:3])
    described = ", ".join([head, *values[3:]]) if head else ", ".join(values[3:])
    return ". ".join(part for part in (name, described) if part)
