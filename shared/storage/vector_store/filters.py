"""Payload filters: the filterable fields, the year range, validation into conditions.

A filter is a mapping from a field to one accepted value or a list of them (any matches);
``"year"`` also takes a :class:`YearRange`. The older ``(min, max)`` tuple form of a year
range is still accepted and converted here. Every backend receives validated
:class:`Condition` objects only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Optional, TypeAlias, Union

from shared.products.schema import FILTER_FIELDS, YEAR_FIELD, kind_of
from shared.storage.vector_store.checks import check_text, is_whole_number
from shared.storage.vector_store.errors import FilterError

IndexKind: TypeAlias = Literal["integer", "keyword"]


@dataclass(frozen=True)
class YearRange:
    """An inclusive range of years; None leaves that end open."""

    minimum: int | None = None
    maximum: int | None = None


FilterValue: TypeAlias = Union[
    str, int, Sequence[Union[str, int]], YearRange, tuple[Optional[int], Optional[int]], None
]
Filters: TypeAlias = Mapping[str, FilterValue]
"""Field -> one value, or a list of accepted values; ``"year"`` -> a YearRange (or (min, max))."""


@dataclass(frozen=True)
class Condition:
    """One validated filter condition: a set of accepted values, or an inclusive range."""

    field: str
    values: tuple[str | int, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def accepts(self, payload: Mapping[str, Any]) -> bool:
        """Whether a payload satisfies this condition (used for fallbacks and checks)."""
        value = payload.get(self.field)
        if value is None:
            return False
        if self.values is not None:
            return value in self.values
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


def index_kind(field_name: str) -> IndexKind:
    """The payload index a filterable field gets: integer for the schema's integer fields, keyword otherwise."""
    return "integer" if kind_of(field_name) == "integer" else "keyword"


def check_filter_field(field_name: str) -> None:
    """Raise FilterError unless field_name is a filterable payload field."""
    if field_name not in FILTER_FIELDS:
        raise FilterError(
            f"unknown filter field {field_name!r}; allowed fields: {', '.join(FILTER_FIELDS)}"
        )


def _year_bound(value: object, which: str) -> int | None:
    if value is None:
        return None
    if not is_whole_number(value):
        raise FilterError(f"year filter {which} must be an integer or None, got {value!r}")
    year = int(value)  # type: ignore[call-overload]
    if not -(2**63) <= year <= 2**63 - 1:
        raise FilterError(f"year filter {which} {year} is out of range; give a year such as 2012")
    return year


def _year_range(value: YearRange | tuple[object, ...]) -> Condition | None:
    if isinstance(value, tuple):  # the older (min, max) form
        if len(value) != 2:
            raise FilterError(f"year range must be (min | None, max | None), got {value!r}")
        value = YearRange(value[0], value[1])  # type: ignore[arg-type]
    low, high = _year_bound(value.minimum, "min"), _year_bound(value.maximum, "max")
    if low is None and high is None:
        return None
    return Condition(YEAR_FIELD, minimum=low, maximum=high)


def _normalize_one(field_name: str, value: object) -> Condition | None:
    check_filter_field(field_name)
    if value is None:
        return None
    if field_name == YEAR_FIELD and isinstance(value, (YearRange, tuple)):
        return _year_range(value)
    items: list[object] = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if not items:
        return None  # an empty selection means "no constraint", as in a cleared multi-select
    if field_name == YEAR_FIELD:
        return Condition(field_name, values=tuple(_year_bound(v, "value") for v in items))  # type: ignore[misc]
    if not all(isinstance(v, str) for v in items):
        raise FilterError(f"filter {field_name!r} takes strings, got {value!r}")
    return Condition(field_name, values=tuple(check_text(v, f"filter {field_name!r}") for v in items))  # type: ignore[arg-type]


def normalize_filters(filters: Filters | None) -> list[Condition]:
    """Validate a filter mapping into conditions; None / empty values impose nothing."""
    if not filters:
        return []
    if not isinstance(filters, Mapping):
        raise FilterError(f"filters must be a mapping of field -> value, got {type(filters).__name__}")
    conditions = [_normalize_one(str(name), value) for name, value in filters.items()]
    return [c for c in conditions if c is not None]


def payload_matches(payload: Mapping[str, Any], filters: Filters | None) -> bool:
    """Whether a payload satisfies every condition of a filter mapping."""
    return all(c.accepts(payload) for c in normalize_filters(filters))


@dataclass(frozen=True)
class FilterDialect:
    """How one backend spells filter parts; :func:`translate_filter` assembles them."""

    match_value: Callable[[str, str | int], Any]
    match_any: Callable[[str, list[str | int]], Any]
    in_range: Callable[[str, int | None, int | None], Any]
    has_ids: Callable[[list[int]], Any]
    combine: Callable[[list[Any] | None, list[Any] | None], Any]
    """(must, must_not) -> the backend's filter."""


def translate_filter(dialect: FilterDialect, conditions: Iterable[Condition], exclude_ids: Iterable[int] = ()) -> Any:
    """The backend filter of validated conditions minus excluded ids; None if nothing is constrained."""
    must: list[Any] = []
    for c in conditions:
        if c.values is None:
            must.append(dialect.in_range(c.field, c.minimum, c.maximum))
        elif len(c.values) == 1:
            must.append(dialect.match_value(c.field, c.values[0]))
        else:
            must.append(dialect.match_any(c.field, list(c.values)))
    excluded = sorted(set(exclude_ids))
    if not must and not excluded:
        return None
    return dialect.combine(must or None, [dialect.has_ids(excluded)] if excluded else None)
