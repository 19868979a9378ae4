"""The collection contract: what ingest writes and search reads, stated once.

- :class:`ModelIdentity`: which model made a collection's vectors;
- :func:`check_fits`: whether a model may add to, or query, a collection's vectors;
- :func:`image_file` / :func:`find_image`: where a product's image file lives;
- :func:`compare` and :func:`collection_status`: whether the vector store and the SQL
  catalog hold the same products, and what ``python -m ingest --status`` reports.

Only the standard library is imported here (the catalog, the store and the settings are
passed in), so ``--status`` and the model loader can use it without the SQL layer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from shared.errors import FashionSearchError

if TYPE_CHECKING:
    from shared.storage.catalog import Catalog
    from shared.settings import Settings
    from shared.storage.vector_store import VectorStore

EDGE_PREFIX = "edge:"
SERVER_PREFIX = "server:"


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made a collection's vectors: queries must use the same one."""

    model_name: str
    pretrained: str | None
    weights_path: str | None
    weights_sha256: str | None
    embedding_dim: int

    def same_model(self, other: "ModelIdentity") -> bool:
        if self.weights_sha256 or other.weights_sha256:
            return self.weights_sha256 == other.weights_sha256
        return (self.model_name, self.pretrained) == (other.model_name, other.pretrained)

    def describe(self) -> str:
        if self.weights_sha256:
            return f"{self.model_name} weights {self.weights_path} (sha256 {self.weights_sha256[:12]})"
        return f"{self.model_name} pretrained={self.pretrained}"


# -- does a model fit a collection -------------------------------------------------
@dataclass(frozen=True)
class CollectionFacts:
    """What a collection already holds: the model its latest ingest run recorded, and its vectors' size."""

    name: str
    recorded: ModelIdentity | None = None
    """None: no run recorded (or the caller loaded the recorded model itself)."""
    vector_size: int | None = None
    """None: no collection in the store yet (or its size is unknown)."""

    @classmethod
    def read(cls, store: VectorStore, catalog: Catalog, name: str) -> "CollectionFacts":
        return cls(name, catalog.model_of(name), store.vector_size(name))  # None where there is no collection


class MisfitError(FashionSearchError, ValueError):
    """A model that does not fit a collection's vectors: another model, or vectors of another size."""

    def __init__(self, message: str, facts: CollectionFacts, model: ModelIdentity) -> None:
        super().__init__(message)
        self.facts = facts
        self.model = model


def check_fits(model: ModelIdentity, facts: CollectionFacts) -> None:
    """Refuse to mix vectors of two models in one collection (MisfitError: which way it does not fit)."""
    recorded = facts.recorded
    if recorded is not None and not recorded.same_model(model):
        raise MisfitError(f"collection {facts.name!r} holds vectors of {recorded.describe()}, not {model.describe()}", facts, model)
    if facts.vector_size is not None and facts.vector_size != model.embedding_dim:
        raise MisfitError(
            f"collection {facts.name!r} holds {facts.vector_size}-d vectors but the model makes {model.embedding_dim}-d ones",
            facts,
            model,
        )


# -- image files ----------------------------------------------------------------------
def collection_images(images_dir: Path, collection: str) -> Path:
    """The folder holding a collection's product images, under the data dir's images folder."""
    return images_dir / collection


def image_file(folder: Path, product_id: int) -> Path:
    """A product's image file in its collection's image folder."""
    return folder / f"{product_id}.jpg"


def find_image(recorded: str | None, images_dir: Path, collection: str, product_id: int) -> str | None:
    """The recorded image path if it exists from here, else the one under this data dir."""
    if recorded and Path(recorded).is_file():
        return recorded
    local = image_file(collection_images(images_dir, collection), product_id)
    return str(local) if local.is_file() else recorded


# -- store and catalog in step --------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """Product ids that one side holds and the other does not."""

    vectors_without_rows: frozenset[int]
    rows_without_vectors: frozenset[int]

    @property
    def in_step(self) -> bool:
        return not self.vectors_without_rows and not self.rows_without_vectors


def compare(store: VectorStore, catalog: Catalog, collection: str) -> Difference:
    """How the collection's vector ids and catalog ids differ (an absent collection holds no vectors)."""
    stored = store.all_ids(collection) if store.collection_exists(collection) else set()
    catalogued = catalog.product_ids(collection)
    return Difference(frozenset(stored - catalogued), frozenset(catalogued - stored))


def sqlite_folder(catalog: Catalog) -> Path | None:
    """The folder of a SQLite catalog's database file (None for another database or one in memory)."""
    database = catalog.engine.url.database
    if catalog.engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename, as --status opens the catalog read-only
        database = unquote(database[len("file:") :].split("?", 1)[0])
    return Path(database).resolve().parent


def store_location(store: VectorStore, catalog: Catalog) -> str:
    """Where the store lives, as the catalog records it.

    An embedded store is recorded by its folder, relative to a SQLite catalog's own
    folder (so a data dir that is moved or copied whole still matches) and absolute
    otherwise; a server by its URL.
    """
    if store.backend == "edge":
        root = Path(getattr(store, "root")).resolve()
        base = sqlite_folder(catalog)
        return EDGE_PREFIX + (os.path.relpath(root, base) if base is not None else str(root))
    if store.backend == "server":
        return SERVER_PREFIX + str(getattr(store, "location"))
    return f"{store.backend}:{store!r}"


# -- status ---------------------------------------------------------------------------
def open_collection(store: VectorStore, settings: Settings, name: str) -> int:
    """Open an existing collection and count its vectors. This takes the embedded store's lock, so a
    store in use by another process is refused here. Opening a shard writes through memory maps (a new
    WAL segment, the holes of its sparse files), and a mapped write that the disk cannot back is a "Bus
    error", on a full ext4 as on tmpfs; so the reserve plus the holes must be free first."""
    if store.backend == "edge":
        from shared.disk import check_free_space, sparse_hole_bytes

        check_free_space(settings.edge_dir, sparse_hole_bytes(settings.edge_dir / name, any_filesystem=True))
    return store.count(name)


def collection_status(settings: Settings, store: VectorStore, catalog: Catalog | None) -> list[dict[str, Any]]:
    """Each collection's counts and model; ``catalog`` is None where no catalog was written yet."""
    rows = []
    location = store_location(store, catalog) if catalog else None
    names = set(catalog.collections()) if catalog else set()
    for name in sorted(names | {settings.collection}):
        run = catalog.latest_run(name) if catalog else None
        exists = store.collection_exists(name)
        if run is None and not exists:
            continue
        vectors = open_collection(store, settings, name) if exists else 0
        if catalog is not None:
            difference = compare(store, catalog, name)
        else:  # no catalog written yet: every vector lacks its row
            difference = Difference(frozenset(store.all_ids(name)) if exists else frozenset(), frozenset())
        owner = catalog.store_of(name) if catalog else None
        rows.append(
            {
                "collection": name,
                "products": catalog.count(name) if catalog else 0,
                "vectors": vectors,
                "model": run.model_name if run else None,
                "pretrained": run.pretrained if run else None,
                "weights_sha256": run.weights_sha256 if run else None,
                "embedding_dim": run.embedding_dim if run else None,
                "backend": store.backend,
                "last_run_finished": bool(run and run.finished_at),
                "vectors_without_rows": len(difference.vectors_without_rows),
                "rows_without_vectors": len(difference.rows_without_vectors),
                "in_step": difference.in_step,
                "rows_of_other_store": owner if owner not in (None, location) else None,
            }
        )
    return rows
