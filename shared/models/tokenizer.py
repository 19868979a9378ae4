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


def length_buckets(tokenizer: Tokenizer, texts: Sequence[str], bucket_size: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The texts tokenized in groups of at most ``bucket_size``: ``(positions in texts, token ids)``.

    With a longest-padding HF tokenizer the texts are sorted by token count first and each group is
    padded only to its own longest text: product captions average ~9 tokens, but a batch of 128 pads
    to ~20, so bucketing does about half the text-tower work for the same embeddings (mean pooling
    ignores padding). Fixed-context tokenizers keep the texts' order and their padding.
    """
    if bucket_size < 1:
        raise ValueError(f"bucket size {bucket_size} must be at least 1")
    ids = tokenizer(list(texts))
    order = torch.arange(len(texts))
    lengths = None
    if isinstance(tokenizer, LongestPaddingHFTokenizer) and not tokenizer.tokenizer_mode:
        pad_id = tokenizer.tokenizer.pad_token_id or 0
        lengths = torch.where(ids != pad_id, torch.arange(ids.shape[1]) + 1, 0).max(dim=1).values
        order = torch.argsort(lengths, stable=True)
    buckets = []
    for start in range(0, len(texts), bucket_size):
        members = order[start : start + bucket_size]
        width = int(lengths[members].max()) if lengths is not None else ids.shape[1]
        buckets.append((members, ids[members, :width]))
    return buckets


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
