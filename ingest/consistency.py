"""Keeping the vector store and the SQL catalog in step.

Two things can put them out of step:

- a run killed between a batch's vector write and its catalog write leaves vectors
  without catalog rows (and a failed vector write, rows without vectors);
- two data dirs (two vector stores) sharing one ``DATABASE_URL`` would each treat
  the other's rows as stale.

:func:`compare` measures the first (``python -m ingest --status`` reports it) and
:func:`repair` removes it (ingest runs it first). Vectors without rows are also what
a live ingest has between its two writes, so they are deleted only by an ingest that
holds the collection's :class:`WriterLease` alone (several ingests may share one
Qdrant server). :func:`claim_collection` records which store a collection's rows
belong to and refuses a second store.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import text

from shared.storage.catalog import Catalog, CatalogError
from shared.storage.collection import EDGE_PREFIX, Difference, compare, sqlite_folder, store_location
from shared.storage.vector_store import VectorStore

try:  # POSIX only; elsewhere every ingest counts as the only one
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LEASE_CLASS = 0x66617368  # first key of the PostgreSQL advisory locks of ingest leases

__all__ = ["WriterLease", "claim_collection", "repair"]


class WriterLease:
    """Held by every ingest of a collection while it writes; ``sole`` if no other ingest held it.

    A sole lease starts exclusive, so no other ingest starts writing until
    :meth:`share` (after the repair). On PostgreSQL it is a session advisory lock; on
    a SQLite catalog, a byte-range lock on ``<database>-ingest.lock``. Both end with
    the process, however it ends.
    """

    def __init__(self, catalog: Catalog, collection: str) -> None:
        self._key = zlib.crc32(collection.encode("utf-8")) & 0x7FFFFFFF
        self._connection: Any = None
        self._file: int | None = None
        if catalog.engine.dialect.name == "postgresql":
            self._connection = catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self.sole = bool(self._pg("SELECT pg_try_advisory_lock(:c, :k)"))
            if not self.sole:
                self._pg("SELECT pg_advisory_lock_shared(:c, :k)")
            return
        folder = sqlite_folder(catalog)
        if folder is None or fcntl is None:
            self.sole = True
            return
        try:
            self._file = os.open(f"{catalog.engine.url.database}-ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only folder: the catalog cannot be written either, and says so
            self.sole = True
            return
        try:
            fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self._key)
            self.sole = True
        except OSError:
            fcntl.lockf(self._file, fcntl.LOCK_SH, 1, self._key)
            self.sole = False

    def _pg(self, query: str) -> Any:
        return self._connection.execute(text(query), {"c": LEASE_CLASS, "k": self._key}).scalar()

    def share(self) -> None:
        """Let other ingests of the collection start (a sole lease becomes shared)."""
        if self.sole and self._connection is not None:
            self._pg("SELECT pg_advisory_lock_shared(:c, :k)")
            self._pg("SELECT pg_advisory_unlock(:c, :k)")
        elif self.sole and self._file is not None:
            fcntl.lockf(self._file, fcntl.LOCK_SH, 1, self._key)

    def close(self) -> None:
        if self._connection is not None:
            self._pg("SELECT pg_advisory_unlock_all()")
            self._connection.close()
            self._connection = None
        if self._file is not None:
            os.close(self._file)  # releases this process's locks on the file
            self._file = None

    def __enter__(self) -> "WriterLease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair(store: VectorStore, catalog: Catalog, collection: str, lease: WriterLease) -> Difference:
    """Delete rows without vectors and, with a sole lease, vectors without rows; returns what was deleted.

    Products of the dataset among them are embedded again by the run that follows.
    """
    difference = compare(store, catalog, collection)
    if not lease.sole:  # another live ingest may be between its vector and catalog writes
        difference = Difference(frozenset(), difference.rows_without_vectors)
    if difference.rows_without_vectors:
        catalog.delete_products(collection, sorted(difference.rows_without_vectors))
    if difference.vectors_without_rows:
        store.delete_points(collection, sorted(difference.vectors_without_rows))
    return difference


def _recorded_store_is_gone(location: str, catalog: Catalog, collection: str) -> bool:
    """Whether a recorded embedded store no longer holds the collection (its folder was moved or deleted)."""
    if not location.startswith(EDGE_PREFIX):
        return False
    folder = Path(location[len(EDGE_PREFIX) :])
    base = sqlite_folder(catalog)
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
