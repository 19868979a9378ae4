"""Keeping the vector store and the SQL catalog in step.

Two things can put them out of step:

- a run killed between a batch's vector write and its catalog write leaves vectors
  without catalog rows (and a failed vector write, rows without vectors);
- two data dirs (two vector stores) sharing one ``DATABASE_URL`` would each treat
  the other's rows as stale.

:func:`compare` measures the first (``python -m ingest --status`` reports it) and
:func:`repair` removes it (ingest runs it first). :func:`claim_collection` records
which store a collection's rows belong to and refuses a second store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shared.catalog import Catalog, CatalogError
from shared.vector_store import EdgeStore, ServerStore, VectorStore

EDGE_PREFIX = "edge:"
SERVER_PREFIX = "server:"


@dataclass(frozen=True)
class Difference:
    """Product ids that one side holds and the other does not."""

    vectors_without_rows: frozenset[int]
    rows_without_vectors: frozenset[int]

    @property
    def in_step(self) -> bool:
        return not self.vectors_without_rows and not self.rows_without_vectors

    def describe(self) -> str:
        return (
            f"{len(self.vectors_without_rows)} vectors without catalog rows, "
            f"{len(self.rows_without_vectors)} catalog rows without vectors"
        )


def compare(store: VectorStore, catalog: Catalog, collection: str) -> Difference:
    """How the collection's vector ids and catalog ids differ (an absent collection holds no vectors)."""
    stored = store.all_ids(collection) if store.collection_exists(collection) else set()
    catalogued = catalog.product_ids(collection)
    return Difference(frozenset(stored - catalogued), frozenset(catalogued - stored))


def repair(store: VectorStore, catalog: Catalog, collection: str) -> Difference:
    """Delete vectors without catalog rows and rows without vectors; returns what was deleted.

    Products of the dataset among them are embedded again by the run that follows.
    """
    difference = compare(store, catalog, collection)
    if difference.rows_without_vectors:
        catalog.delete_products(collection, sorted(difference.rows_without_vectors))
    if difference.vectors_without_rows:
        store.delete_points(collection, sorted(difference.vectors_without_rows))
    return difference


def _sqlite_folder(catalog: Catalog) -> Path | None:
    """The folder of a SQLite catalog file (the store is recorded relative to it), else None."""
    database = catalog.engine.url.database
    if catalog.engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).resolve().parent


def store_location(store: VectorStore, catalog: Catalog) -> str:
    """Where the store lives, as the catalog records it.

    An embedded store is recorded by its folder, relative to a SQLite catalog's own
    folder (so a data dir that is moved or copied whole still matches) and absolute
    otherwise; a server by its URL.
    """
    if isinstance(store, EdgeStore):
        root = store.root.resolve()
        base = _sqlite_folder(catalog)
        return EDGE_PREFIX + (os.path.relpath(root, base) if base is not None else str(root))
    if isinstance(store, ServerStore):
        return SERVER_PREFIX + store.location
    return f"{store.backend}:{store!r}"


def _recorded_store_is_gone(location: str, catalog: Catalog, collection: str) -> bool:
    """Whether a recorded embedded store no longer holds the collection (its folder was moved or deleted)."""
    if not location.startswith(EDGE_PREFIX):
        return False
    folder = Path(location[len(EDGE_PREFIX) :])
    base = _sqlite_folder(catalog)
    if not folder.is_absolute() and base is not None:
        folder = base / folder
    return not (folder / collection).is_dir()


def _check_unclaimed_rows(store: VectorStore, catalog: Catalog, collection: str) -> None:
    """Refuse to claim rows recorded before stores were (a catalog of an older version) that this store lacks."""
    catalogued = catalog.product_ids(collection)
    stored = store.all_ids(collection) if catalogued and store.collection_exists(collection) else set()
    missing = len(catalogued - stored)
    if missing:
        raise CatalogError(
            f"collection {collection!r} of catalog {catalog.public_url} has {missing} products that the vector store "
            f"{store_location(store, catalog)} lacks and no record of their store (another data dir may share "
            "DATABASE_URL); pass --recreate to replace them, or --collection NAME for a separate collection"
        )


def claim_collection(store: VectorStore, catalog: Catalog, collection: str, *, recreate: bool = False) -> None:
    """Record that the collection's catalog rows belong to this store; refuse if another store's do.

    A collection whose recorded embedded store is gone is taken over. Rows with no
    recorded store are claimed only if this store holds them all (or with ``recreate``).
    """
    location = store_location(store, catalog)
    if catalog.store_of(collection) is None and not recreate:
        _check_unclaimed_rows(store, catalog, collection)
    owner = catalog.claim_collection(collection, location)
    if owner != location and _recorded_store_is_gone(owner, catalog, collection):
        owner = catalog.claim_collection(collection, location, replacing=owner)
    if owner != location:
        raise CatalogError(
            f"collection {collection!r} of catalog {catalog.public_url} belongs to the vector store {owner}, "
            f"not {location} (two data dirs share one DATABASE_URL); pass --collection NAME to keep a separate "
            "collection, or give each data dir its own DATABASE_URL"
        )
