"""The one parser of "weights file or model name" and the defaults it names."""

from __future__ import annotations

from pathlib import Path

import pytest

import shared
from shared.model_spec import (
    DEFAULT_MODEL,
    DEFAULT_PRETRAINED,
    SHIPPED_WEIGHTS,
    ModelSpec,
    missing_shipped_message,
    parse_model_spec,
    pretrained_tag,
    shipped_weights_path,
    spec_from_flags,
)


def test_an_existing_file_is_a_weights_file(tmp_path: Path) -> None:
    weights = tmp_path / "tuned.pt"
    weights.write_bytes(b"")
    spec = parse_model_spec(str(weights), "openai")
    assert spec == ModelSpec(name=str(weights), pretrained=None, weights=str(weights))
    assert spec.label == "tuned.pt"


def test_anything_else_is_a_model_name_with_its_tag() -> None:
    assert parse_model_spec("lite") == ModelSpec("lite", DEFAULT_PRETRAINED, None)
    assert parse_model_spec("tiny-test", "openai") == ModelSpec("tiny-test", "openai")
    assert parse_model_spec("lite").label == "lite (base)"
    for spelling in ("none", "None", "", " NONE "):
        assert parse_model_spec("tiny-test", spelling).pretrained is None
    assert pretrained_tag(None) is None and pretrained_tag("laion2b") == "laion2b"


def test_flags_default_to_the_default_model_and_its_usual_weights() -> None:
    assert spec_from_flags(None, None, None) == ModelSpec(DEFAULT_MODEL, DEFAULT_PRETRAINED, None)
    assert spec_from_flags("lite", "none", None) == ModelSpec("lite", "none", None)
    # a weights file holds every tensor: no pretrained tag is implied
    assert spec_from_flags(None, None, "w.pt") == ModelSpec(DEFAULT_MODEL, None, "w.pt")


def test_the_default_model_is_named_once() -> None:
    root = Path(__file__).resolve().parents[1]
    spelled = [
        path.relative_to(root).as_posix()
        for folder in ("shared", "ingest", "finetune", "search_ui")
        for path in (root / folder).rglob("*.py")
        if f'"{DEFAULT_MODEL}"' in path.read_text(encoding="utf-8")
    ]
    assert spelled == ["shared/model_spec.py"]


def test_fashion_lite_names_the_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert SHIPPED_WEIGHTS == Path(shared.__file__).resolve().parent / "models" / "shipped" / "fashion-lite.pt"
    monkeypatch.delenv("FASHION_SHIPPED_WEIGHTS", raising=False)
    assert shipped_weights_path() == SHIPPED_WEIGHTS
    monkeypatch.setenv("FASHION_SHIPPED_WEIGHTS", str(tmp_path / "x.pt"))
    shipped = ModelSpec("fashion-lite", None, str(tmp_path / "x.pt"))
    assert spec_from_flags("fashion-lite", None, None) == shipped
    assert parse_model_spec("fashion-lite") == shipped
    assert spec_from_flags("fashion-lite", None, "w.pt") == ModelSpec("fashion-lite", None, "w.pt")  # --weights wins
    assert spec_from_flags(None, None, None) == ModelSpec(DEFAULT_MODEL, DEFAULT_PRETRAINED, None)  # finetune's default
    assert "which is missing" in (missing_shipped_message() or "")
    (tmp_path / "x.pt").write_bytes(b"x")
    assert missing_shipped_message() is None
