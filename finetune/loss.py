"""Bidirectional contrastive (CLIP) loss with same-caption pairs treated as positives."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

MAX_LOGIT_SCALE = math.log(100.0)
"""open_clip clamps the learnable log temperature to [0, ln 100] after every step."""


def caption_groups(captions: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """One integer id per caption; equal captions share an id."""
    ids: dict[str, int] = {}
    return torch.tensor([ids.setdefault(c, len(ids)) for c in captions], dtype=torch.long, device=device)


def positive_targets(groups: torch.Tensor) -> torch.Tensor:
    """Row-normalised target matrix: pair (i, j) is positive when captions i and j are identical."""
    same = (groups[:, None] == groups[None, :]).float()
    return same / same.sum(dim=1, keepdim=True)


def contrastive_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean of image->text and text->image cross-entropy on L2-normalised features.

    ``logit_scale`` is the log temperature (exponentiated here). With ``groups`` (see
    :func:`caption_groups`) identical captions in the batch are all positives, so
    duplicate captions are not pushed apart as false negatives; the loss is then measured as a
    KL divergence to the multi-positive target, so it floors at 0 either way.
    """
    if image_features.shape != text_features.shape:
        raise ValueError(f"image features {tuple(image_features.shape)} and text features {tuple(text_features.shape)} differ")
    scale = logit_scale.float().exp()
    logits = scale * image_features.float() @ text_features.float().t()
    if groups is None:
        labels = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    targets = positive_targets(groups.to(logits.device))
    # minus the targets' entropy (a constant): the loss is a KL divergence that floors at 0
    entropy = -(targets * targets.clamp_min(1e-12).log()).sum(dim=1).mean()
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2 - entropy


@torch.no_grad()
def clamp_logit_scale(logit_scale: torch.Tensor) -> None:
    """Clamp the log temperature in place to [0, ln 100] as open_clip does."""
    logit_scale.clamp_(0, MAX_LOGIT_SCALE)
