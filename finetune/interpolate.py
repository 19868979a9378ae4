r"""WiSE-FT: weights interpolated between a base and a fine-tuned model of the same architecture.

    python -m finetune.interpolate --base checkpoints/clip_fashion_epoch0.pt \
        --finetuned models/clip_fashion_final.pt --alpha 0.5 --output models/clip_fashion_wise0.5.pt

``alpha`` 0 gives the base, 1 the fine-tuned weights. ``--base`` is a weights file or a model
name (loaded with ``--pretrained``; for a model whose head is randomly initialised, use the
``checkpoints/clip_fashion_epoch0.pt`` that training writes, the exact starting point).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from shared.commands import fail, run_cli
from shared.model_spec import DEFAULT_MODEL


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

    from finetune.wise_ft import interpolate_many

    def body() -> None:
        outputs = {alpha: args.output.replace("{alpha}", f"{alpha:g}") for alpha in args.alpha}
        for alpha, sha in interpolate_many(args.base, args.finetuned, outputs, args.pretrained).items():
            print(f"wrote {outputs[alpha]} (alpha {alpha:g}, sha256 {sha[:12]})")

    return run_cli(body, also=(ValueError, OSError))


if __name__ == "__main__":
    raise SystemExit(main())
