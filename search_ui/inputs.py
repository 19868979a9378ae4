"""The search bar (words, a photo, the text weight) and the line that says what is being searched.

A new query or upload always starts a new search, leaving "more like this" (``state.new_search``).
"""

from __future__ import annotations

import html

import streamlit as st
from PIL import Image

from search_ui.results import SearchRequest
from search_ui.state import back_to_search, new_search
from search_ui.thumbnails import THUMB_FRAME, framed, jpeg_bytes, product_photo, show_photo
from shared.products.images import ImageError, as_pil
from shared.retriever import FashionRetriever

MAX_UPLOAD_MB = 10
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp"]
TEXT_PLACEHOLDER = "e.g. red summer dress, Puma running shoes"


def upload_problem(name: str, data: bytes) -> str | None:
    """Why an upload cannot be searched, in one line naming the file and the fix (None: it can)."""
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        return f"{name} is {len(data) / 1e6:.1f} MB, over the {MAX_UPLOAD_MB} MB limit: upload a smaller photo."
    try:
        as_pil(data)
    except ImageError as error:
        return f"{name} cannot be searched: {error}. Upload a jpg, png or webp photo."
    return None


def search_bar() -> tuple[str, Image.Image | None, float]:
    """The words, the decoded photo (None when absent or unusable, after saying why) and the text weight."""
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    st.session_state.setdefault("text", "")
    text = left.text_input("Describe it", key="text", placeholder=TEXT_PLACEHOLDER, on_change=new_search).strip()
    upload = right.file_uploader(
        "...or upload a photo", type=UPLOAD_TYPES, key="upload", max_upload_size=MAX_UPLOAD_MB, on_change=new_search
    )
    image = None
    if upload is not None:
        data = upload.getvalue()
        problem = upload_problem(upload.name, data)
        if problem:
            st.error(problem)
        else:
            image = as_pil(data)
    weight = 0.5
    if image is not None and text:
        st.session_state.setdefault("text_weight", 0.5)
        weight = st.slider(
            "Text weight", 0.0, 1.0, step=0.05, key="text_weight", help="0: only the photo counts; 1: only the words."
        )
    return text, image, weight


def searching_line(retriever: FashionRetriever, request: SearchRequest) -> None:
    """Say what is searched (words, photo, both, or similar to a product), with one click back."""
    if request.kind == "similar":
        examples = retriever.get_products(list(request.like))
        names = ", ".join(p.display_name for p in examples) or "the chosen products"
        avoided = retriever.get_products(list(request.unlike))
        photo, words, back = st.columns([1, 6, 2], vertical_alignment="center")
        with photo:
            show_photo(product_photo(examples[0].image_path if examples else None, THUMB_FRAME), THUMB_FRAME)
        unlike = ", ".join(p.display_name for p in avoided)
        said = f"Similar to <b>{html.escape(names)}</b>" + (f", unlike <b>{html.escape(unlike)}</b>" if unlike else "")
        words.markdown(f"<div class='searching'>{said}</div>", unsafe_allow_html=True)
        previous = st.session_state.get("text_before_like", "")
        label = f"Back to “{previous}”" if previous else "Back to search"
        back.button(label, key="back_to_search", on_click=back_to_search, icon=":material/arrow_back:")
        return
    if request.kind == "text":
        st.markdown(f"<div class='searching'>Searching for <b>“{html.escape(request.text)}”</b></div>", unsafe_allow_html=True)
        return
    photo, words = st.columns([1, 8], vertical_alignment="center")
    with photo:
        show_photo(jpeg_bytes(framed(request.image, THUMB_FRAME)), THUMB_FRAME)  # type: ignore[arg-type]
    said = "Searching by <b>your photo</b>" + (f" and <b>“{html.escape(request.text)}”</b>" if request.kind == "both" else "")
    words.markdown(f"<div class='searching'>{said}</div>", unsafe_allow_html=True)
