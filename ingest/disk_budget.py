"""How much disk an ingest needs, checked before each batch's writes (see shared.disk)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.products.datasets import ProductTable
from shared.disk import DiskFullError, check_free_space, disk_full_error, is_disk_full, sparse_hole_bytes

SAMPLE = 16
"""Products whose image sizes are averaged for the estimate."""
ROW_BYTES = 4096
"""Per product, besides its image and vector: payload, BM25 vector, indexes, WAL record, catalog row."""
VECTOR_COPIES = 3
"""A vector is written to the WAL and to the vector storage, with room for a server's own copies."""


def product_bytes(table: ProductTable, pending: Sequence[int], embedding_dim: int) -> int:
    """Estimated bytes one product adds to the data dir: its image file, its vector's copies and its rows."""
    sample = [len(table[index].image or b"") for index in pending[:SAMPLE]]
    image = sum(sample) // len(sample) if sample else 0
    return image + VECTOR_COPIES * 4 * embedding_dim + ROW_BYTES


@dataclass
class DiskBudget:
    """Free space at ``folder`` against ``per_product`` bytes for each of ``total`` products to write.

    ``mapped_dir`` is the embedded store's folder: on tmpfs its sparse files' holes count as
    needed too, because a write into a mapped hole that cannot be backed is a "Bus error".
    """

    folder: Path
    per_product: int
    total: int
    mapped_dir: Path | None = None
    written: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.written)

    def check(self, next_writes: int) -> None:
        """Before writing ``next_writes`` products (a batch and the images prefetched after it), raise
        DiskFullError, naming what the remaining products need, unless they (plus the reserve) fit."""
        try:
            check_free_space(self.folder, self.per_product * min(next_writes, self.remaining) + self._holes())
        except DiskFullError:
            raise self.full_error() from None

    def full_error(self) -> DiskFullError:
        """The one-line error for a full disk, naming the space the remaining products need."""
        return disk_full_error(self.folder, self.per_product * self.remaining + self._holes())

    def _holes(self) -> int:
        return sparse_hole_bytes(self.mapped_dir) if self.mapped_dir is not None else 0

    @contextmanager
    def guard(self) -> Iterator["DiskBudget"]:
        """Turn a write that found the disk full (SQLite's "database or disk is full", Qdrant Edge's
        bare exception, a loader worker's ENOSPC) into the one-line DiskFullError."""
        try:
            yield self
        except Exception as error:
            if isinstance(error, DiskFullError) or not is_disk_full(error):
                raise
            raise self.full_error() from None
