from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from finetune.sampling import epoch_batches
from finetune.train import train
from tests.synthetic import make_rows, write_parquet
from tests.test_finetune_train import _config


def test_random_batches_cover_each_item_once_and_are_seeded() -> None:
    batches = epoch_batches(100, 32, seed=0, epoch=1)
    items = [i for b in batches for i in b]
    assert [len(b) for b in batches] == [32, 32, 32] and len(set(items)) == 96
    assert batches == epoch_batches(100, 32, seed=0, epoch=1) != epoch_batches(100, 32, seed=0, epoch=2)
    assert epoch_batches(10, 32, seed=0, epoch=1)[0] != list(range(10)) and len(epoch_batches(10, 32, 0, 1)) == 1


def test_grouped_batches_are_blocks_of_one_key_from_different_keys() -> None:
    keys = [f"type{i % 5}" for i in range(400)]  # 80 items per key
    batches = epoch_batches(400, 64, seed=3, epoch=1, group_keys=keys, group_size=16)
    items = [i for b in batches for i in b]
    assert all(len(b) == 64 for b in batches) and len(set(items)) == len(items) >= 384
    blocks = [b[j : j + 16] for b in batches for j in range(0, 64, 16)]
    assert all(len({keys[i] for i in block}) == 1 for block in blocks)  # 80 = 5 full blocks per key, no leftovers
    assert sum(len({keys[i] for i in b}) > 1 for b in batches) >= len(batches) - 1  # batches mix keys
    random_batches = epoch_batches(400, 64, seed=3, epoch=1)
    purity = lambda bs: sum(max(Counter(keys[i] for i in b).values()) for b in bs) / sum(len(b) for b in bs)
    assert purity(batches) > purity(random_batches) + 0.15


def test_grouped_batches_need_one_key_per_item() -> None:
    with pytest.raises(ValueError, match="3 group keys for 10 items"):
        epoch_batches(10, 4, 0, 0, group_keys=["a", "b", "c"], group_size=2)


def test_grouping_by_a_missing_attribute_is_a_clear_error(tmp_path: Path) -> None:
    dataset = write_parquet(tmp_path / "data", make_rows(24))
    with pytest.raises(ValueError, match="--group-batches-by brand: no training product has a brand value"):
        train(_config(dataset, tmp_path / "run", epochs=1, group_batches_by="brand"))


def test_training_with_grouped_batches_learns(tmp_path: Path) -> None:
    dataset = write_parquet(tmp_path / "data", make_rows(60))
    result = train(_config(dataset, tmp_path / "run", epochs=12, group_batches_by="articleType", group_size=4))
    assert max(h["val_R@1"] for h in result.history) >= 3 / 15
