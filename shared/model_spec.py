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
SHIPPED_MODEL = "fashion-lite"
"""The fine-tuned lite model the repository ships (a partial weights file inside the package): what
``python -m ingest`` uses when no model is named, and what ``--model fashion-lite`` names."""
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "models" / "shipped" / f"{SHIPPED_MODEL}.pt"
SHIPPED_WEIGHTS_ENV = "FASHION_SHIPPED_WEIGHTS"
"""Environment variable naming another file to use as the shipped model (tests, a re-exported model)."""
EXPORT_COMMAND = "python -m finetune.export_shipped --weights models/clip_fashion_final.pt --output {output}"


def shipped_weights_path() -> Path:
    """Where the shipped model's file is: ``FASHION_SHIPPED_WEIGHTS`` when set, else inside the package."""
    override = os.environ.get(SHIPPED_WEIGHTS_ENV, "").strip()
    return Path(override) if override else SHIPPED_WEIGHTS


def shipped_spec() -> "ModelSpec":
    return ModelSpec(name=SHIPPED_MODEL, pretrained=None, weights=os.fspath(shipped_weights_path()))


def missing_shipped_message() -> str | None:
    """One line saying the shipped model's file is missing and how to make it, or None when it is there."""
    path = shipped_weights_path()
    if path.is_file():
        return None
    return (
        f"the default model {SHIPPED_MODEL} needs {path}, which is missing; make it with "
        "`python -m finetune --model lite --dataset DATASET` then "
        f"`{EXPORT_COMMAND.format(output=path)}`, or name a model: --model lite or --weights FILE"
    )


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
    """One value that is a weights file (when such a file exists), the shipped model (``fashion-lite``) or a model
    name loaded with ``pretrained``."""
    if text == SHIPPED_MODEL:
        return shipped_spec()
    if Path(text).is_file():
        return ModelSpec(name=text, pretrained=None, weights=os.fspath(text))
    return ModelSpec(name=text, pretrained=pretrained_tag(pretrained))


def spec_from_flags(model: str | None, pretrained: str | None, weights: str | None) -> ModelSpec:
    """``--model`` / ``--pretrained`` / ``--weights``: the file holds every tensor, else the model's usual
    weights unless ``--pretrained`` names others; ``--model fashion-lite`` is the shipped model's file."""
    name = model or DEFAULT_MODEL
    if weights:
        return ModelSpec(name=name, pretrained=pretrained, weights=weights)
    if name == SHIPPED_MODEL:
        return shipped_spec()
    return ModelSpec(name=name, pretrained=pretrained or DEFAULT_PRETRAINED)
