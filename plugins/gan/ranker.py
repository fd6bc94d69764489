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

from plugins.gan.model import ConditionedMLP


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


class LatentRanker(ConditionedMLP):
    """(u, c) -> a score; higher: the decoded picture matches the prompt better.
    Only the order of one prompt's scores means anything (it was trained listwise)."""

    def __init__(self, cfg: RankerConfig) -> None:
        super().__init__(cfg.latent_dim, cfg.cond_dim, cfg.width, cfg.depth, 1)
        self.cfg = cfg

    def forward(self, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return super().forward(u, c)[:, 0]
