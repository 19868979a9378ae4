"""Data-parallel training under ``torchrun``: the process group, each rank's share of a global batch,
and features gathered over all ranks for a contrastive loss on the global batch (as open_clip does).

Without torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK) every function here is the
single-process identity, so ``python -m finetune`` behaves as before.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from finetune.loss import caption_groups
from shared.runtime import DeviceError, resolve_device


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and the final model, and shows progress."""
        return self.rank == 0


SINGLE_PROCESS = Ranks()


def ranks_from_environment(environ: dict[str, str] | None = None) -> Ranks:
    """The ranks torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK); one process without them."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return SINGLE_PROCESS
    try:
        ranks = Ranks(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", env["RANK"])))
    except ValueError:
        raise ValueError(
            f"RANK={env['RANK']!r}, WORLD_SIZE={env['WORLD_SIZE']!r}: not integers; start the run with torchrun, which sets them"
        ) from None
    if not 0 <= ranks.rank < ranks.world_size:
        raise ValueError(f"RANK={ranks.rank} is outside WORLD_SIZE={ranks.world_size}; start the run with torchrun, which sets them")
    return ranks


@contextmanager
def process_group(requested_device: str) -> Iterator[tuple[Ranks, torch.device]]:
    """Join torchrun's process group (nccl on CUDA, gloo on CPU), one device per local rank; leave it after.

    Yields the ranks and this process's device; outside torchrun, one process on ``requested_device``.
    A group the caller already started is used and left running.
    """
    ranks = ranks_from_environment()
    device = resolve_device(requested_device)
    if not ranks.distributed:
        yield ranks, device
        return
    if device.type == "cuda":
        if ranks.local_rank >= torch.cuda.device_count():
            raise DeviceError(
                f"LOCAL_RANK {ranks.local_rank} has no GPU ({torch.cuda.device_count()} visible); "
                "pass --nproc_per_node at most the number of GPUs"
            )
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    started = not dist.is_initialized()
    if started:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ranks.rank, world_size=ranks.world_size)
    try:
        yield ranks, device
    finally:
        if started:
            dist.destroy_process_group()


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (no-op in one process)."""
    if ranks.distributed:
        dist.barrier()


def broadcast_from_main(value: Any, ranks: Ranks) -> Any:
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if not ranks.distributed:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def shard_batches(batches: Sequence[Sequence[int]], ranks: Ranks) -> list[list[int]]:
    """This rank's contiguous, disjoint slice of every global batch (the same global order on every rank).

    Each rank takes ``len(batch) // world_size`` items, so all ranks step in lockstep with equal shares;
    the remainder of a batch that does not divide (at most world_size - 1 items) is left out.
    """
    if not ranks.distributed:
        return [list(b) for b in batches]
    shards = []
    for batch in batches:
        share = len(batch) // ranks.world_size
        if share < 1:
            raise ValueError(
                f"a global batch of {len(batch)} products cannot be split over {ranks.world_size} processes; "
                "use more training products or fewer processes"
            )
        shards.append(list(batch[ranks.rank * share : (ranks.rank + 1) * share]))
    return shards


def gather_features(
    image_features: torch.Tensor, text_features: torch.Tensor, ranks: Ranks, *, gather_with_grad: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's features concatenated in rank order (open_clip's ``gather_features``).

    With ``gather_with_grad`` the gather is differentiable (its backward sums every rank's gradient
    into the owner's features, as ``torch.distributed.nn.all_gather`` does), so DDP's averaged gradients equal a
    single process's on the global batch. Without it, the other ranks' features are constants and
    only this rank's slice (put back in place) carries a gradient.
    """
    if not ranks.distributed:
        return image_features, text_features
    if gather_with_grad:
        return _GatherWithGrad.apply(image_features), _GatherWithGrad.apply(text_features)
    gathered_images = [torch.zeros_like(image_features) for _ in range(ranks.world_size)]
    gathered_texts = [torch.zeros_like(text_features) for _ in range(ranks.world_size)]
    dist.all_gather(gathered_images, image_features)
    dist.all_gather(gathered_texts, text_features)
    gathered_images[ranks.rank], gathered_texts[ranks.rank] = image_features, text_features
    return torch.cat(gathered_images), torch.cat(gathered_texts)


class _GatherWithGrad(torch.autograd.Function):
    """All ranks' equal-shaped tensors concatenated; backward: the summed gradient of this rank's rows.

    (``torch.distributed.nn.all_gather`` is deprecated; an all-reduce backward works on gloo and nccl alike.)
    """

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world_size, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rows = slice(rank * tensor.shape[0], (rank + 1) * tensor.shape[0])
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        summed = gradient.contiguous().clone()
        dist.all_reduce(summed)
        return summed[ctx.rows]


def global_caption_groups(captions: Sequence[str], ranks: Ranks, device: torch.device | str = "cpu") -> torch.Tensor:
    """One id per row of the global batch (every rank's captions in rank order); equal captions share an id.

    The ranks exchange a 64-bit hash of each caption (one tensor all-gather, no pickled strings per step).
    """
    if not ranks.distributed:
        return caption_groups(captions, device)
    hashes = torch.tensor([_caption_hash(c) for c in captions], dtype=torch.long, device=device)
    gathered = [torch.empty_like(hashes) for _ in range(ranks.world_size)]
    dist.all_gather(gathered, hashes)
    return torch.unique(torch.cat(gathered), return_inverse=True)[1]


def _caption_hash(caption: str) -> int:
    return int.from_bytes(hashlib.blake2b(caption.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def gather_rows(rows: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """Every rank's ``rows`` concatenated in rank order; the ranks may hold different row counts."""
    if not ranks.distributed:
        return rows
    counts: list[int | None] = [None] * ranks.world_size
    dist.all_gather_object(counts, int(rows.shape[0]))
    longest = max(int(c or 0) for c in counts)
    padded = torch.zeros((longest, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    padded[: rows.shape[0]] = rows
    parts = [torch.empty_like(padded) for _ in range(ranks.world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(count or 0)] for part, count in zip(parts, counts)])


def rank_slice(count: int, ranks: Ranks) -> slice:
    """This rank's contiguous share of ``count`` items (the first ranks take one more when it does not divide)."""
    base, extra = divmod(count, ranks.world_size)
    start = ranks.rank * base + min(ranks.rank, extra)
    return slice(start, start + base + (1 if ranks.rank < extra else 0))
