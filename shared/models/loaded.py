"""What a load gives: ``LoadedModel`` (the model, its transforms, tokenizer and identity), or ``ModelLoadError``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import open_clip
import torch
from torch import nn

from shared.storage.collection import ModelIdentity
from shared.errors import FashionSearchError
from shared.models import registry
from shared.models.tokenizer import Tokenizer, build_tokenizer
from shared.products.preprocessing import ImageTransform, eval_transform, train_transform


class ModelLoadError(FashionSearchError, RuntimeError):
    """A model cannot be built or its weights loaded; one line naming the model and the fix."""


@dataclass
class LoadedModel:
    model: nn.Module
    name: str
    pretrained: str | None
    config: dict[str, Any] | None  # open_clip config when the model is not a registered name
    image_transform: ImageTransform
    train_transform: ImageTransform
    tokenizer: Tokenizer
    embed_dim: int
    image_size: int
    weights_path: str | None = None
    weights_sha256: str | None = None
    weights_metadata: dict[str, Any] = field(default_factory=dict)
    """The weights file's metadata (training options, metrics), so nothing reads the file again for it."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            model_name=self.name,
            pretrained=self.pretrained,
            weights_path=self.weights_path,
            weights_sha256=self.weights_sha256,
            embedding_dim=self.embed_dim,
        )


def finish_loading(
    model: nn.Module,
    name: str,
    tag: str | None,
    resolved: dict[str, Any],
    device: torch.device,
    *,
    config: dict[str, Any] | None = None,
    weights_path: str | None = None,
    weights_sha256: str | None = None,
    weights_metadata: dict[str, Any] | None = None,
) -> LoadedModel:
    model = model.to(device).eval()
    pre = getattr(model.visual, "preprocess_cfg", {})
    size = model.visual.image_size
    image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
    mean, std = pre.get("mean", open_clip.OPENAI_DATASET_MEAN), pre.get("std", open_clip.OPENAI_DATASET_STD)
    interpolation = pre.get("interpolation", "bicubic")
    registered = None if config is not None else registry.config_name(name)
    try:
        tokenizer = build_tokenizer(resolved, registered)
    except OSError as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {name} ({str(exc).splitlines()[0][:160]})") from exc
    return LoadedModel(
        model=model,
        name=name,
        pretrained=tag,
        config=config,
        image_transform=eval_transform(image_size, mean, std, interpolation),
        train_transform=train_transform(image_size, mean, std, interpolation),
        tokenizer=tokenizer,
        embed_dim=int(resolved["embed_dim"]),
        image_size=image_size,
        weights_path=weights_path,
        weights_sha256=weights_sha256,
        weights_metadata=dict(weights_metadata or {}),
    )
