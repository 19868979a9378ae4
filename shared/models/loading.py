"""``load_model``: an open_clip model with its transforms and tokenizer, from a tag, the lite towers or a weights file."""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import open_clip
import torch
from open_clip.model import CLIP, CustomTextCLIP, set_model_preprocess_cfg
from torch import nn

from shared.catalog import ModelIdentity
from shared.errors import FashionSearchError
from shared.model_spec import DEFAULT_MODEL, DEFAULT_PRETRAINED
from shared.models import registry
from shared.models.downloads import (
    OFFLINE_HINT,
    DownloadError,
    ensure_hf_model_available,
    hub_model_cached,
    offline_hub,
    pretrained_checkpoint,
)
from shared.models.lite_weights import LiteWeightsError, load_lite0_trunk
from shared.models.tokenizer import Tokenizer, build_tokenizer
from shared.preprocessing import ImageTransform, eval_transform, train_transform
from shared.runtime import resolve_device
from shared.weights import WeightsError, WeightsFile, WeightsMismatchError, read_weights

DEFAULT = DEFAULT_PRETRAINED  # the model's own default tag (see DEFAULT_TAGS)
LITE_TAG = "imagenet-minilm"  # ImageNet EfficientNet-Lite0 + all-MiniLM-L6-v2 towers, random projections
# default pretrained tag per config name; names absent here default to their first open_clip tag
DEFAULT_TAGS: dict[str, str | None] = {DEFAULT_MODEL: "openai", "fashion-lite": LITE_TAG}
PROJECT_TAGS: dict[str, tuple[str, ...]] = {"fashion-lite": (LITE_TAG,)}
INIT_SEED = 0


class ModelLoadError(FashionSearchError, RuntimeError):
    """A model cannot be built or its weights loaded; one line naming the model and the fix."""


@dataclass
class LoadedModel:
    model: nn.Module
    name: str
    pretrained: str | None
    config: dict[str, Any] | None  # open_clip config when the model is not a registered name
    image_transform: ImageTransform
    train_transform: ImageTransform
    tokenizer: Tokenizer
    embed_dim: int
    image_size: int
    weights_path: str | None = None
    weights_sha256: str | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def identity(self) -> ModelIdentity:
        return ModelIdentity(
            model_name=self.name,
            pretrained=self.pretrained,
            weights_path=self.weights_path,
            weights_sha256=self.weights_sha256,
            embedding_dim=self.embed_dim,
        )


def _resolve_tag(cfg_name: str, pretrained: str | None) -> str | None:
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


def _instantiate(config: dict[str, Any], *, hf_pretrained: bool, preprocess: dict[str, Any]) -> nn.Module:
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
def _quiet_transformers() -> Iterator[None]:
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
    with _quiet_transformers():
        model = _instantiate(resolved, hf_pretrained=tag is not None, preprocess=preprocess)
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


def _build(
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
        return _instantiate(resolved, hf_pretrained=False, preprocess={}), resolved
    cfg_name = registry.config_name(name)
    raw = registry.get_config(name)
    if raw is None:
        raise ModelLoadError(
            f"unknown model {name!r}; use lite, {DEFAULT_MODEL} or another name from open_clip.list_models()"
        )
    if registry.is_project_model(cfg_name):
        return _build_project_model(name, cfg_name, raw, tag), registry.resolve_config(raw)
    return _build_open_clip_model(name, cfg_name, raw, tag), raw


def _fit_report(expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str:
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    shapes = [
        f"{key} {tuple(state[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys, e.g. {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, e.g. {unexpected[0]}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches, e.g. {shapes[0]}")
    return "; ".join(parts)


def _finish(
    model: nn.Module,
    name: str,
    tag: str | None,
    resolved: dict[str, Any],
    device: torch.device,
    *,
    config: dict[str, Any] | None = None,
    weights_path: str | None = None,
    weights_sha256: str | None = None,
) -> LoadedModel:
    model = model.to(device).eval()
    pre = getattr(model.visual, "preprocess_cfg", {})
    size = model.visual.image_size
    image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
    mean, std = pre.get("mean", open_clip.OPENAI_DATASET_MEAN), pre.get("std", open_clip.OPENAI_DATASET_STD)
    interpolation = pre.get("interpolation", "bicubic")
    registered = None if config is not None else registry.config_name(name)
    try:
        tokenizer = build_tokenizer(resolved, registered)
    except OSError as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {name} ({str(exc).splitlines()[0][:160]})") from exc
    return LoadedModel(
        model=model,
        name=name,
        pretrained=tag,
        config=config,
        image_transform=eval_transform(image_size, mean, std, interpolation),
        train_transform=train_transform(image_size, mean, std, interpolation),
        tokenizer=tokenizer,
        embed_dim=int(resolved["embed_dim"]),
        image_size=image_size,
        weights_path=weights_path,
        weights_sha256=weights_sha256,
    )


def _file_model_config(wf: WeightsFile, model_name: str) -> dict[str, Any]:
    """The config a weights file's model is built from, checked against the known architectures and the
    local cache: a file never names sizes no known model has, nor anything to download."""
    if wf.config is not None:
        try:
            registry.check_file_config(wf.config)
        except registry.ConfigError as exc:
            raise ModelLoadError(
                f"weights {wf.path} describe model {model_name!r} unlike any known architecture ({exc}); "
                "use a file written by `python -m finetune`"
            ) from exc
        config = wf.config
    else:
        found = registry.get_config(model_name)
        if found is None:
            raise ModelLoadError(
                f"weights {wf.path} name unknown model {model_name!r}; use lite, {DEFAULT_MODEL} or another name "
                "from open_clip.list_models()"
            )
        config = found
    for hub_name in registry.hub_names(config):
        if not hub_model_cached(hub_name):
            raise ModelLoadError(
                f"weights {wf.path} need {hub_name} from the Hugging Face hub, which is not in the local cache, and "
                f"a weights file never triggers a download; cache it once online with load_model({model_name!r})"
            )
    return config


def _shapes_without_memory(model_name: str, config: dict[str, Any], from_file: bool) -> dict[str, torch.Tensor]:
    """The model's state dict on the meta device: every name and shape, no memory for the values."""
    cfg_name = registry.config_name(model_name)
    with _quiet_transformers(), offline_hub(), torch.device("meta"):
        if from_file or registry.is_project_model(cfg_name):
            model = _instantiate(registry.resolve_config(config), hf_pretrained=False, preprocess={})
        else:
            model = open_clip.create_model(cfg_name, pretrained=None, pretrained_text=False, device="meta")
    return model.state_dict()


def _load_weights_file(
    name: str, weights: str | os.PathLike[str], device: torch.device, expected_sha256: str | None
) -> LoadedModel:
    try:
        wf = read_weights(weights, expected_sha256)
    except WeightsMismatchError:
        raise
    except WeightsError as exc:
        raise ModelLoadError(str(exc)) from exc
    model_name = wf.model_name or name
    config = _file_model_config(wf, model_name)
    failure = (TypeError, KeyError, ValueError, OSError, RuntimeError)
    try:  # the state dict must fit before memory is spent on the model
        expected = _shapes_without_memory(model_name, config, wf.config is not None)
    except failure as exc:
        raise ModelLoadError(f"weights {wf.path} name a model config that cannot be built ({exc})") from exc
    report = _fit_report(expected, wf.state_dict)
    if report and wf.model_name is None:
        raise ModelLoadError(
            f"weights {wf.path} do not fit model {model_name} ({report}); pass the --model they were trained with"
        )
    if report:
        raise ModelLoadError(
            f"weights {wf.path} do not fit the model {model_name} they name ({report}); the file is damaged or "
            "was written by other code: use a file written by `python -m finetune`"
        )
    try:
        with offline_hub():
            model, resolved = _build(model_name, None, wf.config)
    except failure as exc:
        raise ModelLoadError(f"weights {wf.path} name a model config that cannot be built ({exc})") from exc
    model.load_state_dict(wf.state_dict, strict=True)
    return _finish(
        model,
        model_name,
        wf.pretrained,
        resolved,
        device,
        config=wf.config,
        weights_path=os.path.abspath(wf.path),
        weights_sha256=wf.sha256,
    )


def load_model(
    name: str = DEFAULT_MODEL,
    pretrained: str | None = DEFAULT,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    init_seed: int | None = INIT_SEED,
    expected_sha256: str | None = None,
) -> LoadedModel:
    """Load ``name`` with ``pretrained`` weights ("default" = the model's usual tag, None = random init),
    or, with ``weights``, the model a weights file names (``name`` is used for a bare state dict).

    Whatever is randomly initialised is seeded with ``init_seed`` (same model in every process); pass
    ``init_seed=None`` to draw from the global torch RNG instead (e.g. several different random models).

    A weights file is checked before anything is built: its config against the known architectures, its
    hub names against the local cache (it never triggers a download), its tensors' shapes against the model
    (built on the meta device first). With ``expected_sha256`` a file with another hash is refused
    (``WeightsMismatchError``) before its tensors are read."""
    target = resolve_device(device)
    if weights is not None:
        return _load_weights_file(name, weights, target, expected_sha256)
    cfg_name = registry.config_name(name)
    tag = _resolve_tag(cfg_name, pretrained)
    try:
        model, resolved = _build(name, tag, None, init_seed)
    except registry.ConfigError as exc:
        raise ModelLoadError(str(exc)) from exc
    except LiteWeightsError as exc:
        raise ModelLoadError(f"cannot load the lite model's ImageNet weights ({exc})") from exc
    return _finish(model, name, tag, resolved, target)
