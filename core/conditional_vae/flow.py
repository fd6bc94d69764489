"""A text-conditional normalizing flow over the VAE's latent space.

The learned prior p(z | c) of :mod:`core.conditional_vae.model` is one diagonal Gaussian per
prompt. The latents of real pictures of a prompt are not: they lie on a curved,
correlated set (which positions, sizes and counts go together), and a diagonal
Gaussian wide enough to cover it also covers the holes in between, which decode
to several faint blobs. The flow reshapes that Gaussian: the prior's own
whitening ``u = (z - mu_p(c)) / sigma_p(c)`` is followed by affine coupling layers
(RealNVP, Dinh et al. 2017) whose scales and shifts are read from half of ``u``
and from c, and it is fitted, with the VAE frozen, to the encoder's posterior
samples of captioned corpus pictures (maximum likelihood: an "ex-post" prior in
the sense of Ghosh et al. 2020). Its last layers start at zero, so an unfitted
flow is exactly the Gaussian prior.
"""
from __future__ import annotations

import math

import torch
from torch import nn

SCALE_LIMIT = 2.0      # |log scale| per coupling, bounded with tanh so fitting stays stable


class Coupling(nn.Module):
    """Half of the coordinates (``mask`` = 1) pass unchanged and, with c, set an
    affine map of the other half."""

    def __init__(self, z_dim: int, cond_dim: int, width: int, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(nn.Linear(z_dim + cond_dim, width), nn.SiLU(),
                                 nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2 * z_dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, kept: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = self.net(torch.cat([kept, c], dim=1)).chunk(2, dim=1)
        free = 1 - self.mask
        return SCALE_LIMIT * torch.tanh(log_scale) * free, shift * free

    def forward(self, u: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """latent side -> noise side, and log |det| of that map."""
        log_scale, shift = self._scale_shift(u * self.mask, c)
        return u * self.mask + (1 - self.mask) * (u * log_scale.exp() + shift), log_scale.sum(1)

    def inverse(self, e: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        log_scale, shift = self._scale_shift(e * self.mask, c)
        return e * self.mask + (1 - self.mask) * ((e - shift) * (-log_scale).exp())


class LatentFlow(nn.Module):
    """p(z | c) = the Gaussian prior (mu_p, sigma_p) reshaped by ``layers`` couplings."""

    def __init__(self, z_dim: int, cond_dim: int, layers: int, width: int, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        masks = []
        for _ in range(layers):        # a fresh random half per layer mixes every pair of coordinates
            mask = torch.zeros(z_dim)
            mask[torch.randperm(z_dim, generator=generator)[: z_dim // 2]] = 1
            masks.append(mask)
        self.couplings = nn.ModuleList([Coupling(z_dim, cond_dim, width, m) for m in masks])

    def to_noise(self, z: torch.Tensor, c: torch.Tensor, mu_p: torch.Tensor,
                 logvar_p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The noise ``z`` comes from, and log |det dnoise/dz| per row."""
        u = (z - mu_p) * (-0.5 * logvar_p).exp()
        log_det = -0.5 * logvar_p.sum(1)
        for coupling in self.couplings:
            u, step = coupling(u, c)
            log_det = log_det + step
        return u, log_det

    def log_prob(self, z: torch.Tensor, c: torch.Tensor, mu_p: torch.Tensor,
                 logvar_p: torch.Tensor) -> torch.Tensor:
        """log p(z | c), one value per row."""
        noise, log_det = self.to_noise(z, c, mu_p, logvar_p)
        return -0.5 * (noise ** 2).sum(1) - 0.5 * noise.shape[1] * math.log(2 * math.pi) + log_det

    def sample(self, noise: torch.Tensor, c: torch.Tensor, mu_p: torch.Tensor,
               logvar_p: torch.Tensor) -> torch.Tensor:
        """The latent that standard-normal ``noise`` maps to."""
        u = noise
        for coupling in reversed(self.couplings):
            u = coupling.inverse(u, c)
        return mu_p + u * (0.5 * logvar_p).exp()
