"""Data-parallel fine-tuning throughput (samples/s over all ranks: forward, gathered global-batch loss,
backward with DDP's gradient all-reduce, AdamW step), one process per GPU under torchrun.

    torchrun --nproc_per_node 1 benchmarks/bench_finetune_gpus.py --model ViT-B-32-quickgelu --precision bf16
    torchrun --nproc_per_node 8 benchmarks/bench_finetune_gpus.py --model ViT-B-32-quickgelu --precision bf16

Runs the training step of ``python -m finetune`` (``contrastive_step`` with the DDP-wrapped encoder) on
generated garments and catalog-like captions; the weights are the architecture's random init
(``--pretrained`` to load real ones), which does not change the cost. ``--batch-size`` is per process, as in
``python -m finetune``. On CPU it runs on gloo (``--device cpu --model tiny-test``: a check of the script).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune.captions import sample_caption
from finetune.distributed import Ranks, process_group
from finetune.loss import clamp_logit_scale
from finetune.optim import parameter_groups
from finetune.pair_encoder import GlobalBatch, PairEncoder, contrastive_step
from finetune.parallel import data_parallel
from finetune.towers import lock_text_tower
from shared.models import load_model
from tests.synthetic import ARTICLES, COLOURS, draw_garment, make_rows


def _batch(loaded_transform: object, count: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    rng = random.Random(seed)
    rows = make_rows(count)
    captions = [str(sample_caption({k: v for k, v in row.items() if k != "image"}, rng)) for row in rows]
    pictures = [draw_garment(list(ARTICLES)[i % len(ARTICLES)], list(COLOURS)[(i + seed) % len(COLOURS)]) for i in range(count)]
    return torch.stack([loaded_transform(p) for p in pictures]), captions  # type: ignore[operator]


def measure(args: argparse.Namespace, ranks: Ranks, device: torch.device) -> float:
    """Samples/s of the global batch (``--batch-size`` x ranks) over ``--steps`` timed steps."""
    torch.manual_seed(0)
    loaded = load_model(args.model, args.pretrained, device=str(device))
    model = loaded.model.to(device).train()
    lock_text_tower(model, args.unlock_text_layers)
    if args.grad_checkpointing:
        model.set_grad_checkpointing(True)
    encoder = PairEncoder(loaded, None, device, args.precision)
    optimizer = torch.optim.AdamW(parameter_groups(model, {"image": 1e-5, "text": 1e-5, "projection": 1e-4}, 0.1), betas=(0.9, 0.98), eps=1e-6)
    features, no_sync = data_parallel(encoder, ranks, device)
    images, captions = _batch(loaded.train_transform, args.batch_size, seed=ranks.rank)
    micro = args.batch_size // args.accum_freq
    micro_batches = [(images[i : i + micro].to(device), captions[i : i + micro]) for i in range(0, args.batch_size, micro)]
    global_batch = GlobalBatch(ranks, gather_with_grad=True, local_loss=args.local_loss)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        contrastive_step(encoder, micro_batches, device, features=features, no_sync=no_sync, global_batch=global_batch)
        optimizer.step()
        clamp_logit_scale(model.logit_scale)

    for _ in range(args.warmup_steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return args.batch_size * ranks.world_size * args.steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-32-quickgelu")
    parser.add_argument("--pretrained", default=None, help="pretrained tag (default: random init, the same cost)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="bf16")
    parser.add_argument("--batch-size", type=int, default=256, help="per process (default: 256)")
    parser.add_argument("--accum-freq", type=int, default=1)
    parser.add_argument("--unlock-text-layers", type=int, default=None)
    parser.add_argument("--grad-checkpointing", action="store_true")
    parser.add_argument("--local-loss", action="store_true")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.batch_size % args.accum_freq:
        parser.error(f"--batch-size {args.batch_size} is not a multiple of --accum-freq {args.accum_freq}")
    with process_group(args.device) as (ranks, device):
        samples_per_s = measure(args, ranks, device)
        if ranks.is_main:
            name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
            print("| model | precision | processes | device | global batch | samples/s | per process |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            print(f"| {args.model} | {args.precision} | {ranks.world_size} | {name} | {args.batch_size * ranks.world_size} | "
                  f"{samples_per_s:.1f} | {samples_per_s / ranks.world_size:.1f} |", flush=True)


if __name__ == "__main__":
    main()
