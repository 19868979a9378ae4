"""Query understanding: the facet vocabulary, parse_query and apply_facets (soft filters with fallback)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from shared.search.query_understanding import (
    PARSED_FIELDS,
    RELAX_ORDER,
    FacetVocabulary,
    apply_facets,
    facet_filters,
    load_synonyms,
    parse_query,
    phrase_key,
)
from shared.search.types import RetrieverError, UnderstoodFacet
from shared.storage.vector_store.filters import Filters, YearRange, payload_matches

# A handful of the catalog's own value lists, as the store's facet_counts gives them.
CATALOG_VALUES: dict[str, list[str]] = {
    "gender": ["Men", "Women", "Unisex", "Boys", "Girls"],
    "baseColour": [
        "Black", "Blue", "White", "Brown", "Grey", "Red", "Green", "Navy Blue", "Purple", "Pink", "Beige",
        "Silver", "Yellow", "Maroon", "Orange", "Gold", "Olive", "Cream", "Off White", "Multi", "Charcoal",
        "Turquoise Blue", "Grey Melange", "Skin",
    ],
    "articleType": [
        "Tshirts", "Shirts", "Casual Shoes", "Kurtas", "Sports Shoes", "Handbags", "Tops", "Sunglasses",
        "Watches", "Heels", "Wallets", "Flip Flops", "Sandals", "Trousers", "Belts", "Socks", "Jeans",
        "Formal Shoes", "Shorts", "Backpacks", "Sweatshirts", "Sweaters", "Flats", "Perfume and Body Mist",
        "Track Pants", "Dresses", "Sarees", "Kurta Sets", "Sports Sandals", "Night suits",
    ],
    "subCategory": [
        "Topwear", "Shoes", "Bottomwear", "Bags", "Eyewear", "Watches", "Wallets", "Sandal", "Flip Flops",
        "Jewellery", "Dress", "Saree", "Loungewear/Nightwear", "Skin",
    ],
    "usage": ["Casual", "Sports", "Ethnic", "Formal", "Smart Casual", "Party"],
    "season": ["Summer", "Fall", "Winter", "Spring"],
}


@pytest.fixture(scope="module")
def vocabulary() -> FacetVocabulary:
    return FacetVocabulary.from_values(CATALOG_VALUES)


def parsed(text: str, vocabulary: FacetVocabulary) -> set[tuple[str, str]]:
    return {(f.field, f.value) for f in parse_query(text, vocabulary)}


# -- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mens navy running shoes", {("gender", "Men"), ("baseColour", "Navy Blue"), ("articleType", "Sports Shoes")}),
        ("ladies tee", {("gender", "Women"), ("articleType", "Tshirts")}),
        ("sneakers for gents", {("articleType", "Casual Shoes"), ("gender", "Men")}),
        ("trainers", {("articleType", "Sports Shoes")}),
        ("gray hoodie", {("baseColour", "Grey"), ("articleType", "Sweatshirts")}),
        ("golden heels", {("baseColour", "Gold"), ("articleType", "Heels")}),
        ("shades", {("articleType", "Sunglasses")}),
        ("jewelry", {("subCategory", "Jewellery")}),
        ("sari for office", {("articleType", "Sarees"), ("usage", "Formal")}),
        ("gym pants", {("usage", "Sports"), ("articleType", "Trousers")}),
        ("joggers", {("articleType", "Track Pants")}),
        ("tee for boys", {("articleType", "Tshirts"), ("gender", "Boys")}),
        ("traditional kurta", {("usage", "Ethnic"), ("articleType", "Kurtas")}),
    ],
)
def test_everyday_words_name_catalog_values(vocabulary: FacetVocabulary, query: str, expected: set[tuple[str, str]]) -> None:
    assert parsed(query, vocabulary) == expected


@pytest.mark.parametrize("query", ["tshirt", "tshirts", "t-shirt", "T Shirts", "t shirt", "TSHIRTS"])
def test_plural_singular_spacing_and_hyphens_match_one_value(vocabulary: FacetVocabulary, query: str) -> None:
    assert parsed(query, vocabulary) == {("articleType", "Tshirts")}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sports shoe", ("articleType", "Sports Shoes")),
        ("sport shoes", ("articleType", "Sports Shoes")),
        ("dresses", ("articleType", "Dresses")),
        ("watch", ("articleType", "Watches")),
        ("navy-blue", ("baseColour", "Navy Blue")),
        ("navyblue", ("baseColour", "Navy Blue")),
        ("off-white", ("baseColour", "Off White")),
        ("offwhite", ("baseColour", "Off White")),
        ("flip-flop", ("articleType", "Flip Flops")),
        ("nightwear", ("subCategory", "Loungewear/Nightwear")),
    ],
)
def test_value_variants(vocabulary: FacetVocabulary, query: str, expected: tuple[str, str]) -> None:
    assert parsed(query, vocabulary) == {expected}


def test_punctuation_case_and_apostrophes(vocabulary: FacetVocabulary) -> None:
    expected = {("gender", "Women"), ("baseColour", "Red"), ("articleType", "Dresses")}
    for query in ("WOMEN'S RED DRESS!!!", "women\u2019s red-dress", "Women's, red; dress?", "  womens   red dress  "):
        assert parsed(query, vocabulary) == expected, query
    facets = parse_query("Women's Navy-Blue T-Shirt", vocabulary)
    assert [f.phrase for f in facets] == ["Women's", "Navy-Blue", "T-Shirt"]  # the query's own words
    assert all(f.use == "filter" and f.reason == "" for f in facets)


@pytest.mark.parametrize("query", ["xyzzy qwerty 42", "", "   ", "?!...", "leather with a strap", "\u00e9t\u00e9 \u4e2d\u6587"])
def test_unknown_words_are_ignored(vocabulary: FacetVocabulary, query: str) -> None:
    assert parse_query(query, vocabulary) == []


def test_known_words_are_found_among_unknown_ones(vocabulary: FacetVocabulary) -> None:
    assert parsed("black leather watch for men with a metal strap", vocabulary) == {
        ("baseColour", "Black"), ("articleType", "Watches"), ("gender", "Men"),
    }


def test_longest_phrase_first_and_each_word_once(vocabulary: FacetVocabulary) -> None:
    assert parsed("running shoes", vocabulary) == {("articleType", "Sports Shoes")}  # not usage Sports + subCategory Shoes
    assert parsed("running", vocabulary) == {("usage", "Sports")}
    assert parsed("shoes", vocabulary) == {("subCategory", "Shoes")}
    assert parsed("casual shoes", vocabulary) == {("articleType", "Casual Shoes")}
    assert parsed("casual", vocabulary) == {("usage", "Casual")}
    assert parsed("navy blue shirt", vocabulary) == {("baseColour", "Navy Blue"), ("articleType", "Shirts")}
    assert parsed("smart casual shirt", vocabulary) == {("usage", "Smart Casual"), ("articleType", "Shirts")}
    assert parsed("kurta set", vocabulary) == {("articleType", "Kurta Sets")}


def test_gender_words_inside_other_words_do_not_match(vocabulary: FacetVocabulary) -> None:
    assert parsed("women", vocabulary) == {("gender", "Women")}
    assert parsed("womens shirts", vocabulary) == {("gender", "Women"), ("articleType", "Shirts")}
    assert parsed("Clement menthol omen shirt", vocabulary) == {("articleType", "Shirts")}
    assert parsed("manly boyish girly", vocabulary) == set()


def test_more_specific_field_wins_for_the_same_words(vocabulary: FacetVocabulary) -> None:
    assert parsed("watches", vocabulary) == {("articleType", "Watches")}  # also a subCategory
    assert parsed("dress", vocabulary) == {("articleType", "Dresses")}  # subCategory Dress
    assert parsed("saree", vocabulary) == {("articleType", "Sarees")}
    assert parsed("sandal", vocabulary) == {("articleType", "Sandals")}
    assert parsed("bags", vocabulary) == {("subCategory", "Bags")}  # no articleType of that name


def test_two_values_of_one_field_become_an_any_of_filter(vocabulary: FacetVocabulary) -> None:
    facets = parse_query("black and white shirt", vocabulary)
    assert [(f.field, f.value, f.phrase) for f in facets if f.field == "baseColour"] == [
        ("baseColour", "Black", "black"), ("baseColour", "White", "white"),
    ]
    assert facet_filters(facets) == {"baseColour": ["Black", "White"], "articleType": "Shirts"}
    assert facet_filters(parse_query("men women", vocabulary)) == {"gender": ["Men", "Women"]}


def test_overlapping_words_of_one_field_narrow_to_their_common_value(vocabulary: FacetVocabulary) -> None:
    assert facet_filters(parse_query("kids shorts", vocabulary)) == {"gender": ["Boys", "Girls"], "articleType": "Shorts"}
    facets = parse_query("kids girl's top", vocabulary)
    assert [(f.field, f.value, f.phrase) for f in facets if f.field == "gender"] == [("gender", "Girls", "kids, girl's")]
    facets = parse_query("navy shirt in navy blue", vocabulary)
    assert [(f.value, f.phrase) for f in facets if f.field == "baseColour"] == [("Navy Blue", "navy, navy blue")]


def test_synonyms_to_values_missing_from_the_catalog_are_dropped() -> None:
    without_navy = {**CATALOG_VALUES, "baseColour": ["Black", "Blue"]}
    vocabulary = FacetVocabulary.from_values(without_navy)
    assert parsed("navy jeans", vocabulary) == {("articleType", "Jeans")}
    custom = {"baseColour": {"Teal": ["sea"], "black": ["jet"]}, "gender": {"Men": ["fellas"]}}
    vocabulary = FacetVocabulary.from_values({"baseColour": ["Black"], "articleType": ["Tshirts"]}, synonyms=custom)
    assert parse_query("sea", vocabulary) == []
    assert parse_query("fellas", vocabulary) == []  # no gender values at all
    assert parsed("jet tee", vocabulary) == {("baseColour", "Black")}  # the catalog's spelling; "tee" is a shipped synonym only
    assert len(vocabulary) == 3  # black, tshirt, jet


def test_only_the_parsed_fields_are_read(vocabulary: FacetVocabulary) -> None:
    assert "season" not in PARSED_FIELDS
    assert parse_query("summer dress", vocabulary) == parse_query("dress", vocabulary)


def test_a_facet_counts_mapping_builds_the_same_vocabulary() -> None:
    counts: dict[str, Mapping[str, int]] = {field: {v: 1 for v in values} for field, values in CATALOG_VALUES.items()}
    assert FacetVocabulary.from_values(counts) == FacetVocabulary.from_values(CATALOG_VALUES)


def test_every_catalog_value_of_a_realistic_vocabulary_is_recognised(vocabulary: FacetVocabulary) -> None:
    for field in PARSED_FIELDS:
        for value in CATALOG_VALUES[field]:
            found = parsed(value, vocabulary)
            assert (field, value) in found or (
                field == "subCategory" and any(phrase_key(v) == phrase_key(value) for _, v in found)
            ) or (field, value) == ("subCategory", "Skin"), (field, value, found)  # "skin" is also a colour


def test_the_shipped_synonym_table_is_well_formed() -> None:
    table = load_synonyms()
    assert set(table) <= set(PARSED_FIELDS)
    assert all(phrase_key(p) for values in table.values() for phrases in values.values() for p in phrases)


def test_a_malformed_synonym_table_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.json"
    path.write_text(json.dumps({"gender": {"Men": "mens"}}))
    with pytest.raises(ValueError, match="field -> catalog value -> list of phrases") as caught:
        load_synonyms(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the synonym table"):
        load_synonyms(path)


# -- applying --------------------------------------------------------------------------------------
def product(gender: str, colour: str, article: str, usage: str = "Sports", year: int = 2012) -> dict[str, Any]:
    return {"gender": gender, "baseColour": colour, "articleType": article, "usage": usage, "year": year}


# 1 Navy Blue Sports Shoes for Women, 4 Sports Shoes for Women, 6 Navy Blue Sports Shoes, 3 Navy Blue for Women.
PAYLOADS: list[dict[str, Any]] = (
    [product("Women", "Navy Blue", "Sports Shoes")]
    + [product("Women", "White", "Sports Shoes")] * 3
    + [product("Men", "Navy Blue", "Sports Shoes")] * 5
    + [product("Women", "Navy Blue", "Tops", "Casual")] * 2
    + [product("Men", "Black", "Tshirts", "Casual", 2015)] * 12
)


def count(filters: Filters) -> int:
    return sum(payload_matches(p, filters) for p in PAYLOADS)


def facets_of(query: str, vocabulary: FacetVocabulary) -> list[UnderstoodFacet]:
    return parse_query(query, vocabulary)


def uses(understanding: Any) -> dict[str, str]:
    return {f.value: f.use for f in understanding.facets}


def test_facets_are_filters_when_enough_products_match(vocabulary: FacetVocabulary) -> None:
    effective, understanding = apply_facets(facets_of("mens navy sports shoes", vocabulary), None, count, 5, query="q")
    assert effective == {"gender": "Men", "baseColour": "Navy Blue", "articleType": "Sports Shoes"}
    assert count(effective) == 5
    assert uses(understanding) == {"Men": "filter", "Navy Blue": "filter", "Sports Shoes": "filter"}
    assert understanding.query == "q" and len(understanding.applied) == 3


def test_too_few_matches_relax_the_least_identifying_field_first(vocabulary: FacetVocabulary) -> None:
    effective, understanding = apply_facets(facets_of("womens navy running shoes", vocabulary), None, count, 3)
    assert effective == {"gender": "Women", "articleType": "Sports Shoes"}  # 4 match; colour relaxed first
    assert uses(understanding) == {"Women": "filter", "Navy Blue": "relaxed", "Sports Shoes": "filter"}
    relaxed = next(f for f in understanding.facets if f.use == "relaxed")
    assert relaxed.reason == "only 1 product is Navy Blue Sports Shoes for Women; searched without Navy Blue"


def test_relaxing_keeps_the_most_facets_that_match_enough(vocabulary: FacetVocabulary) -> None:
    # Without colour 4 products match, without gender 6: at 5, only dropping gender is enough.
    effective, understanding = apply_facets(facets_of("womens navy sports shoes", vocabulary), None, count, 5)
    assert effective == {"baseColour": "Navy Blue", "articleType": "Sports Shoes"}
    assert uses(understanding) == {"Women": "relaxed", "Navy Blue": "filter", "Sports Shoes": "filter"}
    # At 7 no single field is enough; two are dropped, colour and gender before article type.
    effective, understanding = apply_facets(facets_of("womens navy sports shoes", vocabulary), None, count, 7)
    assert effective == {"articleType": "Sports Shoes"}
    assert [f.use for f in understanding.facets] == ["relaxed", "relaxed", "filter"]
    assert RELAX_ORDER.index("baseColour") < RELAX_ORDER.index("gender") < RELAX_ORDER.index("articleType")


def test_when_nothing_is_enough_every_facet_is_relaxed(vocabulary: FacetVocabulary) -> None:
    effective, understanding = apply_facets(facets_of("girls red heels", vocabulary), {"year": YearRange(2012, 2012)}, count, 3)
    assert effective == {"year": YearRange(2012, 2012)}
    assert {f.use for f in understanding.facets} == {"relaxed"}
    assert all(f.reason.startswith("only 0 products are Red Heels for Girls") for f in understanding.facets)


def test_an_any_of_facet_filters_on_either_value(vocabulary: FacetVocabulary) -> None:
    effective, understanding = apply_facets(facets_of("navy or white sports shoes", vocabulary), None, count, 9)
    assert effective == {"baseColour": ["Navy Blue", "White"], "articleType": "Sports Shoes"}
    assert count(effective) == 9 and {f.use for f in understanding.facets} == {"filter"}


def test_the_callers_own_filter_wins(vocabulary: FacetVocabulary) -> None:
    caller = {"gender": ["Men"], "year": YearRange(2012, None)}
    effective, understanding = apply_facets(facets_of("womens navy sports shoes", vocabulary), caller, count, 5)
    assert effective == {"gender": ["Men"], "year": YearRange(2012, None), "baseColour": "Navy Blue", "articleType": "Sports Shoes"}
    women = next(f for f in understanding.facets if f.field == "gender")
    assert women.use == "overridden" and women.reason == "your own Gender filter is used instead"


def test_an_empty_caller_selection_does_not_override(vocabulary: FacetVocabulary) -> None:
    effective, understanding = apply_facets(facets_of("mens tshirts", vocabulary), {"gender": [], "usage": None}, count, 1)
    assert effective["gender"] == "Men" and uses(understanding) == {"Men": "filter", "Tshirts": "filter"}


def test_ignored_fields_are_removed_not_applied(vocabulary: FacetVocabulary) -> None:
    effective, understanding = apply_facets(facets_of("womens navy sports shoes", vocabulary), None, count, 1, ignore_fields=("gender",))
    assert effective == {"baseColour": "Navy Blue", "articleType": "Sports Shoes"}
    assert uses(understanding) == {"Women": "removed", "Navy Blue": "filter", "Sports Shoes": "filter"}
    effective, _ = apply_facets(facets_of("womens navy sports shoes", vocabulary), None, count, 1, ignore_fields="gender")
    assert "gender" not in effective


def test_no_facets_keeps_the_callers_filters() -> None:
    effective, understanding = apply_facets([], {"usage": "Casual"}, count, 10, query="leather")
    assert effective == {"usage": "Casual"} and understanding.facets == () and understanding.query == "leather"


@pytest.mark.parametrize("min_matches", [-1, 2.5, True, "10"])
def test_a_bad_min_matches_is_a_one_line_error(min_matches: Any) -> None:
    with pytest.raises(RetrieverError, match="min_matches") as caught:
        apply_facets([], None, count, min_matches)
    assert "\n" not in str(caught.value)


def test_an_unknown_ignored_field_is_a_one_line_error() -> None:
    with pytest.raises(RetrieverError, match="'colour'.*baseColour"):
        apply_facets([], None, count, 1, ignore_fields=("colour",))


def test_plural_only_words_keep_their_own_meaning(vocabulary: FacetVocabulary) -> None:
    assert parsed("short dress", vocabulary) == {("articleType", "Dresses")}  # "short" is not Shorts
    assert parsed("short shorts", vocabulary) == {("articleType", "Shorts")}
    assert parsed("flat knit socks", vocabulary) == {("articleType", "Socks")}
    assert parsed("black flats", vocabulary) == {("baseColour", "Black"), ("articleType", "Flats")}


def test_a_query_that_is_not_text_is_a_one_line_error(vocabulary: FacetVocabulary) -> None:
    with pytest.raises(RetrieverError, match="must be a string, got bytes"):
        parse_query(b"red dress", vocabulary)  # type: ignore[arg-type]


def test_counts_stay_few_when_facets_are_applied(vocabulary: FacetVocabulary) -> None:
    calls: list[Filters] = []

    def counting(filters: Filters) -> int:
        calls.append(filters)
        return count(filters)

    apply_facets(facets_of("mens navy sports shoes", vocabulary), None, counting, 5)
    assert len(calls) == 1  # the store is asked once when every facet fits
    calls.clear()
    apply_facets(facets_of("girls red heels", vocabulary), None, counting, len(PAYLOADS) + 1)
    assert len(calls) == 2  # all facets, then the caller's filters alone: no subset of facets can be enough
    calls.clear()
    apply_facets(facets_of("girls red heels", vocabulary), None, counting, 3)
    assert len(calls) == 2 + 3 + 3  # then each subset, one field dropped, then two
