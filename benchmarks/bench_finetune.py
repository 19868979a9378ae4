"""Fine-tuning throughput (samples/s, forward + backward + AdamW step) of the lite model on CPU.

    python benchmarks/bench_finetune.py --batch-size 64 --steps 4

Variants, all on the same generated batch in one run: the baseline (whole model trainable, fp32,
text padded to 64 tokens), padding trimmed to the longest caption, bf16 autocast, LiT-style
unlock-last-1-block on cached prefix features, and a fully locked image tower on cached features.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune.loss import caption_groups, clamp_logit_scale, contrastive_loss
from finetune.optim import parameter_groups
from finetune.towers import lock_image_tower, split_image_tower
from finetune.train import PairEncoder
from shared.models import load_model
from tests.synthetic import ARTICLES, COLOURS, draw_garment


def _variant(name: str, args: argparse.Namespace, *, precision: str, pad_to: int | None, lock: bool, unlock: int | None) -> dict[str, float | str]:
    torch.manual_seed(0)
    loaded = load_model(args.model)
    model = loaded.model.train()
    lock_image_tower(model, lock, unlock)
    split = split_image_tower(model, lock, unlock)
    if pad_to:
        base_tokenizer = loaded.tokenizer
        loaded.tokenizer = lambda texts: _pad(base_tokenizer(texts), pad_to)  # type: ignore[assignment]
    encoder = PairEncoder(loaded, split, torch.device("cpu"), precision)
    pictures = [draw_garment(list(ARTICLES)[i % 5], list(COLOURS)[i % 6]) for i in range(args.batch_size)]
    captions = [f"Brand Men {list(COLOURS)[i % 6]} {list(ARTICLES)[i % 5]} style {i}" for i in range(args.batch_size)]
    pixels = torch.stack([loaded.train_transform(p) for p in pictures])
    inputs = split.prefix(pixels).detach() if split is not None else pixels
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
    return {"variant": name, "samples_per_s": args.batch_size * args.steps / seconds, "ms_per_step": 1000 * seconds / args.steps}


def _pad(tokens: torch.Tensor, length: int) -> torch.Tensor:
    if tokens.shape[1] >= length:
        return tokens[:, :length]
    return torch.nn.functional.pad(tokens, (0, length - tokens.shape[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lite")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    variants: list[tuple[str, Callable[[], dict[str, float | str]]]] = [
        ("baseline: all trainable, fp32, text padded to 64", lambda: _variant("baseline", args, precision="fp32", pad_to=64, lock=False, unlock=None)),
        ("padding trimmed", lambda: _variant("trimmed", args, precision="fp32", pad_to=None, lock=False, unlock=None)),
        ("trimmed + bf16 autocast", lambda: _variant("bf16", args, precision="bf16", pad_to=None, lock=False, unlock=None)),
        ("trimmed + unlock last 1 block, cached prefix", lambda: _variant("lit1", args, precision="fp32", pad_to=None, lock=False, unlock=1)),
        ("trimmed + image tower locked, cached features", lambda: _variant("locked", args, precision="fp32", pad_to=None, lock=True, unlock=None)),
    ]
    print(f"model {args.model}, batch {args.batch_size}, {args.steps} timed steps, {torch.get_num_threads()} threads")
    print("| variant | samples/s | ms/step | speed-up |")
    print("| --- | --- | --- | --- |")
    baseline = None
    for label, run in variants:
        result = run()
        baseline = baseline or float(result["samples_per_s"])
        print(f"| {label} | {float(result['samples_per_s']):.1f} | {float(result['ms_per_step']):.0f} | {float(result['samples_per_s']) / baseline:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
