"""The fine-tuning loop: AdamW per tower, warmup + cosine, autocast, feature-cached accumulation
(``pair_encoder``), per-epoch validation (``evaluator``), best-by-R@10 checkpoints, early stopping and resume."""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from finetune.checkpoints import (
    BEST_NAME,
    STATE_NAME,
    TrainState,
    append_log,
    ensure_writable,
    epoch_path,
    load_state_into,
    save_checkpoint,
)
from finetune.config import TrainConfig
from finetune.data import CaptionedFeatures, CaptionedImages, DecodedProducts, collate, decode_products, split_by_display_name
from finetune.distributed import Ranks, barrier, broadcast_from_main, process_group, shard_batches
from finetune.evaluator import RetrievalEvaluator
from finetune.features import cached_prefix
from finetune.loss import clamp_logit_scale
from finetune.optim import parameter_groups, set_learning_rates, warmup_cosine
from finetune.pair_encoder import GlobalBatch, PairEncoder, contrastive_step
from finetune.parallel import data_parallel
from finetune.sampling import epoch_batches
from finetune.towers import lock_image_tower, lock_text_tower, set_frozen_eval, split_image_tower
from shared.commands import keep_finished_bars, unwritable_dir_message
from shared.products.datasets import open_products
from shared.model_spec import ModelSpec
from shared.models import LoadedModel, config_name
from shared.models.weights import WeightsError
from shared.workers import worker_loader_options

SELECTION_METRIC = "R@10"
VALIDATION_METRICS = ("R@1", "R@10", "Hit@10", "MRR@10")


@dataclass
class TrainResult:
    """The trained model (best epoch's weights loaded) and where its files are."""

    loaded: LoadedModel
    final_path: str
    best_epoch: int
    best_metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def validation_evaluator(products: DecodedProducts, val_indices: Sequence[int]) -> RetrievalEvaluator:
    """Display-name retrieval on the validation gallery (each distinct name a query): R@1, R@10, Hit@10, MRR@10."""
    names = [products.display_name(i) for i in val_indices]
    return RetrievalEvaluator.for_names(list(dict.fromkeys(names)), names, metric_names=VALIDATION_METRICS)


@torch.no_grad()
def validate(
    encoder: PairEncoder,
    evaluator: RetrievalEvaluator,
    val_indices: Sequence[int],
    image_inputs: Callable[[Sequence[int]], torch.Tensor],
    batch_size: int,
) -> dict[str, float]:
    """``evaluator``'s metrics for the model being trained, under the run's precision; {} without a validation set."""
    if not val_indices:
        return {}
    model = encoder.loaded.model
    was_training = model.training
    model.eval()
    try:
        images = torch.cat(
            [encoder.images(image_inputs(val_indices[i : i + batch_size]).to(encoder.device)) for i in range(0, len(val_indices), batch_size)]
        )
        return evaluator(lambda texts: torch.cat([encoder.texts(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]).cpu(), images.cpu())
    finally:
        model.train(was_training)


def _group_keys(products: DecodedProducts, indices: Sequence[int], field: str | None) -> list[str] | None:
    """The ``--group-batches-by`` attribute of each training product (None: random batches)."""
    if field is None:
        return None
    keys = [str(products.attributes[i].get(field) or "") for i in indices]
    if not any(keys):
        raise ValueError(f"--group-batches-by {field}: no training product has a {field} value; use one of the dataset's columns")
    return keys


def _load(config: TrainConfig, device: torch.device) -> LoadedModel:
    """The starting model; --weights must hold a model of --model (a file's own model name wins in loading)."""
    loaded = ModelSpec(config.model, config.pretrained, config.weights).load(device=str(device))
    if config.weights and config_name(loaded.name) != config_name(config.model):
        raise WeightsError(
            f"--weights {config.weights} hold a {loaded.name} model, not {config.model}; pass --model {loaded.name} or weights of {config.model}"
        )
    return loaded


def train(config: TrainConfig, *, stop_after_epoch: int | None = None) -> TrainResult:
    """Run one fine-tuning; ``stop_after_epoch`` simulates an interruption (tests of --resume).

    Under torchrun every rank runs this with DistributedDataParallel (see ``distributed``); rank 0
    alone writes checkpoints, the log and the final model, and shows progress.
    """
    config.validate()
    check_output_dirs(config)  # checked now; the folders are created only once data and model are ready
    with process_group(config.device) as (ranks, device):
        return _train(config if ranks.is_main else replace(config, progress=False), ranks, device, stop_after_epoch)


def _train(config: TrainConfig, ranks: Ranks, device: torch.device, stop_after_epoch: int | None) -> TrainResult:
    _seed_everything(config.seed)  # the same on every rank: identical initial weights and frozen prefix
    started = time.perf_counter()

    table = open_products(config.dataset)
    products = decode_products(table, config.subset_size, progress=config.progress)
    if products.left_out() and ranks.is_main:
        print(f"left out of training: {products.left_out()}", file=sys.stderr)
    train_idx, val_idx = split_by_display_name(
        [products.display_name(i) for i in range(len(products))], config.val_fraction, config.seed
    )
    loaded = _load(config, device)
    model = loaded.model.to(device)
    trainable_image = lock_image_tower(model, config.lock_image, config.unlock_last_blocks)
    trainable_text = lock_text_tower(model, config.unlock_text_layers)
    if config.grad_checkpointing and hasattr(model, "set_grad_checkpointing"):
        model.set_grad_checkpointing(True)
    split = split_image_tower(model, config.lock_image, config.unlock_last_blocks) if config.cache_image_features else None
    encoder = PairEncoder(loaded, split, device, config.precision)
    evaluator = validation_evaluator(products, val_idx)

    train_captions = CaptionedImages(products, train_idx, loaded.train_transform, seed=config.seed)
    dataset: Dataset[Any]
    if split is not None:
        cache = cached_prefix(loaded, split, products, device, config, progress=config.progress, ranks=ranks)
        train_features = cache[torch.as_tensor(train_idx, dtype=torch.long)]
        dataset = CaptionedFeatures(train_features, train_captions)
        image_inputs: Callable[[Sequence[int]], torch.Tensor] = lambda idx: cache[torch.as_tensor(list(idx), dtype=torch.long)]
    else:
        dataset = train_captions
        image_inputs = lambda idx: torch.stack([loaded.image_transform(products.images[i]) for i in idx])

    effective_batch = config.batch_size * config.accum_freq * ranks.world_size  # the global batch over all ranks
    group_keys = _group_keys(products, train_idx, config.group_batches_by)
    steps_per_epoch = len(epoch_batches(len(train_idx), effective_batch, config.seed, 0, group_keys, config.group_size))
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = round(config.warmup_fraction * total_steps)
    optimizer = torch.optim.AdamW(parameter_groups(model, config.learning_rates, config.weight_decay), betas=(0.9, 0.98), eps=1e-6)
    base_rates = [g["lr"] for g in optimizer.param_groups]

    ensure_writable(config.checkpoint_dir)
    ensure_writable(config.model_dir)
    state = TrainState()
    state_path = config.checkpoint_dir / STATE_NAME
    if config.resume:
        state = TrainState.load(state_path)
        load_state_into(model, epoch_path(config.checkpoint_dir, state.epoch))
        if state.optimizer is not None:
            optimizer.load_state_dict(state.optimizer)
        if state.torch_rng is not None:
            torch.set_rng_state(state.torch_rng)
    elif config.log_path.exists() and ranks.is_main:
        config.log_path.unlink()
    features, no_sync = data_parallel(encoder, ranks, device)
    global_batch = GlobalBatch(ranks, config.gather_with_grad, config.local_loss)

    metadata_base = {"training": config.to_dict(), "train_size": len(train_idx), "val_size": len(val_idx),
                     "trainable_image_parameters": trainable_image,
                     "trainable_text_parameters": trainable_text, "dataset": str(config.dataset)}
    if not config.resume and ranks.is_main:  # the exact starting point, the base for WiSE-FT interpolation
        save_checkpoint(epoch_path(config.checkpoint_dir, 0), loaded, {**metadata_base, "epoch": 0})
    first_epoch = state.epoch + 1
    for epoch in range(first_epoch, config.epochs + 1):
        if config.early_stopping and state.bad_epochs >= config.early_stopping:
            break
        epoch_start = time.perf_counter()
        train_captions.epoch = epoch
        model.train()
        if split is not None:
            set_frozen_eval(split.frozen_modules)
        batches = shard_batches(epoch_batches(len(train_idx), effective_batch, config.seed, epoch, group_keys, config.group_size), ranks)
        loader = DataLoader(dataset, batch_sampler=[b[i : i + config.batch_size] for b in batches for i in range(0, len(b), config.batch_size)],
                            collate_fn=collate, **worker_loader_options(config.num_workers))
        micro_iter: Iterator[tuple[torch.Tensor, list[str]]] = iter(loader)
        losses: list[float] = []
        with tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="step", disable=not config.progress, leave=keep_finished_bars()) as bar:
            for batch in bar:
                n_micro = math.ceil(len(batch) / config.batch_size)
                micro_batches = [next(micro_iter) for _ in range(n_micro)]
                set_learning_rates(optimizer, base_rates, _multiplier(config, state.step, total_steps, warmup_steps))
                optimizer.zero_grad(set_to_none=True)
                losses.append(contrastive_step(encoder, micro_batches, device, features=features, no_sync=no_sync, global_batch=global_batch))
                optimizer.step()
                clamp_logit_scale(model.logit_scale)
                state.step += 1
                bar.set_postfix(loss=f"{losses[-1]:.3f}", scale=f"{float(model.logit_scale.detach().exp()):.1f}")
        train_seconds = time.perf_counter() - epoch_start
        metrics = validate(encoder, evaluator, val_idx, image_inputs, config.eval_batch_size) if ranks.is_main else {}
        metrics, score = broadcast_from_main((metrics, metrics.get(SELECTION_METRIC, -float(np.mean(losses)))), ranks)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "steps": len(losses),
                  "lr": {g["name"]: g["lr"] for g in optimizer.param_groups}, "logit_scale": float(model.logit_scale.detach().exp()),
                  "train_seconds": round(train_seconds, 2), "samples_per_s": round(len(losses) * effective_batch / max(train_seconds, 1e-9), 1),
                  **{f"val_{k}": v for k, v in metrics.items()}}
        state.history.append(record)
        state.epoch = epoch
        improved = score > state.best_score
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = score, epoch, 0
        else:
            state.bad_epochs += 1
        if ranks.is_main:
            metadata = {**metadata_base, "epoch": epoch, "val_metrics": metrics, "train_loss": record["train_loss"]}
            save_checkpoint(epoch_path(config.checkpoint_dir, epoch), loaded, metadata)
            if improved:
                save_checkpoint(config.checkpoint_dir / BEST_NAME, loaded, metadata)
            state.optimizer = optimizer.state_dict()
            state.torch_rng = torch.get_rng_state()
            state.save(state_path)
            append_log(config.log_path, record)
            tqdm.write(_epoch_line(record)) if config.progress else None
        barrier(ranks)  # the epoch's files are complete before any rank goes on (or is stopped and resumed)
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            return TrainResult(loaded, "", state.best_epoch, {}, state.history)

    best_metadata = load_state_into(model, config.checkpoint_dir / BEST_NAME)
    final_metadata = {**best_metadata, "best_epoch": state.best_epoch, "history": state.history,
                      "total_seconds": round(time.perf_counter() - started, 1)}
    if ranks.is_main:
        save_checkpoint(config.final_path, loaded, final_metadata)
    model.eval()
    best_metrics = dict(best_metadata.get("val_metrics") or {})
    if config.progress:
        summary = ", ".join(f"{k} {v:.3f}" for k, v in best_metrics.items())
        print(f"trained {loaded.name} on {len(train_idx)} products in {time.perf_counter() - started:.0f} s; "
              f"best epoch {state.best_epoch} ({summary or 'no validation set'}); wrote {config.final_path}")
    return TrainResult(loaded, str(config.final_path), state.best_epoch, best_metrics, state.history)


def check_output_dirs(config: TrainConfig) -> None:
    """Refuse an --output-dir whose checkpoints/ or models/ could not be created, without creating them."""
    for directory in (config.checkpoint_dir, config.model_dir):
        problem = unwritable_dir_message(directory, "--output-dir")
        if problem:
            raise PermissionError(problem)


def _multiplier(config: TrainConfig, step: int, total_steps: int, warmup_steps: int) -> float:
    if config.schedule == "constant":
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    return warmup_cosine(step, total_steps, warmup_steps)


def _epoch_line(record: dict[str, Any]) -> str:
    metrics = " ".join(f"{k[4:]} {v:.3f}" for k, v in record.items() if k.startswith("val_"))
    return (f"epoch {record['epoch']}: loss {record['train_loss']:.3f}, {record['samples_per_s']} samples/s, "
            f"{record['train_seconds']} s; val {metrics or '-'}")
