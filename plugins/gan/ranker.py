"""Choosing among the GAN's candidates before decoding them.

Re-ranking by the critic (``core.reranking``) decodes every candidate to pixels
and scores each picture; for the GAN that is 90 % of the cost (16 pictures:
0.07 s to decode and 0.06 s to score on one thread, against 0.001 s for the
generator), so 8 candidates took the GAN far past its speed bar. This ranker
scores the generator's latents themselves: MLPs over (u, c), trained to rank a
prompt's candidates the way a teacher ranks their decoded pictures
(``plugins.gan.ranker_training``; the shipped ranker's teacher is the analytic
checker, which reads each training caption's corpus claim). Only the chosen
latent of each image is decoded. It reads the latent and the prompt's
conditioning vector, nothing else.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from plugins.gan.model import ConditionedMLP


@dataclass
class RankerConfig:
    latent_dim: int = 64        # the GAN's u
    cond_dim: int = 256         # the autoencoder's conditioning vector c
    width: int = 256
    depth: int = 3
    members: int = 1            # scorers averaged

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RankerConfig":
        return cls(**{k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__})


class LatentRanker(nn.Module):
    """(u, c) -> a score; higher: the decoded picture matches the prompt better.
    Only the order of one prompt's scores means anything (it was trained listwise).
    The score is the mean of ``cfg.members`` scorers trained alike from different
    seeds, which evens out their separate mistakes (three: shapes 0.70 -> 0.74
    with 16 candidates, the model card)."""

    def __init__(self, cfg: RankerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.members = nn.ModuleList(ConditionedMLP(cfg.latent_dim, cfg.cond_dim, cfg.width, cfg.depth, 1)
                                     for _ in range(cfg.members))

    def forward(self, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(u, c)[:, 0] for member in self.members]).mean(0)
