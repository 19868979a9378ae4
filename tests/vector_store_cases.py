"""Shared cases of the vector-store suites: realistic points, a brute-force oracle, both backends."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shared.storage.vector_store import EdgeStore, ScoredHit, ServerStore, VectorPoint, VectorStore, payload_matches

DIM = 16
N = 90  # below the hybrid prefetch depth (100), so every point reaches RRF fusion
NAME = "products"
REPO_ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ("Tshirts", "Trousers", "Casual Shoes", "Handbags", "Watches")
COLOURS = ("Red", "Blue", "Green", "Black", "Yellow", "Purple")


def make_points(n: int = N, dim: int = DIM, seed: int = 0) -> list[VectorPoint]:
    """Products whose vectors cluster by article type, with realistic payloads."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(ARTICLES), dim))
    points = []
    for i in range(n):
        article, colour = ARTICLES[i % 5], COLOURS[(i // 5) % 6]
        gender = ("Men", "Women")[(i // 3) % 2]
        vector = centres[i % 5] + 0.35 * rng.normal(size=dim)
        payload = {
            "gender": gender,
            "masterCategory": "Apparel" if article in ("Tshirts", "Trousers") else "Accessories",
            "articleType": article,
            "baseColour": colour,
            "year": 2010 + i % 7,
            "productDisplayName": f"{gender} {colour} {article}",
        }
        points.append(VectorPoint(id=1000 + i, vector=vector.astype(np.float32), payload=payload,
                                  text=payload["productDisplayName"]))
    special = points[-1]  # one product whose name shares no word with any other
    payload = {**special.payload, "productDisplayName": "Zephyr Aurora Satchel"}
    points[-1] = VectorPoint(special.id, special.vector, payload, payload["productDisplayName"])
    return points


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def brute_force(points: list[VectorPoint], query: np.ndarray, filters: dict[str, Any] | None = None) -> list[tuple[int, float]]:
    """(id, cosine) of every matching point, best first."""
    kept = [p for p in points if payload_matches(p.payload, filters)]
    scores = unit(np.stack([p.vector for p in kept])) @ unit(query)
    order = np.argsort(-scores)
    return [(kept[i].id, float(scores[i])) for i in order]


def ids(hits: list[ScoredHit]) -> list[int]:
    return [h.id for h in hits]


@pytest.fixture
def edge_root(tmp_path: Path) -> Iterator[Path]:
    """A folder for Edge shards, on tmpfs when there is one (Edge fsyncs every index creation)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="test-vector-store-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, edge_root: Path) -> Iterator[VectorStore]:
    backend: VectorStore = EdgeStore(edge_root) if request.param == "edge" else ServerStore.in_memory()
    yield backend
    backend.close()


@pytest.fixture
def points() -> list[VectorPoint]:
    return make_points()


@pytest.fixture
def filled(store: VectorStore, points: list[VectorPoint]) -> VectorStore:
    store.create_collection(NAME, DIM)
    store.upsert(NAME, points)
    return store


def one_line(error: pytest.ExceptionInfo[BaseException], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message and all(part in message for part in parts), message
    return message
