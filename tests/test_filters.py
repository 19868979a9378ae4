"""Filters: field names, value shapes, the year range (YearRange or the older tuple), on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from shared.storage.vector_store import FilterError, VectorPoint, VectorStore, YearRange, normalize_filters, payload_matches
from tests.vector_store_cases import (  # noqa: F401, F811 (fixtures)
    NAME, edge_root, filled, one_line, points, store,
)


def test_unknown_filter_field_is_a_one_line_error(filled: VectorStore, points: list[VectorPoint]) -> None:
    for call in (
        lambda: filled.search(NAME, points[0].vector, filters={"colour": "Red"}),
        lambda: filled.count(NAME, {"colour": "Red"}),
        lambda: filled.facet_counts(NAME, "colour"),
    ):
        with pytest.raises(FilterError) as caught:
            call()
        message = str(caught.value)
        assert "'colour'" in message and "baseColour" in message and "\n" not in message
    with pytest.raises(FilterError, match="strings"):
        filled.count(NAME, {"gender": 3})


@pytest.mark.parametrize("year", [2**70, (2**70, None), (None, -(2**70)), [2012, 2**64]])
def test_out_of_range_year_filter_is_a_filter_error(filled: VectorStore, points: list[VectorPoint], year: Any) -> None:
    for call in (
        lambda: filled.search(NAME, points[0].vector, filters={"year": year}),
        lambda: filled.count(NAME, {"year": year}),
        lambda: filled.facet_counts(NAME, "gender", {"year": year}),
    ):
        with pytest.raises(FilterError) as caught:
            call()
        one_line(caught, "out of range")
def test_lone_surrogate_in_text_is_a_filter_error(filled: VectorStore, points: list[VectorPoint]) -> None:
    with pytest.raises(FilterError) as caught:
        filled.search(NAME, points[0].vector, keyword_query="red \ud800 shoes")
    one_line(caught, "keyword query", "position 4")
    with pytest.raises(FilterError) as caught:
        filled.count(NAME, {"gender": ["Men", "Wo\udc80men"]})
    one_line(caught, "'gender'", "not valid text")




def test_year_range_and_the_older_tuple_are_the_same_filter() -> None:
    for low, high in [(2012, 2014), (None, 2011), (2013, None)]:
        assert normalize_filters({"year": YearRange(low, high)}) == normalize_filters({"year": (low, high)})
    assert normalize_filters({"year": YearRange()}) == []
    payload = {"year": 2013}
    assert payload_matches(payload, {"year": YearRange(2013, 2013)})
    assert not payload_matches(payload, {"year": YearRange(minimum=2014)})
    with pytest.raises(FilterError, match="out of range"):
        normalize_filters({"year": YearRange(maximum=2**70)})
    with pytest.raises(FilterError, match="year range must be"):
        normalize_filters({"year": (2012, 2013, 2014)})


def test_year_range_counts_like_the_tuple_on_both_backends(filled: VectorStore) -> None:
    assert filled.count(NAME, {"year": YearRange(2012, 2014)}) == filled.count(NAME, {"year": (2012, 2014)}) > 0
