"""Store hits filled in from the SQL catalog: every catalog attribute and an image path usable from here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shared.catalog import Catalog
from shared.search_types import SearchResult
from shared.vector_store import ScoredHit


def image_file(images_dir: Path, collection: str, product_id: int, recorded: str | None) -> str | None:
    """The recorded image path if it exists from here, else the one under this data dir."""
    if recorded and Path(recorded).is_file():
        return recorded
    local = images_dir / collection / f"{product_id}.jpg"
    return str(local) if local.is_file() else recorded


def catalog_results(catalog: Catalog, collection: str, images_dir: Path, hits: Sequence[ScoredHit]) -> list[SearchResult]:
    """The hits in order, each with its catalog record (the stored payload where the catalog has none)."""
    records = catalog.get_products(collection, [h.id for h in hits])
    results = []
    for hit in hits:
        record = dict(records.get(hit.id) or hit.payload)
        record["image_path"] = image_file(images_dir, collection, hit.id, record.get("image_path"))
        results.append(SearchResult.from_record(hit.id, hit.score, record))
    return results
