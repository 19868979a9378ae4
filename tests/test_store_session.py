"""StoreSession: the store opened on use, released when idle (or on request), reopened on the next use."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.retriever import FashionRetriever
from shared.search import store_session
from shared.search.store_session import StoreSession
from shared.settings import Settings
from shared.storage.vector_store import StoreLockedError
from shared.storage.vector_store.edge import EdgeStore
from tests.search_fixtures import COLLECTION, sibling


class FakeStore:
    """Counts how often it is closed; nothing else is used by the session."""

    backend = "fake"

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[FakeStore]:
    """Every store the session opens, in order."""
    stores: list[FakeStore] = []

    def fake_open_store(settings: Settings) -> FakeStore:
        stores.append(FakeStore())
        return stores[-1]

    monkeypatch.setattr(store_session, "open_store", fake_open_store)
    return stores


def session(tmp_path: Path, **kwargs: object) -> StoreSession:
    return StoreSession(Settings(data_dir=tmp_path, qdrant_url="edge"), **kwargs)  # type: ignore[arg-type]


def test_opens_on_use_and_reopens_after_a_release(opened: list[FakeStore], tmp_path: Path) -> None:
    reopens: list[int] = []
    held = session(tmp_path, on_reopen=lambda: reopens.append(len(opened)))
    assert not held.is_open and not opened
    first = held.open()  # the first open: nothing to follow yet
    assert held.is_open and held.current() is first and reopens == []
    held.release()
    assert not held.is_open and first.closed == 1
    with held.use() as store:
        assert store is opened[1] and reopens == [2]  # a reopen is followed before the store is used
    held.close()
    assert opened[1].closed == 1 and not held.is_open


def test_a_failed_reopen_leaves_the_store_closed_and_is_tried_again(opened: list[FakeStore], tmp_path: Path) -> None:
    def refuse() -> None:
        raise RuntimeError("weights changed")

    held = session(tmp_path, on_reopen=refuse)
    held.open()
    held.release()
    for attempt in (1, 2):
        with pytest.raises(RuntimeError, match="weights changed"):
            held.current()
        assert not held.is_open and opened[attempt].closed == 1


def test_a_store_the_caller_owns_is_never_closed(opened: list[FakeStore], tmp_path: Path) -> None:
    own = FakeStore()
    held = session(tmp_path, external_store=own, idle_release_s=0.01)
    with held.use() as store:
        assert store is own
    time.sleep(0.1)
    held.release()
    held.close()
    assert held.is_open and own.closed == 0 and not opened


def test_the_idle_countdown_restarts_on_each_use(opened: list[FakeStore], tmp_path: Path) -> None:
    held = session(tmp_path, idle_release_s=0.3)
    for _ in range(4):
        with held.use():
            pass
        time.sleep(0.1)
    assert held.is_open and len(opened) == 1  # used every 0.1 s: still the first store
    deadline = time.monotonic() + 10
    while held.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not held.is_open and opened[0].closed == 1
    held.close()


def test_release_lets_an_ingest_in_and_reopens(retriever: FashionRetriever) -> None:
    before = [r.id for r in retriever.search_by_text("watch", top_k=3)]
    if retriever.backend == "edge":
        with pytest.raises(StoreLockedError):  # while the page holds the store, a writer is refused
            EdgeStore(retriever.settings.edge_dir).count(COLLECTION)
    retriever.release()
    if retriever.backend == "edge":
        assert not retriever.store_is_open
        writer = EdgeStore(retriever.settings.edge_dir)  # released: another opener (an ingest) gets in
        assert writer.count(COLLECTION) == 60
        writer.close()
    assert [r.id for r in retriever.search_by_text("watch", top_k=3)] == before
    assert retriever.store_is_open


def test_idle_store_is_released_after_the_timeout(retriever: FashionRetriever) -> None:
    idle = sibling(retriever, idle_release_s=0.2)
    try:
        assert idle.search_by_text("bag", top_k=2) and idle.store_is_open
        time.sleep(0.6)
        # the retriever lets go of a store it opened; one the caller passed in stays the caller's
        assert idle.store_is_open == (retriever.external_store is not None)
        assert idle.search_by_text("bag", top_k=2) and idle.store_is_open  # reopened on demand
    finally:
        idle.close()
