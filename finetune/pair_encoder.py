"""Image and caption features of the model being trained, and one contrastive optimisation step."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from finetune.loss import caption_groups, contrastive_loss
from finetune.towers import ImageTowerSplit
from shared.models.embedding import text_features
from shared.models import LoadedModel

TEXT_BUCKET = 32
"""Captions per text-tower forward: sorted by token count, each bucket padded to its own longest."""


class PairEncoder:
    """Normalised image and text features under the run's precision."""

    def __init__(
        self, loaded: LoadedModel, split: ImageTowerSplit | None, device: torch.device, precision: str, text_bucket: int = TEXT_BUCKET
    ) -> None:
        self.loaded, self.split, self.device, self.text_bucket = loaded, split, device, text_bucket
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.autocast: Callable[[], contextlib.AbstractContextManager[Any]] = (
            (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
        )

    def images(self, inputs: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            features = self.split.suffix(inputs) if self.split else self.loaded.model.encode_image(inputs)
        return F.normalize(features.float(), dim=-1)

    def texts(self, captions: Sequence[str]) -> torch.Tensor:
        """Caption features in the captions' order, encoded in buckets of similar token length."""
        return F.normalize(text_features(self.loaded, captions, self.text_bucket, self.autocast), dim=-1)


def contrastive_step(
    encoder: PairEncoder, micro_batches: list[tuple[torch.Tensor, list[str]]], device: torch.device
) -> float:
    """One optimisation step's forward/backward; with several micro-batches, cache features so the
    whole effective batch serves as negatives (open_clip ``--accum-freq``)."""
    logit_scale = encoder.loaded.model.logit_scale
    captions = [c for _, batch_captions in micro_batches for c in batch_captions]
    groups = caption_groups(captions, device)
    if len(micro_batches) == 1:
        inputs, batch_captions = micro_batches[0]
        loss = contrastive_loss(encoder.images(inputs.to(device)), encoder.texts(batch_captions), logit_scale, groups)
        loss.backward()
        return float(loss.detach())
    with torch.no_grad():
        cached = [(encoder.images(x.to(device)), encoder.texts(c)) for x, c in micro_batches]
    loss_value = 0.0
    for index, (inputs, batch_captions) in enumerate(micro_batches):
        image_features = [f for f, _ in cached]
        text_features = [t for _, t in cached]
        image_features[index] = encoder.images(inputs.to(device))
        text_features[index] = encoder.texts(batch_captions)
        # the temperature's gradient is taken once, not once per micro-batch
        scale = logit_scale if index == 0 else logit_scale.detach()
        loss = contrastive_loss(torch.cat(image_features), torch.cat(text_features), scale, groups)
        loss.backward()
        loss_value = float(loss.detach())
    return loss_value
