"""FashionRetriever on both store backends, over a small catalog ingested with the ingest library."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from shared.products.images import ImageError
from shared.retriever import FashionRetriever
from shared.search.types import RetrieverError
from shared.storage.vector_store import FilterError, StoreError
from shared.storage.vector_store.filters import payload_matches
from tests.search_fixtures import sibling, tiny_weights

def attributes_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("id", "image")}


FILTER_CASES: list[dict[str, Any]] = [
    {"gender": "Women"},
    {"masterCategory": ["Footwear", "Accessories"], "gender": "Men"},
    {"baseColour": ["Red", "Blue"], "year": (2011, 2013)},
    {"articleType": ["Watches", "Trousers"], "year": (2013, None)},
]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_every_result_satisfies_its_filters(retriever: FashionRetriever, product_rows: list[dict[str, Any]], filters: dict[str, Any]) -> None:
    expected = sum(payload_matches(attributes_of(r), filters) for r in product_rows)
    image = product_rows[3]["image"]
    runs = [
        retriever.search_by_text("red shoes", top_k=50, filters=filters, understand=False),
        retriever.search_by_text("red shoes", top_k=50, filters=filters, hybrid=True),
        retriever.search_by_image(image, top_k=50, filters=filters),
        retriever.search(text="in blue", image=image, top_k=50, filters=filters),
        retriever.more_like_this([product_rows[0]["id"]], top_k=50, filters=filters),
        *retriever.batch_search(["watch", "bag"], top_k=50, filters=filters),
    ]
    for results in runs:
        assert results, f"no results for {filters}"
        assert all(payload_matches(r.attributes, filters) for r in results)
    assert len(runs[0]) == expected  # every matching product is reachable, no more
    assert retriever.count(filters) == expected


def test_batch_search_equals_single_searches(retriever: FashionRetriever) -> None:
    queries = ["red tshirt", "black watch for men", "blue handbag", "green trousers"]
    for filters in (None, {"gender": "Men"}):
        retriever.clear_query_cache()  # singles must encode afresh, not reuse the batch's vectors
        batched = retriever.batch_search(queries, top_k=7, filters=filters)
        retriever.clear_query_cache()
        singles = [retriever.search_by_text(q, top_k=7, filters=filters) for q in queries]
        for got, want in zip(batched, singles):
            assert np.allclose([r.score for r in got], [r.score for r in want], atol=1e-5)
            # equal fused scores may come in either order: compare ids above the last score, as sets
            last = want[-1].score - 1e-6
            assert {r.id for r in got if r.score > last} == {r.id for r in want if r.score > last}
            assert got.understanding == want.understanding


def test_ids_round_trip_to_the_catalog(retriever: FashionRetriever, product_rows: list[dict[str, Any]]) -> None:
    rows = {row["id"]: row for row in product_rows}
    results = retriever.search_by_text("a product", top_k=len(rows))
    assert {r.id for r in results} == set(rows)
    for result in results:
        assert result.attributes == attributes_of(rows[result.id])
        assert result.image_path is not None and Path(result.image_path).is_file()
        assert result.display_name == rows[result.id]["productDisplayName"]
    assert [r.id for r in retriever.get_products([1003, 1001])] == [1003, 1001]


def test_scores_are_sorted_and_pages_follow_each_other(retriever: FashionRetriever) -> None:
    whole = retriever.search_by_text("yellow", top_k=20)
    scores = [r.score for r in whole]
    assert scores == sorted(scores, reverse=True)
    pages = [retriever.search_by_text("yellow", top_k=5, offset=offset) for offset in (0, 5, 10, 15)]
    paged = [r for page in pages for r in page]
    # twin pictures tie, and ties may come in either order: compare scores, and ids per score
    assert np.allclose([r.score for r in paged], scores, atol=1e-6)
    by_score = lambda results: sorted((round(r.score, 5), r.id) for r in results)  # noqa: E731
    assert by_score(paged)[2:] == by_score(whole)[2:]  # the lowest tie may straddle the cut
    # the threshold is on cosine similarity: pure vector search reports it as the score
    cosine = [r.score for r in retriever.search_by_text("yellow", top_k=20, mode="image_vectors", understand=False)]
    cut = cosine[7]
    kept = retriever.search_by_text("yellow", top_k=20, score_threshold=cut, mode="image_vectors", understand=False)
    assert kept and all(r.score >= cut for r in kept)


def test_image_search_accepts_bytes_path_and_pil(retriever: FashionRetriever, product_rows: list[dict[str, Any]], tmp_path: Path) -> None:
    row = product_rows[7]
    path = tmp_path / "query.jpg"
    path.write_bytes(row["image"])
    pil = Image.open(io.BytesIO(row["image"]))
    by_bytes, by_path, by_pil = (retriever.search_by_image(q, top_k=5) for q in (row["image"], path, pil))
    assert [r.id for r in by_bytes] == [r.id for r in by_path] == [r.id for r in by_pil]
    # The catalog holds this very picture (once per gender): it comes first, at cosine ~1.
    assert by_bytes[0].score > 0.99
    twins = {r["id"] for r in product_rows if r["image"] == row["image"]}
    assert by_bytes[0].id in twins


def test_image_search_refuses_bad_input(retriever: FashionRetriever, tmp_path: Path) -> None:
    with pytest.raises(ImageError):
        retriever.search_by_image(b"%PDF-1.4 not an image")
    with pytest.raises(RetrieverError, match="does not exist"):
        retriever.search_by_image(tmp_path / "missing.jpg")
    with pytest.raises(RetrieverError, match="empty text query"):
        retriever.search_by_text("   ")
    with pytest.raises(StoreError, match="unknown filter field"):
        retriever.search_by_text("shoe", filters={"brand": "Puma"})


def test_more_like_this_uses_the_examples(retriever: FashionRetriever, product_rows: list[dict[str, Any]]) -> None:
    example = product_rows[10]
    similar = retriever.more_like_this([example["id"]], top_k=5)
    assert example["id"] not in {r.id for r in similar}
    # its twin picture (the other gender) is the nearest other product
    twin = next(r["id"] for r in product_rows if r["image"] == example["image"] and r["id"] != example["id"])
    assert similar[0].id == twin
    pushed = retriever.more_like_this([example["id"]], negative_ids=[twin], top_k=5)
    assert twin not in {r.id for r in pushed}
    with pytest.raises(RetrieverError):
        retriever.more_like_this([])


Call = Callable[[FashionRetriever, int, bytes], Any]
BAD_QUERY_ARGUMENTS: dict[str, tuple[type[Exception], str, Call]] = {
    "surrogate text": (RetrieverError, "lone surrogate", lambda r, i, image: r.search_by_text("red \ud800 dress")),
    "surrogate hybrid": (RetrieverError, "lone surrogate", lambda r, i, image: r.search_by_text("\ud800", hybrid=True)),
    "surrogate batch": (RetrieverError, "lone surrogate", lambda r, i, image: r.batch_search(["shoes", "\udfff"])),
    "surrogate combined": (RetrieverError, "lone surrogate", lambda r, i, image: r.search(text="\ud800 red", image=image)),
    "text not a string": (RetrieverError, "must be a string", lambda r, i, image: r.search(text=5)),
    "batch of one string": (RetrieverError, "list of text queries", lambda r, i, image: r.batch_search("shoes")),
    "text_weight string": (RetrieverError, "text_weight='0.5'", lambda r, i, image: r.search(text="red", image=image, text_weight="0.5")),
    "year 2**70": (FilterError, "out of range", lambda r, i, image: r.search_by_text("shoes", filters={"year": 2**70})),
    "year range 2**70": (FilterError, "out of range", lambda r, i, image: r.count({"year": (None, 2**70)})),
    "top_k 2**64": (StoreError, "top_k", lambda r, i, image: r.search_by_text("shoes", top_k=2**64)),
    "top_k float": (StoreError, "top_k", lambda r, i, image: r.search_by_text("shoes", top_k=2.5)),
    "top_k string": (StoreError, "top_k", lambda r, i, image: r.search_by_image(image, top_k="10")),
    "batch top_k 2**64": (StoreError, "top_k", lambda r, i, image: r.batch_search(["shoes"], top_k=2**64)),
    "more_like_this top_k": (StoreError, "top_k", lambda r, i, image: r.more_like_this([i], top_k=2**64)),
    "negative example id": (StoreError, "below 2**63, got -5", lambda r, i, image: r.more_like_this([-5])),
    "example id 2**70": (StoreError, "got 1180591620717411303424", lambda r, i, image: r.more_like_this([2**70])),
    "fractional example id": (StoreError, "got 2.7", lambda r, i, image: r.more_like_this([i], negative_ids=[2.7])),
}


@pytest.mark.parametrize("case", list(BAD_QUERY_ARGUMENTS))
def test_bad_query_arguments_are_one_line_errors(retriever: FashionRetriever, product_rows: list[dict[str, Any]], case: str) -> None:
    error_type, fragment, call = BAD_QUERY_ARGUMENTS[case]
    with pytest.raises(error_type) as caught:
        call(retriever, product_rows[0]["id"], product_rows[0]["image"])
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_many_unknown_example_ids_are_listed_briefly(retriever: FashionRetriever, product_rows: list[dict[str, Any]]) -> None:
    with pytest.raises(StoreError) as caught:
        retriever.more_like_this([product_rows[0]["id"], *range(900_000, 905_000)])
    message = str(caught.value)
    assert "900000, 900001" in message and "and 4990 more" in message and len(message) < 300


def test_combined_search_blends_image_and_text(retriever: FashionRetriever, product_rows: list[dict[str, Any]]) -> None:
    image, text = product_rows[12]["image"], "but in red"
    ids = lambda results: [r.id for r in results]  # noqa: E731
    assert ids(retriever.search(text=text, image=image, text_weight=1.0, top_k=8)) == ids(retriever.search_by_text(text, top_k=8))
    assert ids(retriever.search(text=text, image=image, text_weight=0.0, top_k=8)) == ids(retriever.search_by_image(image, top_k=8))
    blended = retriever.search(text=text, image=image, text_weight=0.5, top_k=8)
    assert len(blended) == 8 and all(-1.0 <= r.score <= 1.0 for r in blended)
    assert ids(retriever.search(image=image, top_k=3)) == ids(retriever.search_by_image(image, top_k=3))
    with pytest.raises(RetrieverError, match="nothing to search"):
        retriever.search()
    with pytest.raises(RetrieverError, match="text_weight"):
        retriever.search(text=text, image=image, text_weight=1.5)


def test_hybrid_search_ranks_a_keyword_match_first(retriever: FashionRetriever) -> None:
    # RRF: the best BM25 match scores >= 1/61 + 1/120, more than any dense-only hit (<= 1/61).
    for query in ("Purple Handbags", "Yellow Watches"):
        results = retriever.search_by_text(query, top_k=5, hybrid=True)
        assert set(query.split()) & set(results[0].display_name.split())


def test_weights_mismatch_is_refused(retriever: FashionRetriever, tmp_path: Path) -> None:
    other = tiny_weights(tmp_path / "other.pt", seed=2)
    with pytest.raises(RetrieverError, match="differ from the model") as refused:
        sibling(retriever, weights=other)
    assert "\n" not in str(refused.value)
    recorded = retriever.identity.weights_path
    assert recorded is not None and retriever.identity.weights_sha256 is not None
    expected = [r.score for r in retriever.search_by_text("red", top_k=5)]
    with sibling(retriever, weights=recorded) as same:  # the recorded weights are accepted
        assert np.allclose([r.score for r in same.search_by_text("red", top_k=5)], expected, atol=1e-5)
        assert same.identity == retriever.identity


def test_concurrent_sessions_get_the_same_answers(retriever: FashionRetriever) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queries = ["red", "blue bag", "watch", "green trousers"] * 3
    sequential = [[r.id for r in retriever.search_by_text(q, top_k=4, filters={"gender": "Men"})] for q in queries]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = list(pool.map(lambda q: [r.id for r in retriever.search_by_text(q, top_k=4, filters={"gender": "Men"})], queries))
    assert parallel == sequential
