"""The shipped model: a fine-tuned ``lite`` weights file cut down to what training changed.

``export_shipped`` compares a fine-tuned ``lite`` state dict with the base model rebuilt from the
packaged towers and writes only the tensors that differ (fp16; integer buffers as they are) as a
partial weights file (``shared.models.partial_weights``), with metadata saying how it was made: the training
command and recipe, the data, the package versions, the sha256 of the tensors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.config import TrainConfig, recipe_for
from shared.model_spec import SHIPPED_MODEL
from shared.models import registry
from shared.models.partial_weights import BASE_MODEL, PartialWeightsError, base_record, build_base, changed_tensors, installed_versions
from shared.models.weights import WeightsError, read_weights, save_weights

MAX_SHIPPED_BYTES = 25 * 1024 * 1024
"""The most a shipped file may weigh, so the repository can hold it."""
_NOT_IN_COMMAND = ("progress", "resume", "extra", "device", "num_workers")
_COPIED_METADATA = ("epoch", "best_epoch", "val_metrics", "train_size", "val_size", "history", "total_seconds")


class ExportError(WeightsError):
    """A fine-tuned file cannot be exported as a shipped model; the message names the fix."""


@dataclass(frozen=True)
class ExportSummary:
    output: str
    sha256: str
    size_bytes: int
    stored_tensors: int
    total_tensors: int

    def line(self) -> str:
        return (
            f"wrote {self.output}: {self.stored_tensors} of {self.total_tensors} tensors (the ones training changed), "
            f"{self.size_bytes / 1e6:.1f} MB, sha256 {self.sha256[:12]}"
        )


def training_command(training: dict[str, Any]) -> str:
    """The ``python -m finetune`` command line that gives ``training`` (a TrainConfig dict): every option that
    differs from the defaults the CLI applies for its model."""
    from finetune.cli import build_parser

    config = TrainConfig(**{key: value for key, value in training.items() if key in TrainConfig.__dataclass_fields__})
    defaults = TrainConfig(**{**recipe_for(config.model), "model": config.model}).to_dict()
    words = ["python -m finetune", f"--model {config.model}"]
    for action in build_parser()._actions:
        dest, flag = action.dest, (action.option_strings or [""])[0]
        if dest in ("model", "help") or dest in _NOT_IN_COMMAND or dest not in defaults:
            continue
        value = getattr(config, dest)
        if value == defaults[dest]:
            continue
        if action.nargs == 0:  # store_true / store_false flags
            words.append(flag)
        else:
            words.append(f"{flag} {value}")
    return " ".join(words)


def shipped_metadata(source: dict[str, Any], source_sha256: str, command: str | None, tensors_sha256: str) -> dict[str, Any]:
    """How the shipped file was made: command, recipe, data, package versions, the hash of its tensors."""
    training = dict(source.get("training") or {})
    return {
        "shipped_model": SHIPPED_MODEL,
        "command": command or (training_command(training) if training else None),
        "recipe": training,
        "data": {
            "dataset": source.get("dataset") or training.get("dataset"),
            "products": (source.get("train_size") or 0) + (source.get("val_size") or 0) or None,
            "train_products": source.get("train_size"),
            "val_products": source.get("val_size"),
            "split_seed": training.get("seed"),
            "val_fraction": training.get("val_fraction"),
            "subset_size": training.get("subset_size"),
        },
        "packages": installed_versions(),
        "tensors_sha256": tensors_sha256,
        "source_sha256": source_sha256,
        **{key: source[key] for key in _COPIED_METADATA if key in source},
    }


def export_shipped(
    weights: str | os.PathLike[str], output: str | os.PathLike[str], *, command: str | None = None, max_bytes: int = MAX_SHIPPED_BYTES
) -> ExportSummary:
    """Write the partial file of a fine-tuned ``lite`` weights file; ExportError (one line) when it cannot be one."""
    source = read_weights(weights)
    if source.base is not None:
        raise ExportError(f"{weights} is already a shipped (partial) file; pass the fine-tuned file `python -m finetune` wrote")
    if source.model_name is None or registry.config_name(source.model_name) != registry.config_name(BASE_MODEL) or source.config is not None:
        raise ExportError(
            f"{weights} holds model {source.model_name or 'unnamed (a bare state dict)'}, not {BASE_MODEL}; only a "
            f"`python -m finetune --model {BASE_MODEL}` file can be shipped over the packaged towers"
        )
    base_model, _ = build_base()
    try:
        stored = changed_tensors(source.state_dict, base_model.state_dict())
    except PartialWeightsError as exc:
        raise ExportError(f"{weights} does not fit the {BASE_MODEL} model ({exc}); pass a `python -m finetune --model {BASE_MODEL}` file") from exc
    if not stored:
        raise ExportError(f"{weights} equals the base {BASE_MODEL} model (nothing was trained); pass a fine-tuned file, not epoch 0")
    estimate = sum(tensor.numel() * tensor.element_size() for tensor in stored.values())
    if estimate > max_bytes:
        raise ExportError(
            f"{weights} changed {estimate / 1e6:.1f} MB of tensors (fp16), over the {max_bytes / 1e6:.0f} MB a shipped "
            "file may hold; train with fewer unlocked layers (--unlock-last-blocks / --unlock-text-layers)"
        )
    base = base_record(stored)
    metadata = shipped_metadata(source.metadata, source.sha256, command, base["tensors_sha256"])
    sha = save_weights(output, stored, BASE_MODEL, pretrained=source.pretrained, metadata=metadata, base=base)
    return ExportSummary(str(output), sha, Path(output).stat().st_size, len(stored), len(source.state_dict))
