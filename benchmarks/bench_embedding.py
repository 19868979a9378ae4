"""CPU embedding speed: glibc malloc settings, channels_last, and bf16 autocast (accuracy + speed).

Each malloc variant runs in its own child process (glibc reads MALLOC_* variables at process start), on
the same random 224 px batches through the lite image tower; the parent prints a table. Usage:

    flock /tmp/cpu-heavy.lock .venv/bin/python benchmarks/bench_embedding.py [--images 128] [--rounds 2]

Other processes share these CPUs, so variants run interleaved for ``--rounds`` rounds and the table gives
the best round (img/s) next to the contention-independent counters: minor page faults per image and the
kernel's share of CPU time (page zeroing for freshly mmapped activations).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1 << 20
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "mmap=1GiB": {"MALLOC_MMAP_THRESHOLD_": str(1024 * MIB)},
    "trim=1GiB": {"MALLOC_TRIM_THRESHOLD_": str(1024 * MIB)},
    "mmap=32MiB,trim=1GiB": {"MALLOC_MMAP_THRESHOLD_": str(32 * MIB), "MALLOC_TRIM_THRESHOLD_": str(1024 * MIB)},
    "mmap=1GiB,trim=1GiB": {"MALLOC_MMAP_THRESHOLD_": str(1024 * MIB), "MALLOC_TRIM_THRESHOLD_": str(1024 * MIB)},
    "tune_allocator()": {"BENCH_TUNE_ALLOCATOR": "1"},  # the same thresholds via mallopt at runtime
}
CASES = [(8, False), (8, True), (64, False), (64, True)]  # (batch size, channels_last)


def _child(images: int) -> None:
    if os.environ.get("BENCH_TUNE_ALLOCATOR"):
        from shared.runtime import tune_allocator

        assert tune_allocator()
    import torch

    from shared.models import load_model

    loaded = load_model("lite", None)  # random weights: speed does not depend on them
    visual = loaded.model.visual.eval()
    results = []
    for batch_size, channels_last in CASES:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        visual.to(memory_format=fmt)
        batch = torch.randn(batch_size, 3, 224, 224).contiguous(memory_format=fmt)
        with torch.inference_mode():
            visual(batch)  # warm-up
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            done = 0
            while done < images:
                visual(batch)
                done += batch_size
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
        results.append(
            {
                "batch": batch_size,
                "channels_last": channels_last,
                "img_per_s": done / wall,
                "sys_share": (after.ru_stime - before.ru_stime)
                / max(1e-9, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)),
                "minor_faults_per_img": (after.ru_minflt - before.ru_minflt) / done,
            }
        )
    print("RESULT " + json.dumps(results))


def _bf16_check(images: int) -> list[dict[str, object]]:
    """Cosine(bf16 autocast, fp32) and speed for lite (pretrained) and ViT-B-32 (random) on CPU."""
    import numpy as np
    import torch

    from shared.models.embedding import encode_image_batch, encode_texts
    from shared.models import load_model

    texts = ["red cotton t-shirt for men", "black leather handbag", "blue denim jeans", "white running shoes"] * 16
    rows = []
    for name, tag in (("lite", "default"), ("ViT-B-32-quickgelu", None)):
        torch.manual_seed(0)
        loaded = load_model(name, tag)
        batch = torch.randn(32, 3, loaded.image_size, loaded.image_size)
        out: dict[str, dict[str, object]] = {}
        for mode in ("off", "bf16"):
            os.environ["FASHION_AUTOCAST"] = mode
            encode_image_batch(loaded, batch[:4])
            start = time.perf_counter()
            image = np.concatenate([encode_image_batch(loaded, batch) for _ in range(max(1, images // 32))])
            image_rate = len(image) / (time.perf_counter() - start)
            start = time.perf_counter()
            text = encode_texts(loaded, texts)
            text_rate = len(texts) / (time.perf_counter() - start)
            out[mode] = {"image": image, "text": text, "image_rate": image_rate, "text_rate": text_rate}
        os.environ.pop("FASHION_AUTOCAST")
        rows.append(
            {
                "model": f"{name}/{tag}",
                "image_cos_min": float((out["off"]["image"] * out["bf16"]["image"]).sum(1).min()),
                "text_cos_min": float((out["off"]["text"] * out["bf16"]["text"]).sum(1).min()),
                "fp32_img_s": out["off"]["image_rate"],
                "bf16_img_s": out["bf16"]["image_rate"],
                "fp32_txt_s": out["off"]["text_rate"],
                "bf16_txt_s": out["bf16"]["text_rate"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128, help="images per timed case")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions of every variant")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-bf16", action="store_true")
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS), help="subset of malloc variants")
    args = parser.parse_args()
    if args.child:
        _child(args.images)
        return
    print(f"{os.cpu_count()} CPUs; {args.images} images per case; best of {args.rounds} interleaved rounds")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    best: dict[tuple[str, int, bool], dict[str, float]] = {}
    for round_index in range(args.rounds):
        for label, extra in VARIANTS.items():
            if args.variants and label not in args.variants:
                continue
            proc = subprocess.run(
                [sys.executable, __file__, "--child", "--images", str(args.images)],
                env={**base_env, **extra},
                capture_output=True,
                text=True,
                check=True,
            )
            line = next(row for row in proc.stdout.splitlines() if row.startswith("RESULT "))
            for row in json.loads(line[len("RESULT "):]):
                key = (label, row["batch"], row["channels_last"])
                if key not in best or row["img_per_s"] > best[key]["img_per_s"]:
                    best[key] = row
            print(f"round {round_index + 1}: {label} done", file=sys.stderr, flush=True)
    print("| malloc env | batch | channels_last | img/s (best) | sys share of CPU time | minor faults/img |")
    print("|---|---|---|---|---|---|")
    for (label, batch, channels_last), row in best.items():
        print(
            f"| {label} | {batch} | {channels_last} | {row['img_per_s']:.1f} | "
            f"{row['sys_share']:.0%} | {row['minor_faults_per_img']:.0f} |"
        )
    if not args.skip_bf16:
        print("\n| model | image cos min | text cos min | fp32 img/s | bf16 img/s | fp32 text/s | bf16 text/s |")
        print("|---|---|---|---|---|---|---|")
        for row in _bf16_check(args.images):
            print(
                f"| {row['model']} | {row['image_cos_min']:.4f} | {row['text_cos_min']:.4f} | {row['fp32_img_s']:.1f} | "
                f"{row['bf16_img_s']:.1f} | {row['fp32_txt_s']:.1f} | {row['bf16_txt_s']:.1f} |",
                flush=True,
            )
    print("done: malloc variants and bf16 check measured")


if __name__ == "__main__":
    main()
