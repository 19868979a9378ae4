"""Encode texts and images with a loaded model: L2-normalised float32 numpy rows.

Inference runs in ``torch.inference_mode`` with the model in eval mode (its previous mode is restored, so a
training loop can call these), the image batch in channels_last memory format, and bf16 autocast only where
it was measured to keep cosine similarity to fp32 >= 0.99 and to pay off: on CUDA. On CPU bf16 is off by
default (see benchmarks/results/embedding.md); ``FASHION_AUTOCAST=bf16|off`` overrides the choice.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from shared.models import LoadedModel
from shared.models.tokenizer import length_buckets


def autocast_dtype(device: torch.device, model: nn.Module | None = None) -> torch.dtype | None:
    """bf16 on CUDA (cosine to fp32 >= 0.99 measured for both towers), None (fp32) on CPU."""
    choice = os.environ.get("FASHION_AUTOCAST", "").strip().lower()
    if choice in ("off", "fp32", "0", "none"):
        return None
    if choice == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def _inference(loaded: LoadedModel) -> Iterator[torch.device]:
    """Eval mode + inference_mode + autocast for the model's device; restores each module's train/eval mode.

    Only modules that are training are switched (and switched back): ``model.eval()`` walks every
    module, which cost ~8 ms of a 25 ms text query when done twice per call.
    """
    model = loaded.model
    training = [module for module in model.modules() if module.training]
    device = _device_of(model)
    dtype = autocast_dtype(device, model)
    for module in training:
        module.training = False
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            yield device
    finally:
        for module in training:
            module.training = True


def _normalised(features: torch.Tensor) -> np.ndarray:
    out = features.float()
    out = out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return out.cpu().numpy().astype(np.float32, copy=False)


def _prepare_image_tower(loaded: LoadedModel) -> None:
    visual = loaded.model.visual
    if not getattr(visual, "_fashion_channels_last", False):
        visual.to(memory_format=torch.channels_last)
        visual._fashion_channels_last = True  # type: ignore[attr-defined]


def encode_image_batch(loaded: LoadedModel, batch: torch.Tensor) -> np.ndarray:
    """Embed a preprocessed image batch (N, 3, H, W) -> (N, embed_dim) float32, L2-normalised."""
    if batch.ndim != 4:
        raise ValueError(f"image batch must have shape (N, 3, H, W), got {tuple(batch.shape)}")
    if batch.shape[0] == 0:
        return np.zeros((0, loaded.embed_dim), dtype=np.float32)
    _prepare_image_tower(loaded)
    with _inference(loaded) as device:
        pixels = batch.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        return _normalised(loaded.model.encode_image(pixels))


def encode_pil_images(loaded: LoadedModel, images: Sequence[Image.Image], batch_size: int = 64) -> np.ndarray:
    """Embed PIL images with the model's eval transform -> (N, embed_dim) float32, L2-normalised."""
    rows = [
        encode_image_batch(loaded, torch.stack([loaded.image_transform(image) for image in images[start:start + batch_size]]))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(rows) if rows else np.zeros((0, loaded.embed_dim), dtype=np.float32)


def text_features(
    loaded: LoadedModel,
    texts: Sequence[str],
    bucket_size: int,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> torch.Tensor:
    """Unnormalised float32 text features in the texts' order, encoded in buckets of similar token
    length (see ``length_buckets``). Runs in the caller's grad mode, so training can backpropagate."""
    device = _device_of(loaded.model)
    positions, parts = [], []
    for members, tokens in length_buckets(loaded.tokenizer, texts, bucket_size):
        with autocast():
            parts.append(loaded.model.encode_text(tokens.to(device)).float())
        positions.append(members)
    return torch.cat(parts)[torch.argsort(torch.cat(positions)).to(device)]


def encode_texts(loaded: LoadedModel, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Embed texts -> (N, embed_dim) float32, L2-normalised (batches of similar token length)."""
    if isinstance(texts, str):
        raise TypeError("encode_texts takes a list of strings, not one string")
    if len(texts) == 0:
        return np.zeros((0, loaded.embed_dim), dtype=np.float32)
    with _inference(loaded):
        return _normalised(text_features(loaded, texts, batch_size))
