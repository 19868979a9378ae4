"""What a command line names as its model: a weights file or a model name with a pretrained tag.

Light (no torch): the command lines parse their flags with it before anything heavy is imported;
``ModelSpec.load`` imports ``shared.models`` only when called.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.models import LoadedModel

DEFAULT_MODEL = "ViT-B-32-quickgelu"
"""The model every command uses when none is named (OpenAI's CLIP ViT-B/32)."""
DEFAULT_PRETRAINED = "default"
"""The model's usual weights (openai for ViT-B-32-quickgelu, ImageNet + MiniLM towers for lite)."""
_NO_TAG = ("", "none")


def pretrained_tag(text: str | None) -> str | None:
    """A pretrained tag as the command lines spell it: "none" (any case) or "" means random init (None)."""
    return None if text is None or text.strip().lower() in _NO_TAG else text


@dataclass(frozen=True)
class ModelSpec:
    """A model to load: ``name`` with ``pretrained`` weights, or the model a ``weights`` file names
    (``name`` is then used only for a bare state dict, which names no model)."""

    name: str
    pretrained: str | None = DEFAULT_PRETRAINED
    weights: str | None = None

    @property
    def label(self) -> str:
        """How reports name the model: the weights file's name, or ``NAME (base)``."""
        return Path(self.weights).name if self.weights else f"{self.name} (base)"

    def load(self, device: str = "cpu", expected_sha256: str | None = None) -> LoadedModel:
        from shared.models import load_model

        return load_model(self.name, self.pretrained, weights=self.weights, device=device, expected_sha256=expected_sha256)


def parse_model_spec(text: str, pretrained: str | None = DEFAULT_PRETRAINED) -> ModelSpec:
    """One value that is a weights file (when such a file exists) or a model name loaded with ``pretrained``."""
    if Path(text).is_file():
        return ModelSpec(name=text, pretrained=None, weights=os.fspath(text))
    return ModelSpec(name=text, pretrained=pretrained_tag(pretrained))


def spec_from_flags(model: str | None, pretrained: str | None, weights: str | None) -> ModelSpec:
    """``--model`` / ``--pretrained`` / ``--weights``: the file holds every tensor, else the model's usual
    weights unless ``--pretrained`` names others."""
    name = model or DEFAULT_MODEL
    if weights:
        return ModelSpec(name=name, pretrained=pretrained, weights=weights)
    return ModelSpec(name=name, pretrained=pretrained or DEFAULT_PRETRAINED)
