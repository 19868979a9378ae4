"""The one parser of "weights file or model name" and the defaults it names."""

from __future__ import annotations

from pathlib import Path

from shared.model_spec import DEFAULT_MODEL, DEFAULT_PRETRAINED, ModelSpec, parse_model_spec, pretrained_tag, spec_from_flags


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
