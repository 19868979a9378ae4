from __future__ import annotations

import pytest
import torch
from torch import nn

from finetune.optim import decays, parameter_groups, tower_of, warmup_cosine


def test_towers_of_open_clip_parameter_names() -> None:
    assert tower_of("visual.transformer.resblocks.0.attn.in_proj_weight") == "image"
    assert tower_of("visual.trunk.blocks.6.0.conv_pw.weight") == "image"
    assert tower_of("visual.proj") == "projection"
    assert tower_of("visual.head.proj.weight") == "projection"
    assert tower_of("text_projection") == "projection"
    assert tower_of("text.proj.0.weight") == "projection"
    assert tower_of("logit_scale") == "projection"
    assert tower_of("transformer.resblocks.0.mlp.c_fc.weight") == "text"
    assert tower_of("text.transformer.encoder.layer.0.attention.self.query.weight") == "text"


def test_no_decay_for_norms_biases_and_temperature() -> None:
    assert decays("visual.conv1.weight", torch.zeros(3, 3, 3, 3))
    assert not decays("ln_final.weight", torch.zeros(8))
    assert not decays("visual.head.proj.bias", torch.zeros(8))
    assert not decays("logit_scale", torch.zeros(()))


def test_parameter_groups_skip_frozen_and_set_rates() -> None:
    class Toy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = nn.Linear(4, 4)
            self.text_projection = nn.Parameter(torch.zeros(4, 4))
            self.logit_scale = nn.Parameter(torch.zeros(()))
            self.transformer = nn.Linear(4, 4)

    toy = Toy()
    toy.visual.weight.requires_grad_(False)
    groups = {g["name"]: g for g in parameter_groups(toy, {"image": 1.0, "text": 2.0, "projection": 3.0}, 0.5)}
    assert set(groups) == {"image_no_decay", "projection", "projection_no_decay", "text", "text_no_decay"}
    assert groups["projection"]["lr"] == 3.0 and groups["projection"]["weight_decay"] == 0.5
    assert groups["projection_no_decay"]["weight_decay"] == 0.0
    assert sum(p.numel() for g in groups.values() for p in g["params"]) == 4 + 16 + 1 + 20


def test_warmup_then_cosine() -> None:
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10) == pytest.approx(0.0)
