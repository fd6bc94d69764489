"""Choosing among the GAN's candidates before decoding them.

Re-ranking by the critic (``core.reranking``) decodes every candidate to pixels
and scores each picture; for the GAN that is 90 % of the cost (16 pictures:
0.07 s to decode and 0.06 s to score on one thread, against 0.001 s for the
generator), so 8 candidates took the GAN far past its speed bar. This ranker
scores the generator's latents themselves: an MLP over (u, c), trained to rank a
prompt's candidates the way the critic ranks their decoded pictures
(``plugins.gan.ranker_training``). Only the chosen latent of each image is
decoded. It reads the latent and the prompt's conditioning vector, nothing else.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from core.conditional_vae.diffusion import ResidualBlock


@dataclass
class RankerConfig:
    latent_dim: int = 64        # the GAN's u
    cond_dim: int = 256         # the autoencoder's conditioning vector c
    width: int = 256
    depth: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RankerConfig":
        return cls(**{k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__})


class LatentRanker(nn.Module):
    """(u, c) -> a score; higher: the decoded picture matches the prompt better.
    Only the order of one prompt's scores means anything (it was trained listwise)."""

    def __init__(self, cfg: RankerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Sequential(nn.Linear(cfg.cond_dim, cfg.width), nn.SiLU())
        self.inp = nn.Linear(cfg.latent_dim, cfg.width)
        self.blocks = nn.ModuleList([ResidualBlock(cfg.width) for _ in range(cfg.depth)])
        self.out = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, 1))

    def forward(self, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        embedding = self.embed(c)
        h = self.inp(u)
        for block in self.blocks:
            h = block(h, embedding)
        return self.out(h)[:, 0]
