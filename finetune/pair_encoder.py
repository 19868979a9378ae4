"""Image and caption features of the model being trained, and one contrastive optimisation step."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from finetune.distributed import SINGLE_PROCESS, Ranks, gather_features, global_caption_groups
from finetune.loss import contrastive_loss, local_contrastive_loss
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


class FeaturePair(nn.Module):
    """The encoder as one module call (images and captions of a micro-batch in, features out), so that
    DistributedDataParallel can wrap it and average the gradients of the model's parameters."""

    def __init__(self, encoder: PairEncoder) -> None:
        super().__init__()
        self.model = encoder.loaded.model  # registered: DDP syncs the model's parameters
        self.encoder = encoder

    def forward(self, inputs: torch.Tensor, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.images(inputs), self.encoder.texts(captions)


@dataclass(frozen=True)
class GlobalBatch:
    """How one rank's features join the other ranks' into the loss over the global batch (see ``distributed``)."""

    ranks: Ranks = SINGLE_PROCESS
    gather_with_grad: bool = True
    local_loss: bool = False


def contrastive_step(
    encoder: PairEncoder,
    micro_batches: list[tuple[torch.Tensor, list[str]]],
    device: torch.device,
    *,
    features: Callable[[torch.Tensor, Sequence[str]], tuple[torch.Tensor, torch.Tensor]] | None = None,
    no_sync: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    global_batch: GlobalBatch = GlobalBatch(),
) -> float:
    """One optimisation step's forward/backward over this rank's micro-batches; with several, cache
    features so the whole effective batch serves as negatives (open_clip ``--accum-freq``).

    Under torchrun, ``features`` is the DDP-wrapped :class:`FeaturePair`, ``no_sync`` its ``no_sync``
    (gradients are averaged once, on the last micro-batch), and the loss runs over every rank's features.
    """
    encode = features or (lambda inputs, captions: (encoder.images(inputs), encoder.texts(captions)))
    logit_scale = encoder.loaded.model.logit_scale
    local_captions = [c for _, batch_captions in micro_batches for c in batch_captions]
    ranks = global_batch.ranks
    groups = global_caption_groups(local_captions, ranks, device)

    def loss_of(image_features: torch.Tensor, text_features: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        all_images, all_texts = gather_features(image_features, text_features, ranks, gather_with_grad=global_batch.gather_with_grad)
        if global_batch.local_loss:
            first_row = ranks.rank * image_features.shape[0]
            return local_contrastive_loss(image_features, text_features, all_images, all_texts, scale, groups, first_row)
        return contrastive_loss(all_images, all_texts, scale, groups)

    if len(micro_batches) == 1:
        inputs, batch_captions = micro_batches[0]
        loss = loss_of(*encode(inputs.to(device), batch_captions), logit_scale)
        loss.backward()
        return float(loss.detach())
    with torch.no_grad():
        cached = [encode(x.to(device), c) for x, c in micro_batches]
    loss_value = 0.0
    last = len(micro_batches) - 1
    for index, (inputs, batch_captions) in enumerate(micro_batches):
        image_features = [f for f, _ in cached]
        text_features = [t for _, t in cached]
        with no_sync() if index < last else contextlib.nullcontext():
            image_features[index], text_features[index] = encode(inputs.to(device), batch_captions)
            # the temperature's gradient is taken once (on the last micro-batch, where DDP averages), not once per micro-batch
            scale = logit_scale if index == last else logit_scale.detach()
            loss = loss_of(torch.cat(image_features), torch.cat(text_features), scale)
            loss.backward()
        loss_value = float(loss.detach())
    return loss_value
