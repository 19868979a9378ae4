"""One contract suite for every VectorStore backend (embedded Edge, qdrant-client local mode)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shared.vector_store as vector_store
from shared.settings import Settings
from shared.vector_store import (
    EdgeStore,
    FilterError,
    ScoredHit,
    ServerStore,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    VectorPoint,
    VectorStore,
    open_store,
    payload_matches,
)

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


def test_create_recreate_and_delete(store: VectorStore, points: list[VectorPoint]) -> None:
    assert not store.collection_exists(NAME) and store.vector_size(NAME) is None
    store.create_collection(NAME, DIM)
    assert store.collection_exists(NAME) and store.vector_size(NAME) == DIM and store.count(NAME) == 0
    store.upsert(NAME, points)
    assert store.count(NAME) == N
    store.create_collection(NAME, 8)  # recreate: empty, new size
    assert store.count(NAME) == 0 and store.vector_size(NAME) == 8
    store.delete_collection(NAME)
    assert not store.collection_exists(NAME)
    store.delete_collection(NAME)  # deleting twice is fine
    with pytest.raises(StoreError, match="does not exist"):
        store.count(NAME)


def test_upsert_is_idempotent_and_replaces_payloads(filled: VectorStore, points: list[VectorPoint]) -> None:
    filled.upsert(NAME, points)
    assert filled.count(NAME) == N
    assert filled.all_ids(NAME) == {p.id for p in points}
    changed = VectorPoint(points[0].id, points[0].vector, {**points[0].payload, "baseColour": "Silver"}, "x")
    filled.upsert(NAME, [changed])
    assert filled.count(NAME) == N and filled.count(NAME, {"baseColour": "Silver"}) == 1


def test_delete_points_removes_exactly_those_ids(filled: VectorStore, points: list[VectorPoint]) -> None:
    gone = [points[0].id, points[5].id, 999_999]  # an id never stored is ignored
    filled.delete_points(NAME, gone)
    filled.delete_points(NAME, [])
    assert filled.all_ids(NAME) == {p.id for p in points} - set(gone)
    assert filled.count(NAME) == len(points) - 2 and points[0].id not in filled.retrieve_vectors(NAME, [points[0].id])


def test_upsert_rejects_wrong_dimension_and_bad_ids(filled: VectorStore) -> None:
    with pytest.raises(StoreError, match="dimension 5"):
        filled.upsert(NAME, [VectorPoint(1, np.ones(5, np.float32), {})])
    with pytest.raises(StoreError, match="non-negative integer"):
        filled.upsert(NAME, [VectorPoint(-3, np.ones(DIM, np.float32), {})])


FILTER_CASES: list[dict[str, Any]] = [
    {"gender": "Women"},
    {"articleType": ["Handbags", "Watches"]},
    {"year": (2012, 2014)},
    {"year": (None, 2011), "gender": "Men"},
    {"masterCategory": "Apparel", "baseColour": ["Red", "Blue"], "year": (2013, None)},
    {"gender": [], "year": (None, None)},  # empty selections constrain nothing
]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_count_and_search_honour_filters(filled: VectorStore, points: list[VectorPoint], filters: dict[str, Any]) -> None:
    expected = [p for p in points if payload_matches(p.payload, filters)]
    assert 0 < len(expected) and filled.count(NAME, filters) == len(expected)
    query = points[7].vector
    hits = filled.search(NAME, query, top_k=8, filters=filters)
    assert all(payload_matches(h.payload, filters) for h in hits)
    assert ids(hits) == [i for i, _ in brute_force(points, query, filters)[:8]]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_offset_pages_match_one_long_search(filled: VectorStore, points: list[VectorPoint]) -> None:
    query = points[3].vector
    long = ids(filled.search(NAME, query, top_k=20))
    pages = ids(filled.search(NAME, query, top_k=10)) + ids(filled.search(NAME, query, top_k=10, offset=10))
    assert pages == long and len(set(long)) == 20


def test_score_threshold_keeps_exactly_the_close_points(filled: VectorStore, points: list[VectorPoint]) -> None:
    query = points[4].vector
    expected = [i for i, score in brute_force(points, query) if score >= 0.8]
    assert 0 < len(expected) < N
    hits = filled.search(NAME, query, top_k=N, score_threshold=0.8)
    assert ids(hits) == expected and all(h.score >= 0.8 for h in hits)


def test_search_batch_equals_single_searches(filled: VectorStore, points: list[VectorPoint]) -> None:
    queries = np.stack([points[i].vector for i in (0, 11, 42)])
    batch = filled.search_batch(NAME, queries, top_k=5, filters={"gender": "Men"})
    singles = [filled.search(NAME, q, top_k=5, filters={"gender": "Men"}) for q in queries]
    assert [ids(b) for b in batch] == [ids(s) for s in singles]
    assert all(h.payload["gender"] == "Men" for hits in batch for h in hits)


def test_recommend_returns_similar_points_without_the_examples(filled: VectorStore, points: list[VectorPoint]) -> None:
    positives = [points[0].id, points[5].id]  # both Tshirts
    hits = filled.recommend(NAME, positives, top_k=10)
    assert len(hits) == 10 and not set(positives) & set(ids(hits))
    assert Counter(h.payload["articleType"] for h in hits)["Tshirts"] >= 8
    stored = filled.retrieve_vectors(NAME, positives)
    expected = [i for i, _ in brute_force(points, np.mean([stored[i] for i in positives], axis=0))
                if i not in positives][:10]
    assert ids(hits) == expected
    negative = ids(hits)[0]
    with_negative = filled.recommend(NAME, positives, [negative], top_k=10, filters={"gender": "Women"})
    assert negative not in ids(with_negative)
    assert all(h.payload["gender"] == "Women" for h in with_negative)
    with pytest.raises(StoreError, match="not in collection"):
        filled.recommend(NAME, [999_999])


def test_facet_counts_equal_brute_force(filled: VectorStore, points: list[VectorPoint]) -> None:
    for field, filters in [("articleType", None), ("baseColour", {"gender": "Women"}), ("year", {"year": (2012, None)})]:
        expected = Counter(p.payload[field] for p in points if payload_matches(p.payload, filters))
        assert filled.facet_counts(NAME, field, filters) == dict(expected)


def test_keyword_query_ranks_the_exact_name_first(filled: VectorStore, points: list[VectorPoint]) -> None:
    target = points[-1]
    uninformative = points[1].vector  # a query vector about some other product
    dense_only = ids(filled.search(NAME, uninformative, top_k=5))
    assert dense_only[0] != target.id
    hybrid = filled.search(NAME, uninformative, top_k=5, keyword_query="zephyr aurora satchel")
    assert hybrid[0].id == target.id and hybrid[0].payload["productDisplayName"] == "Zephyr Aurora Satchel"
    blank = filled.search(NAME, uninformative, top_k=5, keyword_query="   ")
    assert ids(blank) == dense_only


def test_retrieve_vectors_returns_unit_vectors(filled: VectorStore, points: list[VectorPoint]) -> None:
    stored = filled.retrieve_vectors(NAME, [points[2].id, 123_456])
    assert list(stored) == [points[2].id]
    np.testing.assert_allclose(stored[points[2].id], unit(points[2].vector), atol=1e-5)


def test_unknown_filter_field_is_a_one_line_error(filled: VectorStore, points: list[VectorPoint]) -> None:
    for call in (
        lambda: filled.search(NAME, points[0].vector, filters={"colour": "Red"}),
        lambda: filled.count(NAME, {"colour": "Red"}),
        lambda: filled.facet_counts(NAME, "colour"),
    ):
        with pytest.raises(FilterError) as caught:
            call()
        message = str(caught.value)
        assert "'colour'" in message and "baseColour" in message and "\n" not in message
    with pytest.raises(FilterError, match="strings"):
        filled.count(NAME, {"gender": 3})


def _one_line(error: pytest.ExceptionInfo[BaseException], *parts: str) -> str:
    message = str(error.value)
    assert "\n" not in message and all(part in message for part in parts), message
    return message


@pytest.mark.parametrize("top_k", [0, 10_001, 2**64, 2.5, "10", True, None])
def test_bad_top_k_is_a_one_line_error(filled: VectorStore, points: list[VectorPoint], top_k: Any) -> None:
    vector = points[0].vector
    for call in (
        lambda: filled.search(NAME, vector, top_k=top_k),
        lambda: filled.search(NAME, vector, top_k=top_k, keyword_query="red"),
        lambda: filled.search_batch(NAME, [vector], top_k=top_k),
        lambda: filled.recommend(NAME, [points[0].id], top_k=top_k),
    ):
        with pytest.raises(StoreError) as caught:
            call()
        _one_line(caught, "top_k must be a whole number from 1 to 10,000", repr(top_k))


@pytest.mark.parametrize(("keyword", "value"), [("offset", -1), ("offset", 2**64), ("offset", 1.5), ("score_threshold", "0.5"),
                                                ("score_threshold", float("nan"))])
def test_bad_offset_or_threshold_is_a_one_line_error(filled: VectorStore, points: list[VectorPoint], keyword: str, value: Any) -> None:
    with pytest.raises(StoreError) as caught:
        filled.search(NAME, points[0].vector, **{keyword: value})
    _one_line(caught, keyword)


@pytest.mark.parametrize("year", [2**70, (2**70, None), (None, -(2**70)), [2012, 2**64]])
def test_out_of_range_year_filter_is_a_filter_error(filled: VectorStore, points: list[VectorPoint], year: Any) -> None:
    for call in (
        lambda: filled.search(NAME, points[0].vector, filters={"year": year}),
        lambda: filled.count(NAME, {"year": year}),
        lambda: filled.facet_counts(NAME, "gender", {"year": year}),
    ):
        with pytest.raises(FilterError) as caught:
            call()
        _one_line(caught, "out of range")


def test_lone_surrogate_in_text_is_a_filter_error(filled: VectorStore, points: list[VectorPoint]) -> None:
    with pytest.raises(FilterError) as caught:
        filled.search(NAME, points[0].vector, keyword_query="red \ud800 shoes")
    _one_line(caught, "keyword query", "position 4")
    with pytest.raises(FilterError) as caught:
        filled.count(NAME, {"gender": ["Men", "Wo\udc80men"]})
    _one_line(caught, "'gender'", "not valid text")


@pytest.mark.parametrize("bad", [-5, 2**63, 2**70, 12.0, "1003", None])
def test_bad_example_ids_are_one_line_errors(filled: VectorStore, points: list[VectorPoint], bad: Any) -> None:
    for positives, negatives in (([bad], []), ([points[0].id], [bad])):
        with pytest.raises(StoreError) as caught:
            filled.recommend(NAME, positives, negatives)
        _one_line(caught, "must be a non-negative integer below 2**63", repr(bad))
    with pytest.raises(StoreError, match="must be a list of product ids"):
        filled.recommend(NAME, points[0].id)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="point id must be a non-negative integer"):
        filled.upsert(NAME, [VectorPoint(2**70, points[0].vector)])


def test_unknown_example_ids_are_listed_briefly(filled: VectorStore, points: list[VectorPoint]) -> None:
    unknown = list(range(500_000, 505_000))
    with pytest.raises(StoreError) as caught:
        filled.recommend(NAME, [points[0].id, *unknown])
    message = _one_line(caught, "not in collection", "500000, 500001", "and 4990 more")
    assert "500010" not in message and len(message) < 300


def test_edge_reopen_keeps_size_and_data(edge_root: Path, points: list[VectorPoint]) -> None:
    first = EdgeStore(edge_root)
    first.create_collection(NAME, DIM)
    first.upsert(NAME, points)
    first.close()
    second = EdgeStore(edge_root)
    with ThreadPoolExecutor(4) as pool:  # concurrent first use loads the shard once, no self-lock
        assert list(pool.map(lambda _: second.count(NAME), range(8))) == [N] * 8
    assert second.vector_size(NAME) == DIM
    assert ids(second.search(NAME, points[9].vector, top_k=1)) == [points[9].id]
    second.close()


def test_edge_second_opener_gets_a_lock_error(edge_root: Path, points: list[VectorPoint]) -> None:
    holder = EdgeStore(edge_root)
    holder.create_collection(NAME, DIM)
    intruder = EdgeStore(edge_root)
    with pytest.raises(StoreLockedError) as caught:
        intruder.count(NAME)
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message and "docker compose up qdrant" in message and "\n" not in message
    holder.close()
    assert intruder.count(NAME) == 0  # free once the holder closed
    intruder.close()


def test_edge_upsert_survives_kill_9(edge_root: Path) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        from tests.test_vector_store import make_points
        from shared.vector_store import EdgeStore
        store = EdgeStore({str(edge_root)!r})
        store.create_collection("products", {DIM})
        store.upsert("products", make_points())
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == -9, result.stderr
    reopened = EdgeStore(edge_root)  # the dead process's lock is gone with it
    assert reopened.count(NAME) == N and reopened.vector_size(NAME) == DIM
    assert reopened.count(NAME, {"articleType": "Watches"}) == N // 5
    reopened.close()


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(Settings(data_dir=tmp_path, qdrant_url=url))
    message = str(caught.value)
    assert url in message and "docker compose up qdrant" in message and "\n" not in message


def test_open_store_picks_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_store, "LOCAL_SERVER_URL", f"http://127.0.0.1:{_unused_port()}")
    auto = open_store(Settings(data_dir=tmp_path), probe_timeout=0.2)
    assert isinstance(auto, EdgeStore) and auto.backend == "edge" and auto.root == tmp_path / "qdrant_edge"
    memory = open_store(Settings(data_dir=tmp_path, qdrant_url=":memory:"))
    assert isinstance(memory, ServerStore) and memory.backend == "server"
    with pytest.raises(StoreError, match="not a URL"):
        open_store(Settings(data_dir=tmp_path, qdrant_url="localhost"))
    for opened in (auto, memory):
        opened.close()


def test_importing_the_package_loads_no_client_library() -> None:
    script = "import sys, shared.vector_store; print(sorted({'qdrant_client', 'qdrant_edge'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_read_only_edge_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    with EdgeStore(tmp_path) as store:
        store.create_collection(NAME, DIM)
        store.upsert(NAME, make_points())
    reader = EdgeStore(tmp_path, read_only=True)
    try:
        assert reader.count(NAME) == N and reader.search(NAME, make_points(1)[0].vector, top_k=1)
        for write in (lambda: reader.upsert(NAME, make_points(1)), lambda: reader.create_collection("other", DIM),
                      lambda: reader.delete_collection(NAME)):
            with pytest.raises(StoreError, match="read-only"):
                write()
    finally:
        reader.close()
    with EdgeStore(tmp_path) as store:
        assert store.count(NAME) == N
