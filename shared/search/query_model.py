"""The query model of one collection: the model its latest ingest recorded, followed after a re-ingest.

Loading goes through ``shared.search.recorded_model``, which checks the weights file's hash on every load, so
queries and stored vectors always come from one model.
"""

from __future__ import annotations

from pathlib import Path

from shared.storage.catalog import Catalog, IngestRun, run_identity
from shared.storage.collection import CollectionFacts, MisfitError, ModelIdentity, check_fits
from shared.models import LoadedModel
from shared.search.recorded_model import RecordedFrom, load_recorded_model
from shared.search.types import CollectionMissingError, RetrieverError
from shared.settings import Settings
from shared.storage.vector_store import VectorStore


def ingest_command(settings: Settings) -> str:
    """The command that fills the settings' collection from the project's default real dataset (with the shipped model)."""
    return (
        f"python -m ingest --dataset ../shared/data/fashion-products-19k "
        f"--data-dir {settings.data_dir} --collection {settings.collection}"
    )


class QueryModel:
    """The recorded model of ``settings.collection`` (``identity`` and ``loaded``), after :meth:`connect`."""

    identity: ModelIdentity
    loaded: LoadedModel

    def __init__(self, settings: Settings, catalog: Catalog, explicit_weights: Path | None = None, device: str = "cpu") -> None:
        self.settings = settings
        self.collection = settings.collection
        self.catalog = catalog
        self.device = device
        self._explicit_weights = explicit_weights
        """Weights the caller pinned: they must be the recorded model."""

    def connect(self, store: VectorStore) -> None:
        """Check the collection, load the recorded model, and check that it fits the vectors."""
        if not store.collection_exists(self.collection):
            raise CollectionMissingError(
                f"collection {self.collection!r} does not exist in the {store.backend} store; "
                f"fill it with: {ingest_command(self.settings)}",
                ingest_command(self.settings),
            )
        if not store.has_text_vectors(self.collection):
            command = f"{ingest_command(self.settings)} --recreate"
            raise CollectionMissingError(
                f"collection {self.collection!r} was ingested before products got text vectors (name and attributes); "
                f"embed it again with: {command}",
                command,
            )
        run = self._recorded_run()
        self.identity = run_identity(run)
        self.loaded = self._load_model(self.identity, run)
        dim = store.vector_size(self.collection)
        try:  # the model is the recorded one: only the vectors' size is left to check
            check_fits(self.loaded.identity(), CollectionFacts(self.collection, vector_size=dim))
        except MisfitError:
            raise RetrieverError(
                f"model {self.identity.model_name} makes {self.loaded.embed_dim}-d vectors but collection "
                f"{self.collection!r} holds {dim}-d ones; re-ingest with --recreate"
            ) from None

    def _recorded_run(self) -> IngestRun:
        run = self.catalog.latest_run(self.collection)
        if run is None:
            raise CollectionMissingError(
                f"collection {self.collection!r} has no ingest run in {self.settings.catalog_url}; "
                f"fill it with: {ingest_command(self.settings)}",
                ingest_command(self.settings),
            )
        return run

    def _load_model(self, identity: ModelIdentity, run: IngestRun) -> LoadedModel:
        """The model that made the vectors; its weights file's hash is checked on every load (recorded_model)."""
        return load_recorded_model(
            identity,
            RecordedFrom(self.collection, run.dataset, self.settings.data_dir),
            explicit_weights=self._explicit_weights,
            device=self.device,
        )

    def refresh(self) -> None:
        """After a reopen: follow a re-ingest with another model (unless weights were pinned).

        The recorded model is compared, not the run id: ``--recreate`` deletes the runs, and SQLite gives
        the next run the same id again."""
        run = self._recorded_run()
        identity = run_identity(run)
        if not identity.same_model(self.identity):
            self.loaded = self._load_model(identity, run)
            self.identity = identity
