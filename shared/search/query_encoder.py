"""Query embeddings: text and image queries encoded by the collection's model.

Recent text queries come from a small LRU cache (a page rerun repeats its query). The cache belongs to
one model: it is emptied when the model changes (a re-ingest with another model).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from shared.models.embedding import encode_pil_images, encode_texts
from shared.products.images import ImageInput, as_pil
from shared.models import LoadedModel
from shared.search.types import check_query_text


class QueryEncoder:
    """Embeddings of queries by ``current_model()``, asked right before each encode (after the query was
    checked), so a caller can first bring the model up to date. Callers serialise the calls."""

    def __init__(self, current_model: Callable[[], LoadedModel], cache_size: int = 256) -> None:
        self.current_model = current_model
        self.cache_size = cache_size
        """How many text queries' embeddings are kept; 0 turns the cache off."""
        self.text_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_model: LoadedModel | None = None

    def clear_cache(self) -> None:
        self.text_cache.clear()

    def _model(self) -> LoadedModel:
        """The current model; the cache is emptied when it is another one than the cache's."""
        model = self.current_model()
        if model is not self._cache_model:
            self.text_cache.clear()
            self._cache_model = model
        return model

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One embedding per text query (RetrieverError for a query that is not usable text)."""
        cleaned = [check_query_text(t) for t in texts]
        model = self._model()
        cache = self.text_cache
        missing = list(dict.fromkeys(t for t in cleaned if t not in cache))
        fresh = dict(zip(missing, encode_texts(model, missing))) if missing else {}
        vectors = np.stack([fresh[t] if t in fresh else cache[t] for t in cleaned])
        if self.cache_size > 0:
            for text in cleaned:
                cache[text] = fresh.get(text, cache.get(text))
                cache.move_to_end(text)
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        return vectors

    def image_vector(self, image: ImageInput) -> np.ndarray:
        """The embedding of a query image (a path, encoded bytes or a PIL image; ImageError if unusable)."""
        picture = as_pil(image)
        return encode_pil_images(self._model(), [picture])[0]
