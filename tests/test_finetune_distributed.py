"""The torchrun environment, each rank's share of the batches and of the products (no process group needed)."""

from __future__ import annotations

import pytest
import torch

from finetune.distributed import SINGLE_PROCESS, Ranks, process_group, rank_slice, ranks_from_environment, shard_batches
from finetune.sampling import epoch_batches
from shared.runtime import DeviceError


def test_torchrun_environment_gives_the_ranks_and_its_absence_one_process() -> None:
    assert ranks_from_environment({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(1, 4, 1)
    assert ranks_from_environment({}) == SINGLE_PROCESS and not SINGLE_PROCESS.distributed and SINGLE_PROCESS.is_main
    with pytest.raises(ValueError, match="RANK=5 is outside WORLD_SIZE=2; start the run with torchrun"):
        ranks_from_environment({"RANK": "5", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="not integers"):
        ranks_from_environment({"RANK": "a", "WORLD_SIZE": "2"})


def test_ranks_take_disjoint_slices_of_the_same_global_batches() -> None:
    keys = [f"type {i % 5}" for i in range(100)]
    batches = epoch_batches(100, 24, seed=3, epoch=2, group_keys=keys, group_size=4)
    shards = [shard_batches(batches, Ranks(rank, 3, rank)) for rank in range(3)]
    assert shards[0] == shard_batches(epoch_batches(100, 24, seed=3, epoch=2, group_keys=keys, group_size=4), Ranks(0, 3, 0))
    for step, batch in enumerate(batches):
        parts = [shard[step] for shard in shards]
        assert all(len(part) == 8 for part in parts)
        assert sum(parts, []) == batch  # rank order rebuilds the global batch: disjoint and complete
    assert shard_batches(batches, SINGLE_PROCESS) == batches
    assert shard_batches(epoch_batches(100, 24, seed=3, epoch=3), Ranks(0, 3, 0)) != shards[0]  # another epoch, another order


def test_a_batch_too_small_for_the_ranks_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="a global batch of 1 products cannot be split over 2 processes"):
        shard_batches([[7]], Ranks(0, 2, 0))


def test_rank_slices_cover_every_product_once() -> None:
    slices = [rank_slice(10, Ranks(rank, 3, rank)) for rank in range(3)]
    assert [list(range(10))[s] for s in slices] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_more_processes_than_gpus_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceError, match="LOCAL_RANK 1 has no GPU \\(1 visible\\); pass --nproc_per_node at most"):
        with process_group("cuda"):
            pass
