"""Search-evaluation queries generated from a gallery's products: shopper phrasings, display names, photo + colour.

The phrasing lexicon here is the evaluation's own (it is not the retriever's query parser), so a
search that understands queries is graded on words it was not built from. A catalog value the
lexicon does not know is phrased as the shopper would most likely type it: its lower-case name.

- shopper queries: a combination of gender, colour, article type and usage that at least
  ``min_products`` gallery products share, phrased in everyday words ("mens navy running shoes",
  "black watch for men", "tee for boys"), several phrasings per combination; relevant = every
  attribute the query names matches;
- display-name queries: a product's display name; relevant = the products of exactly that name;
- composed queries: a product photo plus "in COLOUR" (another colour that at least ``min_products``
  products of its article type have); relevant = that article type in that colour.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SHOPPER_FIELDS: tuple[str, ...] = ("gender", "baseColour", "articleType", "usage")
"""The attributes a shopper query may name."""

FIELD_PATTERNS: tuple[tuple[str, ...], ...] = (
    ("gender", "baseColour", "articleType"),
    ("baseColour", "articleType"),
    ("gender", "articleType"),
    ("gender", "baseColour", "articleType"),
    ("baseColour", "articleType", "usage"),
    ("articleType",),
    ("gender", "articleType", "usage"),
    ("gender", "baseColour", "articleType", "usage"),
)
"""Which attributes a query names, in turn (every query names an article type; gender + colour + type,
the combination shoppers type most, comes twice as often)."""

GENDER_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # value -> (before the noun, after it)
    "Men": (("mens", "men's", "men", "male"), ("for men", "for him", "for guys")),
    "Women": (("womens", "women's", "ladies", "women"), ("for women", "for her", "for ladies")),
    "Boys": (("boys", "boy's"), ("for boys", "for a boy")),
    "Girls": (("girls", "girl's"), ("for girls", "for a girl")),
    "Unisex": (("unisex",), ("for men and women", "unisex")),
}
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "Navy Blue": ("navy", "navy blue"),
    "Grey": ("grey", "gray"),
    "Grey Melange": ("grey melange", "heather grey"),
    "Off White": ("off white", "off-white", "ivory"),
    "Multi": ("multicolour", "multicolored", "multi colour"),
    "Charcoal": ("charcoal", "charcoal grey"),
    "Turquoise Blue": ("turquoise", "turquoise blue"),
    "Teal": ("teal",),
    "Maroon": ("maroon", "dark red"),
    "Beige": ("beige",),
    "Cream": ("cream",),
    "Olive": ("olive", "olive green"),
    "Khaki": ("khaki",),
    "Silver": ("silver",),
    "Gold": ("gold", "golden"),
    "Pink": ("pink",),
    "Purple": ("purple",),
    "Blue": ("blue",),
    "Red": ("red",),
    "Black": ("black",),
    "White": ("white",),
    "Brown": ("brown",),
    "Green": ("green",),
    "Yellow": ("yellow",),
    "Orange": ("orange",),
}
ARTICLE_WORDS: dict[str, tuple[str, ...]] = {
    "Tshirts": ("t-shirt", "tee", "t shirts", "tshirt", "tees"),
    "Shirts": ("shirt", "shirts", "button-down shirt"),
    "Casual Shoes": ("sneakers", "casual shoes", "trainers"),
    "Sports Shoes": ("running shoes", "sports shoes", "sport shoes", "training shoes"),
    "Formal Shoes": ("formal shoes", "dress shoes", "office shoes"),
    "Watches": ("watch", "watches", "wristwatch"),
    "Handbags": ("handbag", "handbags", "purse"),
    "Jeans": ("jeans", "denims", "denim jeans"),
    "Trousers": ("trousers", "pants", "chinos"),
    "Track Pants": ("track pants", "joggers", "trackpants"),
    "Shorts": ("shorts",),
    "Kurtas": ("kurta", "kurtas"),
    "Tops": ("top", "tops", "blouse"),
    "Dresses": ("dress", "dresses"),
    "Sandals": ("sandals",),
    "Flip Flops": ("flip flops", "flip-flops", "slippers"),
    "Heels": ("heels", "high heels"),
    "Flats": ("flats", "flat shoes"),
    "Sunglasses": ("sunglasses", "shades"),
    "Belts": ("belt", "belts"),
    "Backpacks": ("backpack", "rucksack", "backpacks"),
    "Wallets": ("wallet", "wallets"),
    "Socks": ("socks",),
    "Briefs": ("briefs", "underwear"),
    "Sweatshirts": ("sweatshirt", "sweatshirts"),
    "Jackets": ("jacket", "jackets"),
    "Sweaters": ("sweater", "jumper"),
    "Caps": ("cap", "caps", "baseball cap"),
    "Earrings": ("earrings",),
    "Perfume and Body Mist": ("perfume", "body mist"),
    "Kurtis": ("kurti", "kurtis"),
    "Clutches": ("clutch", "clutch bag"),
    "Ties": ("tie", "necktie"),
    "Skirts": ("skirt", "skirts"),
    "Scarves": ("scarf", "scarves"),
    "Deodorant": ("deodorant", "deo"),
}
USAGE_WORDS: dict[str, tuple[str, ...]] = {
    "Casual": ("casual", "everyday"),
    "Formal": ("formal", "office"),
    "Sports": ("sports", "gym", "athletic"),
    "Ethnic": ("ethnic", "traditional"),
    "Party": ("party", "evening"),
    "Smart Casual": ("smart casual",),
    "Travel": ("travel",),
}


def words_for(field_name: str, value: str) -> tuple[str, ...]:
    """Everyday phrasings of one catalog value (its lower-case name when the lexicon does not know it)."""
    table: Mapping[str, tuple[str, ...]] = {"baseColour": COLOUR_WORDS, "articleType": ARTICLE_WORDS, "usage": USAGE_WORDS}.get(
        field_name, {}
    )
    return table.get(value, (value.lower(),))


@dataclass(frozen=True)
class GalleryProduct:
    """A gallery product as the evaluation sees it: its id, catalog attributes and stored photo."""

    id: int
    attributes: Mapping[str, Any]
    image_path: str | None = None

    def value(self, field_name: str) -> str | None:
        value = self.attributes.get(field_name)
        return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ShopperQuery:
    """A query text and the attributes it names (every one must match for a product to be relevant)."""

    text: str
    attributes: dict[str, str] = field(default_factory=dict)

    def is_relevant(self, attributes: Mapping[str, Any]) -> bool:
        return all(str(attributes.get(k)) == v for k, v in self.attributes.items())


@dataclass(frozen=True)
class NameQuery:
    """A product display name as a query; relevant = the products of exactly that name."""

    text: str

    def is_relevant(self, attributes: Mapping[str, Any]) -> bool:
        return str(attributes.get("productDisplayName")) == self.text


@dataclass(frozen=True)
class ComposedQuery:
    """A product's photo plus "in COLOUR"; relevant = the photo's article type in that colour."""

    text: str
    image_path: str
    product_id: int
    attributes: dict[str, str] = field(default_factory=dict)

    def is_relevant(self, attributes: Mapping[str, Any]) -> bool:
        return all(str(attributes.get(k)) == v for k, v in self.attributes.items())


def relevant_count(query: ShopperQuery | NameQuery | ComposedQuery, products: Iterable[GalleryProduct]) -> int:
    return sum(1 for p in products if query.is_relevant(p.attributes))


def phrase(combination: Mapping[str, str], rng: random.Random) -> str:
    """One everyday phrasing of a combination: the words and their order drawn from ``rng``."""
    colour = rng.choice(words_for("baseColour", combination["baseColour"])) if "baseColour" in combination else ""
    article = rng.choice(words_for("articleType", combination["articleType"]))
    usage = ""
    if "usage" in combination:  # a usage word the article's words do not already hold ("everyday casual shoes")
        usages = words_for("usage", combination["usage"])
        usage = rng.choice([u for u in usages if not set(u.split()) & set(article.split())] or usages)
    noun = " ".join(w for w in (colour, usage, article) if w)
    gender = combination.get("gender")
    if gender is None:
        return noun
    before, after = GENDER_WORDS.get(gender, ((gender.lower(),), (f"for {gender.lower()}",)))
    return f"{rng.choice(before)} {noun}" if rng.random() < 0.5 else f"{noun} {rng.choice(after)}"


def attribute_combinations(products: Sequence[GalleryProduct], min_products: int) -> dict[tuple[str, ...], dict[tuple[str, ...], int]]:
    """Per field pattern, every combination of values that at least ``min_products`` products share, and how many do."""
    found: dict[tuple[str, ...], dict[tuple[str, ...], int]] = {}
    for pattern in dict.fromkeys(FIELD_PATTERNS):
        counts = Counter(
            values
            for values in (tuple(p.value(f) for f in pattern) for p in products)
            if all(v is not None for v in values)
        )
        found[pattern] = {values: n for values, n in sorted(counts.items()) if n >= min_products}  # type: ignore[misc]
    return found


def _popular_first(combinations: Mapping[tuple[str, ...], int], rng: random.Random) -> list[tuple[str, ...]]:
    """The combinations in a seeded order that puts those with more products first more often (weight: the
    square root of the product count, so the long tail of rare types still shows; Efraimidis-Spirakis keys)."""
    keys = {values: rng.random() ** (1.0 / math.sqrt(n)) for values, n in combinations.items()}
    return sorted(keys, key=lambda values: -keys[values])


def shopper_queries(
    products: Sequence[GalleryProduct], count: int, seed: int, *, min_products: int = 10, phrasings: int = 3
) -> list[ShopperQuery]:
    """About ``count`` shopper queries: combinations taken in turn over :data:`FIELD_PATTERNS`, the popular
    ones more often (seeded), each phrased ``phrasings`` different ways where the lexicon allows."""
    rng = random.Random(seed)
    pools = {pattern: _popular_first(combos, rng)[::-1] for pattern, combos in attribute_combinations(products, min_products).items()}
    queries: list[ShopperQuery] = []
    turn = 0
    while len(queries) < count and any(pools.values()):
        pattern = FIELD_PATTERNS[turn % len(FIELD_PATTERNS)]
        turn += 1
        if not pools[pattern]:
            continue
        combination = dict(zip(pattern, pools[pattern].pop()))
        texts: list[str] = []
        for _ in range(phrasings * 4):  # a few draws to find distinct phrasings
            text = phrase(combination, rng)
            if text not in texts:
                texts.append(text)
            if len(texts) == phrasings:
                break
        queries.extend(ShopperQuery(t, dict(combination)) for t in texts[: count - len(queries)])
    return queries


def name_queries(products: Sequence[GalleryProduct], count: int, seed: int) -> list[NameQuery]:
    """``count`` distinct display names of the gallery (a seeded sample)."""
    names = sorted({name for p in products if (name := p.value("productDisplayName"))})
    return [NameQuery(n) for n in random.Random(seed).sample(names, min(count, len(names)))]


def composed_queries(
    products: Sequence[GalleryProduct], count: int, seed: int, *, min_products: int = 10
) -> list[ComposedQuery]:
    """``count`` products' photos (a seeded sample), each with "in COLOUR" for a colour other than its own
    that at least ``min_products`` gallery products of its article type have."""
    per_type: dict[str, Counter[str]] = defaultdict(Counter)
    for p in products:
        article, colour = p.value("articleType"), p.value("baseColour")
        if article and colour:
            per_type[article][colour] += 1
    rng = random.Random(seed)
    candidates = [p for p in products if p.image_path and p.value("articleType") and p.value("baseColour")]
    queries: list[ComposedQuery] = []
    for product in rng.sample(candidates, len(candidates)):
        if len(queries) >= count:
            break
        article, own = product.value("articleType"), product.value("baseColour")
        colours = sorted(c for c, n in per_type[article].items() if n >= min_products and c != own)  # type: ignore[index]
        if not colours:
            continue
        colour = rng.choice(colours)
        text = f"in {rng.choice(words_for('baseColour', colour))}"
        queries.append(ComposedQuery(text, str(product.image_path), product.id, {"articleType": str(article), "baseColour": colour}))
    return queries
