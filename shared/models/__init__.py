"""Models: open_clip configs shipped as data (``configs/*.json``) and ``load_model``.

Names: ``ViT-B-32-quickgelu`` (pretrained ``openai``), ``lite`` (EfficientNet-Lite0 + all-MiniLM-L6-v2, offline
weights), any open_clip name, and tiny random test configs ``tiny-test`` / ``tiny-hf-test``.
"""

from shared.models.building import DEFAULT, LITE_TAG
from shared.models.loaded import LoadedModel, ModelLoadError
from shared.models.loading import load_model
from shared.models.registry import config_name, known_model_names, register_configs

register_configs()

__all__ = [
    "DEFAULT",
    "LITE_TAG",
    "LoadedModel",
    "ModelLoadError",
    "config_name",
    "known_model_names",
    "load_model",
    "register_configs",
]
