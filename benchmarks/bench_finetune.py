"""Fine-tuning throughput (samples/s, forward + backward + AdamW step) of the lite model on CPU.

    python benchmarks/bench_finetune.py --batch-size 128 --steps 3

Variants, all on the same batch in one run: the baseline (whole model trainable, fp32, text padded
to 64 tokens), padding trimmed to the longest caption, the image trunk frozen except its last block
on cached prefix features (one padded text batch, then captions in length buckets), the text tower
frozen except its last 2 layers / entirely (projection only), and a fully locked image tower.
Captions are sampled from the real catalog's attributes (``--dataset``) so their token lengths are
real; images are generated (their content does not change the cost). ``--bf16`` adds bf16 autocast.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune.captions import sample_caption
from finetune.loss import caption_groups, clamp_logit_scale, contrastive_loss
from finetune.optim import parameter_groups
from finetune.towers import lock_image_tower, lock_text_tower, split_image_tower
from finetune.pair_encoder import TEXT_BUCKET, PairEncoder
from shared.products.datasets import open_products
from shared.models import load_model
from tests.synthetic import ARTICLES, COLOURS, draw_garment, make_rows

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-products-19k"


def _captions(dataset: str | None, count: int) -> list[str]:
    rng = random.Random(0)
    if dataset:
        table = open_products(dataset)
        attributes = [table[i].attributes for i in rng.sample(range(len(table)), count)]
    else:
        attributes = [{k: v for k, v in row.items() if k != "image"} for row in make_rows(count)]
    return [str(sample_caption(a, rng)) for a in attributes]


def _variant(
    args: argparse.Namespace, captions: list[str], *, precision: str = "fp32", pad_to: int | None = None,
    lock: bool = False, unlock: int | None = None, text_layers: int | None = None, bucket: int = TEXT_BUCKET,
) -> tuple[float, float]:
    torch.manual_seed(0)
    loaded = load_model(args.model)
    model = loaded.model.train()
    lock_image_tower(model, lock, unlock)
    lock_text_tower(model, text_layers)
    split = split_image_tower(model, lock, unlock)
    if pad_to:
        base_tokenizer = loaded.tokenizer
        loaded.tokenizer = lambda texts: _pad(base_tokenizer(texts), pad_to)  # type: ignore[assignment]
    encoder = PairEncoder(loaded, split, torch.device("cpu"), precision, text_bucket=bucket)
    pictures = [draw_garment(list(ARTICLES)[i % 5], list(COLOURS)[i % 6]) for i in range(args.batch_size)]
    pixels = torch.stack([loaded.train_transform(p) for p in pictures])
    with torch.no_grad():
        inputs = split.prefix(pixels) if split is not None else pixels
    optimizer = torch.optim.AdamW(parameter_groups(model, {"image": 1e-5, "text": 1e-5, "projection": 1e-4}, 0.1))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = contrastive_loss(encoder.images(inputs), encoder.texts(captions), model.logit_scale, caption_groups(captions))
        loss.backward()
        optimizer.step()
        clamp_logit_scale(model.logit_scale)

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    return args.batch_size * args.steps / seconds, 1000 * seconds / args.steps


def _pad(tokens: torch.Tensor, length: int) -> torch.Tensor:
    if tokens.shape[1] >= length:
        return tokens[:, :length]
    return torch.nn.functional.pad(tokens, (0, length - tokens.shape[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lite")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dataset", default=str(REAL_DATA) if REAL_DATA.is_dir() else None,
                        help="catalog whose attributes give the captions (default: ../shared/data/fashion-products-19k if present, else generated)")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast (7x slower on CPUs without native bf16)")
    args = parser.parse_args()
    captions = _captions(args.dataset, args.batch_size)
    variants: list[tuple[str, Callable[[], tuple[float, float]]]] = [
        ("baseline: all trainable, fp32, text padded to 64", lambda: _variant(args, captions, pad_to=64)),
        ("padding trimmed to the batch's longest caption", lambda: _variant(args, captions)),
        ("image: unlock last 1 block on cached prefix; text: one batch", lambda: _variant(args, captions, unlock=1, bucket=args.batch_size)),
        (f"+ captions in length buckets of {TEXT_BUCKET}", lambda: _variant(args, captions, unlock=1)),
        ("+ text tower frozen except its last 2 layers", lambda: _variant(args, captions, unlock=1, text_layers=2)),
        ("+ text tower frozen (projection only)", lambda: _variant(args, captions, unlock=1, text_layers=0)),
        ("image tower locked (cached features), whole text tower", lambda: _variant(args, captions, lock=True)),
    ]
    if args.bf16:
        variants.insert(2, ("padding trimmed + bf16 autocast", lambda: _variant(args, captions, precision="bf16")))
    print(f"model {args.model}, batch {args.batch_size}, {args.steps} timed steps, {torch.get_num_threads()} threads, "
          f"captions from {args.dataset or 'generated rows'}")
    print("| variant | samples/s | ms/step | speed-up |")
    print("| --- | --- | --- | --- |")
    baseline = None
    for label, run in variants:
        samples_per_s, ms_per_step = run()
        baseline = baseline or samples_per_s
        print(f"| {label} | {samples_per_s:.1f} | {ms_per_step:.0f} | {samples_per_s / baseline:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
