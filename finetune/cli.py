"""``python -m finetune``: command-line options mapped onto TrainConfig (model-specific recipe defaults)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from finetune.config import LITE_RECIPE, PRECISIONS, SCHEDULES, TrainConfig, recipe_for
from shared.commands import BUILTIN_ERRORS, fail, missing_dataset_message, run_cli, unwritable_dir_message
from shared.model_spec import DEFAULT_MODEL
from shared.runtime import tune_allocator
from shared.settings import DEFAULT_DATASET

DESCRIPTION = """Fine-tune a CLIP model on fashion products (contrastive image-caption training).

Writes checkpoints/clip_fashion_epoch{N}.pt every epoch (epoch 0 = the starting weights),
checkpoints/train_log.jsonl, and models/clip_fashion_final.pt (the best epoch by validation
display-name R@10) under --output-dir; use the final file with `python -m ingest --weights`.
"""

EPILOG = f"""recommended CPU recipe (the defaults for --model lite): {", ".join(f"{k}={v}" for k, v in LITE_RECIPE.items())}
  python -m finetune --model lite --dataset ../shared/data/fashion-products-19k --output-dir .
ship it as ingest's default model (only the tensors training changed, fp16, under 25 MB):
  python -m finetune.export_shipped --weights models/clip_fashion_final.pt --output shared/models/shipped/fashion-lite.pt
original design (batch 4, lr 1e-6):
  python -m finetune --batch-size 4 --lr 1e-6 --epochs 5
several GPUs (DistributedDataParallel; a global batch of N x --batch-size; rank 0 writes the files):
  torchrun --nproc_per_node 4 -m finetune --batch-size 128 --precision bf16 --output-dir .
"""


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "all", "0") else int(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m finetune", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    m = p.add_argument_group("model and data")
    m.add_argument("--model", default=DEFAULT_MODEL, help=f"model name: {DEFAULT_MODEL} (default), lite, tiny-test or any open_clip name")
    m.add_argument("--pretrained", default=None, help=f"pretrained tag (default: the model's usual weights: openai for {DEFAULT_MODEL}, ImageNet + MiniLM towers for lite)")
    m.add_argument("--weights", default=None, help="continue from this weights file (its architecture must match --model)")
    m.add_argument("--dataset", default=DEFAULT_DATASET, help=f"hub id, parquet file/folder or Kaggle folder (default: {DEFAULT_DATASET})")
    m.add_argument("--subset-size", type=_optional_int, default=None, help="use only the first N products (default: all)")
    m.add_argument("--val-fraction", type=float, default=None, help=f"share of display names held out for validation (default: {d.val_fraction})")
    t = p.add_argument_group("optimisation")
    t.add_argument("--epochs", type=int, default=None, help=f"epochs (default: {d.epochs}; lite: {LITE_RECIPE['epochs']})")
    t.add_argument("--batch-size", type=int, default=None, help=f"batch size per step (default: {d.batch_size}; lite: {LITE_RECIPE['batch_size']})")
    t.add_argument("--lr", type=float, default=None, help="one learning rate for every parameter group (overridden by the per-group flags)")
    t.add_argument("--lr-image", type=float, default=None, help=f"image tower learning rate (default: {d.lr_image})")
    t.add_argument("--lr-text", type=float, default=None, help=f"text tower learning rate (default: {d.lr_text})")
    t.add_argument("--lr-projection", type=float, default=None, help=f"projection heads and temperature learning rate (default: {d.lr_projection})")
    t.add_argument("--weight-decay", type=float, default=None, help=f"AdamW weight decay, off for norms, biases and the temperature (default: {d.weight_decay})")
    t.add_argument("--warmup", type=float, default=None, dest="warmup_fraction", help=f"warmup as a fraction of all steps (default: {d.warmup_fraction})")
    t.add_argument("--schedule", choices=SCHEDULES, default=None, help="learning-rate schedule after warmup (default: cosine)")
    t.add_argument("--precision", choices=PRECISIONS, default=None, help="autocast precision (default: fp32)")
    t.add_argument("--grad-checkpointing", action="store_true", default=None, help="recompute activations in backward to save memory")
    t.add_argument("--accum-freq", type=int, default=None, help="micro-batches per step; features are cached so the whole effective batch is negatives")
    t.add_argument("--lock-image", action="store_true", default=None, help="freeze the whole image tower (LiT); its features are computed once")
    t.add_argument("--unlock-last-blocks", type=int, default=None, help="freeze the image tower except its last N blocks and the projection")
    t.add_argument("--unlock-text-layers", type=int, default=None,
                   help="freeze the text tower except its last N layers and the projection (0: only the projection trains)")
    t.add_argument("--group-batches-by", default=None, metavar="FIELD",
                   help="hard negatives: build batches from blocks of products sharing FIELD (e.g. articleType)")
    t.add_argument("--group-size", type=int, default=None, help=f"products per block with --group-batches-by (default: {d.group_size})")
    t.add_argument("--no-feature-cache", dest="cache_image_features", action="store_false", default=None, help="recompute the frozen image prefix every step")
    t.add_argument("--feature-cache-dir", default=None, help="keep the frozen image prefix's features here between runs")
    g = p.add_argument_group("several processes (torchrun --nproc_per_node N -m finetune ...; --batch-size is per process)")
    g.add_argument("--no-gather-with-grad", dest="gather_with_grad", action="store_false", default=None,
                   help="gather the other ranks' features without gradients (open_clip's default; gradients then differ from one process's)")
    g.add_argument("--local-loss", action="store_true", default=None,
                   help="each rank's loss over its own rows against the global batch (open_clip's --local-loss: less memory, same gradients)")
    r = p.add_argument_group("run")
    r.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    r.add_argument("--seed", type=int, default=None, help=f"seed for the split, shuffling and captions (default: {d.seed})")
    r.add_argument("--output-dir", default=None, help="where checkpoints/ and models/ are written (default: .)")
    r.add_argument("--resume", action="store_true", default=None, help="continue the interrupted run in --output-dir")
    r.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE", help="stop after PATIENCE epochs without a better validation R@10")
    r.add_argument("--num-workers", type=int, default=None, help="DataLoader workers (default: 0)")
    r.add_argument("--quiet", dest="progress", action="store_false", default=None, help="no progress bars")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig defaults, then the model's recipe, then every flag given explicitly."""
    values: dict[str, Any] = recipe_for(args.model)
    if args.lr is not None:
        values.update(lr_image=args.lr, lr_text=args.lr, lr_projection=args.lr)
    explicit = {k: v for k, v in vars(args).items() if v is not None and k != "lr"}
    values.update(explicit)
    return TrainConfig(**values)


def check_inputs(config: TrainConfig) -> str | None:
    """The first problem with the options, found without importing torch or loading anything, else None."""
    try:
        config.validate()
    except ValueError as error:
        return str(error)
    if config.weights and not Path(config.weights).is_file():
        return f"--weights {config.weights}: no such file; pass a weights file written by `python -m finetune`"
    if config.feature_cache_dir:
        problem = unwritable_dir_message(Path(config.feature_cache_dir), "--feature-cache-dir")
        if problem:
            return problem
    for directory in (config.checkpoint_dir, config.model_dir):
        problem = unwritable_dir_message(directory, "--output-dir")
        if problem:
            return problem
    return missing_dataset_message(config.dataset)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    problem = check_inputs(config)
    if problem:
        return fail(problem)
    tune_allocator()
    from finetune.train import train  # torch, open_clip and datasets only once the options are known to be good

    return run_cli(lambda: train(config), also=BUILTIN_ERRORS)
