"""What a search runs: its mode and the legs of the store query (fused by weighted RRF).

- a text query in ``"fused"`` mode: text->image vectors, text->text vectors and BM25 keywords;
  in the other modes, the one leg the mode names;
- a photo: photo->image vectors;
- a photo and a text modifier ("this, but in red"): in every mode, the blend of the two embeddings
  (weighed by ``text_weight``) against the image vectors. Fusing the photo's leg with the words' three
  legs was measured worse: on the whole 19.6k catalog, photo + "in COLOUR" P@10 was 0.145 fused
  against 0.680 blended (the words' legs rank every product of that colour, whatever its type);
  the words' recognised facets (the colour) are applied as soft filters either way.
"""

from __future__ import annotations

import numpy as np

from shared.search.types import SEARCH_MODES, FusionWeights, RetrieverError, SearchMode
from shared.storage.vector_store import SearchLeg

DEFAULT_MODE: SearchMode = "fused"


def resolve_mode(mode: str | None, hybrid: bool | None) -> SearchMode:
    """The mode to run: ``mode`` when given, else ``hybrid`` (True: fused, False: image vectors), else the default."""
    if mode is None:
        return DEFAULT_MODE if hybrid is None or hybrid else "image_vectors"
    if mode not in SEARCH_MODES:
        raise RetrieverError(f"search mode {mode!r} is not one of {', '.join(SEARCH_MODES)}")
    return mode  # type: ignore[return-value]


def text_legs(mode: SearchMode, text: str, vector: np.ndarray, fusion: FusionWeights) -> list[SearchLeg]:
    """The legs of a text query: in ``"fused"`` mode all three, weighted by ``fusion``; else the mode's one leg."""
    if mode == "fused":
        return [
            SearchLeg("image", vector, fusion.image),
            SearchLeg("text", vector, fusion.text),
            SearchLeg("keywords", text, fusion.keywords),
        ]
    single = {"image_vectors": SearchLeg("image", vector), "text_vectors": SearchLeg("text", vector),
              "keywords": SearchLeg("keywords", text)}
    return [single[mode]]


def photo_legs(
    photo: np.ndarray, text_vector: np.ndarray | None, text_weight: float
) -> list[SearchLeg]:
    """The leg of a photo query: the photo's embedding, or its blend with the words' (``text_weight`` 0 to 1)."""
    if text_vector is None:
        return [SearchLeg("image", photo)]
    blend = (1.0 - text_weight) * photo + text_weight * text_vector
    norm = float(np.linalg.norm(blend))
    return [SearchLeg("image", (blend / norm if norm > 0 else blend).astype(np.float32))]
