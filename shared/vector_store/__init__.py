"""Product vector store: embedded Qdrant Edge, or a Qdrant server, behind one interface.

``open_store(settings)`` picks the backend from ``settings.qdrant_url``:

- ``"auto"``: a Qdrant server answering at http://localhost:6333, else the embedded
  Qdrant Edge store under ``settings.edge_dir``;
- ``"edge"`` (or ``"embedded"``): always the embedded store;
- an ``http(s)://`` URL: that server (``StoreUnavailableError`` if it does not answer);
- ``":memory:"``: qdrant-client's in-memory local mode (tests).
"""

from __future__ import annotations

from shared.settings import AUTO, LOCAL_SERVER_URL, Settings
from shared.vector_store.base import (
    DENSE_VECTOR,
    FILTER_FIELDS,
    SPARSE_VECTOR,
    FilterError,
    Filters,
    ScoredHit,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    VectorPoint,
    VectorStore,
    normalize_filters,
    payload_matches,
)
from shared.vector_store.edge import EdgeStore
from shared.vector_store.server import ServerStore, probe_server

EMBEDDED = ("edge", "embedded")
MEMORY = ":memory:"

__all__ = [
    "DENSE_VECTOR",
    "FILTER_FIELDS",
    "SPARSE_VECTOR",
    "EdgeStore",
    "FilterError",
    "Filters",
    "ScoredHit",
    "ServerStore",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "VectorPoint",
    "VectorStore",
    "normalize_filters",
    "open_store",
    "payload_matches",
    "probe_server",
]


def open_store(settings: Settings, *, probe_timeout: float = 0.5) -> VectorStore:
    """The vector store that settings.qdrant_url names (see the module docstring)."""
    url = (settings.qdrant_url or AUTO).strip()
    if url == MEMORY:
        return ServerStore.in_memory()
    if url.lower() in EMBEDDED:
        return EdgeStore(settings.edge_dir)
    if url.lower() == AUTO:
        if probe_server(LOCAL_SERVER_URL, settings.qdrant_api_key, probe_timeout) is None:
            return ServerStore.connect(LOCAL_SERVER_URL, settings.qdrant_api_key)
        return EdgeStore(settings.edge_dir)
    if not url.startswith(("http://", "https://")):
        raise StoreError(
            f"QDRANT_URL {url!r} is not a URL; use http://host:6333, 'auto', 'edge' or ':memory:'"
        )
    return ServerStore.connect(url, settings.qdrant_api_key)
