"""Data-parallel fine-tuning on CPU: 2 gloo processes against one process on the same global batch,
and ``torchrun --nproc_per_node 2 -m finetune`` end to end (rank-0 files, --resume across ranks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from finetune.checkpoints import read_log
from finetune.distributed import Ranks, gather_rows, global_caption_groups, process_group, rank_slice, shard_batches
from finetune.loss import caption_groups, clamp_logit_scale
from finetune.optim import parameter_groups
from finetune.pair_encoder import GlobalBatch, PairEncoder, contrastive_step
from finetune.parallel import data_parallel
from shared.models import load_model
from shared.models.weights import read_weights
from tests.synthetic import make_rows, write_parquet

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_BATCH = 8
RATES = {"image": 1e-3, "text": 1e-3, "projection": 1e-3}
VARIANTS: dict[str, dict[str, Any]] = {
    "global loss": {"micro": 4, "local_loss": False, "gather_with_grad": True},
    "local loss": {"micro": 4, "local_loss": True, "gather_with_grad": True},
    "global loss, 2 micro-batches per rank": {"micro": 2, "local_loss": False, "gather_with_grad": True},
    "no gradient through the gather": {"micro": 4, "local_loss": False, "gather_with_grad": False},
}


def _global_batch() -> tuple[torch.Tensor, list[str]]:
    """8 image-caption pairs; captions 0..5 repeat, so caption groups span both ranks' shares."""
    generator = torch.Generator().manual_seed(1)
    return torch.randn(GLOBAL_BATCH, 3, 32, 32, generator=generator), [f"a red shirt number {i % 6}" for i in range(GLOBAL_BATCH)]


def _one_step(ranks: Ranks, device: torch.device, indices: list[int], variant: dict[str, Any]) -> dict[str, dict[str, torch.Tensor]]:
    """Gradients and parameters after one AdamW step of the tiny model on ``indices`` of the global batch."""
    torch.manual_seed(0)
    loaded = load_model("tiny-test", None)
    model = loaded.model.train()
    encoder = PairEncoder(loaded, None, device, "fp32")
    # eps well above the gradients' float noise: with train's eps 1e-6 Adam's first step is ~lr * sign(gradient),
    # which turns 1e-7 noise in a near-zero gradient into a full step of either sign
    optimizer = torch.optim.AdamW(parameter_groups(model, RATES, 0.1), betas=(0.9, 0.98), eps=1e-3)
    features, no_sync = data_parallel(encoder, ranks, device)
    images, captions = _global_batch()
    micro = variant["micro"] if ranks.distributed else GLOBAL_BATCH
    micro_batches = [(images[indices[i : i + micro]], [captions[j] for j in indices[i : i + micro]]) for i in range(0, len(indices), micro)]
    optimizer.zero_grad(set_to_none=True)
    contrastive_step(encoder, micro_batches, device, features=features, no_sync=no_sync,
                     global_batch=GlobalBatch(ranks, variant["gather_with_grad"], variant["local_loss"]))
    gradients = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    optimizer.step()
    clamp_logit_scale(model.logit_scale)
    return {"gradients": gradients, "parameters": {n: p.detach().clone() for n, p in model.named_parameters()}}


def _rank_worker(rank: int, world_size: int, port: int, output: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    with process_group("cpu") as (ranks, device):
        (indices,) = shard_batches([list(range(GLOBAL_BATCH))], ranks)
        results: dict[str, Any] = {name: _one_step(ranks, device, indices, variant) for name, variant in VARIANTS.items()}
        share = rank_slice(5, ranks)  # rank 0 holds rows 0..2, rank 1 rows 3..4 (the frozen-prefix cache's sharding)
        results["gathered rows"] = gather_rows(torch.arange(10.0).reshape(5, 2)[share], ranks)
        results["caption groups"] = global_caption_groups([_global_batch()[1][i] for i in indices], ranks)
    torch.save(results, Path(output) / f"rank{rank}.pt")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def two_rank_steps(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Each variant's step in 2 gloo processes, one result per rank."""
    output = tmp_path_factory.mktemp("ranks")
    mp.start_processes(_rank_worker, args=(2, _free_port(), str(output)), nprocs=2, join=True, start_method="spawn")
    return [torch.load(output / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.fixture(scope="module")
def one_process_step() -> dict[str, dict[str, torch.Tensor]]:
    torch.set_num_threads(1)
    return _one_step(Ranks(), torch.device("cpu"), list(range(GLOBAL_BATCH)), VARIANTS["global loss"])


def _assert_close(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert set(actual) == set(expected) and expected
    for name in expected:
        assert torch.allclose(actual[name], expected[name], atol=1e-6, rtol=1e-4), name


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "no gradient through the gather"])
def test_two_ranks_step_like_one_process_on_the_global_batch(
    two_rank_steps: list[dict[str, Any]], one_process_step: dict[str, dict[str, torch.Tensor]], variant: str
) -> None:
    for rank_result in two_rank_steps:
        _assert_close(rank_result[variant]["gradients"], one_process_step["gradients"])
        _assert_close(rank_result[variant]["parameters"], one_process_step["parameters"])


@pytest.mark.slow
def test_without_gradient_through_the_gather_the_towers_get_half_the_gradient(
    two_rank_steps: list[dict[str, Any]], one_process_step: dict[str, dict[str, torch.Tensor]]
) -> None:
    """open_clip's default gather: only the local slice carries a gradient, so DDP's average halves it."""
    gradients = two_rank_steps[0]["no gradient through the gather"]["gradients"]
    expected = one_process_step["gradients"]
    assert torch.allclose(gradients["logit_scale"], expected["logit_scale"], atol=1e-6, rtol=1e-4)
    towers = [n for n in expected if n != "logit_scale"]
    assert all(torch.allclose(gradients[n], expected[n] / 2, atol=1e-6, rtol=1e-4) for n in towers)


@pytest.mark.slow
def test_uneven_shares_and_caption_groups_gather_in_rank_order(two_rank_steps: list[dict[str, Any]]) -> None:
    one_process = caption_groups(_global_batch()[1])
    for rank_result in two_rank_steps:
        assert torch.equal(rank_result["gathered rows"], torch.arange(10.0).reshape(5, 2))
        groups = rank_result["caption groups"]
        assert torch.equal(groups[:, None] == groups[None, :], one_process[:, None] == one_process[None, :])


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), "-m", "finetune", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_torchrun_trains_writes_rank_zero_files_and_resumes(tmp_path: Path) -> None:
    dataset = write_parquet(tmp_path / "data", make_rows(40))
    output = tmp_path / "run"
    common = ["--model", "tiny-test", "--pretrained", "none", "--dataset", str(dataset), "--batch-size", "4", "--device", "cpu",
              "--val-fraction", "0.25", "--schedule", "constant", "--warmup", "0", "--output-dir", str(output),
              "--lock-image", "--feature-cache-dir", str(tmp_path / "cache")]
    first = _torchrun(*common, "--epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("trained tiny-test") == 1  # the summary line comes from rank 0 alone
    log = read_log(output / "checkpoints" / "train_log.jsonl")
    assert [r["epoch"] for r in log] == [1]
    assert log[0]["steps"] == 3  # 30 training products, global batch 2 x 4
    (cache,) = (tmp_path / "cache").glob("image_prefix_*.pt")  # computed by both ranks, written once by rank 0
    assert torch.load(cache, weights_only=True).shape[0] == 40
    cached_at = cache.stat().st_mtime_ns
    resumed = _torchrun(*common, "--epochs", "2", "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [r["epoch"] for r in read_log(output / "checkpoints" / "train_log.jsonl")] == [1, 2]
    assert cache.stat().st_mtime_ns == cached_at  # every rank read the cache
    final = read_weights(output / "models" / "clip_fashion_final.pt")
    assert final.model_name == "tiny-test" and [h["epoch"] for h in final.metadata["history"]] == [1, 2]
    for epoch in (0, 1, 2):
        assert (output / "checkpoints" / f"clip_fashion_epoch{epoch}.pt").is_file()
    first_epoch, second_epoch = (read_weights(output / "checkpoints" / f"clip_fashion_epoch{e}.pt").state_dict for e in (1, 2))
    assert any(not torch.equal(first_epoch[k], second_epoch[k]) for k in first_epoch)
