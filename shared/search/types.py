"""Search results and errors: the types shared by the retriever, the page and scripts.

Filters are the vector store's: a mapping from a catalog field to one value or a list
of values (any of them matches), plus ``"year"`` as a ``(min, max)`` range where either
end may be None, or a ``YearRange`` (see ``shared.storage.vector_store.filters``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

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


# -- search modes and query understanding (issue 8) ------------------------------------------
SearchMode = Literal["fused", "image_vectors", "text_vectors", "keywords"]
"""How a text query is matched:

- ``"fused"`` (default): text->image vectors, text->text vectors (each product's name and attributes
  embedded by the text tower) and BM25 keywords on the same text, fused by weighted reciprocal rank;
- ``"image_vectors"``: text->image vectors only (pure CLIP retrieval, what model benchmarks measure);
- ``"text_vectors"``: text->text vectors only;
- ``"keywords"``: BM25 only.
"""
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)

FacetUse = Literal["filter", "relaxed", "overridden", "removed"]
"""How a recognised facet was used: ``"filter"`` (applied as a filter), ``"relaxed"`` (not applied: too few
products match with it; the search ran without it), ``"overridden"`` (the caller's own filter on that field
wins), ``"removed"`` (the caller switched it off, e.g. the chip's x on the page)."""


@dataclass(frozen=True)
class UnderstoodFacet:
    """A catalog facet value recognised in a query ("mens" -> gender Men) and how it was used."""

    field: str
    value: str
    phrase: str
    use: FacetUse = "filter"
    reason: str = ""

    @property
    def label(self) -> str:
        """The value as a shopper reads it on a chip ("Navy Blue")."""
        return self.value

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "value": self.value, "phrase": self.phrase, "use": self.use, "reason": self.reason}


@dataclass(frozen=True)
class QueryUnderstanding:
    """What was recognised in a text query, and how each part was applied."""

    query: str
    facets: tuple[UnderstoodFacet, ...] = ()

    @property
    def applied(self) -> tuple[UnderstoodFacet, ...]:
        return tuple(f for f in self.facets if f.use == "filter")

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "facets": [f.to_dict() for f in self.facets]}


class SearchResults(list[SearchResult]):
    """A page of results (a plain list of :class:`SearchResult`), plus how the query was run.

    ``mode``: the :data:`SearchMode` (or ``"image"``, ``"recommend"``); ``understanding``: the facets
    recognised in the text query and how each was applied (None when understanding was off or there was
    no text); ``total``: how many products the effective filters admit (None when not counted).
    """

    def __init__(
        self,
        results: Sequence[SearchResult] = (),
        *,
        mode: str = "fused",
        understanding: QueryUnderstanding | None = None,
        total: int | None = None,
    ) -> None:
        super().__init__(results)
        self.mode = mode
        self.understanding = understanding
        self.total = total


@dataclass(frozen=True)
class FusionWeights:
    """Weighted-RRF weights of the legs of a fused query (0 leaves a leg out).

    The defaults are the best of a 27-point grid on the shipped model's validation split (3,030 products it
    never trained on): shopper P@10 0.937 and display-name Hit@10 0.940, against 0.931 / 0.937 with every
    weight 1 (``python -m finetune.evaluate_search --split validation --tune``; BENCHMARKS.md). The
    text->image leg did not help there: the product's own words carry what shoppers type; give it a weight
    for catalogs whose names and attributes say little.

    ``image``: text query -> image vectors; ``text``: text query -> text vectors (name and attributes);
    ``keywords``: BM25 on the same text. (A photo query is one leg: the photo's embedding, blended with
    the words' when there are any; see ``shared.search.query_plan``.)
    """

    image: float = 0.0
    text: float = 2.0
    keywords: float = 0.5

    def __post_init__(self) -> None:
        for name in ("image", "text", "keywords"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise RetrieverError(f"fusion weight {name}={value!r} must be a number of 0 or more")
        if not (self.image or self.text or self.keywords):
            raise RetrieverError("fusion weights are all 0, which leaves no leg to search; give one a positive weight")
