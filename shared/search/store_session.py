"""The vector store a retriever queries: opened on use, released when idle, reopened on the next use.

The embedded store can be opened by one process at a time: with ``idle_release_s`` the session closes
it after that many idle seconds (an ingest can then run) and reopens it on the next query. A reopen
calls ``on_reopen`` first, so the caller can pick up whatever the ingest changed (another model).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from shared.settings import Settings
from shared.storage.vector_store import VectorStore, open_store


class StoreSession:
    """One retriever's hold on its vector store; ``lock`` serialises every use of it."""

    def __init__(
        self,
        settings: Settings,
        external_store: VectorStore | None = None,
        idle_release_s: float | None = None,
        on_reopen: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.external_store = external_store
        """A store the caller opened and owns (never released or closed here)."""
        self.idle_release_s = idle_release_s
        self.on_reopen = on_reopen
        """Called after the store was opened again, before its first use; raising releases it again."""
        self.lock = threading.RLock()
        self.last_used = time.monotonic()
        self._store: VectorStore | None = external_store
        self._idle_timer: threading.Timer | None = None

    def open(self) -> VectorStore:
        """The store, opened if it is not (without calling ``on_reopen``)."""
        with self.lock:
            if self._store is None:
                self._store = open_store(self.settings)
            return self._store

    def current(self) -> VectorStore:
        """The open store; a reopen first calls ``on_reopen``. When that raises, the store is left closed,
        so every later use calls it again."""
        with self.lock:
            reopened = self._store is None
            store = self.open()
            if reopened and self.on_reopen is not None:
                try:
                    self.on_reopen()
                except BaseException:
                    self.release()
                    raise
            return store

    @contextmanager
    def use(self) -> Iterator[VectorStore]:
        """The current store, held under the lock; the idle countdown restarts afterwards."""
        with self.lock:
            store = self.current()
            try:
                yield store
            finally:
                self.last_used = time.monotonic()
                self.schedule_release()

    def release(self) -> None:
        """Close the store (unless the caller owns it) so another process (an ingest) can open it."""
        with self.lock:
            if self._store is not None and self._store is not self.external_store:
                self._store.close()
                self._store = None

    def schedule_release(self) -> None:
        """Release the store after ``idle_release_s`` seconds from now, unless it is used again."""
        if self.idle_release_s is None or self.external_store is not None:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(self.idle_release_s, self.release)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    @property
    def is_open(self) -> bool:
        return self._store is not None

    def close(self) -> None:
        """Stop the idle countdown and release the store."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self.release()
