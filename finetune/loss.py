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
    return _two_way_loss(logits, logits.t(), groups, 0)


def local_contrastive_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    all_image_features: torch.Tensor,
    all_text_features: torch.Tensor,
    logit_scale: torch.Tensor,
    groups: torch.Tensor | None = None,
    first_row: int = 0,
) -> torch.Tensor:
    """:func:`contrastive_loss` of the global batch's rows ``first_row ..`` only (open_clip's ``local_loss``).

    One rank's pairs (``image_features``, ``text_features``) against every rank's (``all_*``);
    ``groups`` has one id per row of the global batch. The mean over the ranks' local losses equals
    the global loss when every rank holds as many rows, at a fraction of the logits' memory.
    """
    if image_features.shape != text_features.shape or all_image_features.shape != all_text_features.shape:
        raise ValueError(
            f"image features {tuple(image_features.shape)}/{tuple(all_image_features.shape)} and text features "
            f"{tuple(text_features.shape)}/{tuple(all_text_features.shape)} differ"
        )
    if first_row + image_features.shape[0] > all_image_features.shape[0]:
        raise ValueError(f"rows {first_row}..{first_row + image_features.shape[0]} lie outside a global batch of {all_image_features.shape[0]}")
    scale = logit_scale.float().exp()
    logits_per_image = scale * image_features.float() @ all_text_features.float().t()
    logits_per_text = scale * text_features.float() @ all_image_features.float().t()
    return _two_way_loss(logits_per_image, logits_per_text, groups, first_row)


def _two_way_loss(logits_per_image: torch.Tensor, logits_per_text: torch.Tensor, groups: torch.Tensor | None, first_row: int) -> torch.Tensor:
    """Both directions' cross-entropy for the rows ``first_row ..`` of the global batch (logits: rows x all)."""
    rows = torch.arange(first_row, first_row + logits_per_image.shape[0], device=logits_per_image.device)
    if groups is None:
        return (F.cross_entropy(logits_per_image, rows) + F.cross_entropy(logits_per_text, rows)) / 2
    targets = positive_targets(groups.to(logits_per_image.device))[rows]
    # minus the targets' entropy (a constant): the loss is a KL divergence that floors at 0
    entropy = -(targets * targets.clamp_min(1e-12).log()).sum(dim=1).mean()
    return (F.cross_entropy(logits_per_image, targets) + F.cross_entropy(logits_per_text, targets)) / 2 - entropy


@torch.no_grad()
def clamp_logit_scale(logit_scale: torch.Tensor) -> None:
    """Clamp the log temperature in place to [0, ln 100] as open_clip does."""
    logit_scale.clamp_(0, MAX_LOGIT_SCALE)
