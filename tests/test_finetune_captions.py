from __future__ import annotations

import random

import pytest

from finetune.captions import (
    TEMPLATES,
    CaptionError,
    all_captions,
    canonical_caption,
    check_caption_columns,
    sample_caption,
    usable_templates,
)

FULL = {
    "productDisplayName": "Nike Men Blue Tshirt",
    "articleType": "Tshirts",
    "baseColour": "Blue",
    "gender": "Men",
    "usage": "Sports",
    "season": "Summer",
    "subCategory": "Topwear",
}


def test_captions_use_every_attribute() -> None:
    text = " ".join(all_captions(FULL))
    for value in FULL.values():
        assert value in text


def test_sampling_follows_template_weights() -> None:
    rng = random.Random(0)
    drawn = [sample_caption(FULL, rng) for _ in range(4000)]
    name_share = sum(c == FULL["productDisplayName"] for c in drawn) / len(drawn)
    expected = next(t.weight for t in TEMPLATES if t.pattern == "{name}") / sum(t.weight for t in usable_templates(FULL))
    assert abs(name_share - expected) < 0.03 and 0.4 < name_share < 0.6  # the display name is about half of all captions
    only_article = [t for t in TEMPLATES if t.pattern == "{article}"]
    assert abs(drawn.count("Tshirts") / len(drawn) - only_article[0].weight / sum(t.weight for t in TEMPLATES)) < 0.02


def test_sampling_varies_templates_and_is_seeded() -> None:
    first = [sample_caption(FULL, random.Random(seed)) for seed in range(50)]
    again = [sample_caption(FULL, random.Random(seed)) for seed in range(50)]
    assert first == again
    assert len(set(first)) >= 5
    assert "Nike Men Blue Tshirt" in first  # the raw display name is the most frequent template


def test_templates_needing_missing_attributes_are_skipped() -> None:
    attributes = {"articleType": "Watches", "baseColour": "Black"}
    captions = all_captions(attributes)
    assert captions and all("{" not in c and "None" not in c for c in captions)
    assert set(captions) == {"Black Watches", "Watches"}
    assert canonical_caption(attributes) == "Black Watches"
    assert canonical_caption(FULL) == "Nike Men Blue Tshirt"


def test_no_caption_attribute() -> None:
    assert sample_caption({"year": 2012}, random.Random(0)) is None
    with pytest.raises(CaptionError, match="no caption columns.*productDisplayName"):
        check_caption_columns(["id", "image", "year"], "shop.parquet")
