"""The image tokenizer: a small VQ-VAE that turns a 64x64 picture into a 16x16
grid of codebook indices and back.

Why 4x downsampling: the corpus is flat colours with hard edges, and an 8x
autoencoder rounds every corner (DESIGN.md). A 4x4 patch holds at most an edge
or a corner, which a few hundred codes cover; the conv decoder reads the
neighbouring tokens to know which colours meet there.

The codebook is learned by exponential moving averages of the encoder outputs
assigned to each code (van den Oord et al. 2017, appendix), not by gradient, and
codes nobody used for a while are restarted on random encoder outputs, so the
whole codebook stays in use.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

DEAD_AFTER = 50     # steps without a single assignment before a code is restarted


@dataclass
class TokenizerConfig:
    resolution: int = 64
    widths: tuple[int, int, int] = (16, 32, 64)   # channels at full, 1/2 and 1/4 resolution
    code_dim: int = 16
    codebook_size: int = 512
    ema_decay: float = 0.99
    commitment: float = 0.25
    merged: int = 0         # > 0: codes merged into this many groups (``VQTokenizer.merge_codes``)

    @property
    def grid(self) -> int:
        return self.resolution // 4

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TokenizerConfig":
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in values.items() if k in known}
        if "widths" in kept:
            kept["widths"] = tuple(int(w) for w in kept["widths"])
        return cls(**kept)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Codebook(nn.Module):
    """Nearest-code quantiser with EMA updates (buffers, so the optimizer never
    touches them and they are saved with the module)."""

    def __init__(self, size: int, dim: int, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("embedding", torch.randn(size, dim) * 0.1)
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embedding_sum", self.embedding.clone())
        self.register_buffer("unused_steps", torch.zeros(size))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """(N, D) vectors -> (N,) code indices."""
        distances = (z.pow(2).sum(1, keepdim=True) - 2 * z @ self.embedding.t()
                     + self.embedding.pow(2).sum(1)[None])
        return distances.argmin(1)

    @torch.no_grad()
    def initialise(self, z: torch.Tensor) -> None:
        """Codes start on random encoder outputs of the first batch: a random
        init far from the data leaves all but a couple of codes unused."""
        picks = z[torch.randint(0, len(z), (self.embedding.shape[0],), device=z.device)]
        self.embedding.copy_(picks)
        self.embedding_sum.copy_(picks)
        self.cluster_size.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def update(self, z: torch.Tensor, codes: torch.Tensor) -> None:
        one_hot = F.one_hot(codes, self.embedding.shape[0]).type_as(z)
        counts = one_hot.sum(0)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embedding_sum.mul_(self.decay).add_(one_hot.t() @ z, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + 1e-5) / (total + 1e-5 * len(counts)) * total
        self.embedding.copy_(self.embedding_sum / smoothed[:, None])
        # Restart codes unused for DEAD_AFTER steps on random encoder outputs of this batch.
        self.unused_steps.add_(1).mul_((counts == 0).float())
        dead = (self.unused_steps > DEAD_AFTER).nonzero().flatten()
        if len(dead):
            picks = z[torch.randint(0, len(z), (len(dead),), device=z.device)]
            self.embedding[dead] = picks
            self.embedding_sum[dead] = picks
            self.cluster_size[dead] = 1.0
            self.unused_steps[dead] = 0


def _kmeans(points: torch.Tensor, weight: torch.Tensor, k: int, iterations: int) -> torch.Tensor:
    """Weighted k-means (k-means++ seeding with a fixed generator) -> (k, D) centres."""
    device = points.device
    generator = torch.Generator().manual_seed(0)
    points, weight = points.double().cpu(), weight.double().cpu()
    centres = points[torch.multinomial(weight, 1, generator=generator)]
    for _ in range(1, k):
        distance = torch.cdist(points, centres).min(1).values.pow(2) * weight
        centres = torch.cat([centres, points[torch.multinomial(distance + 1e-12, 1, generator=generator)]])
    for _ in range(iterations):
        group = torch.cdist(points, centres).argmin(1)
        total = torch.zeros_like(centres).index_add_(0, group, points * weight[:, None])
        mass = torch.zeros(k, dtype=points.dtype).index_add_(0, group, weight)
        centres = torch.where(mass[:, None] > 0, total / mass.clamp(min=1e-12)[:, None], centres)
    return centres.float().to(device)


class VQTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w1, w2, w3 = cfg.widths
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w1, w2, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(w2, w3, 4, stride=2, padding=1),
            ResBlock(w3), nn.SiLU(),
            nn.Conv2d(w3, cfg.code_dim, 1))
        self.codebook = Codebook(cfg.codebook_size, cfg.code_dim, cfg.ema_decay)
        if cfg.merged:
            # code -> the code that stands for its group (identity until merge_codes)
            self.register_buffer("code_map", torch.arange(cfg.codebook_size))
        self.decoder = nn.Sequential(
            nn.Conv2d(cfg.code_dim, w3, 3, padding=1),
            ResBlock(w3), ResBlock(w3), nn.SiLU(),
            nn.ConvTranspose2d(w3, w2, 4, stride=2, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(w1, 3, 3, padding=1))

    def _latents(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x * 2 - 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, R, R) pixels in [0, 1] -> (B, R/4, R/4) code indices."""
        z = self._latents(x)
        b, d, h, w = z.shape
        codes = self.codebook.nearest(z.permute(0, 2, 3, 1).reshape(-1, d))
        if self.cfg.merged:
            codes = self.code_map[codes]
        return codes.view(b, h, w)

    def used_codes(self) -> torch.Tensor:
        """(codebook_size,) bool: the codes ``encode`` can return."""
        used = torch.zeros(self.cfg.codebook_size, dtype=torch.bool, device=self.codebook.embedding.device)
        if not self.cfg.merged:
            return used.fill_(True)
        return used.index_fill_(0, self.code_map, True)

    @torch.no_grad()
    def merge_codes(self, iterations: int = 50) -> None:
        """Merge the codebook into ``cfg.merged`` groups of nearby code vectors
        (k-means weighted by how often each code is used, seeded, so the same
        codebook always gives the same groups); each group is then encoded as
        its most used code.

        Why: a 512-code book spends many codes on one look (a flat colour gets
        several; an edge gets one per place it can run through its 4x4 patch),
        and which of them the encoder picks follows details no prior can see.
        Measured on the tokenizer shipped before merging (a lookup table from
        each token's four neighbouring codes to its own, built on 3,000 corpus
        pictures, tried on 400 others): with 512 codes the neighbours predict
        71 % of flat tokens and 7 % of edge tokens; merged into 64 groups, 92 %
        and 38 %, while held-out pictures still reconstruct to what their
        captions say (shapes PSNR 30.3 -> 28.0 dB before the decoder is tuned
        to the merged codes)."""
        vectors, weight = self.codebook.embedding, self.codebook.cluster_size.clamp(min=1e-6)
        centres = _kmeans(vectors, weight, self.cfg.merged, iterations)
        group = torch.cdist(vectors, centres).argmin(1)
        representative = torch.zeros(self.cfg.merged, dtype=torch.long, device=vectors.device)
        for g in range(self.cfg.merged):
            members = (group == g).nonzero().flatten()
            if len(members):
                representative[g] = members[weight[members].argmax()]
        self.code_map.copy_(representative[group])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, H, W) code indices -> (B, 3, 4H, 4W) pixels in [0, 1] (unclamped)."""
        z = self.codebook.embedding[codes].permute(0, 3, 1, 2)
        return self.decoder(z) * 0.5 + 0.5

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction with the straight-through estimator; updates the
        codebook when training."""
        z = self._latents(x)
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        if self.training and not bool(self.codebook.initialised):
            self.codebook.initialise(flat.detach())
        codes = self.codebook.nearest(flat.detach())
        if self.training:
            self.codebook.update(flat.detach(), codes)
        quantised = self.codebook.embedding[codes].view(b, h, w, d).permute(0, 3, 1, 2)
        commitment = F.mse_loss(z, quantised.detach())
        z_q = z + (quantised - z).detach()
        return {"x_hat": self.decoder(z_q) * 0.5 + 0.5, "codes": codes.view(b, h, w),
                "commitment": commitment}
