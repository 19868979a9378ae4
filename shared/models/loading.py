"""``load_model``: an open_clip model with its transforms and tokenizer, from a tag, the lite towers or a weights file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import open_clip
import torch

from shared.model_spec import DEFAULT_MODEL
from shared.models import registry
from shared.models.building import DEFAULT, INIT_SEED, LITE_TAG, build_model, instantiate, quiet_transformers, resolve_tag
from shared.models.downloads import hub_model_cached, offline_hub
from shared.models.lite_weights import LiteWeightsError
from shared.models.loaded import LoadedModel, ModelLoadError, finish_loading
from shared.models.partial_weights import PartialWeightsError, overlay_partial
from shared.runtime import resolve_device
from shared.models.weights import WeightsError, WeightsFile, WeightsMismatchError, read_weights

__all__ = ["DEFAULT", "LITE_TAG", "LoadedModel", "ModelLoadError", "load_model"]


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
    with quiet_transformers(), offline_hub(), torch.device("meta"):
        if from_file or registry.is_project_model(cfg_name):
            model = instantiate(registry.resolve_config(config), hf_pretrained=False, preprocess={})
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
    if wf.base is not None:
        return _load_partial_file(wf, device)
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
            model, resolved = build_model(model_name, None, wf.config)
    except failure as exc:
        raise ModelLoadError(f"weights {wf.path} name a model config that cannot be built ({exc})") from exc
    model.load_state_dict(wf.state_dict, strict=True)
    return finish_loading(
        model,
        model_name,
        wf.pretrained,
        resolved,
        device,
        config=wf.config,
        weights_path=os.path.abspath(wf.path),
        weights_sha256=wf.sha256,
        weights_metadata=wf.metadata,
    )


def _load_partial_file(wf: WeightsFile, device: torch.device) -> LoadedModel:
    """A partial file (``shared.models.partial_weights``): the packaged base model with the file's tensors put in."""
    assert wf.base is not None
    try:
        model, resolved = overlay_partial(wf.state_dict, wf.base, wf.path)
    except PartialWeightsError as exc:
        raise ModelLoadError(str(exc)) from exc
    except LiteWeightsError as exc:
        raise ModelLoadError(f"weights {wf.path} build on the lite model, whose packaged weights cannot be loaded ({exc})") from exc
    return finish_loading(
        model,
        str(wf.base["model"]),
        wf.pretrained,
        resolved,
        device,
        weights_path=os.path.abspath(wf.path),
        weights_sha256=wf.sha256,
        weights_metadata=wf.metadata,
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
    tag = resolve_tag(cfg_name, pretrained)
    try:
        model, resolved = build_model(name, tag, None, init_seed)
    except registry.ConfigError as exc:
        raise ModelLoadError(str(exc)) from exc
    except LiteWeightsError as exc:
        raise ModelLoadError(f"cannot load the lite model's ImageNet weights ({exc})") from exc
    return finish_loading(model, name, tag, resolved, target)
