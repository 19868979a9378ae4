"""Locking the towers (LiT) and splitting the image tower into a frozen prefix and a trainable suffix.

When the image trunk is frozen up to its last N blocks, the frozen prefix's output is the
same every epoch, so it is computed once and training runs only the suffix on the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from finetune.optim import tower_of


def _trunk(visual: nn.Module) -> nn.Module | None:
    """The CNN trunk (timm EfficientNet-style: conv_stem, bn1, blocks, forward_head) of an image tower."""
    for candidate in (getattr(visual, "trunk", None), visual):
        if candidate is not None and all(hasattr(candidate, a) for a in ("conv_stem", "bn1", "blocks", "forward_head")):
            return candidate
    return None


def image_blocks(model: nn.Module) -> list[nn.Module]:
    """The image tower's blocks in forward order (CNN stages flattened), or [] when unknown."""
    visual = model.visual
    trunk = _trunk(visual)
    if trunk is not None:
        blocks: list[nn.Module] = []
        for stage in trunk.blocks:
            blocks.extend(stage if isinstance(stage, nn.Sequential) else [stage])
        return blocks
    transformer = getattr(visual, "transformer", None)
    if transformer is not None and hasattr(transformer, "resblocks"):
        return list(transformer.resblocks)
    return []


def lock_image_tower(model: nn.Module, lock_image: bool, unlock_last_blocks: int | None) -> int:
    """Freeze the image tower (all of it, or all but its last N blocks and what follows them).

    The projection head stays trainable unless the whole tower is locked. Returns the number
    of trainable image-tower parameters.
    """
    if not lock_image and unlock_last_blocks is None:
        return sum(p.numel() for n, p in model.named_parameters() if n.startswith("visual.") and p.requires_grad)
    blocks = image_blocks(model)
    if unlock_last_blocks and not blocks:
        raise ValueError("--unlock-last-blocks: this image tower has no known block list; use --lock-image instead")
    if unlock_last_blocks and unlock_last_blocks > len(blocks):
        raise ValueError(f"--unlock-last-blocks {unlock_last_blocks}: the image tower has only {len(blocks)} blocks")
    first_unlocked = {id(p) for p in blocks[-unlock_last_blocks].parameters()} if unlock_last_blocks else set()
    unlocked = False
    trainable = 0
    for name, parameter in model.named_parameters():
        if not name.startswith("visual."):
            continue
        if id(parameter) in first_unlocked:
            unlocked = True
        keep = not lock_image and (unlocked or tower_of(name) == "projection")
        parameter.requires_grad_(keep)
        trainable += parameter.numel() if keep else 0
    return trainable


def text_layers(model: nn.Module) -> list[nn.Module]:
    """The text tower's transformer layers in forward order (HF encoder or CLIP's own), or [] when unknown."""
    encoder = getattr(getattr(getattr(model, "text", None), "transformer", None), "encoder", None)
    for attribute in ("layer", "layers", "block"):
        layers = getattr(encoder, attribute, None)
        if isinstance(layers, nn.ModuleList):
            return list(layers)
    transformer = getattr(model, "transformer", None)
    return list(transformer.resblocks) if transformer is not None and hasattr(transformer, "resblocks") else []


def lock_text_tower(model: nn.Module, unlocked_layers: int | None) -> int:
    """Freeze the text tower except its last N layers (and CLIP's final norm after them); the text
    projection stays trainable. Returns the number of trainable text-tower parameters."""
    if unlocked_layers is not None:
        layers = text_layers(model)
        if unlocked_layers and not layers:
            raise ValueError("--unlock-text-layers: this text tower has no known layer list; use --unlock-text-layers 0")
        if unlocked_layers > len(layers):
            raise ValueError(f"--unlock-text-layers {unlocked_layers}: the text tower has only {len(layers)} layers")
        keep = {id(p) for layer in layers[len(layers) - unlocked_layers :] for p in layer.parameters()}
        for name, parameter in model.named_parameters():
            if tower_of(name) == "text":
                parameter.requires_grad_(id(parameter) in keep or (unlocked_layers > 0 and name.startswith("ln_final.")))
    return sum(p.numel() for n, p in model.named_parameters() if tower_of(n) == "text" and p.requires_grad)


@dataclass
class ImageTowerSplit:
    """``prefix`` (frozen, cacheable) then ``suffix`` (trainable) equals ``encode_image``."""

    prefix: Callable[[torch.Tensor], torch.Tensor]
    suffix: Callable[[torch.Tensor], torch.Tensor]
    frozen_modules: list[nn.Module]


def split_image_tower(model: nn.Module, lock_image: bool, unlock_last_blocks: int | None) -> ImageTowerSplit | None:
    """Where the frozen prefix's output can be cached, the split; otherwise None."""
    if lock_image:
        return ImageTowerSplit(prefix=model.encode_image, suffix=lambda x: x, frozen_modules=[model.visual])
    if unlock_last_blocks is None:
        return None
    visual = model.visual
    trunk = _trunk(visual)
    if trunk is None or not hasattr(model, "encode_image"):
        return None
    blocks = image_blocks(model)
    frozen_blocks = blocks[: len(blocks) - unlock_last_blocks]
    trainable_blocks = blocks[len(blocks) - unlock_last_blocks :]
    head = getattr(visual, "head", None) if trunk is not visual else None

    def prefix(images: torch.Tensor) -> torch.Tensor:
        x = trunk.bn1(trunk.conv_stem(images))
        for block in frozen_blocks:
            x = block(x)
        return x

    def suffix(x: torch.Tensor) -> torch.Tensor:
        for block in trainable_blocks:
            x = block(x)
        x = trunk.bn2(trunk.conv_head(x))
        x = trunk.forward_head(x)
        return head(x) if head is not None else x

    return ImageTowerSplit(prefix, suffix, [trunk.conv_stem, trunk.bn1, *frozen_blocks])


def set_frozen_eval(modules: list[nn.Module]) -> None:
    """Keep frozen modules in eval mode (batch-norm statistics and dropout fixed)."""
    for module in modules:
        module.eval()
