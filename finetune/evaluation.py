"""Offline evaluation (``python -m finetune.evaluate``): several models on the training run's validation
split and the whole dataset, every task scored by one ``RetrievalEvaluator`` per gallery, written as
evaluation.json / evaluation.md with plots and retrieval examples."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finetune.config import TrainConfig
from shared.commands import keep_finished_bars
from shared.model_spec import ModelSpec, parse_model_spec
from shared.settings import DEFAULT_DATASET

if TYPE_CHECKING:  # torch, open_clip and datasets are imported where used, so --help answers at once
    import numpy as np
    import torch

    from finetune.data import DecodedProducts
    from finetune.evaluator import RetrievalEvaluator, TextEncoder
    from finetune.towers import ImageTowerSplit
    from shared.models import LoadedModel

CATEGORY_FIELDS = ("subCategory", "articleType", "baseColour")


def _models_error(spec: str, error: Exception) -> ValueError:
    """A weights file's error under this command's own flag (the shared message names no flag)."""
    return ValueError(f"--models {spec}: {error}; or pass a base model name such as lite")


def _load(spec: ModelSpec) -> tuple[str, LoadedModel]:
    from shared.models import ModelLoadError

    try:
        return spec.label, spec.load()
    except ModelLoadError as error:
        if spec.weights is None:
            raise
        raise _models_error(spec.weights, error) from error


def _shared_frozen_blocks(models: Sequence[LoadedModel]) -> int:
    """How many leading image blocks (stem included) every model has identical, 0 when not splittable."""
    import torch

    from finetune.towers import image_blocks, split_image_tower

    blocks = [image_blocks(m.model) for m in models]
    if not blocks[0] or split_image_tower(models[0].model, False, 1) is None:
        return 0
    states = [m.model.state_dict() for m in models]
    stem = [k for k in states[0] if k.startswith(("visual.trunk.conv_stem", "visual.trunk.bn1"))]
    if not stem or any(not torch.equal(s[k], states[0][k]) for s in states[1:] for k in stem):
        return 0
    shared = 0
    for index in range(len(blocks[0]) - 1):
        reference = blocks[0][index].state_dict()
        if any(not torch.equal(b[index].state_dict()[n], t) for b in blocks[1:] for n, t in reference.items()):
            break
        shared += 1
    return shared


def _checked_prefix_cache(path: str, split: ImageTowerSplit, models: Sequence[LoadedModel], products: DecodedProducts) -> torch.Tensor:
    """Training's cached frozen-prefix outputs (``--feature-cache-dir``), checked against a fresh computation."""
    import torch

    cache = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(cache, torch.Tensor) or cache.shape[0] != len(products):
        raise ValueError(f"--image-prefix {path} does not hold one prefix output per product ({len(products)}); drop the option")
    probe = torch.stack([models[0].image_transform(img) for img in products.images[:4]])
    fresh = split.prefix(probe.to(models[0].device)).float().cpu()
    if fresh.shape != cache[:4].shape or not torch.allclose(fresh, cache[:4], atol=1e-3, rtol=1e-3):
        raise ValueError(f"--image-prefix {path} was computed with other frozen blocks or another split; drop the option")
    return cache


def embed_gallery(
    models: Sequence[LoadedModel], products: DecodedProducts, indices: Sequence[int], batch_size: int = 128,
    prefix_cache: str | None = None,
) -> list[np.ndarray]:
    """Image embeddings of ``indices`` per model; a frozen prefix the models share is computed once
    (or read from ``prefix_cache``, the training run's feature cache, when its blocks match)."""
    import torch

    with torch.no_grad():
        return _embed_gallery(models, products, indices, batch_size, prefix_cache)


def _embed_gallery(
    models: Sequence[LoadedModel], products: DecodedProducts, indices: Sequence[int], batch_size: int, prefix_cache: str | None
) -> list[np.ndarray]:
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from finetune.features import chunked_forward
    from finetune.towers import image_blocks, split_image_tower
    from shared.models.embedding import encode_pil_images

    images = [products.images[i] for i in indices]
    shared = _shared_frozen_blocks(models) if len(models) > 1 or prefix_cache else 0
    if shared == 0:
        return [encode_pil_images(m, images, batch_size) for m in models]
    total = len(image_blocks(models[0].model))
    splits = [split_image_tower(m.model, False, total - shared) for m in models]
    for m in models:
        m.model.eval()
    cache = _checked_prefix_cache(prefix_cache, splits[0], models, products) if prefix_cache else None  # type: ignore[arg-type]
    out: list[list[np.ndarray]] = [[] for _ in models]
    for start in tqdm(range(0, len(images), batch_size), desc="embed gallery", unit="batch", leave=keep_finished_bars()):
        if cache is not None:
            prefix = cache[torch.as_tensor(list(indices[start : start + batch_size]), dtype=torch.long)].to(models[0].device)
        else:
            batch = torch.stack([models[0].image_transform(img) for img in images[start : start + batch_size]])
            prefix = chunked_forward(splits[0].prefix, batch.to(models[0].device))  # type: ignore[union-attr]
        for k, split in enumerate(splits):
            features = split.suffix(prefix).float()  # type: ignore[union-attr]
            out[k].append(torch.nn.functional.normalize(features, dim=-1).cpu().numpy())
    return [np.concatenate(rows) for rows in out]


def memoized_text_encoder(loaded: LoadedModel) -> TextEncoder:
    """``encode_texts`` for one model, each distinct list of queries encoded once (every gallery asks the same)."""
    from shared.models.embedding import encode_texts

    encoded: dict[tuple[str, ...], np.ndarray] = {}

    def encode(texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in encoded:
            encoded[key] = encode_texts(loaded, texts)
        return encoded[key]

    return encode


def evaluate_gallery(
    encode: TextEncoder, image_embeddings: np.ndarray, products: DecodedProducts, gallery: Sequence[int], query_names: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Every task's metrics for one model (its text encoder) on one gallery."""
    return {task: evaluator(encode, image_embeddings) for task, evaluator in gallery_evaluators(products, gallery, query_names).items()}


def gallery_evaluators(products: DecodedProducts, gallery: Sequence[int], query_names: Sequence[str]) -> dict[str, RetrievalEvaluator]:
    """One evaluator per task on one gallery: display names, then each category field that has values."""
    from finetune.evaluator import RetrievalEvaluator

    tasks = {"display_name": RetrievalEvaluator.for_names(query_names, [products.display_name(i) for i in gallery])}
    for field in CATEGORY_FIELDS:
        evaluator = RetrievalEvaluator.for_attribute([str(products.attributes[i].get(field, "")) for i in gallery])
        if evaluator is not None:
            tasks[field] = evaluator
    return tasks


def markdown_table(results: dict[str, dict[str, dict[str, dict[str, float]]]]) -> str:
    head = ("| model | gallery | name R@1 | name R@10 | name Hit@10 | name MRR@10 | "
            + " | ".join(f"{f} P@1 | {f} P@10 | {f} MRR" for f in CATEGORY_FIELDS) + " |")
    lines = [head, "|" + " --- |" * (4 + 2 + 3 * len(CATEGORY_FIELDS))]
    for model, galleries in results.items():
        for gallery, tasks in galleries.items():
            n = tasks["display_name"]
            cells = [model, gallery, *(f"{n.get(k, float('nan')):.3f}" for k in ("R@1", "R@10", "Hit@10", "MRR@10"))]
            for field in CATEGORY_FIELDS:
                t = tasks.get(field, {})
                cells += [f"{t.get(k, float('nan')):.3f}" for k in ("P@1", "P@10", "MRR")]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _split_config(models: Sequence[LoadedModel], args: argparse.Namespace) -> TrainConfig:
    """The training split's options: the first weights file's training metadata, then explicit flags."""
    config = TrainConfig(dataset=args.dataset or DEFAULT_DATASET)
    for model in models:
        if model.weights_path is not None:
            training = model.weights_metadata.get("training") or {}
            for key in ("dataset", "subset_size", "val_fraction", "seed"):
                if key in training:
                    setattr(config, key, training[key])
            break
    for key in ("dataset", "subset_size", "val_fraction", "seed"):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    return config


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from finetune.checkpoints import read_log
    from finetune.data import decode_products, split_by_display_name
    from finetune.plots import plot_training_log
    from shared.products.datasets import open_products

    loaded = [_load(parse_model_spec(text, args.pretrained)) for text in args.models]
    models = [m for _, m in loaded]
    config = _split_config(models, args)
    products = decode_products(open_products(config.dataset), config.subset_size)
    train_idx, val_idx = split_by_display_name([products.display_name(i) for i in range(len(products))], config.val_fraction, config.seed)
    if not val_idx:
        raise ValueError("the validation split is empty; evaluate with --val-fraction above 0")
    query_names = sorted({products.display_name(i) for i in val_idx})
    galleries = {"val": val_idx, "all": list(range(len(products)))}
    chosen = ["val", "all"] if args.gallery == "both" else [args.gallery]
    results: dict[str, Any] = {label: {} for label, _ in loaded}
    out = Path(args.output_dir)
    # the validation gallery is a subset of the whole one: embed the whole dataset once when both are asked for
    whole = embed_gallery(models, products, galleries["all"], prefix_cache=args.image_prefix) if "all" in chosen else None
    encoders = [memoized_text_encoder(model) for _, model in loaded]
    for gallery in chosen:
        if whole is not None:
            embeddings = [e[np.asarray(galleries[gallery], dtype=np.int64)] for e in whole]
        else:
            embeddings = embed_gallery(models, products, galleries[gallery], prefix_cache=args.image_prefix)
        for (label, model), encode, emb in zip(loaded, encoders, embeddings):
            results[label][gallery] = evaluate_gallery(encode, emb, products, galleries[gallery], query_names)
            print(f"{label} / {gallery} gallery ({len(galleries[gallery])} products): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in results[label][gallery]["display_name"].items() if k != "queries"))
            if args.examples:
                _examples(model, emb, products, galleries[gallery], _spread(query_names, args.examples), out / "retrieval_examples" / f"{_slug(label)}_{gallery}.png", label)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"dataset": config.dataset, "subset_size": config.subset_size, "val_fraction": config.val_fraction, "seed": config.seed,
               "train_size": len(train_idx), "val_size": len(val_idx), "val_names": len(query_names), "results": results}
    (out / "evaluation.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    (out / "evaluation.md").write_text(markdown_table(results) + "\n", encoding="utf-8")
    if args.train_log:
        plot_training_log(read_log(Path(args.train_log)), out / "visualization")
    print(markdown_table(results))
    print(f"evaluated {len(loaded)} model(s) on {', '.join(chosen)} galleries; wrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")
    return payload


def _spread(names: Sequence[str], count: int) -> list[str]:
    """``count`` names evenly spaced over the sorted list (not just the first letters of the alphabet)."""
    step = max(1, len(names) // max(count, 1))
    return list(names[::step][:count])


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def _examples(model: LoadedModel, emb: np.ndarray, products: DecodedProducts, gallery: Sequence[int], queries: Sequence[str], path: Path, label: str) -> None:
    import numpy as np

    from finetune.plots import retrieval_grid
    from shared.models.embedding import encode_texts

    scores = encode_texts(model, list(queries)) @ emb.T
    rows = []
    for query, row in zip(queries, scores):
        top = np.argsort(-row)[:8]
        rows.append((query, [products.images[gallery[j]] for j in top], [products.display_name(gallery[j]) == query for j in top]))
    retrieval_grid(rows, path, title=label)
