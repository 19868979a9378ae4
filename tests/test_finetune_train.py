"""End-to-end training of the tiny-test model on generated garments (CPU, a few seconds each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import copy

import pytest
import torch

from finetune.captions import CaptionError
from finetune.checkpoints import read_log
from finetune.config import TrainConfig
from finetune.optim import tower_of
from finetune.towers import lock_text_tower, text_layers
from finetune.pair_encoder import PairEncoder, contrastive_step
from finetune.train import TrainResult, train
from shared.models import LoadedModel, load_model
from shared.models.weights import WeightsError, read_weights, save_weights
from tests.synthetic import make_rows, write_kaggle, write_parquet


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and results are then bit-reproducible."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(dataset: Path, output: Path, **overrides: object) -> TrainConfig:
    values: dict[str, object] = dict(
        model="tiny-test", pretrained=None, dataset=str(dataset), batch_size=8, epochs=20,
        lr_image=1e-3, lr_text=1e-3, lr_projection=1e-3, warmup_fraction=0.1, val_fraction=0.25,
        output_dir=str(output), progress=False,
    )
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def garments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 garments with 60 distinct display names: validation R@1 equals Hit@1, chance 1/15."""
    return write_parquet(tmp_path_factory.mktemp("garments"), make_rows(60))


@pytest.fixture(scope="module")
def trained(garments: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    torch.set_num_threads(1)
    return train(_config(garments, tmp_path_factory.mktemp("run")))


def test_tiny_model_learns_far_above_chance(trained: TrainResult) -> None:
    chance = 1 / 15
    first, best = trained.history[0], max(h["val_R@1"] for h in trained.history)
    assert first["val_R@1"] <= 2 * chance
    assert best >= 3 * chance
    assert trained.best_metrics["R@10"] == max(h["val_R@10"] for h in trained.history)  # kept by R@10
    assert trained.history[-1]["train_loss"] < first["train_loss"] - 0.5


def test_checkpoints_and_final_weights_load_back_bit_exact(trained: TrainResult) -> None:
    final = read_weights(trained.final_path)
    model_state = trained.loaded.model.state_dict()
    assert final.model_name == "tiny-test"
    assert set(final.state_dict) == set(model_state)
    assert all(torch.equal(final.state_dict[k], model_state[k].cpu()) for k in model_state)
    reloaded = load_model("tiny-test", weights=trained.final_path).model.state_dict()
    assert all(torch.equal(reloaded[k], model_state[k].cpu()) for k in model_state)
    assert final.metadata["best_epoch"] == trained.best_epoch
    assert final.metadata["training"]["batch_size"] == 8
    checkpoints = Path(trained.final_path).parents[1] / "checkpoints"
    for epoch in range(0, 21):
        assert (checkpoints / f"clip_fashion_epoch{epoch}.pt").is_file()
    best = read_weights(checkpoints / f"clip_fashion_epoch{trained.best_epoch}.pt")
    assert all(torch.equal(best.state_dict[k], final.state_dict[k]) for k in final.state_dict)
    log = read_log(checkpoints / "train_log.jsonl")
    assert [r["epoch"] for r in log] == list(range(1, 21))
    assert {"train_loss", "val_R@1", "val_R@10", "val_MRR@10", "samples_per_s"} <= set(log[0])


def test_resume_continues_where_the_run_stopped(garments: Path, tmp_path: Path) -> None:
    straight = train(_config(garments, tmp_path / "straight", epochs=3, subset_size=40, batch_size=8))
    interrupted = _config(garments, tmp_path / "resumed", epochs=3, subset_size=40, batch_size=8)
    train(interrupted, stop_after_epoch=1)
    assert not interrupted.final_path.exists()
    interrupted.resume = True
    resumed = train(interrupted)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    a, b = straight.loaded.model.state_dict(), resumed.loaded.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in resumed.history]


def test_resume_without_a_run_is_a_clear_error(garments: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(_config(garments, tmp_path, resume=True, epochs=1))


def test_accumulation_keeps_the_whole_batch_as_negatives() -> None:
    torch.manual_seed(0)
    loaded = load_model("tiny-test", None)
    model = loaded.model.train()
    encoder = PairEncoder(loaded, None, torch.device("cpu"), "fp32")
    images = torch.randn(8, 3, 32, 32)
    captions = [f"caption {i % 6}" for i in range(8)]

    def gradients(micro: int) -> dict[str, torch.Tensor]:
        model.zero_grad()
        chunks = [(images[i : i + micro], captions[i : i + micro]) for i in range(0, 8, micro)]
        contrastive_step(encoder, chunks, torch.device("cpu"))
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole, accumulated = gradients(8), gradients(4)
    assert set(whole) == set(accumulated)
    for name in whole:
        assert torch.allclose(whole[name], accumulated[name], atol=1e-5, rtol=1e-3), name


def test_locked_image_tower_trains_on_cached_features(garments: Path, tmp_path: Path) -> None:
    result = train(_config(garments, tmp_path, epochs=2, lock_image=True, feature_cache_dir=str(tmp_path / "cache")))
    start = read_weights(tmp_path / "checkpoints" / "clip_fashion_epoch0.pt").state_dict
    end = result.loaded.model.state_dict()
    assert all(torch.equal(start[k], end[k]) for k in start if k.startswith("visual."))
    assert any(not torch.equal(start[k], end[k]) for k in start if not k.startswith("visual."))
    assert list((tmp_path / "cache").glob("image_prefix_*.pt"))


@pytest.mark.parametrize("model", ["tiny-test", "tiny-hf-test"])
def test_locked_text_tower_trains_only_its_projection(garments: Path, tmp_path: Path, model: str) -> None:
    result = train(_config(garments, tmp_path, model=model, epochs=2, unlock_text_layers=0))
    start = read_weights(tmp_path / "checkpoints" / "clip_fashion_epoch0.pt").state_dict
    end = result.loaded.model.state_dict()
    text = [k for k in start if not k.startswith("visual.") and tower_of(k) == "text"]
    projections = [k for k in start if not k.startswith("visual.") and tower_of(k) == "projection" and k != "logit_scale"]
    assert text and projections
    assert all(torch.equal(start[k], end[k]) for k in text)
    assert any(not torch.equal(start[k], end[k]) for k in projections)
    assert any(not torch.equal(start[k], end[k]) for k in start if k.startswith("visual."))


def test_unlocked_text_layers_train_only_the_last_layers(tiny_hf: LoadedModel) -> None:
    model = copy.deepcopy(tiny_hf.model)
    trainable_all = lock_text_tower(model, None)
    trainable_last = lock_text_tower(model, 1)
    last = {id(p) for p in text_layers(model)[-1].parameters()}
    assert 0 < trainable_last < trainable_all and len(text_layers(model)) >= 2
    for name, parameter in model.named_parameters():
        if name.startswith("text.transformer."):
            assert parameter.requires_grad == (id(parameter) in last), name
    with pytest.raises(ValueError, match="--unlock-text-layers 99: the text tower has only"):
        lock_text_tower(model, 99)


def test_no_caption_columns_is_a_clear_error(tmp_path: Path) -> None:
    captionless = ["productDisplayName", "articleType", "baseColour", "gender", "usage", "season", "subCategory"]
    dataset = write_parquet(tmp_path / "data", make_rows(8), drop=captionless)
    with pytest.raises(CaptionError, match="no caption columns"):
        train(_config(dataset, tmp_path / "out", epochs=1))


def test_empty_subset_is_a_clear_error(garments: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--subset-size 0 selects no products"):
        train(_config(garments, tmp_path, subset_size=0))


def test_weights_of_another_architecture_are_refused(garments: Path, tmp_path: Path) -> None:
    other = load_model("tiny-hf-test", None)
    path = tmp_path / "other.pt"
    save_weights(path, other.model, "tiny-hf-test")
    with pytest.raises(WeightsError, match="hold a tiny-hf-test model, not tiny-test"):
        train(_config(garments, tmp_path / "out", weights=str(path)))


def test_unwritable_output_directory_is_a_clear_error(garments: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(PermissionError, match="is not writable.*--output-dir"):
        train(_config(garments, blocker / "out"))


def test_rows_left_out_of_training_are_reported_by_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows(40)
    rows[5]["id"] = rows[4]["id"]  # a repeated id: the first row is the product
    rows[6]["id"] = "3001.4"  # not a whole number: rejected
    rows[7]["image"] = b"not an image"
    train(_config(write_kaggle(tmp_path / "kaggle", rows), tmp_path / "out", epochs=1))
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("left out of training: "))
    assert "1 broken images" in line and "3001.4 (" in line and f"duplicate ids (first row kept): {rows[4]['id']}" in line
