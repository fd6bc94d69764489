"""Prompts to pictures with a trained prior and tokenizer: MaskGIT decoding.

Start from a grid of [MASK] tokens. Each step predicts every masked token at
once (with classifier-free guidance: the prompt's logits pushed away from the
caption-less ones), samples them, and keeps the most confident; the rest are
masked again, fewer each step along the cosine schedule the prior was trained
on. Then the tokenizer's decoder paints the codes.

Every image draws its noise from its own generator seeded ``seed + i``, so
image ``i`` of a request is the same whatever ``n`` is.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from PIL import Image
from torch import nn

from core.trained import to_images

CHOICE_NOISE = 4.5    # Gumbel noise on the confidences at the first step, annealed to 0 (MaskGIT)


class TextToImage(nn.Module):
    """The two shipped modules as one, so the model cache moves them together."""

    def __init__(self, prior: nn.Module, tokenizer: nn.Module) -> None:
        super().__init__()
        self.prior, self.tokenizer = prior, tokenizer


def masked_count(step: int, steps: int, total: int) -> int:
    """Tokens still masked after ``step`` (0-based) of ``steps``: cosine schedule."""
    return int(math.floor(total * math.cos(math.pi / 2 * (step + 1) / steps)))


def _gumbel(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=generator).clamp_(1e-9, 1 - 1e-9)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def generate_images(prior: nn.Module, tokenizer: nn.Module, prompts: Sequence[str], seed: int = 0,
                    guidance: float = 3.0, temperature: float = 1.0, top_k: int = 0, steps: int = 24,
                    progress: Callable[[float], None] | None = None,
                    choice_noise: float = CHOICE_NOISE, ramp: bool = True) -> list[Image.Image]:
    """One image per prompt; the same (prompts, seed, settings) give the same pixels."""
    from core.text_encoder import encode

    device = next(prior.parameters()).device
    n, total, vocab = len(prompts), prior.cfg.tokens, prior.cfg.codebook_size
    unique = list(dict.fromkeys(p if p.strip() else "." for p in prompts))
    encoded = encode(unique).to(device)
    rows = torch.tensor([unique.index(p if p.strip() else ".") for p in prompts], device=device)
    text_tokens, text_mask = encoded.tokens[rows], encoded.mask[rows]
    no_caption = torch.tensor([not p.strip() for p in prompts], device=device)
    generators = [torch.Generator().manual_seed(int(seed) + i) for i in range(n)]
    codes = torch.full((n, total), vocab, dtype=torch.long, device=device)   # all [MASK]
    guided = guidance > 0
    if guided:      # one batch: the prompts, then the same rows without captions
        text_tokens, text_mask = torch.cat([text_tokens] * 2), torch.cat([text_mask] * 2)
        drop = torch.cat([no_caption, torch.ones_like(no_caption)])
    else:
        drop = no_caption
    unused = ~tokenizer.used_codes()      # codes merged into others: never drawn
    for step in range(steps):
        logits = prior(torch.cat([codes] * 2) if guided else codes, text_tokens, text_mask, drop)
        if guided:
            conditional, unconditional = logits.float().chunk(2)
            scale = guidance * (step + 1) / steps if ramp else guidance
            logits = conditional + scale * (conditional - unconditional)
        logits = logits.float().masked_fill(unused, -math.inf)
        log_probs = _restrict(logits, top_k).log_softmax(-1).cpu()
        noise = torch.stack([_gumbel((total, vocab), g) for g in generators])
        choice = log_probs.argmax(-1) if temperature <= 0 else (log_probs / temperature + noise).argmax(-1)
        confidence = log_probs.gather(-1, choice[..., None])[..., 0]
        anneal = choice_noise * (1 - (step + 1) / steps)
        confidence = confidence + anneal * torch.stack([_gumbel((total,), g) for g in generators])
        is_masked = (codes == vocab).cpu()
        choice = torch.where(is_masked, choice, codes.cpu())
        confidence = confidence.masked_fill(~is_masked, math.inf)   # decided tokens stay
        keep_masked = masked_count(step, steps, total)
        if keep_masked > 0:
            lowest = confidence.topk(keep_masked, dim=-1, largest=False).indices
            choice.scatter_(1, lowest, vocab)
        codes = choice.to(device)
        if progress:
            progress((step + 1) / steps)
    grid = prior.cfg.grid
    return to_images(tokenizer.decode(codes.view(n, grid, grid)))


def _restrict(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep only the ``top_k`` likeliest codes of each token (0: all)."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    threshold = logits.topk(top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < threshold, -math.inf)
