"""AdamW parameter groups (per tower, no decay on norms/biases/temperature) and the LR schedule."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

TOWERS = ("image", "text", "projection")
_PROJECTION_NAMES = ("logit_scale", "logit_bias", "text_projection", "visual.proj")
_PROJECTION_PREFIXES = ("visual.head.", "text.proj.", "visual.proj.", "text_projection.", "image_projection.")


def tower_of(name: str) -> str:
    """Which learning-rate group a parameter belongs to: 'image', 'text' or 'projection'."""
    if name in _PROJECTION_NAMES or name.startswith(_PROJECTION_PREFIXES):
        return "projection"
    if name.startswith("visual."):
        return "image"
    return "text"


def decays(name: str, parameter: torch.Tensor) -> bool:
    """Weight decay applies to matrices and kernels, not to norms, biases, embeddings' scales or the temperature."""
    return parameter.ndim >= 2 and "logit_scale" not in name and not name.endswith(".bias")


def parameter_groups(
    model: nn.Module, learning_rates: dict[str, float], weight_decay: float
) -> list[dict[str, object]]:
    """AdamW groups keyed by (tower, decay); only parameters with ``requires_grad``."""
    buckets: dict[tuple[str, bool], list[torch.Tensor]] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            buckets.setdefault((tower_of(name), decays(name, parameter)), []).append(parameter)
    groups = []
    for (tower, decay), params in sorted(buckets.items()):
        groups.append(
            {"params": params, "lr": learning_rates[tower], "weight_decay": weight_decay if decay else 0.0, "name": f"{tower}{'' if decay else '_no_decay'}"}
        )
    if not groups:
        raise ValueError("no trainable parameter: unlock the text tower or some image blocks")
    return groups


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """Learning-rate multiplier: linear warmup to 1, then cosine decay to ``min_ratio``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def set_learning_rates(optimizer: torch.optim.Optimizer, base_rates: Iterable[float], multiplier: float) -> None:
    for group, base in zip(optimizer.param_groups, base_rates):
        group["lr"] = base * multiplier
