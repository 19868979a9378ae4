"""FashionRetriever: text, image, combined and "more like this" search over one collection.

The query model is the one the ingest recorded for the collection, so queries and
vectors always come from one model. Results are joined with the SQL catalog, so each
carries every catalog attribute and the image path.

The retriever composes a store session (open, release when idle, reopen: ``shared.search.store_session``),
a query encoder (``shared.search.query_encoder``) and the catalog join (``shared.search.catalog_results``);
it keeps the recorded model and follows it when a reopen finds that a re-ingest changed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.storage.catalog import Catalog, ModelIdentity
from shared.products.images import ImageInput
from shared.models import LoadedModel
from shared.search.catalog_results import catalog_results
from shared.search.query_encoder import QueryEncoder
from shared.search.query_model import QueryModel, ingest_command
from shared.search.store_session import StoreSession
from shared.search.exact_names import NAME_PROBE, exact_name_hits, with_exact_names_first
from shared.search.facet_understanding import FacetUnderstanding, FilterCounter
from shared.search.query_plan import photo_legs, resolve_mode, text_legs
from shared.search.types import (
    CollectionMissingError,
    FusionWeights,
    QueryUnderstanding,
    RetrieverError,
    SearchResult,
    SearchResults,
    check_query_text,
    check_text_weight,
)
from shared.settings import Settings
from shared.storage.vector_store import Filters, ScoredHit, SearchLeg, VectorStore, payload_matches


def retriever_settings(
    settings: Settings | None, data_dir: str | Path | None, qdrant: str | VectorStore | None, collection: str | None
) -> Settings:
    """The given settings (else the environment's) with the arguments that were given put in."""
    overrides: dict[str, Any] = {"data_dir": Path(data_dir) if data_dir is not None else None, "collection": collection}
    if isinstance(qdrant, str):
        overrides["qdrant_url"] = qdrant
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(settings, **given) if settings is not None else Settings.from_env(**given)


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
        fusion: FusionWeights | None = None,
    ) -> None:
        self.settings = retriever_settings(settings, data_dir, qdrant, collection)
        self.collection = self.settings.collection
        self.device = device
        if self.settings.database_url is None and not self.settings.data_dir.is_dir():
            command = ingest_command(self.settings)
            raise CollectionMissingError(
                f"data dir {self.settings.data_dir} does not exist (nothing ingested yet); fill it with: {command}", command
            )
        self.catalog = Catalog(self.settings.catalog_url)
        self.fusion = fusion or FusionWeights()
        """Weighted-RRF weights of the fused legs (settable; see shared.search.types.FusionWeights)."""
        self.facets = FacetUnderstanding(self.settings.collection)
        self.query_model = QueryModel(self.settings, self.catalog, Path(weights) if weights is not None else None, device)
        external = qdrant if qdrant is not None and not isinstance(qdrant, str) else None
        # a reopen follows a re-ingest with another model; the query encoder then empties its cache
        self.store_session = StoreSession(self.settings, external, idle_release_s, on_reopen=self._on_reopen)
        self.query_encoder = QueryEncoder(self._current_model, text_cache_size)
        try:
            self._connect()
        except BaseException:
            self.release()
            self.catalog.close()
            raise
        self.store_session.schedule_release()

    # -- the recorded model -------------------------------------------------------
    def _connect(self) -> None:
        """Open the store, check the collection, load the recorded model, and check that it fits the vectors."""
        store = self.store_session.open()
        self.backend = store.backend
        self.query_model.connect(store)

    def _on_reopen(self) -> None:
        """After a reopen: follow a re-ingest's model, and read the catalog's facet values again."""
        self.facets.forget()
        self.query_model.refresh()

    def _current_model(self) -> LoadedModel:
        """The model of the vectors: a reopen first follows a re-ingest with another model."""
        self.store_session.current()
        return self.query_model.loaded

    @property
    def identity(self) -> ModelIdentity:
        return self.query_model.identity

    @property
    def loaded(self) -> LoadedModel:
        return self.query_model.loaded

    @property
    def model_description(self) -> str:
        return self.identity.describe()

    # -- store lifecycle and query cache ---------------------------------------
    @property
    def external_store(self) -> VectorStore | None:
        """A store the caller opened and owns (never released or closed here)."""
        return self.store_session.external_store

    @property
    def idle_release_s(self) -> float | None:
        return self.store_session.idle_release_s

    @property
    def last_used(self) -> float:
        return self.store_session.last_used

    @property
    def store_is_open(self) -> bool:
        return self.store_session.is_open

    def release(self) -> None:
        """Close the embedded store so another process (an ingest) can open it."""
        self.store_session.release()

    def close(self) -> None:
        self.store_session.close()
        self.catalog.close()

    def __enter__(self) -> "FashionRetriever":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def text_cache_size(self) -> int:
        return self.query_encoder.cache_size

    @text_cache_size.setter
    def text_cache_size(self, size: int) -> None:
        self.query_encoder.cache_size = size

    def clear_query_cache(self) -> None:
        self.query_encoder.clear_cache()

    # -- results ------------------------------------------------------------------
    def _results(self, hits: Sequence[ScoredHit]) -> list[SearchResult]:
        return catalog_results(self.catalog, self.collection, self.settings.images_dir, hits)

    def _understood(
        self, store: VectorStore, text: str | None, filters: Filters | None, understand: bool, ignore_facets: Sequence[str],
        count: FilterCounter | None = None,
    ) -> tuple[Filters | None, QueryUnderstanding | None]:
        """The filters with the text's recognised facets applied softly, and what was understood."""
        if text is None or not understand:
            return filters, None
        return self.facets.apply(store, text, filters, ignore_facets, count)

    def _run(
        self,
        legs: Sequence[SearchLeg],
        mode: str,
        text: str | None,
        top_k: int,
        filters: Filters | None,
        offset: int,
        score_threshold: float | None,
        understand: bool,
        ignore_facets: Sequence[str],
    ) -> SearchResults:
        """Run one planned query: understand the text, query the store, count the matches, join the catalog."""
        with self.store_session.use() as store:
            count = FilterCounter(store, self.collection)  # the soft-filter checks and the total share counts
            effective, understanding = self._understood(store, text, filters, understand, ignore_facets, count)
            named: list[ScoredHit] = []
            if text is not None and effective != filters:  # facets narrowed the search: an exact name still wins
                probe = store.query(self.collection, legs, top_k=NAME_PROBE, filters=filters, score_threshold=score_threshold)
                named = exact_name_hits(text, probe)
            if named:
                filtered = store.query(self.collection, legs, top_k=offset + top_k, filters=effective,
                                       score_threshold=score_threshold)
                hits = with_exact_names_first(named, filtered, top_k, offset)
            else:
                hits = store.query(self.collection, legs, top_k=top_k, filters=effective, offset=offset,
                                   score_threshold=score_threshold)
            total = count(effective) + sum(1 for h in named if not payload_matches(h.payload, effective))
            return SearchResults(self._results(hits), mode=mode, understanding=understanding, total=total)

    # -- public search API --------------------------------------------------------
    def understand(self, query: str, filters: Filters | None = None, ignore_facets: Sequence[str] = ()) -> QueryUnderstanding:
        """What the query names (gender, colour, article type, usage...) and how a search would apply it."""
        text = check_query_text(query)
        with self.store_session.lock, self.store_session.use() as store:
            return self.facets.apply(store, text, filters, ignore_facets)[1]

    def search_by_text(
        self,
        query: str,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
        hybrid: bool | None = None,
        mode: str | None = None,
        understand: bool = True,
        ignore_facets: Sequence[str] = (),
    ) -> SearchResults:
        """Products matching a text query; the default mode fuses text->image, text->text and keywords."""
        chosen = resolve_mode(mode, hybrid)
        with self.store_session.lock:
            text = check_query_text(query)
            vector = self.query_encoder.text_vectors([text])[0]
            legs = text_legs(chosen, text, vector, self.fusion)
            return self._run(legs, chosen, text, top_k, filters, offset, score_threshold, understand, ignore_facets)

    def search_by_image(
        self,
        image: ImageInput,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
    ) -> SearchResults:
        """Products that look like an image (a path, a PIL image or encoded bytes)."""
        with self.store_session.lock:
            vector = self.query_encoder.image_vector(image)
            return self._run([SearchLeg("image", vector)], "image", None, top_k, filters, offset, score_threshold, False, ())

    def search(
        self,
        text: str | None = None,
        image: ImageInput | None = None,
        text_weight: float = 0.5,
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
        score_threshold: float | None = None,
        hybrid: bool | None = None,
        mode: str | None = None,
        understand: bool = True,
        ignore_facets: Sequence[str] = (),
    ) -> SearchResults:
        """An image and a text modifier together ("this, but in red"); either alone works too."""
        has_text = text is not None and not (isinstance(text, str) and not text.strip())
        if image is None and not has_text:
            raise RetrieverError("nothing to search for; give a text query, an image, or both")
        if image is None:
            return self.search_by_text(text, top_k, filters, offset, score_threshold, hybrid, mode, understand,  # type: ignore[arg-type]
                                       ignore_facets)
        weight = check_text_weight(text_weight) if has_text else 0.0
        if weight == 0.0:  # the photo alone
            return self.search_by_image(image, top_k, filters, offset, score_threshold)
        if weight == 1.0:  # the words alone
            return self.search_by_text(text, top_k, filters, offset, score_threshold, hybrid, mode, understand,  # type: ignore[arg-type]
                                       ignore_facets)
        chosen = resolve_mode(mode, hybrid)
        with self.store_session.lock:
            words = check_query_text(text)
            photo = self.query_encoder.image_vector(image)
            text_vector = self.query_encoder.text_vectors([words])[0]
            legs = photo_legs(photo, text_vector, weight)
            return self._run(legs, chosen, words, top_k, filters, offset, score_threshold, understand, ignore_facets)

    def batch_search(
        self,
        queries: Sequence[str],
        top_k: int = 10,
        filters: Filters | None = None,
        mode: str | None = None,
        understand: bool = True,
    ) -> list[SearchResults]:
        """Many text queries: one encode batch and one batched store query."""
        if isinstance(queries, str):
            raise RetrieverError("batch_search takes a list of text queries; use search_by_text for one query")
        if not queries:
            return []
        chosen = resolve_mode(mode, None)
        with self.store_session.lock:
            texts = [check_query_text(q) for q in queries]
            vectors = self.query_encoder.text_vectors(texts)
            with self.store_session.use() as store:
                understood = [self._understood(store, t, filters, understand, ()) for t in texts]
                requests = [(text_legs(chosen, t, v, self.fusion), f) for t, v, (f, _) in zip(texts, vectors, understood)]
                batches = store.query_batch(self.collection, requests, top_k=top_k)
                return [
                    SearchResults(self._results(hits), mode=chosen, understanding=understanding)
                    for hits, (_, understanding) in zip(batches, understood)
                ]

    def more_like_this(
        self,
        positive_ids: Sequence[int],
        negative_ids: Sequence[int] = (),
        top_k: int = 10,
        filters: Filters | None = None,
        offset: int = 0,
    ) -> SearchResults:
        """Products like the positive examples and unlike the negative ones (Qdrant recommend)."""
        if isinstance(positive_ids, Sequence) and not isinstance(positive_ids, str) and not positive_ids:
            raise RetrieverError("more_like_this needs at least one positive product id")
        with self.store_session.use() as store:  # the store checks the ids: whole numbers from 0 to 2**63 - 1
            hits = store.recommend(
                self.collection,
                positive_ids,
                negative_ids,
                top_k=top_k,
                filters=filters,
                offset=offset,
            )
            return SearchResults(self._results(hits), mode="recommend")

    def facet_counts(self, field: str, filters: Filters | None = None) -> dict[str, int]:
        """How many products have each value of a field, under the filters."""
        with self.store_session.use() as store:
            return dict(store.facet_counts(self.collection, field, filters))

    def count(self, filters: Filters | None = None) -> int:
        with self.store_session.use() as store:
            return int(store.count(self.collection, filters))

    def get_products(self, ids: Sequence[int]) -> list[SearchResult]:
        """Catalog records of products by id, as results with score 0 (missing ids left out)."""
        records = self.catalog.get_products(self.collection, ids)
        return [SearchResult.from_record(i, 0.0, records[i]) for i in ids if i in records]
