"""Store hits filled in from the SQL catalog: every catalog attribute and an image path usable from here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shared.storage.catalog import Catalog
from shared.storage.collection import find_image
from shared.search.types import SearchResult
from shared.storage.vector_store import ScoredHit


def catalog_results(catalog: Catalog, collection: str, images_dir: Path, hits: Sequence[ScoredHit]) -> list[SearchResult]:
    """The hits in order, each with its catalog record (the stored payload where the catalog has none)."""
    records = catalog.get_products(collection, [h.id for h in hits])
    results = []
    for hit in hits:
        record = dict(records.get(hit.id) or hit.payload)
        record["image_path"] = find_image(record.get("image_path"), images_dir, collection, hit.id)
        results.append(SearchResult.from_record(hit.id, hit.score, record))
    return results
