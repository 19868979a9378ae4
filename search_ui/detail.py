"""The product dialog: the large photo, every attribute, and "more like this" / "less like this".

"Less like this" refines the current results: in "more like this" it adds the product to the
negative examples; after a search it asks for products like the other results on the page and
unlike this one (``retriever.more_like_this(positive_ids, negative_ids)``, Qdrant recommend).
"""

from __future__ import annotations

import html

import streamlit as st

from search_ui.state import liked, more_like, unliked
from search_ui.thumbnails import DETAIL_FRAME, product_photo, show_photo
from shared.products.schema import PRODUCT_FIELDS
from shared.retriever import FashionRetriever

LESS_LIKE_EXAMPLES = 3
"""How many of the page's other results stand in as positive examples for "less like this" after a search."""


def less_like(product_id: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The (positive, negative) examples for "less like this" on `product_id`."""
    if liked():
        positive = tuple(i for i in liked() if i != product_id)
        return positive or liked(), (*unliked(), product_id)
    shown = [i for i in st.session_state.get("shown_ids", ()) if i != product_id]
    return tuple(shown[:LESS_LIKE_EXAMPLES]), (product_id,)


def attribute_rows(attributes: dict[str, object]) -> str:
    rows = [
        f"<tr><th>{html.escape(f.label)}</th><td>{html.escape(str(attributes[f.name]))}</td></tr>"
        for f in PRODUCT_FIELDS
        if attributes.get(f.name) is not None
    ]
    return "<table class='attributes'>" + "".join(rows) + "</table>"


@st.dialog("Product", width="large")
def product_dialog(retriever: FashionRetriever, product_id: int) -> None:
    found = retriever.get_products([product_id])
    if not found:
        st.warning("This product is no longer in the catalog; search again.")
        return
    product = found[0]
    photo, facts = st.columns([1, 1], gap="large")
    with photo:
        show_photo(product_photo(product.image_path, DETAIL_FRAME), DETAIL_FRAME)
    with facts:
        st.subheader(product.display_name)
        st.markdown(attribute_rows(product.attributes), unsafe_allow_html=True)
        if st.session_state.get("details"):
            st.caption(f"id {product.id}")
        if st.button("More like this", key="dialog_more", icon=":material/thumb_up:", width="stretch"):
            more_like([product.id])
            st.rerun()
        positive, negative = less_like(product.id)
        if st.button(
            "Less like this",
            key="dialog_less",
            icon=":material/thumb_down:",
            width="stretch",
            disabled=not positive,
            help="Show products like the other results and unlike this one.",
        ):
            more_like(positive, negative)
            st.rerun()
