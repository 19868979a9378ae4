"""Training options and the default recipe per model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.model_spec import DEFAULT_MODEL, DEFAULT_PRETRAINED
from shared.settings import DEFAULT_DATASET

PRECISIONS = ("fp32", "bf16", "fp16")
SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig:
    """Every option of one fine-tuning run (the CLI flags map one to one)."""

    model: str = DEFAULT_MODEL
    pretrained: str | None = DEFAULT_PRETRAINED
    weights: str | None = None
    dataset: str = DEFAULT_DATASET
    subset_size: int | None = None
    val_fraction: float = 0.15
    epochs: int = 5
    batch_size: int = 128
    lr_image: float = 1e-5
    lr_text: float = 1e-5
    lr_projection: float = 1e-4
    weight_decay: float = 0.1
    warmup_fraction: float = 0.05
    schedule: str = "cosine"
    precision: str = "fp32"
    grad_checkpointing: bool = False
    accum_freq: int = 1
    lock_image: bool = False
    unlock_last_blocks: int | None = None
    unlock_text_layers: int | None = None
    group_batches_by: str | None = None
    group_size: int = 32
    cache_image_features: bool = True
    gather_with_grad: bool = True
    local_loss: bool = False
    feature_cache_dir: str | None = None
    device: str = "auto"
    seed: int = 0
    output_dir: str = "."
    resume: bool = False
    early_stopping: int | None = None
    num_workers: int = 0
    eval_batch_size: int = 256
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.output_dir) / "checkpoints"

    @property
    def model_dir(self) -> Path:
        return Path(self.output_dir) / "models"

    @property
    def final_path(self) -> Path:
        return self.model_dir / "clip_fashion_final.pt"

    @property
    def log_path(self) -> Path:
        return self.checkpoint_dir / "train_log.jsonl"

    @property
    def learning_rates(self) -> dict[str, float]:
        return {"image": self.lr_image, "text": self.lr_text, "projection": self.lr_projection}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Raise ValueError with a one-line fix for inconsistent options."""
        checks = [
            (self.epochs >= 1, f"--epochs {self.epochs} must be at least 1"),
            (self.batch_size >= 2, f"--batch-size {self.batch_size} must be at least 2 (contrastive loss needs negatives)"),
            (self.accum_freq >= 1, f"--accum-freq {self.accum_freq} must be at least 1"),
            (self.subset_size is None or self.subset_size >= 1, f"--subset-size {self.subset_size} selects no products; give a positive number"),
            (self.precision in PRECISIONS, f"--precision {self.precision} is not one of {', '.join(PRECISIONS)}"),
            (self.schedule in SCHEDULES, f"--schedule {self.schedule} is not one of {', '.join(SCHEDULES)}"),
            (0.0 <= self.warmup_fraction < 1.0, f"--warmup {self.warmup_fraction} must be a fraction of the steps in [0, 1)"),
            (self.unlock_last_blocks is None or self.unlock_last_blocks >= 0, "--unlock-last-blocks must be 0 or more"),
            (self.group_size >= 1, f"--group-size {self.group_size} must be at least 1"),
            (self.unlock_text_layers is None or self.unlock_text_layers >= 0, "--unlock-text-layers must be 0 or more"),
            (self.early_stopping is None or self.early_stopping >= 1, "--early-stopping must be at least 1 epoch"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


LITE_RECIPE: dict[str, Any] = {
    "batch_size": 128,
    "epochs": 5,
    "lr_image": 2e-4,
    "lr_text": 1e-4,
    "lr_projection": 1e-3,
    "weight_decay": 0.1,
    "unlock_last_blocks": 1,
    "unlock_text_layers": 2,
}
"""Recommended CPU recipe for ``--model lite`` (see benchmarks/results/finetune_quality.md)."""


def recipe_for(model: str) -> dict[str, Any]:
    """Default option values that differ from TrainConfig's for a given model name."""
    return dict(LITE_RECIPE) if model == "lite" else {}
