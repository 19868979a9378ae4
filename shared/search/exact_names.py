"""Exact-name matches: a query that is a product's display name finds that product first.

Recognised facets filter the results, but catalog labels and names disagree now and then (a name says
"Men" on a Unisex product, "Flats" on Heels; brands such as "Red Tape" read as a colour). A shopper who
types or pastes a product's exact name expects that product, so the products whose display name equals
the query (ignoring case, punctuation and spacing) among the best matches *without* the recognised
facets are put first, ahead of the facet-filtered results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.products.schema import NAME_FIELD
from shared.storage.vector_store import ScoredHit

NAME_PROBE = 10
"""How many of the best matches without the recognised facets are checked for an exact name."""
_NON_WORD = re.compile(r"[\W_]+")


def name_key(text: str) -> str:
    """A name as compared: lower case, words joined by single spaces, punctuation dropped."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def exact_name_hits(query: str, hits: Sequence[ScoredHit]) -> list[ScoredHit]:
    """The hits whose display name is the query, in their order."""
    wanted = name_key(query)
    return [h for h in hits if wanted and name_key(str(h.payload.get(NAME_FIELD) or "")) == wanted]


def with_exact_names_first(named: Sequence[ScoredHit], filtered: Sequence[ScoredHit], top_k: int, offset: int) -> list[ScoredHit]:
    """One page (``offset``, ``top_k``) of the named hits followed by the filtered ones (each product once)."""
    seen = {h.id for h in named}
    merged = [*named, *(h for h in filtered if h.id not in seen)]
    return merged[offset : offset + top_k]
