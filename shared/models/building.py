"""Building an open_clip model from a registered name and pretrained tag, or from a config dict.

Random initialisation is seeded (``INIT_SEED``), so every process that builds the same name and tag gets
the same model."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import open_clip
import torch
from open_clip.model import CLIP, CustomTextCLIP, set_model_preprocess_cfg
from torch import nn

from shared.model_spec import DEFAULT_MODEL, DEFAULT_PRETRAINED
from shared.models import registry
from shared.models.downloads import OFFLINE_HINT, DownloadError, ensure_hf_model_available, pretrained_checkpoint
from shared.models.lite_weights import load_lite0_trunk
from shared.models.loaded import ModelLoadError

DEFAULT = DEFAULT_PRETRAINED  # the model's own default tag (see DEFAULT_TAGS)
LITE_TAG = "imagenet-minilm"  # ImageNet EfficientNet-Lite0 + all-MiniLM-L6-v2 towers, random projections
# default pretrained tag per config name; names absent here default to their first open_clip tag
DEFAULT_TAGS: dict[str, str | None] = {DEFAULT_MODEL: "openai", "fashion-lite": LITE_TAG}
PROJECT_TAGS: dict[str, tuple[str, ...]] = {"fashion-lite": (LITE_TAG,)}
INIT_SEED = 0


def resolve_tag(cfg_name: str, pretrained: str | None) -> str | None:
    if pretrained is None or pretrained.strip().lower() in ("", "none"):
        return None  # random init, as the command lines spell it
    if pretrained != DEFAULT:
        return pretrained
    if cfg_name in DEFAULT_TAGS:
        return DEFAULT_TAGS[cfg_name]
    if registry.is_project_model(cfg_name):
        return None
    tags = open_clip.list_pretrained_tags_by_model(cfg_name)
    return tags[0] if tags else None


def instantiate(config: dict[str, Any], *, hf_pretrained: bool, preprocess: dict[str, Any]) -> nn.Module:
    """Build a CLIP / CustomTextCLIP from a resolved config dict (random init except HF text weights)."""
    cfg = copy.deepcopy(config)
    text_cfg = cfg["text_cfg"]
    if "hf_model_name" in text_cfg:
        text_cfg["hf_model_pretrained"] = hf_pretrained
    if cfg.get("vision_cfg", {}).get("timm_model_name"):
        cfg["vision_cfg"]["timm_model_pretrained"] = False
    custom_text = cfg.pop("custom_text", False) or "hf_model_name" in text_cfg
    model = (CustomTextCLIP if custom_text else CLIP)(**cfg)
    final = {"size": model.visual.image_size, "mean": open_clip.OPENAI_DATASET_MEAN, "std": open_clip.OPENAI_DATASET_STD}
    final.update({"interpolation": "bicubic", "resize_mode": "shortest"})
    final.update(preprocess)
    set_model_preprocess_cfg(model, final)
    return model


def _load_lite_towers(model: nn.Module) -> None:
    load_lite0_trunk(model.visual.trunk)
    proj = getattr(model.text, "proj", None)
    if isinstance(proj, nn.Linear):
        # an orthogonal (random) projection keeps MiniLM's cosine geometry until fine-tuning moves it
        nn.init.orthogonal_(proj.weight)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' per-load report and progress bar (expected: MiniLM's unused pooler weights)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _build_project_model(name: str, cfg_name: str, raw: dict[str, Any], tag: str | None) -> nn.Module:
    allowed = PROJECT_TAGS.get(cfg_name, ())
    if tag is not None and tag not in allowed:
        choices = ", ".join([DEFAULT, *allowed, "None"])
        raise ModelLoadError(f"model {name} has no pretrained weights {tag!r}; use one of: {choices}")
    resolved = registry.resolve_config(raw)
    preprocess = registry.PREPROCESS_OVERRIDES.get(cfg_name, {})
    with quiet_transformers():
        model = instantiate(resolved, hf_pretrained=tag is not None, preprocess=preprocess)
    if tag == LITE_TAG:
        _load_lite_towers(model)
    return model


def _build_open_clip_model(name: str, cfg_name: str, raw: dict[str, Any], tag: str | None) -> nn.Module:
    hf_name = raw.get("text_cfg", {}).get("hf_model_name")
    try:
        if hf_name:
            ensure_hf_model_available(hf_name)
        if tag is None:
            return open_clip.create_model(cfg_name, pretrained=None, pretrained_text=False)
        path, tag_cfg = pretrained_checkpoint(cfg_name, tag)
    except DownloadError as exc:
        raise ModelLoadError(f"could not download {name}/{tag} weights ({exc}); {OFFLINE_HINT}") from exc
    preprocess = {key: tag_cfg[key] for key in ("mean", "std", "interpolation", "resize_mode") if key in tag_cfg}
    try:
        return open_clip.create_model(
            cfg_name,
            pretrained=path,
            force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)) or bool(raw.get("quick_gelu", False)),
            force_preprocess_cfg=preprocess,
        )
    except Exception as exc:  # a damaged cache file fails in torch.load / load_state_dict in many ways
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load {name}/{tag} weights from {path} ({reason}); delete the file to re-download it") from exc


def build_model(
    name: str, tag: str | None, config: dict[str, Any] | None, init_seed: int | None = INIT_SEED
) -> tuple[nn.Module, dict[str, Any]]:
    """(model, resolved config) for a registered name or an explicit config dict.

    Random initialisation (lite's projections, random-init models) is seeded, so every process that loads
    the same name and tag gets the same model: a collection embedded by one process stays searchable by
    another. The caller's global RNG state is left untouched. ``init_seed=None`` uses the global RNG.
    """
    if init_seed is None:
        return _build_unseeded(name, tag, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return _build_unseeded(name, tag, config)


def _build_unseeded(name: str, tag: str | None, config: dict[str, Any] | None) -> tuple[nn.Module, dict[str, Any]]:
    if config is not None:
        resolved = registry.resolve_config(config)
        return instantiate(resolved, hf_pretrained=False, preprocess={}), resolved
    cfg_name = registry.config_name(name)
    raw = registry.get_config(name)
    if raw is None:
        raise ModelLoadError(
            f"unknown model {name!r}; use lite, {DEFAULT_MODEL} or another name from open_clip.list_models()"
        )
    if registry.is_project_model(cfg_name):
        return _build_project_model(name, cfg_name, raw, tag), registry.resolve_config(raw)
    return _build_open_clip_model(name, cfg_name, raw, tag), raw
