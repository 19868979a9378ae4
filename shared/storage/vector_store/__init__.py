"""Product vector store: embedded Qdrant Edge, or a Qdrant server, behind one interface.

``open_store(settings)`` picks the backend from ``settings.qdrant_url``:

- ``"auto"``: a Qdrant server answering at http://localhost:6333, else the embedded
  Qdrant Edge store under ``settings.edge_dir``;
- ``"edge"`` (or ``"embedded"``): always the embedded store;
- an ``http(s)://`` URL: that server (``StoreUnavailableError`` if it does not answer);
- ``":memory:"``: qdrant-client's in-memory local mode (tests).

Each backend's client library is imported only when that backend is opened (or its
class is named): qdrant-client alone takes about a second to import, which
``python -m ingest --status`` on the embedded store should not pay.

Modules: ``base`` is the front (``VectorStore``: validates, caches vector sizes,
BM25-encodes and chunks once); ``edge`` and ``server`` are thin drivers that translate
its validated calls; ``filters`` (fields, ``YearRange``, conditions), ``bm25``,
``checks`` (argument checks), ``points`` (points, hits, queries), ``errors``,
``folder_lock`` and ``probe`` serve them. ``collection_config`` (``CollectionConfig``: shards,
replicas, quantization, on-disk, deferred HNSW) is mapped by ``server_layout`` and ``edge_layout``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.settings import AUTO, LOCAL_SERVER_URL, Settings
from shared.storage.vector_store.base import VectorStore
from shared.storage.vector_store.errors import (
    FilterError,
    MissingVectorsError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from shared.storage.vector_store.filters import FILTER_FIELDS, Filters, YearRange, normalize_filters, payload_matches
from shared.storage.vector_store.points import DENSE_VECTOR, SPARSE_VECTOR, TEXT_VECTOR, ScoredHit, SearchLeg, VectorPoint
from shared.storage.vector_store.probe import probe_server

if TYPE_CHECKING:
    from shared.storage.vector_store.edge import EdgeStore
    from shared.storage.vector_store.server import ServerStore

EMBEDDED = ("edge", "embedded")
MEMORY = ":memory:"

__all__ = [
    "DENSE_VECTOR",
    "FILTER_FIELDS",
    "SPARSE_VECTOR",
    "TEXT_VECTOR",
    "EdgeStore",
    "FilterError",
    "MissingVectorsError",
    "Filters",
    "ScoredHit",
    "SearchLeg",
    "ServerStore",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "VectorPoint",
    "VectorStore",
    "YearRange",
    "normalize_filters",
    "open_store",
    "payload_matches",
    "probe_server",
]


def __getattr__(name: str) -> Any:
    """``EdgeStore`` and ``ServerStore``, imported on first use (PEP 562)."""
    if name == "EdgeStore":
        from shared.storage.vector_store.edge import EdgeStore

        return EdgeStore
    if name == "ServerStore":
        from shared.storage.vector_store.server import ServerStore

        return ServerStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(settings: Settings, *, probe_timeout: float = 0.5, read_only: bool = False) -> VectorStore:
    """The vector store that settings.qdrant_url names (see the module docstring).

    ``read_only``: the embedded store refuses writes and does not flush on close
    (``--status``); a server is opened as usual.
    """
    url = (settings.qdrant_url or AUTO).strip()
    if url == MEMORY:
        from shared.storage.vector_store.server import ServerStore

        return ServerStore.in_memory()
    if url.lower() in EMBEDDED:
        return _edge(settings, read_only)
    if url.lower() == AUTO:
        if probe_server(LOCAL_SERVER_URL, settings.qdrant_api_key, probe_timeout) is None:
            from shared.storage.vector_store.server import ServerStore

            return ServerStore.connect(LOCAL_SERVER_URL, settings.qdrant_api_key)
        return _edge(settings, read_only)
    if not url.startswith(("http://", "https://")):
        raise StoreError(
            f"QDRANT_URL {url!r} is not a URL; use http://host:6333, 'auto', 'edge' or ':memory:'"
        )
    from shared.storage.vector_store.server import ServerStore

    return ServerStore.connect(url, settings.qdrant_api_key)


def _edge(settings: Settings, read_only: bool) -> VectorStore:
    from shared.storage.vector_store.edge import EdgeStore

    return EdgeStore(settings.edge_dir, read_only=read_only)
