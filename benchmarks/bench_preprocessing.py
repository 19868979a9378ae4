"""Pad-to-square vs open_clip's resize + centre crop, on real products, with the base ``lite`` model.

The base model's projections are random, so text->image retrieval means nothing before fine-tuning; this
uses a label metric that needs no training: leave-one-out image->image kNN (cosine, k=10) on N products,
majority-vote accuracy and precision@10 of articleType (and baseColour), for both eval transforms in the
same run, on the projected embedding (what gets indexed) and on the trunk's pooled features.
``--trunk-check`` adds timm's ``efficientnet_lite0`` (symmetric padding, BN eps 1e-5, ImageNet mean/std)
loaded with the same tensors, to check the choice of ``tf_efficientnet_lite0`` for the TF-ported weights.

    flock /tmp/cpu-heavy.lock .venv/bin/python benchmarks/bench_preprocessing.py --limit 3000 --trunk-check
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.models import load_model  # noqa: E402
from shared.models.lite_weights import lite0_weights_path, map_lite0_state_dict  # noqa: E402
from shared.products.preprocessing import EVAL_TRANSFORMS  # noqa: E402

DATA = "/work/shared/data/fashion-products-19k/data/*.parquet"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_products(limit: int, seed: int) -> tuple[list[Image.Image], dict[str, list[str]]]:
    import datasets

    table = datasets.load_dataset("parquet", data_files=DATA, split="train")
    order = np.random.default_rng(seed).permutation(len(table))[:limit]
    rows = table.select(order.tolist())
    images, labels = [], {"articleType": [], "baseColour": [], "masterCategory": []}
    for row in rows:
        image = row["image"]
        if isinstance(image, dict):
            image = Image.open(io.BytesIO(image["bytes"]))
        images.append(image.convert("RGB"))
        for key in labels:
            labels[key].append(str(row.get(key)))
    return images, labels


def knn_predict(features: np.ndarray, labels: list[str], k: int) -> tuple[np.ndarray, float]:
    """(per-item correct flags of the majority vote, precision@k), leave-one-out, cosine similarity."""
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    neighbours = np.argpartition(-sims, k, axis=1)[:, :k]
    names = np.asarray(labels)
    hits = names[neighbours] == names[:, None]
    correct = np.zeros(len(labels), dtype=bool)
    for i, row in enumerate(neighbours):
        ranked = row[np.argsort(-sims[i, row])]
        votes = Counter(names[ranked])
        best = max(votes.values())
        winner = next(label for label in names[ranked] if votes[label] == best)  # tie -> nearest
        correct[i] = winner == names[i]
    return correct, float(hits.mean())


def embed(visual: torch.nn.Module, images: list[Image.Image], transform, batch_size: int, desc: str):
    trunk_rows, proj_rows = [], []
    with torch.inference_mode():
        for start in tqdm(range(0, len(images), batch_size), desc=desc, unit="batch"):
            batch = torch.stack([transform(image) for image in images[start:start + batch_size]])
            feats = visual.trunk(batch.contiguous(memory_format=torch.channels_last))
            trunk_rows.append(feats.float().numpy())
            proj_rows.append(visual.head(feats).float().numpy())
    return np.concatenate(trunk_rows), np.concatenate(proj_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--trunk-check", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    images, labels = load_products(args.limit, args.seed)
    n_types = len(set(labels["articleType"]))
    print(f"{len(images)} products, {n_types} articleTypes, {len(set(labels['baseColour']))} colours, k={args.k}")
    loaded = load_model("lite")
    visual = loaded.model.visual.eval().to(memory_format=torch.channels_last)
    pre = visual.preprocess_cfg
    runs = [(f"{mode} (tf_efficientnet_lite0, mean/std 0.5)", mode, visual, pre["mean"], pre["std"]) for mode in ("pad", "crop")]
    if args.trunk_check:
        import copy

        import timm

        alt = copy.deepcopy(visual)
        alt.trunk = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=0)
        source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
        alt.trunk.load_state_dict(map_lite0_state_dict(source, alt.trunk))
        alt = alt.eval().to(memory_format=torch.channels_last)
        runs.append(("pad (efficientnet_lite0, ImageNet mean/std)", "pad", alt, IMAGENET_MEAN, IMAGENET_STD))

    print("| transform (trunk, normalisation) | features | articleType kNN acc | articleType P@10 | baseColour kNN acc | baseColour P@10 |")
    print("|---|---|---|---|---|---|")
    flags: dict[str, np.ndarray] = {}
    for label, mode, tower, mean, std in runs:
        transform = EVAL_TRANSFORMS[mode](loaded.image_size, mean, std, "bicubic")
        trunk_feats, proj_feats = embed(tower, images, transform, args.batch_size, label)
        for kind, feats in (("projected 384-d", proj_feats), ("trunk 1280-d", trunk_feats)):
            art, art_p = knn_predict(feats, labels["articleType"], args.k)
            col, col_p = knn_predict(feats, labels["baseColour"], args.k)
            flags[f"{label} / {kind}"] = art
            print(f"| {label} | {kind} | {art.mean():.3f} | {art_p:.3f} | {col.mean():.3f} | {col_p:.3f} |", flush=True)
    keys = list(flags)
    pad, crop = flags[keys[0]], flags[keys[2]]  # projected embedding, pad vs crop
    print(f"\npaired (projected, articleType): pad right & crop wrong {int((pad & ~crop).sum())}, "
          f"crop right & pad wrong {int((crop & ~pad).sum())}, both right {int((pad & crop).sum())}")
    master = np.asarray(labels["masterCategory"])
    print("| masterCategory | products | pad kNN acc | crop kNN acc |\n|---|---|---|---|")
    for name, count in Counter(labels["masterCategory"]).most_common():
        rows = master == name
        print(f"| {name} | {count} | {pad[rows].mean():.3f} | {crop[rows].mean():.3f} |")
    majority = Counter(labels["articleType"]).most_common(1)[0][1] / len(images)
    print(f"done: {len(runs)} runs over {len(images)} products in {time.perf_counter() - started:.0f} s "
          f"(majority-class articleType baseline {majority:.3f})")


if __name__ == "__main__":
    main()
