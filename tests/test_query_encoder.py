"""QueryEncoder: query embeddings by the current model, recent text queries from a bounded LRU cache."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from shared.models.embedding import encode_pil_images, encode_texts
from shared.models import LoadedModel, load_model
from shared.retriever import FashionRetriever
from shared.search.query_encoder import QueryEncoder
from shared.search.types import RetrieverError


class Models:
    """A model provider that counts its calls; ``current`` can be swapped."""

    def __init__(self, current: LoadedModel) -> None:
        self.current, self.calls = current, 0

    def __call__(self) -> LoadedModel:
        self.calls += 1
        return self.current


def test_cached_vectors_are_the_fresh_ones_and_the_oldest_goes_first(tiny: LoadedModel) -> None:
    encoder = QueryEncoder(Models(tiny), cache_size=2)
    fresh = encoder.text_vectors(["red dress", "  blue bag "])
    assert np.allclose(fresh, encode_texts(tiny, ["red dress", "blue bag"]), atol=1e-6)
    assert list(encoder.text_cache) == ["red dress", "blue bag"]  # stripped once, stored stripped
    assert np.array_equal(encoder.text_vectors(["red dress"])[0], fresh[0])  # from the cache, now the newest
    encoder.text_vectors(["green shoes"])
    assert list(encoder.text_cache) == ["red dress", "green shoes"]
    encoder.cache_size = 0
    encoder.clear_cache()
    encoder.text_vectors(["watch"])
    assert not encoder.text_cache


def test_the_cache_is_emptied_when_the_model_changes(tiny: LoadedModel) -> None:
    models = Models(tiny)
    encoder = QueryEncoder(models)
    encoder.text_vectors(["red dress"])
    other = load_model("tiny-hf-test", None)
    models.current = other
    vector = encoder.text_vectors(["red dress"])[0]
    assert np.allclose(vector, encode_texts(other, ["red dress"])[0], atol=1e-6)  # not the old model's vector
    assert list(encoder.text_cache) == ["red dress"]


def test_a_bad_query_is_refused_before_the_model_is_asked(tiny: LoadedModel, product_rows: list[dict[str, Any]]) -> None:
    models = Models(tiny)
    encoder = QueryEncoder(models)
    with pytest.raises(RetrieverError, match="empty text query"):
        encoder.text_vectors(["shoes", "   "])
    with pytest.raises(RetrieverError, match="does not exist"):
        encoder.image_vector("missing.jpg")
    assert models.calls == 0
    image = product_rows[3]["image"]
    expected = encode_pil_images(tiny, [Image.open(io.BytesIO(image)).convert("RGB")])[0]
    assert np.allclose(encoder.image_vector(image), expected, atol=1e-5) and models.calls == 1


def test_query_cache_returns_fresh_answers_and_stays_bounded(retriever: FashionRetriever) -> None:
    retriever.clear_query_cache()
    fresh = [r.score for r in retriever.search_by_text("black trousers", top_k=5)]
    cached = [r.score for r in retriever.search_by_text("black trousers", top_k=5)]
    assert fresh == cached
    size = retriever.text_cache_size
    retriever.text_cache_size = 3
    try:
        retriever.batch_search([f"query {i}" for i in range(6)] + ["query 1"], top_k=2)
        assert len(retriever.query_encoder.text_cache) == 3
    finally:
        retriever.text_cache_size = size
