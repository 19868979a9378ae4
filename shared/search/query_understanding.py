"""Query understanding: catalog facet values recognised in a shopper's text query, applied as soft filters.

"mens navy running shoes" -> gender Men, baseColour Navy Blue, articleType Sports Shoes.

**Vocabulary** (:class:`FacetVocabulary`): the catalog's own values of the parsed fields
(:data:`PARSED_FIELDS`), each matching its own name in any case, singular or plural, spaced, joined
or hyphenated ("Tshirts" <- tshirt, t-shirt, T shirts), plus the everyday words of
``facet_synonyms.json`` (tee, sneakers, navy, ladies...). A synonym whose value the catalog lacks is
dropped. Where one phrase names values of several fields, the most specific field keeps it
(:data:`FIELD_SPECIFICITY`: "watches" is articleType Watches, not subCategory Watches).

**Parsing** (:func:`parse_query`): the query is split into words (case folded, apostrophes dropped so
"men's" is "mens", hyphens and other punctuation split words, so "women" never matches "men"). Phrases
are matched longest first and each word is used once: "running shoes" is articleType Sports Shoes, not
usage Sports plus subCategory Shoes. Unknown words are ignored.

**Conflicting words** in one field: the values that two phrases name are narrowed to their common
values when they share any ("kids ... girls" -> Girls; "navy ... navy blue" -> Navy Blue), and
otherwise kept as an any-of filter ("black and white shirt" -> baseColour Black or White;
"men women" -> gender Men or Women). One :class:`UnderstoodFacet` is reported per value.

**Applying** (:func:`apply_facets`): facets are soft filters. The caller's own filter on a field wins
(use "overridden"), fields the caller switched off get "removed", and the rest are applied ("filter")
when at least ``min_matches`` products match. Otherwise the fewest fields are relaxed that leave enough
matches, trying the least identifying fields first (:data:`RELAX_ORDER`: usage, colour, gender,
subCategory, articleType); a relaxed facet says why ("only 3 products are Navy Blue Sports Shoes for
Women; searched without Navy Blue"). Nothing is ever a silent hard filter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import Any

from shared.products.schema import FILTER_FIELDS, labels
from shared.search.types import QueryUnderstanding, RetrieverError, UnderstoodFacet
from shared.storage.vector_store.filters import Filters

SYNONYMS_PATH = Path(__file__).with_name("facet_synonyms.json")
PARSED_FIELDS: tuple[str, ...] = ("gender", "baseColour", "articleType", "subCategory", "usage")
"""The facet fields recognised in queries; other fields (season, year...) are never parsed."""
FIELD_SPECIFICITY: tuple[str, ...] = ("articleType", "baseColour", "gender", "usage", "subCategory")
"""When one phrase names values of several fields, the first field here keeps it."""
RELAX_ORDER: tuple[str, ...] = ("usage", "baseColour", "gender", "subCategory", "articleType")
"""Least identifying first: the order in which facets are relaxed when too few products match."""
MAX_PHRASE_WORDS = 6
PLURAL_ONLY: frozenset[str] = frozenset({"shorts", "flats", "tights", "glasses", "sunglasses", "briefs", "clothes"})
"""Plurals whose singular is another word ("short sleeve", "flat knit", "tight fit"): never made singular."""

_WORD = re.compile(r"[^\W_]+(?:['\u2019\u2018`][^\W_]+)*")
_APOSTROPHE = re.compile(r"['\u2019\u2018`]")


def _singular(word: str) -> str:
    """One spelling for singular and plural: shoes -> shoe, dresses -> dress, mens -> men, ties -> tie."""
    if word in PLURAL_ONLY:
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[re.Match[str]]:
    """The words of a text (an apostrophe inside a word keeps it whole; other punctuation splits words)."""
    return list(_WORD.finditer(text))


def _spelling(word: re.Match[str]) -> str:
    """A word without its apostrophes: "men's" -> "mens"."""
    return _APOSTROPHE.sub("", word.group())


def _phrase_key(words: Sequence[str]) -> str:
    """The matching key of a phrase: case folded, each word singular, joined without spaces ("T-Shirts" -> "tshirt")."""
    return "".join(_singular(w.casefold()) for w in words)


def phrase_key(text: str) -> str:
    """The matching key of a text: "Navy Blue", "navy-blue" and "navyblue" share one key."""
    return _phrase_key([_spelling(m) for m in _words(text)])


def load_synonyms(path: Path = SYNONYMS_PATH) -> dict[str, dict[str, list[str]]]:
    """The synonym table: field -> catalog value -> phrases; a malformed file raises ValueError naming it."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the synonym table {path}: {error}; restore it from git") from None
    fields = {k: v for k, v in table.items() if not k.startswith("_")} if isinstance(table, dict) else None
    ok = fields is not None and all(
        isinstance(values, dict)
        and all(isinstance(p, list) and all(isinstance(s, str) for s in p) for p in values.values())
        for values in fields.values()
    )
    if not ok:
        raise ValueError(f"synonym table {path} must map field -> catalog value -> list of phrases; fix the file")
    return fields  # type: ignore[return-value]


@dataclass(frozen=True)
class FacetVocabulary:
    """Phrase key -> the (field, catalog value) pairs it names; build it with :meth:`from_values`."""

    entries: Mapping[str, tuple[tuple[str, str], ...]]

    @classmethod
    def from_values(
        cls, values: Mapping[str, Iterable[Any]], synonyms: Mapping[str, Mapping[str, Sequence[str]]] | None = None
    ) -> "FacetVocabulary":
        """The vocabulary of a catalog: its values per field (a facet_counts mapping works too) plus synonyms.

        Only :data:`PARSED_FIELDS` are read. A synonym is kept only if the catalog holds its value
        (matched case-insensitively; the catalog's spelling is used). A catalog value's own name
        beats a synonym of another value of the same field for the same phrase.
        """
        table = load_synonyms() if synonyms is None else synonyms
        own: dict[str, dict[str, set[str]]] = {}
        by_synonym: dict[str, dict[str, set[str]]] = {}
        for field in PARSED_FIELDS:
            catalog = {str(v).strip().casefold(): str(v).strip() for v in values.get(field, ()) if isinstance(v, str) and v.strip()}
            for value in catalog.values():
                key = phrase_key(value)
                if key:
                    own.setdefault(key, {}).setdefault(field, set()).add(value)
            for target, phrases in table.get(field, {}).items():
                value = catalog.get(target.strip().casefold())
                if value is None:
                    continue
                for phrase in phrases:
                    key = phrase_key(phrase)
                    if key:
                        by_synonym.setdefault(key, {}).setdefault(field, set()).add(value)
        entries: dict[str, tuple[tuple[str, str], ...]] = {}
        for key in own.keys() | by_synonym.keys():
            fields = {**by_synonym.get(key, {}), **own.get(key, {})}
            field = next(f for f in FIELD_SPECIFICITY if f in fields)
            entries[key] = tuple((field, value) for value in sorted(fields[field]))
        return cls(entries)

    def lookup(self, words: Sequence[str]) -> tuple[tuple[str, str], ...]:
        """The (field, value) pairs a phrase of words names; empty if none."""
        return self.entries.get(_phrase_key(words), ())

    def __len__(self) -> int:
        return len(self.entries)


def parse_query(text: str, vocabulary: FacetVocabulary) -> list[UnderstoodFacet]:
    """The facet values a query names, longest phrases first, each word used once (see the module doc).

    Each facet has use "filter" and ``phrase``, the query's own words that named it. Facets come
    in query order; a query naming nothing known gives an empty list.
    """
    if not isinstance(text, str):
        raise RetrieverError(f"a text query must be a string, got {type(text).__name__} {text!r}")
    words = _words(text)
    tokens = [_spelling(m) for m in words]
    spans: list[tuple[int, int]] = [
        (start, end)
        for start in range(len(tokens))
        for end in range(start + 1, min(len(tokens), start + MAX_PHRASE_WORDS) + 1)
        if vocabulary.lookup(tokens[start:end])
    ]
    used = [False] * len(tokens)
    chosen: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if not any(used[start:end]):
            used[start:end] = [True] * (end - start)
            chosen.append((start, end))
    by_field: dict[str, list[tuple[str, set[str]]]] = {}
    for start, end in sorted(chosen):
        phrase = text[words[start].start() : words[end - 1].end()]
        for field, value in vocabulary.lookup(tokens[start:end]):
            named = by_field.setdefault(field, [])
            if named and named[-1][0] == phrase:
                named[-1][1].add(value)
            else:
                named.append((phrase, {value}))
    facets: list[UnderstoodFacet] = []
    for field, named in by_field.items():
        for phrase, value in _settle(named):
            facets.append(UnderstoodFacet(field, value, phrase))
    return facets


def _settle(named: list[tuple[str, set[str]]]) -> list[tuple[str, str]]:
    """(phrase, value) of one field's phrases: overlapping value sets narrowed to their common values, others any-of."""
    groups: list[tuple[list[str], set[str]]] = []
    for phrase, values in named:
        for phrases, kept in groups:
            if kept & values:
                kept.intersection_update(values)
                phrases.append(phrase)
                break
        else:
            groups.append(([phrase], set(values)))
    return [(", ".join(phrases), value) for phrases, kept in groups for value in sorted(kept)]


def facet_filters(facets: Iterable[UnderstoodFacet]) -> dict[str, str | list[str]]:
    """The store filters of facets: field -> one value, or a list of values (any of them)."""
    by_field: dict[str, list[str]] = {}
    for facet in facets:
        values = by_field.setdefault(facet.field, [])
        if facet.value not in values:
            values.append(facet.value)
    return {field: values[0] if len(values) == 1 else values for field, values in by_field.items()}


def describe(facets: Iterable[UnderstoodFacet]) -> str:
    """The products that facets describe, as a shopper reads it: "Navy Blue Sports Shoes for Women"."""
    values = facet_filters(facets)

    def spelled(field: str) -> str:
        value = values.get(field)
        return " or ".join(value) if isinstance(value, list) else (value or "")

    thing = spelled("articleType") or spelled("subCategory") or "products"
    text = " ".join(part for part in (spelled("baseColour"), thing) if part)
    if "gender" in values:
        text += f" for {spelled('gender')}"
    if "usage" in values:
        text += f", {spelled('usage')} use"
    return text


def _caller_has(filters: Filters, field: str) -> bool:
    value = filters.get(field)
    return value is not None and not (isinstance(value, (list, tuple, set, frozenset)) and not value)


def apply_facets(
    facets: Sequence[UnderstoodFacet],
    filters: Filters | None,
    count: Callable[[Filters], int],
    min_matches: int,
    ignore_fields: Iterable[str] = (),
    *,
    query: str = "",
) -> tuple[dict[str, Any], QueryUnderstanding]:
    """The effective filters (the caller's plus the applied facets) and how each facet was used.

    ``count`` gives how many products a filter mapping admits (the store's count). See the module
    doc for the rules; ``query`` is recorded in the returned :class:`QueryUnderstanding`.
    """
    if isinstance(min_matches, bool) or not isinstance(min_matches, int) or min_matches < 0:
        raise RetrieverError(f"min_matches={min_matches!r} must be a whole number of 0 or more, such as 10")
    ignored = {ignore_fields} if isinstance(ignore_fields, str) else set(ignore_fields)
    unknown = sorted(ignored - set(FILTER_FIELDS))
    if unknown:
        raise RetrieverError(f"cannot ignore unknown facet field(s) {', '.join(map(repr, unknown))}; use any of {', '.join(FILTER_FIELDS)}")
    caller = dict(filters or {})
    names = labels()
    settled: dict[int, UnderstoodFacet] = {}
    candidates: list[UnderstoodFacet] = []
    for index, facet in enumerate(facets):
        if _caller_has(caller, facet.field):
            reason = f"your own {names.get(facet.field, facet.field)} filter is used instead"
            settled[index] = replace(facet, use="overridden", reason=reason)
        elif facet.field in ignored:
            settled[index] = replace(facet, use="removed", reason="switched off")
        else:
            candidates.append(facet)
    kept_fields, matches = _fields_to_keep(candidates, caller, count, min_matches)
    kept = [f for f in candidates if f.field in kept_fields]
    summary = ""
    if len(kept) < len(candidates):
        noun = "product is" if matches == 1 else "products are"
        summary = f"only {matches} {noun} {describe(candidates)}"
    for index, facet in enumerate(facets):
        if index in settled:
            continue
        if facet.field in kept_fields:
            settled[index] = replace(facet, use="filter", reason="")
        else:
            settled[index] = replace(facet, use="relaxed", reason=f"{summary}; searched without {facet.value}")
    effective = {**caller, **facet_filters(kept)}
    return effective, QueryUnderstanding(query, tuple(settled[i] for i in range(len(facets))))


def _fields_to_keep(
    candidates: Sequence[UnderstoodFacet], caller: Filters, count: Callable[[Filters], int], min_matches: int
) -> tuple[set[str], int]:
    """The most candidate fields that still leave ``min_matches`` products (dropping least identifying
    first), and how many products all candidates together admit."""
    fields = list(dict.fromkeys(f.field for f in candidates))
    if not fields:
        return set(), 0
    rank = {field: i for i, field in enumerate(RELAX_ORDER)}
    fields.sort(key=lambda f: rank.get(f, -1))  # fields outside RELAX_ORDER are relaxed first
    matches = count({**caller, **facet_filters(candidates)})
    if matches >= min_matches:
        return set(fields), matches
    if count(caller) < min_matches:  # facets only narrow: no subset can reach min_matches
        return set(), matches
    for dropped in range(1, len(fields)):
        for relaxed in combinations(fields, dropped):
            kept = [f for f in candidates if f.field not in relaxed]
            if count({**caller, **facet_filters(kept)}) >= min_matches:
                return {f.field for f in kept}, matches
    return set(), matches
