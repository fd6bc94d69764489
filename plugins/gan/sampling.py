"""Inference with a trained GAN: prompts to images (with the truncation
trick) and latent interpolation between prompts and seeds."""
from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image
from torch import nn

from core.conditional_vae.model import TokenContext
from core.reranking import best_rows
from core.trained import to_images
from plugins.gan.model import Generator, decode
from plugins.gan.ranker import LatentRanker

NO_TRUNCATION = 4.0       # noise is redrawn beyond this many standard deviations: practically never


class GANModel(nn.Module):
    """What generation needs: the (EMA) generator and the frozen autoencoder
    whose text conditioner and decoder it works with, and the ranker that chooses
    among candidates before decoding (None in exports without one)."""

    def __init__(self, generator: Generator, autoencoder: nn.Module, ranker: LatentRanker | None = None) -> None:
        super().__init__()
        self.generator, self.autoencoder, self.ranker = generator, autoencoder, ranker
        self.cfg = generator.cfg

    def synthesize(self, noise: torch.Tensor, c: torch.Tensor, context: TokenContext | None = None
                   ) -> torch.Tensor:
        """Noise + conditioning vector (+ the tokens the decoder reads) -> pictures in
        [0, 1] (interpolation moves all of them)."""
        return decode(self.autoencoder, self.generator(noise, c), c, context)


def condition(model: GANModel, prompts: Sequence[str]) -> tuple[torch.Tensor, TokenContext | None]:
    """The autoencoder's conditioning of ``prompts``; an empty prompt reads as "."
    (the generator was never trained on the "no caption" vector)."""
    from core.conditional_vae import prompt_condition

    return prompt_condition(model.autoencoder, prompts, empty_means_no_caption=False)


def noise(n: int, z_dim: int, seed: int, truncation: float = NO_TRUNCATION) -> torch.Tensor:
    """``n`` noise vectors for ``seed`` (the first k are the same for any n >= k).

    The truncation trick (Brock et al. 2019): values beyond ``truncation``
    standard deviations are redrawn, so lower values give more typical, less
    varied pictures."""
    generator = torch.Generator().manual_seed(int(seed))
    z = torch.empty(n, z_dim)
    for row in z:       # row by row: a vectorised fill of n rows draws in another order
        torch.nn.init.trunc_normal_(row, 0.0, 1.0, -truncation, truncation, generator=generator)
    return z


def _draws(model: GANModel, prompts: Sequence[str], streams: Sequence[int], truncation: float
           ) -> tuple[torch.Tensor, torch.Tensor, TokenContext | None]:
    """Noise, conditioning and decoder tokens of the prompts drawn once from each seed of
    ``streams``, in one batch, stream-major."""
    c, context = condition(model, prompts)
    z = torch.cat([noise(len(prompts), model.cfg.z_dim, s, truncation) for s in streams]).to(c.device)
    if len(streams) > 1:
        rows = torch.arange(len(prompts), device=c.device).repeat(len(streams))
        c, context = c[rows], None if context is None else context.rows(rows)
    return z, c, context


@torch.no_grad()
def generate_images(model: GANModel, prompts: Sequence[str], seed: int = 0,
                    truncation: float = NO_TRUNCATION,
                    streams: Sequence[int] | None = None) -> list[Image.Image]:
    """One image per prompt; the same (prompts, seed, truncation) give the same pixels.
    ``streams``: draw the prompts once from each of these seeds instead, all in one
    batch, stream-major (the candidates that ``core.reranking.keep_best`` chooses among)."""
    return to_images(model.synthesize(*_draws(model, prompts, list(streams or [seed]), truncation)))


@torch.no_grad()
def generate_ranked(model: GANModel, prompts: Sequence[str], streams: Sequence[int],
                    truncation: float = NO_TRUNCATION) -> list[Image.Image]:
    """One image per prompt: of its draws from each seed of ``streams``, the latent the
    ranker scores best, the only one decoded."""
    z, c, context = _draws(model, prompts, streams, truncation)
    u = model.generator(z, c)
    rows = best_rows(model.ranker(u, c), len(prompts), len(streams))
    return to_images(decode(model.autoencoder, u[rows], c[rows], None if context is None else context.rows(rows)))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: Gaussian noise keeps its typical norm along the way."""
    omega = torch.arccos((a @ b / (a.norm() * b.norm())).clamp(-1, 1))
    if float(omega) < 1e-4:
        return a.expand(len(t), -1).clone()
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def interpolate(model: GANModel, prompt_a: str, prompt_b: str, seed_a: int, seed_b: int,
                frames: int = 16, truncation: float = NO_TRUNCATION) -> list[Image.Image]:
    """Walk from (prompt_a, seed_a) to (prompt_b, seed_b): the conditioning moves
    linearly, the noise spherically."""
    c, context = condition(model, [prompt_a, prompt_b])
    za, zb = (noise(1, model.cfg.z_dim, s, truncation)[0] for s in (seed_a, seed_b))
    t = torch.linspace(0, 1, frames)[:, None]
    z = slerp(za, zb, t).to(c.device)
    t = t.to(c.device)
    context = None if context is None else context.blend(t)
    return to_images(model.synthesize(z, (1 - t) * c[0] + t * c[1], context))
