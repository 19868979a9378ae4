from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from shared.products.fields import (
    ProductIdError,
    canonical_spellings,
    clean_attribute,
    index_rows,
    left_out_report,
    parse_product_id,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3001, 3001), (np.int64(7), 7), (2006.0, 2006), (np.float64(12.0), 12), ("2006", 2006), (" 2006.0 ", 2006), (0, 0),
     (2**63 - 1, 2**63 - 1)],
)
def test_whole_non_negative_ids_are_accepted(value: Any, expected: int) -> None:
    assert parse_product_id(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [(3001.4, "whole"), (3001.9, "whole"), ("2_004", "whole"), ("1e3", "whole"), ("+5", "whole"), (-5, "negative"),
     ("-5", "negative"), ("3001.40", "whole"), (math.nan, "empty"), (math.inf, "finite"), (None, "empty"), ("", "empty"), (True, "boolean"),
     (2**63, "2\\*\\*63"), (b"12", "bytes")],
)
def test_other_ids_are_refused_with_a_reason(value: Any, reason: str) -> None:
    with pytest.raises(ProductIdError, match=reason):
        parse_product_id(value)


def test_index_rows_keeps_first_of_each_id_and_reports_the_rest() -> None:
    index = index_rows([1000, 3001.4, 3001.9, "2006.0", "2_004", -5, 1000, math.nan, 1001, 1001])
    assert index.ids == [1000, 2006, 1001] and index.rows == [0, 3, 8]
    assert index.rejected == {
        "3001.4": "not a whole number", "3001.9": "not a whole number", "2_004": "not a plain whole number",
        "-5": "negative", "row 8": "empty id",
    }
    assert index.duplicates == [1000, 1001]


def test_head_reports_only_what_lies_before_the_cut() -> None:
    index = index_rows([1, "x", 1, 2, "y", 2, 3])
    first_two = index.head(2)
    assert first_two.ids == [1, 2] and first_two.rejected == {"x": "not a plain whole number"}
    assert first_two.duplicates == [1]
    assert index.head(3).duplicates == [1, 2] and set(index.head(3).rejected) == {"x", "y"}


def test_left_out_report_lists_ids_and_caps_long_lists() -> None:
    report = left_out_report({"3001.4": "not a whole number"}, list(range(25)))
    assert report.startswith("; rejected 1 rows with invalid ids: 3001.4 (not a whole number); 25 duplicate ids")
    assert report.endswith("19 and 5 more") and left_out_report({}, []) == ""


def test_facet_values_get_the_dominant_spelling() -> None:
    spellings = canonical_spellings(["Men", "men", "MEN", " Men ", "Women", "women", "NA", math.nan, None, "Navy  Blue"])
    assert spellings == {"men": "Men", "women": "Women", "na": "NA", "navy blue": "Navy Blue"}
    assert [clean_attribute("gender", v, spellings) for v in ("MEN", " men", "wOMEN", "Kids")] == ["Men", "Men", "Women", "Kids"]
    assert clean_attribute("baseColour", "navy \t blue", spellings) == "Navy Blue"
    assert canonical_spellings(["men", "MEN"]) == {"men": "men"}  # a tie without a mixed-case form: first seen


@pytest.mark.parametrize("missing", [None, math.nan, np.float64("nan"), "", "  ", "nan", "NaN", "None"])
def test_missing_values_are_none_not_text(missing: Any) -> None:
    assert clean_attribute("season", missing) is None and clean_attribute("year", missing) is None


def test_year_is_an_integer_or_missing() -> None:
    assert clean_attribute("year", 2012.0) == 2012 and clean_attribute("year", "2012") == 2012
    assert clean_attribute("year", math.inf) is None and clean_attribute("year", "soon") is None
