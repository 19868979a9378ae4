"""The vector store's errors; each message names the cause and the fix on one line."""

from __future__ import annotations

from shared.errors import FashionSearchError


class StoreError(FashionSearchError, RuntimeError):
    """A vector-store operation that failed; the message names the cause and the fix."""


class StoreUnavailableError(StoreError):
    """The configured Qdrant server does not answer."""


class StoreLockedError(StoreError):
    """The embedded store is held by another process."""


class FilterError(StoreError, ValueError):
    """A filter naming an unknown field or holding a value of the wrong shape."""


class MissingVectorsError(StoreError):
    """A collection made before ``text`` vectors existed; it must be ingested again to get them."""

    def __init__(self, collection: str, where: str) -> None:
        super().__init__(
            f"collection {collection!r} {where} has no text vectors (it was ingested before they existed); "
            "ingest it again with --recreate"
        )
        self.collection = collection
