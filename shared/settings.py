"""One typed settings object for the whole project, read from the environment.

Every command (`python -m ingest`, `python -m finetune`, the Streamlit page) builds
its configuration here, so a value means the same thing everywhere:

| variable            | default                                  |
| ------------------- | ---------------------------------------- |
| FASHION_DATA_DIR    | ./data                                   |
| QDRANT_URL          | auto (a server at localhost:6333, else embedded) |
| QDRANT_API_KEY      | unset                                    |
| DATABASE_URL        | sqlite:///<data dir>/catalog.db          |
| FASHION_COLLECTION  | fashion_products                         |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_COLLECTION = "fashion_products"
DEFAULT_DATASET = "ashraq/fashion-product-images-small"
AUTO = "auto"
LOCAL_SERVER_URL = "http://localhost:6333"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """Where the catalog lives and which vector store holds it."""

    data_dir: Path = field(default_factory=lambda: Path("data"))
    qdrant_url: str = AUTO
    qdrant_api_key: str | None = None
    database_url: str | None = None
    collection: str = DEFAULT_COLLECTION

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Settings from the environment; keyword overrides that are not None win."""
        base = cls(
            data_dir=Path(_env("FASHION_DATA_DIR") or "data"),
            qdrant_url=_env("QDRANT_URL") or AUTO,
            qdrant_api_key=_env("QDRANT_API_KEY"),
            database_url=_env("DATABASE_URL"),
            collection=_env("FASHION_COLLECTION") or DEFAULT_COLLECTION,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(str(given["data_dir"]))
        return replace(base, **given)  # type: ignore[arg-type]

    @property
    def catalog_url(self) -> str:
        """The SQLAlchemy URL of the product catalog."""
        return self.database_url or f"sqlite:///{self.catalog_path}"

    @property
    def catalog_path(self) -> Path:
        """The default SQLite catalog's file (used when DATABASE_URL is unset)."""
        return (self.data_dir / "catalog.db").resolve()

    @property
    def images_dir(self) -> Path:
        """Where product images are written for display."""
        return self.data_dir / "images"

    @property
    def edge_dir(self) -> Path:
        """Where the embedded Qdrant Edge shards live (one folder per collection)."""
        return self.data_dir / "qdrant_edge"
