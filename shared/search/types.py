"""Search results and errors: the types shared by the retriever, the page and scripts.

Filters are the vector store's: a mapping from a catalog field to one value or a list
of values (any of them matches), plus ``"year"`` as a ``(min, max)`` range where either
end may be None, or a ``YearRange`` (see ``shared.storage.vector_store.filters``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import FashionSearchError
from shared.products.schema import ATTRIBUTE_FIELDS, NAME_FIELD


class RetrieverError(FashionSearchError, RuntimeError):
    """The retriever cannot serve this request; the message names the input and the fix."""


def check_query_text(text: object) -> str:
    """A text query without surrounding blanks, or RetrieverError: not a string, empty, or not valid text."""
    if not isinstance(text, str):
        raise RetrieverError(f"a text query must be a string, got {type(text).__name__} {text!r}")
    stripped = text.strip()
    if not stripped:
        raise RetrieverError("empty text query; type a few words such as 'red summer dress'")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RetrieverError(
            f"text query holds a character that is not valid text (lone surrogate {stripped[error.start]!r} "
            f"at position {error.start}); type or paste the query again"
        ) from None
    return stripped


def check_text_weight(text_weight: object) -> float:
    """text_weight as a float from 0 (image only) to 1 (text only), or RetrieverError."""
    if isinstance(text_weight, bool) or not isinstance(text_weight, (int, float)) or not 0.0 <= text_weight <= 1.0:
        raise RetrieverError(f"text_weight={text_weight!r} must be a number from 0 (image only) to 1 (text only)")
    return float(text_weight)


class CollectionMissingError(RetrieverError):
    """The collection was never ingested; ``command`` is the ingest command that fills it."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


@dataclass(frozen=True)
class SearchResult:
    """One hit: the product id, its score, every catalog attribute and its image path."""

    id: int
    score: float
    attributes: dict[str, Any] = field(default_factory=dict)
    image_path: str | None = None

    @property
    def display_name(self) -> str:
        return str(self.attributes.get(NAME_FIELD) or f"product {self.id}")

    def get(self, key: str, default: Any = None) -> Any:
        return self.attributes.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, **self.attributes, "image_path": self.image_path}

    @classmethod
    def from_record(cls, product_id: int, score: float, record: Mapping[str, Any]) -> "SearchResult":
        attributes = {k: record[k] for k in ATTRIBUTE_FIELDS if record.get(k) is not None}
        return cls(int(product_id), float(score), attributes, record.get("image_path"))
