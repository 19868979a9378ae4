"""Exact-name matches come first even where the recognised facets disagree with the product's labels."""

from __future__ import annotations

from pathlib import Path

from shared.retriever import FashionRetriever
from shared.search.exact_names import exact_name_hits, name_key, with_exact_names_first
from shared.storage.vector_store import ScoredHit
from shared.storage.vector_store.edge import EdgeStore
from tests.search_fixtures import edge_settings, ingest_into
from tests.synthetic import make_rows, write_parquet


def hit(product_id: int, name: str) -> ScoredHit:
    return ScoredHit(product_id, 0.5, {"productDisplayName": name})


def test_names_compare_without_case_punctuation_or_spacing() -> None:
    assert name_key("  Puma Men's  Navy-Blue T-shirt ") == name_key("puma men s navy blue t shirt")
    assert name_key("Red Tape") != name_key("Red Tape Shoes") and name_key("...") == ""
    hits = [hit(1, "Red Tape Men Brown Shoes"), hit(2, "red tape men brown shoes!"), hit(3, "Red Tape Men Shoes")]
    assert [h.id for h in exact_name_hits("RED TAPE men brown shoes", hits)] == [1, 2]
    assert exact_name_hits("   ", hits) == []


def test_named_products_lead_and_pages_follow_on() -> None:
    named, filtered = [hit(9, "x")], [hit(i, "y") for i in (1, 9, 2, 3, 4)]
    assert [h.id for h in with_exact_names_first(named, filtered, 3, 0)] == [9, 1, 2]
    assert [h.id for h in with_exact_names_first(named, filtered, 3, 3)] == [3, 4]


def test_a_mislabelled_product_is_found_by_its_exact_name(tmp_path: Path) -> None:
    rows = make_rows(60)
    odd = next(r for r in rows if r["articleType"] == "Watches" and r["baseColour"] == "Red" and r["gender"] == "Women")
    odd["productDisplayName"] = "Men Red Watches Classic"  # the name says Men, the label says Women
    settings = edge_settings(tmp_path / "data")
    store = EdgeStore(settings.edge_dir)
    ingest_into(settings, store, write_parquet(tmp_path / "parquet", rows))
    store.close()
    with FashionRetriever(settings=settings) as retriever:
        results = retriever.search_by_text("men red watches classic", top_k=10)
        applied = {f.field: f.value for f in results.understanding.applied}
        assert applied.get("gender") == "Men"  # the facet still filters the rest of the page
        assert results[0].id == odd["id"]
        assert all(r.get("gender") == "Men" for r in results[1:])
        assert results.total == retriever.count({"gender": "Men", **{k: v for k, v in applied.items() if k != "gender"}}) + 1
        plain = retriever.search_by_text("men red watches", top_k=10)  # not an exact name: facets alone decide
        assert odd["id"] not in [r.id for r in plain]
