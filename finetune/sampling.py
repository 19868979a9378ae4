"""Which training items share a batch: random batches, or batches of blocks that share an attribute.

A random batch of 128 from a fashion catalog holds shoes, watches and shirts, which a model tells
apart after a few hundred steps; its in-batch negatives then teach little. Display-name search in
a whole catalog needs the fine distinctions (brand, colour, cut) between products of one article
type. Grouped batches are made of blocks of ``group_size`` products that share an attribute value
(e.g. articleType), from different values: each block gives hard negatives, the mix of blocks keeps
the coarse contrast.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _permutation(count: int, seed: int, epoch: int) -> list[int]:
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1000 + epoch)).tolist()


def _cut(order: Sequence[int], size: int) -> list[list[int]]:
    """Full chunks of ``size`` (one smaller chunk when there are fewer items than ``size``)."""
    if len(order) < size:
        return [list(order)]
    return [list(order[i : i + size]) for i in range(0, len(order) - size + 1, size)]


def epoch_batches(
    count: int,
    batch_size: int,
    seed: int,
    epoch: int,
    group_keys: Sequence[str] | None = None,
    group_size: int = 32,
) -> list[list[int]]:
    """A seeded epoch of full batches over items ``0..count-1``.

    Without ``group_keys``: a random permutation cut into batches. With them (one key per item):
    items are shuffled within their key, cut into blocks of ``group_size`` items of one key, and
    the blocks are shuffled and joined into batches; leftovers of each key are pooled into mixed blocks.
    """
    order = _permutation(count, seed, epoch)
    if group_keys is None or group_size >= batch_size:
        return _cut(order, batch_size)
    if len(group_keys) != count:
        raise ValueError(f"{len(group_keys)} group keys for {count} items; give one key per item")
    by_key: dict[str, list[int]] = {}
    for item in order:
        by_key.setdefault(group_keys[item], []).append(item)
    blocks: list[list[int]] = []
    leftovers: list[int] = []
    for items in by_key.values():
        full = len(items) - len(items) % group_size
        blocks.extend(items[i : i + group_size] for i in range(0, full, group_size))
        leftovers.extend(items[full:])
    blocks.extend(leftovers[i : i + group_size] for i in range(0, len(leftovers), group_size))
    shuffled = [blocks[i] for i in _permutation(len(blocks), seed, epoch + 7919)]
    joined = [item for block in shuffled for item in block]
    return _cut(joined, batch_size)
