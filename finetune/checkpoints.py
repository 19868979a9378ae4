"""Epoch checkpoints (weights-file format), the resumable training state, and the JSON-lines log."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from shared.models.weights import read_weights, save_weights

STATE_NAME = "train_state.pt"
BEST_NAME = "clip_fashion_best.pt"


def epoch_path(checkpoint_dir: Path, epoch: int) -> Path:
    return checkpoint_dir / f"clip_fashion_epoch{epoch}.pt"


def ensure_writable(directory: Path) -> None:
    """Create ``directory`` and prove it writable, or raise one clear OSError."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as error:
        raise PermissionError(
            f"output directory {directory} is not writable ({error.strerror or error}); pass a writable --output-dir"
        ) from None


@dataclass
class TrainState:
    """Everything beyond the weights that ``--resume`` needs."""

    epoch: int = 0
    step: int = 0
    best_score: float = float("-inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer: dict[str, Any] | None = None
    torch_rng: torch.Tensor | None = None

    def save(self, path: Path) -> None:
        payload = {
            "epoch": self.epoch,
            "step": self.step,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history_json": json.dumps(self.history),
            "optimizer": self.optimizer,
            "torch_rng": self.torch_rng,
        }
        partial = path.with_suffix(".partial")
        torch.save(payload, partial)
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> "TrainState":
        if not path.is_file():
            raise FileNotFoundError(f"nothing to resume: {path} does not exist; run without --resume or pass the run's --output-dir")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return cls(
            epoch=int(payload["epoch"]),
            step=int(payload["step"]),
            best_score=float(payload["best_score"]),
            best_epoch=int(payload["best_epoch"]),
            bad_epochs=int(payload["bad_epochs"]),
            history=json.loads(payload["history_json"]),
            optimizer=payload["optimizer"],
            torch_rng=payload["torch_rng"],
        )


def save_checkpoint(path: Path, loaded: Any, metadata: dict[str, Any]) -> None:
    """Write the model in the shared weights-file format with training metadata."""
    save_weights(path, loaded.model, loaded.name, pretrained=loaded.pretrained, config=loaded.config, metadata=metadata)


def load_state_into(model: torch.nn.Module, path: Path) -> dict[str, Any]:
    """Load a weights file's tensors into ``model`` (strict); returns the file's metadata."""
    weights = read_weights(path)
    model.load_state_dict(weights.state_dict, strict=True)
    return dict(weights.metadata or {})


def append_log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    """Per-epoch records of a training log (JSON lines)."""
    if not path.is_file():
        raise FileNotFoundError(f"training log {path} does not exist; pass the train_log.jsonl of a finetune run")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
