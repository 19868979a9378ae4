from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from shared.models.embedding import (
    autocast_dtype,
    encode_image_batch,
    encode_pil_images,
    encode_texts,
)
from shared.models import LoadedModel, load_model



def _images() -> list[Image.Image]:
    colours = [(200, 30, 30), (30, 60, 200), (30, 160, 60), (20, 20, 20), (230, 200, 20)]
    return [Image.new("RGB", (60, 80), colour) for colour in colours]


def test_autocast_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASHION_AUTOCAST", raising=False)
    assert autocast_dtype(torch.device("cpu")) is None
    monkeypatch.setenv("FASHION_AUTOCAST", "bf16")
    assert autocast_dtype(torch.device("cpu")) is torch.bfloat16
    monkeypatch.setenv("FASHION_AUTOCAST", "off")
    assert autocast_dtype(torch.device("cuda")) is None


@pytest.mark.parametrize("fixture", ["tiny", "tiny_hf"])
def test_texts_are_normalised_and_batch_independent(fixture: str, request: pytest.FixtureRequest) -> None:
    loaded = request.getfixturevalue(fixture)
    texts = ["red shirt", "a long blue summer dress for women", "watch", "black leather handbag with strap"]
    full = encode_texts(loaded, texts)
    assert full.shape == (4, loaded.embed_dim) and full.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-5)
    one_by_one = encode_texts(loaded, texts, batch_size=1)  # different padding lengths per batch
    np.testing.assert_allclose(full, one_by_one, atol=1e-5)
    assert not np.allclose(full[0], full[1])
    assert encode_texts(loaded, []).shape == (0, loaded.embed_dim)
    with pytest.raises(TypeError):
        encode_texts(loaded, "red shirt")  # type: ignore[arg-type]


def test_images_pil_and_batch_paths_agree(tiny: LoadedModel) -> None:
    images = _images()
    from_pil = encode_pil_images(tiny, images, batch_size=2)
    batch = torch.stack([tiny.image_transform(image) for image in images])
    from_batch = encode_image_batch(tiny, batch)
    assert from_pil.shape == (5, 32) and from_pil.dtype == np.float32
    np.testing.assert_allclose(from_pil, from_batch, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(from_pil, axis=1), 1.0, atol=1e-5)
    assert encode_pil_images(tiny, []).shape == (0, 32)
    assert encode_image_batch(tiny, torch.zeros((0, 3, 32, 32))).shape == (0, 32)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        encode_image_batch(tiny, batch[0])


def test_training_mode_is_restored(tiny: LoadedModel) -> None:
    tiny.model.train()
    encode_texts(tiny, ["x"])
    encode_pil_images(tiny, _images()[:1])
    assert tiny.model.training
    tiny.model.eval()
    encode_texts(tiny, ["x"])
    assert not tiny.model.training


def test_bf16_override_stays_close_to_fp32(tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    images, texts = _images(), ["red shirt", "blue jeans"]
    monkeypatch.setenv("FASHION_AUTOCAST", "off")
    fp32 = encode_pil_images(tiny, images), encode_texts(tiny, texts)
    monkeypatch.setenv("FASHION_AUTOCAST", "bf16")
    bf16 = encode_pil_images(tiny, images), encode_texts(tiny, texts)
    for a, b in zip(fp32, bf16):
        assert b.dtype == np.float32
        assert not np.array_equal(a, b)  # autocast really ran in bf16
        assert (a * b).sum(axis=1).min() > 0.99
