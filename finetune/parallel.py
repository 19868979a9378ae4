"""The model under DistributedDataParallel: the encoder wrapped so DDP averages its gradients over ranks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from finetune.distributed import Ranks
from finetune.pair_encoder import FeaturePair, PairEncoder

FeatureFunction = Callable[[torch.Tensor, Sequence[str]], tuple[torch.Tensor, torch.Tensor]]


def data_parallel(
    encoder: PairEncoder, ranks: Ranks, device: torch.device
) -> tuple[FeatureFunction | None, Callable[[], contextlib.AbstractContextManager[Any]]]:
    """The features function and ``no_sync`` for ``contrastive_step``: the DDP-wrapped encoder under
    torchrun (rank 0's weights broadcast to all ranks now), else (None, nullcontext): the plain encoder."""
    if not ranks.distributed:
        return None, contextlib.nullcontext
    wrapped = DistributedDataParallel(FeaturePair(encoder), device_ids=[device.index] if device.type == "cuda" else None)
    return wrapped, wrapped.no_sync
