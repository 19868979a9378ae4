"""FashionRetriever: text, image, combined and "more like this" search over one collection.

The query model is the one the ingest recorded for the collection, so queries and
vectors always come from one model. Results are joined with the SQL catalog, so each
carries every catalog attribute and the image path.

The embedded store can be opened by one process at a time: with ``idle_release_s``
the retriever closes it after that many idle seconds (an ingest can then run) and
reopens it on the next query, picking up whatever the ingest changed.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shared.catalog import Catalog
from shared.collection import CollectionFacts, MisfitError, ModelIdentity, check_fits, find_image
from shared.embedding import encode_pil_images, encode_texts
from shared.images import decode_image, prepare_image
from shared.models import LoadedModel
from shared.recorded_model import RecordedFrom, load_recorded_model
from shared.search_types import CollectionMissingError, RetrieverError, SearchResult, check_query_text, check_text_weight
from shared.settings import Settings
from shared.vector_store import Filters, ScoredHit, VectorStore, open_store

ImageInput = str | Path | Image.Image | bytes


def ingest_command(settings: Settings) -> str:
    """The command that fills the settings' collection from the project's default real dataset."""
    return (
        f"python -m ingest --dataset ../shared/data/fashion-products-19k --model lite "
        f"--data-dir {settings.data_dir} --collection {settings.collection}"
    )


class FashionRetriever:
    """Search one ingested collection by text, image, both, or example products."""

    def __init__(
        self,
        weights: str | Path | None = None,
        data_dir: str | Path | None = None,
        qdrant: str | VectorStore | None = None,
        collection: str | None = None,
        settings: Settings | None = None,
        device: str = "cpu",
        idle_release_s: float | None = None,
        text_cache_size: int = 256,
    ) -> None:
        overrides: dict[str, Any] = {"data_dir": Path(data_dir) if data_dir is not None else None, "collection": collection}
        if isinstance(qdrant, str):
            overrides["qdrant_url"] = qdrant
        given = {k: v for k, v in overrides.items() if v is not None}
        self.settings = replace(settings, **given) if settings is not None else Settings.from_env(**given)
        self.collection = self.settings.collection
        self.device = device
        self.idle_release_s = idle_release_s
        self.text_cache_size = text_cache_size
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.external_store = qdrant if qdrant is not None and not isinstance(qdrant, str) else None
        """A store the caller opened and owns (never released or closed here)."""
        self._store: VectorStore | None = self.external_store
        self._lock = threading.RLock()
        self._idle_timer: threading.Timer | None = None
        self.last_used = time.monotonic()
        if self.settings.database_url is None and not self.settings.data_dir.is_dir():
            command = ingest_command(self.settings)
            raise CollectionMissingError(
                f"data dir {self.settings.data_dir} does not exist (nothing ingested yet); fill it with: {command}", command
            )
        self.catalog = Catalog(self.settings.catalog_url)
        self._explicit_weights = Path(weights) if weights is not None else None
        try:
            self._connect()
        except BaseException:
            self.release()
            self.catalog.close()
            raise
        self._schedule_release()

    # -- model and store ------------------------------------------------------
    def _connect(self) -> None:
        """Check the collection, load the recorded model, and check that it fits the vectors."""
        store = self._open_store()
        self.backend = store.backend
        if not store.collection_exists(self.collection):
            raise CollectionMissingError(
                f"collection {self.collection!r} does not exist in the {store.backend} store; "
                f"fill it with: {ingest_command(self.settings)}",
                ingest_command(self.settings),
            )
        self.identity = self._recorded_identity()
        self.loaded = self._load_model(self.identity)
        dim = store.vector_size(self.collection)
        try:  # the model is the recorded one: only the vectors' size is left to check
            check_fits(self.loaded.identity(), CollectionFacts(self.collection, vector_size=dim))
        except MisfitError:
            raise RetrieverError(
                f"model {self.identity.model_name} makes {self.loaded.embed_dim}-d vectors but collection "
                f"{self.collection!r} holds {dim}-d ones; re-ingest with --recreate"
            ) from None

    def _recorded_identity(self) -> ModelIdentity:
        identity = self.catalog.model_of(self.collection)
        if identity is None:
            raise CollectionMissingError(
                f"collection {self.collection!r} has no ingest run in {self.settings.catalog_url}; "
                f"fill it with: {ingest_command(self.settings)}",
                ingest_command(self.settings),
            )
        return identity

    def _load_model(self, identity: ModelIdentity) -> LoadedModel:
        """The model that made the vectors; its weights file's hash is checked on every load (recorded_model)."""
        run = self.catalog.latest_run(self.collection)
        return load_recorded_model(
            identity,
            RecordedFrom(self.collection, run.dataset if run is not None else None, self.settings.data_dir),
            explicit_weights=self._explicit_weights,
            device=self.device,
        )

    def _open_store(self) -> VectorStore:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def release(self) -> None:
        """Close the embedded store so another process (an ingest) can open it."""
        with self._lock:
            if self._store is not None and self._store is not self.external_store:
                self._store.close()
                self._store = None

    def _schedule_release(self) -> None:
        if self.idle_release_s is None or self.external_store is not None:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(self.idle_release_s, self.release)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _refresh_model(self) -> None:
        """After a reopen: follow a re-ingest with another model (unless weights were pinned).

        The recorded model is compared, not the run id: ``--recreate`` deletes the runs, and SQLite gives
        the next run the same id again."""
        identity = self._recorded_identity()
        if not identity.same_model(self.identity):
            self.loaded = self._load_model(identity)
            self._text_cache.clear()
            self.identity = identity

    def _current_store(self) -> VectorStore:
        """The open store; a reopen first follows the recorded model, so queries are encoded by the model
        of the vectors. A refused model leaves the store closed: every later query checks again."""
        with self._lock:
            reopened = self._store is None
            store = self._open_store()
            if reopened:
                try:
                    self._refresh_model()
                except BaseException:
                    self.release()
                    raise
            return store

    @contextmanager
    def _session(self) -> Iterator[VectorStore]:
        with self._lock:
            store = self._current_store()
            try:
                yield store
            finally:
                self.last_used = time.monotonic()
                self._schedule_release()

    def clear_query_cache(self) -> None:
        self._text_cache.clear()

    @property
    def store_is_open(self) -> bool:
        return self._store is not None

    @property
    def model_description(self) -> str:
        return self.identity.describe()

    def close(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self.release()
        self.catalog.close()

    def __enter__(self) -> "FashionRetriever":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- encoding ---------------------------------------------------------------
    def _text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Query embeddings; recent ones come from a small LRU cache (a page rerun repeats its query)."""
        cleaned = [check_query_text(t) for t in texts]
        self._current_store()  # after a reopen, the model may have changed
        missing = list(dict.fromkeys(t for t in cleaned if t not in self._text_cache))
        fresh = dict(zip(missing, encode_texts(self.loaded, missing))) if missing else {}
        vectors = np.stack([fresh[t] if t in fresh else self._text_cache[t] for t in cleaned])
        if self.text_cache_size > 0:
            for text in cleaned:
                self._text_cache[text] = fresh.get(text, self._text_cache.get(text))
                self._text_cache.move_to_end(text)
            while len(self._text_cache) > self.text_cache_size:
                self._text_cache.popitem(last=False)
        return vectors

    def _image_vector(self, image: ImageInput) -> np.ndarray:
        picture = as_pil(image)
        self._current_store()  # after a reopen, the model may have changed
        return encode_pil_images(self.loaded, [picture])[0]

    # -- results ------------------------------------------------------------------
    def _results(self, hits: Sequence[ScoredHit]) -> list[SearchResult]:
        records = self.catalog.get_products(self.collection, [h.id for h in hits])
        results = []
        for hit in hits:
            record = dict(records.get(hit.id) or hit.payload)
            record["image_path"] = self._image_file(hit.id, record.get("image_path"))
            results.append(SearchResult.from_record(hit.id, hit.score, record))
        return results

    def _image_file(self, product_id: int, recorded: str | None) -> str | None:
        """The recorded image path if it exists from here, else the one under this data dir."""
        return find_image(recorded, self.settings.images_dir, self.collection, product_id)

    def _search_vector(
        self,
        vector: np.ndarray,
        top_k: int,
        filters: Filters | None,
        offset: int,
        score_threshold: float | None,
        keyword_query: str | None = None,
    ) -> list[SearchResult]:
        with self._session() as store:
            hits = store.search(
                self.collection,
                vector,
                top_k=top_k,
                filters=filters,
                offset=offset,
                score_threshold=score_threshold,
                keyword_query=keyword_query,
            )
            return self._results(hits)

    # -- public search API --------------------------------------------------------
    def search_by_text(
        self,
        query: str,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
        hybrid: bool = False,
    ) -> list[SearchResult]:
        """Products matching a text query; ``hybrid`` fuses BM25 display-name matches (RRF)."""
        with self._lock:
            vector = self._text_vectors([query])[0]
            return self._search_vector(vector, top_k, filters, offset, score_threshold, query if hybrid else None)

    def search_by_image(
        self,
        image: ImageInput,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
    ) -> list[SearchResult]:
        """Products that look like an image (a path, a PIL image or encoded bytes)."""
        with self._lock:
            return self._search_vector(self._image_vector(image), top_k, filters, offset, score_threshold)

    def search(
        self,
        text: str | None = None,
        image: ImageInput | None = None,
        text_weight: float = 0.5,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
        hybrid: bool = False,
    ) -> list[SearchResult]:
        """An image and a text modifier together ("this, but in red"); either alone works too."""
        has_text = text is not None and not (isinstance(text, str) and not text.strip())
        if image is None and not has_text:
            raise RetrieverError("nothing to search for; give a text query, an image, or both")
        if image is None:
            return self.search_by_text(text, top_k, filters, offset, score_threshold, hybrid)  # type: ignore[arg-type]
        if not has_text:
            return self.search_by_image(image, top_k, filters, offset, score_threshold)
        weight = check_text_weight(text_weight)
        with self._lock:
            combined = (1.0 - weight) * self._image_vector(image) + weight * self._text_vectors([text])[0]
            norm = float(np.linalg.norm(combined))
            vector = combined / norm if norm > 0 else combined
            keyword = str(text) if hybrid else None
            return self._search_vector(vector.astype(np.float32), top_k, filters, offset, score_threshold, keyword)

    def batch_search(self, queries: Sequence[str], top_k: int = 10, filters: Filters | None = None) -> list[list[SearchResult]]:
        """Many text queries: one encode batch and one batched store query."""
        if isinstance(queries, str):
            raise RetrieverError("batch_search takes a list of text queries; use search_by_text for one query")
        if not queries:
            return []
        with self._lock:
            vectors = self._text_vectors(list(queries))
            with self._session() as store:
                batches = store.search_batch(self.collection, vectors, top_k=top_k, filters=filters)
                return [self._results(hits) for hits in batches]

    def more_like_this(
        self,
        positive_ids: Sequence[int],
        negative_ids: Sequence[int] = (),
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
    ) -> list[SearchResult]:
        """Products like the positive examples and unlike the negative ones (Qdrant recommend)."""
        if isinstance(positive_ids, Sequence) and not isinstance(positive_ids, str) and not positive_ids:
            raise RetrieverError("more_like_this needs at least one positive product id")
        with self._session() as store:  # the store checks the ids: whole numbers from 0 to 2**63 - 1
            hits = store.recommend(
                self.collection,
                positive_ids,
                negative_ids,
                top_k=top_k,
                filters=filters,
                offset=offset,
            )
            return self._results(hits)

    def facet_counts(self, field: str, filters: Filters | None = None) -> dict[str, int]:
        """How many products have each value of a field, under the filters."""
        with self._session() as store:
            return dict(store.facet_counts(self.collection, field, filters))

    def count(self, filters: Filters | None = None) -> int:
        with self._session() as store:
            return int(store.count(self.collection, filters))

    def get_products(self, ids: Sequence[int]) -> list[SearchResult]:
        """Catalog records of products by id, as results with score 0 (missing ids left out)."""
        records = self.catalog.get_products(self.collection, ids)
        return [SearchResult.from_record(i, 0.0, records[i]) for i in ids if i in records]


def as_pil(image: ImageInput) -> Image.Image:
    """A query image as RGB PIL; paths and bytes go through the upload guard (decode_image)."""
    if isinstance(image, Image.Image):
        return prepare_image(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image))
    if isinstance(image, io.IOBase):
        return decode_image(image.read())
    path = Path(image)
    if not path.is_file():
        raise RetrieverError(f"query image {path} does not exist; pass an existing jpg/png/webp file")
    return decode_image(path.read_bytes())
