"""WiSE-FT weights (see ``python -m finetune.interpolate``): per-tensor interpolation between a base and a
fine-tuned model of the same architecture, written in the shared weights format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.model_spec import parse_model_spec

if TYPE_CHECKING:  # torch is imported where used, so --help and argument errors answer at once
    import torch

    from shared.models.weights import WeightsFile


def interpolate_state(
    base: Mapping[str, torch.Tensor], finetuned: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """(1 - alpha) * base + alpha * finetuned per floating tensor; integer buffers come from finetuned."""
    from shared.models.weights import WeightsError

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"--alpha {alpha} must be between 0 (base) and 1 (fine-tuned)")
    if set(base) != set(finetuned):
        missing = sorted(set(base) ^ set(finetuned))[:3]
        raise WeightsError(f"base and fine-tuned weights are of different architectures (tensors {', '.join(missing)} differ); interpolate two weights of the same model")
    mixed: dict[str, torch.Tensor] = {}
    for key, tuned in finetuned.items():
        start = base[key]
        if start.shape != tuned.shape:
            raise WeightsError(f"base and fine-tuned weights are of different architectures ({key}: {tuple(start.shape)} vs {tuple(tuned.shape)})")
        if alpha == 0.0:
            mixed[key] = start.clone()
        elif alpha == 1.0 or not tuned.is_floating_point():
            mixed[key] = tuned.clone()
        else:
            mixed[key] = ((1 - alpha) * start.float() + alpha * tuned.float()).to(tuned.dtype)
    return mixed


def _base_weights(spec: str, pretrained: str | None, finetuned: WeightsFile) -> tuple[dict[str, torch.Tensor], str]:
    from shared.models.partial_weights import full_state_dict
    from shared.models.weights import WeightsError, read_weights

    model = parse_model_spec(spec, pretrained)
    if model.weights is not None:
        weights = read_weights(model.weights)
        if weights.model_name and finetuned.model_name and weights.model_name != finetuned.model_name:
            raise WeightsError(f"--base {spec} is a {weights.model_name} model but --finetuned is {finetuned.model_name}; use weights of the same architecture")
        return full_state_dict(weights), weights.sha256
    return model.load().model.state_dict(), f"{spec}:{pretrained}"


def interpolate_files(base: str, finetuned: str, alpha: float, output: str, pretrained: str | None = None) -> str:
    """Write the WiSE-FT weights file; returns its sha256."""
    return interpolate_many(base, finetuned, {alpha: output}, pretrained)[alpha]


def interpolate_many(base: str, finetuned: str, outputs: Mapping[float, str], pretrained: str | None = None) -> dict[float, str]:
    """Write one WiSE-FT weights file per alpha (``outputs``: alpha -> path), reading both ends once; their sha256s."""
    from shared.models.partial_weights import full_state_dict
    from shared.models.weights import read_weights, save_weights

    tuned = read_weights(finetuned)
    tuned_state = full_state_dict(tuned)  # a shipped (partial) file: its base with its tensors put in
    base_state, base_id = _base_weights(base, pretrained, tuned)
    written: dict[float, str] = {}
    for alpha, output in outputs.items():
        mixed = interpolate_state(base_state, tuned_state, alpha)
        metadata = {**tuned.metadata, "wise_ft": {"alpha": alpha, "base": base, "base_id": base_id, "finetuned": finetuned, "finetuned_sha256": tuned.sha256}}
        metadata.pop("history", None)
        written[alpha] = save_weights(output, mixed, tuned.model_name or base, pretrained=tuned.pretrained, config=tuned.config, metadata=metadata)
    return written
