r"""``python -m finetune.evaluate``: Marqo KAGL-style text-to-image retrieval, several models side by side.

    python -m finetune.evaluate --models lite checkpoints/clip_fashion_epoch0.pt models/clip_fashion_final.pt \
        --dataset ../shared/data/fashion-products-19k --gallery both --train-log checkpoints/train_log.jsonl

Tasks: display-name queries (validation names; every product of exactly that name is relevant):
R@1, R@10, MRR@10 (and Hit@10); each distinct subCategory, articleType and baseColour string of
the gallery as a raw query: P@1, P@10, MRR. Galleries: the validation split (``val``), the whole
dataset (``all``), or ``both``. The split is the training run's (read from the first weights
file's metadata), so validation names were never trained on.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from shared.commands import BUILTIN_ERRORS, run_cli
from shared.model_spec import DEFAULT_MODEL, DEFAULT_PRETRAINED
from shared.runtime import tune_allocator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m finetune.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True, help=f"weights files and/or base model names (lite, {DEFAULT_MODEL})")
    p.add_argument("--pretrained", default=DEFAULT_PRETRAINED, help="pretrained tag for base model names (default: the model's usual weights; none = random init)")
    p.add_argument("--dataset", default=None, help="dataset (default: the one the first weights file was trained on)")
    p.add_argument("--subset-size", type=int, default=None, help="first N products (default: as in training)")
    p.add_argument("--val-fraction", type=float, default=None, help="validation share of names (default: as in training, 0.15)")
    p.add_argument("--seed", type=int, default=None, help="split seed (default: as in training, 0)")
    p.add_argument("--gallery", choices=("val", "all", "both"), default="both", help="validation split only, whole dataset, or both (default)")
    p.add_argument("--output-dir", default="results", help="where evaluation.json/.md, visualization/ and retrieval_examples/ go")
    p.add_argument("--train-log", default=None, help="checkpoints/train_log.jsonl to plot loss and validation metrics per epoch")
    p.add_argument("--image-prefix", default=None, metavar="FILE",
                   help="the training run's cached frozen-prefix features (--feature-cache-dir/image_prefix_*.pt) to skip recomputing them")
    p.add_argument("--examples", type=int, default=6, help="queries per retrieval example grid (0: none)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tune_allocator()
    from finetune import evaluation  # torch, open_clip and datasets are imported where used

    return run_cli(lambda: evaluation.run(args), also=BUILTIN_ERRORS)


if __name__ == "__main__":
    raise SystemExit(main())
