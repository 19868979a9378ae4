"""Search results and errors: the types shared by the retriever, the page and scripts.

Filters are the vector store's: a mapping from a catalog field to one value or a list
of values (any of them matches), plus ``"year"`` as a ``(min, max)`` range where either
end may be None (see ``shared.vector_store.base``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.datasets import ATTRIBUTE_FIELDS, NAME_FIELD


class RetrieverError(RuntimeError):
    """The retriever cannot serve this request; the message names the input and the fix."""


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
