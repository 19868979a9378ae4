r"""WiSE-FT: weights interpolated between a base and a fine-tuned model of the same architecture.

    python -m finetune.interpolate --base checkpoints/clip_fashion_epoch0.pt \
        --finetuned models/clip_fashion_final.pt --alpha 0.5 --output models/clip_fashion_wise0.5.pt

``alpha`` 0 gives the base, 1 the fine-tuned weights. ``--base`` is a weights file or a model
name (loaded with ``--pretrained``; for a model whose head is randomly initialised, use the
``checkpoints/clip_fashion_epoch0.pt`` that training writes, the exact starting point).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from shared.commands import fail, run_cli
from shared.model_spec import DEFAULT_MODEL, parse_model_spec

if TYPE_CHECKING:  # torch is imported where used, so --help and argument errors answer at once
    import torch

    from shared.weights import WeightsFile


def interpolate_state(
    base: Mapping[str, torch.Tensor], finetuned: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """(1 - alpha) * base + alpha * finetuned per floating tensor; integer buffers come from finetuned."""
    from shared.weights import WeightsError

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
    from shared.weights import WeightsError, read_weights

    model = parse_model_spec(spec, pretrained)
    if model.weights is not None:
        weights = read_weights(model.weights)
        if weights.model_name and finetuned.model_name and weights.model_name != finetuned.model_name:
            raise WeightsError(f"--base {spec} is a {weights.model_name} model but --finetuned is {finetuned.model_name}; use weights of the same architecture")
        return weights.state_dict, weights.sha256
    return model.load().model.state_dict(), f"{spec}:{pretrained}"


def interpolate_files(base: str, finetuned: str, alpha: float, output: str, pretrained: str | None = None) -> str:
    """Write the WiSE-FT weights file; returns its sha256."""
    from shared.weights import read_weights, save_weights

    tuned = read_weights(finetuned)
    base_state, base_id = _base_weights(base, pretrained, tuned)
    mixed = interpolate_state(base_state, tuned.state_dict, alpha)
    metadata = {**tuned.metadata, "wise_ft": {"alpha": alpha, "base": base, "base_id": base_id, "finetuned": finetuned, "finetuned_sha256": tuned.sha256}}
    metadata.pop("history", None)
    return save_weights(output, mixed, tuned.model_name or base, pretrained=tuned.pretrained, config=tuned.config, metadata=metadata)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune.interpolate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help=f"base weights file, or a model name (e.g. {DEFAULT_MODEL})")
    parser.add_argument("--pretrained", default="openai", help="pretrained tag when --base is a model name (default: openai)")
    parser.add_argument("--finetuned", required=True, help="fine-tuned weights file (models/clip_fashion_final.pt)")
    parser.add_argument("--alpha", type=float, nargs="+", required=True, help="mixing weight(s): 0 = base, 1 = fine-tuned")
    parser.add_argument("--output", required=True, help="output file; with several alphas, '{alpha}' in it is replaced")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if len(args.alpha) > 1 and "{alpha}" not in args.output:
        return fail("--output needs '{alpha}' when several --alpha values are given")

    def body() -> None:
        for alpha in args.alpha:
            output = args.output.replace("{alpha}", f"{alpha:g}")
            sha = interpolate_files(args.base, args.finetuned, alpha, output, args.pretrained)
            print(f"wrote {output} (alpha {alpha:g}, sha256 {sha[:12]})")

    return run_cli(body, also=(ValueError, OSError))


if __name__ == "__main__":
    raise SystemExit(main())
