from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from finetune.loss import MAX_LOGIT_SCALE, caption_groups, clamp_logit_scale, contrastive_loss, local_contrastive_loss


def test_matches_hand_computed_two_by_two() -> None:
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = contrastive_loss(image, text, torch.tensor(0.0))  # scale 1: logits = identity
    expected = -math.log(math.e / (math.e + 1))
    assert abs(float(loss) - expected) < 1e-6


def test_is_symmetric_mean_of_both_directions() -> None:
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(6, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    scale = torch.tensor(math.log(10.0))
    logits = 10.0 * image @ text.t()
    labels = torch.arange(6)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    assert torch.allclose(contrastive_loss(image, text, scale), expected)


def test_duplicate_captions_are_positives_not_false_negatives() -> None:
    # two products with the same caption and identical features: without groups the loss
    # cannot go below log 2 however large the scale; with groups it goes to zero
    features = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=-1)
    scale = torch.tensor(MAX_LOGIT_SCALE)
    plain = contrastive_loss(features, features, scale)
    grouped = contrastive_loss(features, features, scale, caption_groups(["red shirt", "red shirt", "blue jeans"]))
    assert float(plain) > 0.4
    assert float(grouped) < float(plain) - 0.4
    assert abs(float(grouped)) < 1e-4  # at the optimum the multi-positive loss floors at 0


def test_caption_groups_and_clamp() -> None:
    assert caption_groups(["a", "b", "a"]).tolist() == [0, 1, 0]
    scale = torch.nn.Parameter(torch.tensor(9.0))
    clamp_logit_scale(scale)
    assert float(scale.detach()) == pytest.approx(MAX_LOGIT_SCALE)
    scale.data.fill_(-1.0)
    clamp_logit_scale(scale)
    assert float(scale.detach()) == 0.0


def test_local_losses_average_to_the_global_loss_with_caption_groups() -> None:
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(8, 16), dim=-1), F.normalize(torch.randn(8, 16), dim=-1)
    groups = caption_groups([f"caption {i % 5}" for i in range(8)])
    scale = torch.tensor(math.log(20.0))
    whole = contrastive_loss(image, text, scale, groups)
    local = [local_contrastive_loss(image[r : r + 4], text[r : r + 4], image, text, scale, groups, r) for r in (0, 4)]
    assert torch.allclose((local[0] + local[1]) / 2, whole, atol=1e-6)
    assert not torch.allclose(local[0], local[1])
    with pytest.raises(ValueError, match="lie outside a global batch of 8"):
        local_contrastive_loss(image[:4], text[:4], image, text, scale, groups, 6)
