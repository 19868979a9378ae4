from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import AUTO, DEFAULT_COLLECTION, Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FASHION_DATA_DIR", "QDRANT_URL", "QDRANT_API_KEY", "DATABASE_URL", "FASHION_COLLECTION"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.data_dir == Path("data") and settings.qdrant_url == AUTO
    assert settings.collection == DEFAULT_COLLECTION
    assert settings.catalog_url == f"sqlite:///{Path('data/catalog.db').resolve()}"


def test_environment_then_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FASHION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("DATABASE_URL", "postgresql://shop/catalog")
    settings = Settings.from_env(collection="men", qdrant_url=None)
    assert settings.data_dir == tmp_path and settings.qdrant_url == "http://qdrant:6333"
    assert settings.catalog_url == "postgresql://shop/catalog" and settings.collection == "men"
    assert settings.edge_dir == tmp_path / "qdrant_edge"
