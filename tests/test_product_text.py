"""The product text that the ``text`` vector and BM25 are made from."""

from __future__ import annotations

from shared.products.product_text import product_text


def test_name_then_attributes_in_a_shoppers_order() -> None:
    attributes = {
        "productDisplayName": "Turtle Check Men Navy Blue Shirt", "gender": "Men", "baseColour": "Navy Blue",
        "articleType": "Shirts", "subCategory": "Topwear", "usage": "Casual", "season": "Fall", "year": 2011,
    }
    assert product_text(attributes) == "Turtle Check Men Navy Blue Shirt. Men Navy Blue Shirts, Topwear, Casual, Fall"


def test_missing_parts_are_left_out() -> None:
    assert product_text({"articleType": "Watches", "usage": None, "season": ""}) == "Watches"
    assert product_text({"productDisplayName": "  Zephyr Satchel "}) == "Zephyr Satchel"
    assert product_text({}) == ""
