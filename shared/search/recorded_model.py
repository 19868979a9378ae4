"""The query model of an ingested collection: the model its latest ingest recorded, checked on every load.

A weights file must still hash to the sha256 recorded at ingest: ``python -m finetune`` overwrites its output
by default, and a retrained file would embed queries in another space than the stored vectors. The hash is
cached per file version (``shared.models.weights.cached_file_sha256``), so the check of an unchanged file costs a
stat, and one load hashes and reads the file once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.storage.collection import ModelIdentity
from shared.models import LoadedModel, load_model
from shared.search.types import RetrieverError
from shared.models.weights import WeightsMismatchError


@dataclass(frozen=True)
class RecordedFrom:
    """Where a collection's vectors came from, for the re-ingest command in a refusal."""

    collection: str
    dataset: str | None
    data_dir: Path

    def reingest_command(self, weights: str) -> str:
        return (
            f"python -m ingest --weights {weights} --dataset {self.dataset or 'DATASET'} --data-dir {self.data_dir} "
            f"--collection {self.collection} --recreate"
        )


def load_recorded_model(
    identity: ModelIdentity, source: RecordedFrom, *, explicit_weights: Path | None = None, device: str = "cpu"
) -> LoadedModel:
    """The model ``identity`` names; ``explicit_weights`` (a pinned file) must be that same model.

    RetrieverError, in one line naming both models and the fix, when the weights on disk are another model."""
    weights = identity.weights_path
    if explicit_weights is not None:
        if not explicit_weights.is_file():
            raise RetrieverError(f"weights file {explicit_weights} does not exist; pass a .pt from finetune")
        if not identity.weights_sha256:
            raise RetrieverError(
                f"weights {explicit_weights} differ from the model that embedded collection {source.collection!r} "
                f"({identity.describe()}); queries and vectors must come from one model: drop --weights, or "
                f"re-ingest with: {source.reingest_command(str(explicit_weights))}"
            )
        weights = str(explicit_weights)
    elif weights and not Path(weights).is_file():
        raise RetrieverError(
            f"collection {source.collection!r} was embedded with weights {weights}, which no longer exist; "
            "restore the file or re-ingest with --recreate"
        )
    expected = identity.weights_sha256 if weights else None
    try:
        return load_model(identity.model_name, identity.pretrained, weights=weights, device=device, expected_sha256=expected)
    except WeightsMismatchError as mismatch:
        raise RetrieverError(_mismatch_message(identity, source, mismatch, pinned=explicit_weights is not None)) from mismatch


def _mismatch_message(identity: ModelIdentity, source: RecordedFrom, mismatch: WeightsMismatchError, *, pinned: bool) -> str:
    """One line: the model the vectors come from, the one on disk, and the ways out."""
    recorded = f"{identity.model_name} weights {identity.weights_path} (sha256 {mismatch.expected_sha256[:12]})"
    on_disk = f"sha256 {mismatch.actual_sha256[:12]}"
    command = source.reingest_command(mismatch.path)
    same_file = Path(mismatch.path).resolve() == Path(identity.weights_path or "").resolve()
    if pinned and not same_file:
        return (
            f"weights {mismatch.path} ({on_disk}) differ from the model that embedded collection {source.collection!r} "
            f"({recorded}); queries and vectors must come from one model: drop --weights, or re-ingest with: {command}"
        )
    return (
        f"weights {mismatch.path} changed since they embedded collection {source.collection!r}: the vectors come from "
        f"{recorded}, the file now holds {on_disk} (retrained?); queries and vectors must come from one model: "
        f"re-ingest with: {command}, or restore the original file"
    )
