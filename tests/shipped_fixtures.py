"""A fine-tuned ``lite`` weights file (the real model, its projections and last blocks perturbed as training would)
and its shipped (partial) export; import the fixtures into a test module to use them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from finetune.config import TrainConfig, recipe_for
from finetune.shipping import export_shipped
from shared.models import load_model
from shared.models.building import LITE_TAG
from shared.models.weights import save_weights

PERTURBED_PREFIXES = (
    "visual.head.proj.",
    "text.proj.",
    "visual.trunk.blocks.6.",
    "visual.trunk.conv_head.",
    "text.transformer.encoder.layer.5.",
    "logit_scale",
)
"""What a `--unlock-last-blocks 1 --unlock-text-layers 1` run changes (buffers of the unlocked blocks included)."""
TRAINING = TrainConfig(**{**recipe_for("lite"), "model": "lite", "dataset": "data/catalog", "epochs": 8, "seed": 3}).to_dict()


def is_perturbed(key: str) -> bool:
    return key.startswith(PERTURBED_PREFIXES)


@pytest.fixture(scope="session")
def finetuned_lite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full weights file, as `python -m finetune --model lite` writes it, with training's changes."""
    loaded = load_model("lite")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, tensor in loaded.model.state_dict().items():
            if not is_perturbed(key):
                continue
            if key.endswith("running_var"):  # a variance stays positive
                tensor.mul_(1 + 0.5 * torch.rand(tensor.shape, generator=generator))
            elif tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
            else:
                tensor.add_(7)  # num_batches_tracked of the unlocked blocks' batch norms
    path = tmp_path_factory.mktemp("finetuned") / "clip_fashion_final.pt"
    metadata = {"training": TRAINING, "train_size": 85, "val_size": 15, "dataset": "data/catalog", "epoch": 8,
                "best_epoch": 8, "val_metrics": {"r@10": 0.5}}
    save_weights(path, loaded.model, "lite", pretrained=LITE_TAG, metadata=metadata)
    return path


@pytest.fixture(scope="session")
def shipped_lite(finetuned_lite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped export of ``finetuned_lite``."""
    path = tmp_path_factory.mktemp("shipped") / "fashion-lite.pt"
    export_shipped(finetuned_lite, path)
    return path
