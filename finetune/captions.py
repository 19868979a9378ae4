"""Training captions built from every product attribute, several templates sampled per step.

Search queries are display names and raw attribute strings ("Tshirts", "Navy Blue"), so the
templates mix the raw display name with short attribute phrases and longer descriptions. The display
name alone is about half of all captions (weight 8 of 15.5): it is the only caption that carries the
brand, and on fashion-products-19k weighting it 8 instead of 4 raised validation display-name R@10
after 2 epochs from 0.535 to 0.564, after 5 from 0.614 to 0.640 (benchmarks/results/finetune_quality.md).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.products.datasets import NAME_FIELD
from shared.errors import FashionSearchError

CAPTION_FIELDS: tuple[str, ...] = (NAME_FIELD, "articleType", "baseColour", "gender", "usage", "season", "subCategory")
"""Attributes captions are built from; a dataset needs at least one of them."""


@dataclass(frozen=True)
class Template:
    """A caption pattern, the attributes it needs, and its sampling weight."""

    pattern: str
    weight: float


TEMPLATES: tuple[Template, ...] = (
    Template("{name}", 8.0),
    Template("a photo of {name}", 1.0),
    Template("{name}, {colour} {article}", 1.0),
    Template("{gender} {colour} {article}", 1.5),
    Template("{colour} {article}", 1.0),
    Template("{article}", 0.5),
    Template("{colour} {subcategory}", 0.5),
    Template("a {colour} {article} for {gender}", 1.0),
    Template("{usage} {article} for {gender}", 0.5),
    Template("{gender} {usage} {colour} {article} for {season}", 0.5),
)
_PLACEHOLDERS = {
    "name": NAME_FIELD,
    "article": "articleType",
    "colour": "baseColour",
    "gender": "gender",
    "usage": "usage",
    "season": "season",
    "subcategory": "subCategory",
}
_FIELD_RE = re.compile(r"{(\w+)}")


class CaptionError(FashionSearchError, ValueError):
    """A dataset whose products cannot be captioned; the message names the fix."""


def check_caption_columns(columns: Sequence[str], source: str) -> None:
    """Raise CaptionError when none of the caption attributes is among the dataset's columns."""
    if not any(field in columns for field in CAPTION_FIELDS):
        raise CaptionError(
            f"dataset {source} has no caption columns (found: {', '.join(columns) or 'none'}); "
            f"it needs at least one of {', '.join(CAPTION_FIELDS)}"
        )


def _fields_of(template: Template) -> list[str]:
    return [_PLACEHOLDERS[key] for key in _FIELD_RE.findall(template.pattern)]


def usable_templates(attributes: Mapping[str, object]) -> list[Template]:
    """The templates whose every attribute the product has."""
    return [t for t in TEMPLATES if all(attributes.get(f) not in (None, "") for f in _fields_of(t))]


def render(template: Template, attributes: Mapping[str, object]) -> str:
    values = {key: str(attributes[field]) for key, field in _PLACEHOLDERS.items() if attributes.get(field) not in (None, "")}
    return " ".join(template.pattern.format(**values).split())


def all_captions(attributes: Mapping[str, object]) -> list[str]:
    """Every caption the templates give for one product (empty when it has no caption attribute)."""
    return [render(t, attributes) for t in usable_templates(attributes)]


def sample_caption(attributes: Mapping[str, object], rng: random.Random) -> str | None:
    """One weighted-random caption for a product, or None when it has no caption attribute."""
    templates = usable_templates(attributes)
    if not templates:
        return None
    template = rng.choices(templates, weights=[t.weight for t in templates])[0]
    return render(template, attributes)


def canonical_caption(attributes: Mapping[str, object]) -> str | None:
    """The deterministic caption used for validation: the display name, else the richest template."""
    templates = usable_templates(attributes)
    if not templates:
        return None
    return render(max(templates, key=lambda t: (t.pattern == "{name}", len(_fields_of(t)))), attributes)
