"""Prompts to pictures with a trained prior and tokenizer.

An autoregressive prior (what ships) draws the grid one 2x2 group of tokens at
a time in raster order, each token knowing all tokens before it. A masked prior
decodes as MaskGIT: start from a grid of [MASK] tokens, predict every masked
token at once, sample them and keep the most confident; the rest are masked
again, fewer each step along the cosine schedule the prior was trained on.
Either way, classifier-free guidance pushes the prompt's logits away from the
caption-less ones, and the tokenizer's decoder paints the codes.

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
from plugins.transformer import DEFAULT_GUIDANCE, DEFAULT_TEMPERATURE, compiled_steps

CHOICE_NOISE = 4.5    # Gumbel noise on the confidences at the first step, annealed to 0 (MaskGIT)


class TextToImage(nn.Module):
    """The shipped modules as one, so the model cache moves them together; ``judge``
    (a ``core.critic.Critic`` or None) chooses among candidates."""

    def __init__(self, prior: nn.Module, tokenizer: nn.Module, judge: nn.Module | None = None) -> None:
        super().__init__()
        self.prior, self.tokenizer, self.judge = prior, tokenizer, judge


def masked_count(step: int, steps: int, total: int) -> int:
    """Tokens still masked after ``step`` (0-based) of ``steps``: cosine schedule."""
    return int(math.floor(total * math.cos(math.pi / 2 * (step + 1) / steps)))


def _gumbel(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    u = torch.rand(shape, generator=generator).clamp_(1e-9, 1 - 1e-9)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def generate_images(prior: nn.Module, tokenizer: nn.Module, prompts: Sequence[str], seed: int = 0,
                    guidance: float = DEFAULT_GUIDANCE, temperature: float = DEFAULT_TEMPERATURE,
                    top_k: int = 0, steps: int = 24,
                    progress: Callable[[float], None] | None = None,
                    choice_noise: float = CHOICE_NOISE, ramp: bool = True,
                    seeds: Sequence[int] | None = None) -> list[Image.Image]:
    """One image per prompt; the same (prompts, seed, settings) give the same pixels.
    Image i draws with ``seed + i``, or ``seeds[i]`` when given. ``steps``,
    ``choice_noise`` and ``ramp`` apply to a masked prior only: an autoregressive one
    draws its grid one 2x2 group at a time."""
    codes = draw_codes(prior, tokenizer, prompts, seed, guidance, temperature, top_k, steps,
                       progress, choice_noise, ramp, seeds)
    return paint_codes(tokenizer, codes)


@torch.no_grad()
def paint_codes(tokenizer: nn.Module, codes: torch.Tensor) -> list[Image.Image]:
    """The decoder's pictures of code grids (n, grid, grid), 64 x 64 RGB."""
    return to_images(tokenizer.decode(codes))


@torch.no_grad()
def draw_codes(prior: nn.Module, tokenizer: nn.Module, prompts: Sequence[str], seed: int = 0,
               guidance: float = DEFAULT_GUIDANCE, temperature: float = DEFAULT_TEMPERATURE,
               top_k: int = 0, steps: int = 24, progress: Callable[[float], None] | None = None,
               choice_noise: float = CHOICE_NOISE, ramp: bool = True,
               seeds: Sequence[int] | None = None) -> torch.Tensor:
    """The code grids (n, grid, grid) that :func:`generate_images` decodes."""
    device = next(prior.parameters()).device
    return draw_from_text(prior, tokenizer, encode_prompts(prompts, device),
                          seeds or range(seed, seed + len(prompts)), guidance, temperature, top_k,
                          steps, progress, choice_noise, ramp)


def encode_prompts(prompts: Sequence[str], device: torch.device | str = "cpu"
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per prompt, the MiniLM token states and mask the prior reads, and whether the
    prompt is empty (then the prior reads its no-caption token alone). Each distinct
    prompt is encoded once."""
    from core.text_encoder import encode

    unique = list(dict.fromkeys(p if p.strip() else "." for p in prompts))
    encoded = encode(unique).to(device)
    rows = torch.tensor([unique.index(p if p.strip() else ".") for p in prompts], device=device)
    no_caption = torch.tensor([not p.strip() for p in prompts], device=device)
    return encoded.tokens[rows], encoded.mask[rows], no_caption


@torch.no_grad()
def draw_from_text(prior: nn.Module, tokenizer: nn.Module,
                   text: tuple[torch.Tensor, torch.Tensor, torch.Tensor], seeds: Sequence[int],
                   guidance: float = DEFAULT_GUIDANCE, temperature: float = DEFAULT_TEMPERATURE,
                   top_k: int = 0, steps: int = 24, progress: Callable[[float], None] | None = None,
                   choice_noise: float = CHOICE_NOISE, ramp: bool = True) -> torch.Tensor:
    """:func:`draw_codes` from prompts already encoded (:func:`encode_prompts`), one
    seed per row. A row's codes depend only on its own text and seed."""
    text_tokens, text_mask, no_caption = text
    if guidance > 0:      # one batch: the prompts, then the same rows without captions
        text_tokens, text_mask = torch.cat([text_tokens] * 2), torch.cat([text_mask] * 2)
        drop = torch.cat([no_caption, torch.ones_like(no_caption)])
    else:
        drop = no_caption
    sampler = Sampler(prior, prior.context(text_tokens, text_mask, drop),
                      [torch.Generator().manual_seed(int(s)) for s in seeds],
                      guidance, temperature, top_k, ~tokenizer.used_codes())
    report = progress or (lambda fraction: None)
    if prior.cfg.causal:
        codes = sampler.autoregressive(report)
    else:
        codes = sampler.masked(steps, choice_noise, ramp, report)
    grid = prior.cfg.grid
    return codes.view(len(seeds), grid, grid)


class Sampler:
    """One request's draw: the prompts' cross-attention context (doubled with a
    caption-less copy when guided), one noise generator per image, and the
    settings that turn logits into codes."""

    def __init__(self, prior: nn.Module, context: tuple[torch.Tensor, torch.Tensor],
                 generators: list[torch.Generator], guidance: float, temperature: float,
                 top_k: int, unused: torch.Tensor) -> None:
        self.prior, self.context, self.generators = prior, context, generators
        self.guidance, self.temperature, self.top_k = guidance, temperature, top_k
        self.unused = unused          # codes merged into others: never drawn
        self.device = next(prior.parameters()).device

    def _doubled(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] * 2) if self.guidance > 0 else x

    def _log_probs(self, logits: torch.Tensor, scale: float, every_code: bool = True) -> torch.Tensor:
        """``every_code``: ``logits`` cover the whole codebook, so the codes merged into
        others are ruled out here (else the caller left them out)."""
        logits = logits.float()
        if self.guidance > 0:     # the prompt's logits pushed away from the caption-less ones
            conditional, unconditional = logits.chunk(2)
            logits = conditional + scale * (conditional - unconditional)
        if every_code:
            logits = logits.masked_fill(self.unused, -math.inf)
        return _restrict(logits, self.top_k).log_softmax(-1).cpu()

    def _choose(self, log_probs: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """A code per token, from (n, ..., vocab) log-probabilities; ``noise``: Gumbel
        noise of the same shape drawn ahead (else drawn here)."""
        if self.temperature <= 0:
            return log_probs.argmax(-1)
        if noise is None:
            noise = torch.stack([_gumbel(log_probs.shape[1:], g) for g in self.generators])
        return (log_probs / self.temperature + noise).argmax(-1)

    def masked(self, steps: int, choice_noise: float, ramp: bool,
               progress: Callable[[float], None]) -> torch.Tensor:
        """MaskGIT: from an all-[MASK] grid, keep the most confident draws each step."""
        prior = self.prior
        total, vocab = prior.cfg.tokens, prior.cfg.codebook_size
        n = len(self.generators)
        codes = torch.full((n, total), vocab, dtype=torch.long, device=self.device)
        for step in range(steps):
            logits = prior.token_logits(prior.trunk(prior.embed(prior.to_groups(self._doubled(codes))),
                                                    self.context))
            log_probs = self._log_probs(logits, self.guidance * (step + 1) / steps if ramp else self.guidance)
            choice = self._choose(log_probs)
            confidence = log_probs.gather(-1, choice[..., None])[..., 0]
            anneal = choice_noise * (1 - (step + 1) / steps)
            confidence = confidence + anneal * torch.stack([_gumbel((total,), g) for g in self.generators])
            is_masked = (codes == vocab).cpu()
            choice = torch.where(is_masked, choice, codes.cpu())
            confidence = confidence.masked_fill(~is_masked, math.inf)   # decided tokens stay
            keep_masked = masked_count(step, steps, total)
            if keep_masked > 0:
                lowest = confidence.topk(keep_masked, dim=-1, largest=False).indices
                choice.scatter_(1, lowest, vocab)
            codes = choice.to(self.device)
            progress((step + 1) / steps)
        return codes

    def autoregressive(self, progress: Callable[[float], None]) -> torch.Tensor:
        """Raster order, one group per step and its tokens in turn. A key-value cache
        (``AutoregressivePrior.hidden_at``) runs each position through the
        transformer once, not once per later step."""
        prior = self.prior
        positions, slots = prior.cfg.positions, prior.cfg.group ** 2
        n = len(self.generators)
        groups = torch.full((n, positions, slots), prior.cfg.codebook_size, dtype=torch.long,
                            device=self.device)
        steps = compiled_steps.steps_for(prior)      # the prior itself unless compiled
        caches = steps.new_cache(self.context)
        # Only the codes the tokenizer still paints are scored: a code merged into
        # another is never drawn, so its logit need not be computed.
        drawable = (~self.unused).nonzero()[:, 0].to(self.device)
        # Each image's noise for the whole grid in one draw: the same numbers, token
        # after token, as a draw per token (CPU generators fill tensors serially), for a
        # fraction of the calls (one per image instead of one per image and token). It is
        # drawn for every code and then cut to the drawable ones, so a seed keeps its images.
        noise = None if self.temperature <= 0 else torch.stack(
            [_gumbel((positions * slots, prior.cfg.codebook_size), g) for g in self.generators])[..., drawable.cpu()]
        for p in range(positions):
            hidden = steps.hidden_at(self._doubled(groups), p, caches)
            for slot in range(slots):
                logits = prior.slot_logits(hidden, self._doubled(groups[:, p:p + 1]), slot, drawable)[:, 0]
                token_noise = None if noise is None else noise[:, p * slots + slot]
                choice = self._choose(self._log_probs(logits, self.guidance, every_code=False), token_noise)
                groups[:, p, slot] = drawable[choice.to(self.device)]
            progress((p + 1) / positions)
        return prior.from_groups(groups)


def _restrict(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep only the ``top_k`` likeliest codes of each token (0: all)."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    threshold = logits.topk(top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < threshold, -math.inf)
