"""Text tokenizers: list[str] -> LongTensor of token ids.

HF text towers (mean pooling over the attention mask, which is ``ids != pad``) give the same embedding
whatever the trailing padding, so their batches are padded to the longest text instead of a fixed context
length: exact and much faster for short product names. CLIP's own text transformer uses a fixed-size
positional embedding and keeps open_clip's fixed-length tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from open_clip.tokenizer import HFTokenizer

Tokenizer = Callable[[Sequence[str]], torch.Tensor]


class LongestPaddingHFTokenizer(HFTokenizer):
    """open_clip's HFTokenizer (same text cleaning), padding each batch only to its longest text."""

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        if self.tokenizer_mode:  # special modes keep open_clip's fixed-length behaviour
            return super().__call__(texts, context_length)
        if isinstance(texts, str):
            texts = [texts]
        context_length = context_length or self.context_length
        cleaned = [self.clean_fn(text) for text in texts]
        input_ids = self.tokenizer(
            cleaned,
            return_tensors="pt",
            max_length=context_length,
            padding="longest",
            truncation=True,
        ).input_ids
        if self.strip_sep_token:
            input_ids = torch.where(input_ids == self.tokenizer.sep_token_id, torch.zeros_like(input_ids), input_ids)
        return input_ids


def build_tokenizer(config: dict, open_clip_name: str | None) -> Tokenizer:
    """The tokenizer for a resolved model config (HF text tower) or a registered open_clip name."""
    text_cfg = config.get("text_cfg", {})
    hf_name = text_cfg.get("hf_tokenizer_name")
    if hf_name:
        return LongestPaddingHFTokenizer(
            hf_name,
            context_length=text_cfg.get("context_length", 77),
            tokenizer_mode=text_cfg.get("tokenizer_mode"),
            **(text_cfg.get("tokenizer_kwargs") or {}),
        )
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    if open_clip_name is not None:
        return open_clip.get_tokenizer(open_clip_name)
    return SimpleTokenizer(context_length=text_cfg.get("context_length", 77))
