"""Shopper, display-name and composed queries generated from a gallery's products."""

from __future__ import annotations

from collections import defaultdict

import pytest

from finetune.shopper_queries import (
    ARTICLE_WORDS,
    GalleryProduct,
    attribute_combinations,
    composed_queries,
    name_queries,
    relevant_count,
    shopper_queries,
    words_for,
)
from tests.synthetic import make_rows


@pytest.fixture(scope="module")
def gallery() -> list[GalleryProduct]:
    """240 generated products: each gender x colour x type combination 4 times, 2 products per display name."""
    rows = make_rows(240)
    return [
        GalleryProduct(r["id"], {k: v for k, v in r.items() if k != "image"}, f"images/{r['id']}.jpg") for r in rows
    ]


def test_queries_name_only_attributes_that_exist_with_enough_relevant_products(gallery: list[GalleryProduct]) -> None:
    queries = shopper_queries(gallery, 120, seed=0, min_products=4)
    assert len(queries) == 120
    for query in queries:
        assert "articleType" in query.attributes
        assert set(query.attributes) <= {"gender", "baseColour", "articleType", "usage"}
        assert relevant_count(query, gallery) >= 4, query
    # the three-attribute combination the bars measure is there, and so are the others
    named = {tuple(sorted(q.attributes)) for q in queries}
    assert ("articleType", "baseColour", "gender") in named
    assert ("articleType",) in named and ("articleType", "baseColour") in named


def test_min_products_leaves_out_rarer_combinations(gallery: list[GalleryProduct]) -> None:
    # every gender + colour + type combination has 4 products: asking for 5 leaves all of them out
    combos = attribute_combinations(gallery, 5)
    assert combos[("gender", "baseColour", "articleType")] == {}
    assert len(attribute_combinations(gallery, 4)[("gender", "baseColour", "articleType")]) == 60
    assert all(relevant_count(q, gallery) >= 5 for q in shopper_queries(gallery, 60, seed=1, min_products=5))


def test_each_combination_gets_several_phrasings(gallery: list[GalleryProduct]) -> None:
    texts: dict[tuple[tuple[str, str], ...], set[str]] = defaultdict(set)
    queries = shopper_queries(gallery, 90, seed=2, min_products=4, phrasings=3)
    for query in queries:
        texts[tuple(sorted(query.attributes.items()))].add(query.text)
    last = tuple(sorted(queries[-1].attributes.items()))  # the count may cut the last combination short
    several = [t for combo, t in texts.items() if len(combo) > 1 and combo != last]
    assert len(several) > 20 and all(len(t) >= 2 for t in several)
    assert sum(len(t) == 3 for t in several) > len(several) / 2


def test_everyday_words_and_synonyms(gallery: list[GalleryProduct]) -> None:
    texts = [q.text for q in shopper_queries(gallery, 400, seed=3, min_products=4)]
    assert not any("Tshirts" in t or "Casual Shoes" in t for t in texts)  # catalog spellings are not what shoppers type
    tshirt_words = {w for t in texts for w in ARTICLE_WORDS["Tshirts"] if f" {w} " in f" {t} "}
    assert len(tshirt_words) >= 2
    assert any(t.startswith(("mens ", "men's ")) for t in texts) and any(t.endswith(" for women") or t.endswith(" for her") for t in texts)
    assert words_for("baseColour", "Navy Blue")[0] == "navy"
    assert words_for("articleType", "Nehru Jackets") == ("nehru jackets",)  # unknown to the lexicon: its own name


def test_same_seed_same_queries_other_seed_other_queries(gallery: list[GalleryProduct]) -> None:
    first = shopper_queries(gallery, 50, seed=5, min_products=4)
    assert shopper_queries(gallery, 50, seed=5, min_products=4) == first
    assert shopper_queries(gallery, 50, seed=6, min_products=4) != first
    assert name_queries(gallery, 10, seed=5) == name_queries(gallery, 10, seed=5)
    assert composed_queries(gallery, 10, 5, min_products=4) == composed_queries(gallery, 10, 5, min_products=4)


def test_display_name_queries_are_distinct_names_of_the_gallery(gallery: list[GalleryProduct]) -> None:
    queries = name_queries(gallery, 500, seed=0)
    assert len(queries) == 60 == len({q.text for q in queries})  # every one of the 60 names, once
    assert all(relevant_count(q, gallery) == 4 for q in queries)


def test_composed_queries_ask_for_another_colour_the_gallery_has(gallery: list[GalleryProduct]) -> None:
    by_id = {p.id: p for p in gallery}
    queries = composed_queries(gallery, 40, seed=0, min_products=8)
    assert len(queries) == 40
    for query in queries:
        photo = by_id[query.product_id]
        assert query.image_path == photo.image_path
        assert query.attributes["articleType"] == photo.value("articleType")
        assert query.attributes["baseColour"] != photo.value("baseColour")
        assert query.text.startswith("in ") and query.text[3:] in words_for("baseColour", query.attributes["baseColour"])
        assert relevant_count(query, gallery) >= 8
        assert not query.is_relevant(photo.attributes)
    assert composed_queries(gallery, 40, seed=0, min_products=9) == []  # 8 products per type and colour


def test_no_word_is_said_twice() -> None:
    shoes = [GalleryProduct(i, {"gender": "Men", "baseColour": "Brown", "articleType": "Casual Shoes", "usage": "Casual"}) for i in range(3)]
    for query in shopper_queries(shoes, 60, seed=0, min_products=1):
        words = query.text.replace("'s", "").split()
        assert len(words) == len(set(words)), query.text
