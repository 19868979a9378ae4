"""load_recorded_model: the query model must be the model recorded at ingest, its weights file included."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.storage.catalog import ModelIdentity
from shared.search.recorded_model import RecordedFrom, load_recorded_model
from shared.search.types import RetrieverError
from shared.models.weights import file_sha256
from tests.search_fixtures import TINY, tiny_weights

SOURCE = RecordedFrom("things", "data/products.parquet", Path("data-x"))
COMMAND = "python -m ingest --weights {} --dataset data/products.parquet --data-dir data-x --collection things --recreate"


def identity_of(weights: Path) -> ModelIdentity:
    return ModelIdentity(TINY, None, str(weights.resolve()), file_sha256(weights), 32)


def test_recorded_weights_load_and_carry_their_hash(tmp_path: Path) -> None:
    weights = tiny_weights(tmp_path / "w.pt")
    loaded = load_recorded_model(identity_of(weights), SOURCE)
    assert loaded.weights_sha256 == file_sha256(weights) and loaded.identity() == identity_of(weights)


def test_weights_changed_in_place_are_refused_with_both_models_and_the_fixes(tmp_path: Path) -> None:
    weights = tiny_weights(tmp_path / "w.pt")
    recorded = identity_of(weights)
    weights.write_bytes(tiny_weights(tmp_path / "other.pt", seed=9).read_bytes())
    with pytest.raises(RetrieverError) as refused:
        load_recorded_model(recorded, SOURCE)
    message = str(refused.value)
    assert f"(sha256 {recorded.weights_sha256[:12]})" in message and f"now holds sha256 {file_sha256(weights)[:12]}" in message
    assert COMMAND.format(weights.resolve()) in message and "restore the original file" in message and "\n" not in message


def test_pinned_weights_must_be_the_recorded_model(tmp_path: Path) -> None:
    weights = tiny_weights(tmp_path / "w.pt")
    other = tiny_weights(tmp_path / "other.pt", seed=9)
    with pytest.raises(RetrieverError, match=r"other.pt \(sha256 \w{12}\) differ from the model .* drop --weights, or re-ingest"):
        load_recorded_model(identity_of(weights), SOURCE, explicit_weights=other)
    pretrained = ModelIdentity(TINY, None, None, None, 32)  # ingested without a weights file
    with pytest.raises(RetrieverError, match=r"differ from the model that embedded collection 'things' \(tiny-test pretrained=None\)"):
        load_recorded_model(pretrained, SOURCE, explicit_weights=other)
    assert load_recorded_model(identity_of(weights), SOURCE, explicit_weights=weights).weights_sha256 == file_sha256(weights)


def test_missing_recorded_weights_name_the_fix(tmp_path: Path) -> None:
    weights = tiny_weights(tmp_path / "w.pt")
    recorded = identity_of(weights)
    weights.unlink()
    with pytest.raises(RetrieverError, match="which no longer exist; restore the file or re-ingest with --recreate"):
        load_recorded_model(recorded, SOURCE)
