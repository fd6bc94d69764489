"""A text-conditional diffusion model over the VAE's latent space.

The Gaussian prior p(z | c) of :mod:`core.conditional_vae.model` (and the flow of
:mod:`core.conditional_vae.flow` that reshapes it) put much of their mass between the
latents of real pictures, where the decoder draws several faint objects or none:
a 64-dimensional posterior of ~130 nats lies on a thin, curved set. A small
denoising diffusion model over that space (the "diffusion prior" of Ramesh et
al. 2022, here on a VAE's latents) can follow such a set: it is fitted, with the
VAE frozen, to posterior samples of corpus pictures, in the Gaussian prior's own
whitened coordinates ``u = (z - mu_p(c)) / sigma_p(c)``.

Details, each for a reason:
- angle parameterisation ``u_t = cos(phi) u + sin(phi) e``, ``phi = t pi / 2``, and
  the network predicts ``v = cos(phi) e - sin(phi) u`` (Salimans & Ho 2022): well
  scaled at every t, including pure noise at t = 1;
- sampling is deterministic DDIM (Song et al. 2021) from standard-normal noise,
  so a seed fixes the picture and a walk between two noises is smooth;
- c is replaced by a learned "any prompt" vector for a share of fitting rows,
  which allows classifier-free guidance (Ho & Salimans 2022): ``guidance`` > 1
  pushes samples towards what the prompt, rather than any prompt, makes likely.
"""
from __future__ import annotations

import math

import torch
from torch import nn

TIME_FEATURES = 16      # sine/cosine pairs of the noise angle


def _time_embedding(phi: torch.Tensor) -> torch.Tensor:
    frequencies = 2.0 ** torch.arange(TIME_FEATURES, device=phi.device, dtype=phi.dtype) / 4
    angles = phi[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.net = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return h + self.net(self.norm(h) + embedding)


class LatentDiffusion(nn.Module):
    """v-prediction network ``v(u_t, phi, c)`` with DDIM sampling and guidance."""

    def __init__(self, z_dim: int, cond_dim: int, width: int, depth: int) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(cond_dim + 2 * TIME_FEATURES, width), nn.SiLU())
        self.inp = nn.Linear(z_dim, width)
        self.blocks = nn.ModuleList([ResidualBlock(width) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, z_dim))
        # Stands in for c on the rows fitted without a prompt: the guidance baseline.
        self.any_prompt = nn.Parameter(torch.zeros(1, cond_dim))

    def velocity(self, u_t: torch.Tensor, phi: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        embedding = self.embed(torch.cat([c, _time_embedding(phi)], dim=1))
        h = self.inp(u_t)
        for block in self.blocks:
            h = block(h, embedding)
        return self.out(h)

    def loss(self, u: torch.Tensor, c: torch.Tensor, drop: float) -> torch.Tensor:
        """Per-row squared error of the predicted velocity at a random noise level;
        a share ``drop`` of rows is fitted as "any prompt"."""
        phi = torch.rand(u.shape[0], device=u.device) * (math.pi / 2)
        noise = torch.randn_like(u)
        cos, sin = phi.cos()[:, None], phi.sin()[:, None]
        dropped = torch.rand(u.shape[0], device=u.device) < drop
        c = torch.where(dropped[:, None], self.any_prompt.expand_as(c), c)
        target = cos * noise - sin * u
        return (self.velocity(cos * u + sin * noise, phi, c) - target).pow(2).sum(1)

    def sample(self, noise: torch.Tensor, c: torch.Tensor, steps: int,
               guidance: float = 1.0) -> torch.Tensor:
        """The whitened latent DDIM reaches from ``noise`` in ``steps`` steps."""
        u = noise
        angles = torch.linspace(math.pi / 2, 0.0, steps + 1, device=noise.device)
        guided = guidance != 1.0
        conditions = torch.cat([c, self.any_prompt.expand_as(c)]) if guided else c
        for phi, phi_next in zip(angles[:-1], angles[1:]):
            phis = phi.expand(conditions.shape[0])
            v = self.velocity(torch.cat([u, u]) if guided else u, phis, conditions)
            if guided:
                v_prompt, v_any = v.chunk(2)
                v = v_any + guidance * (v_prompt - v_any)
            clean = phi.cos() * u - phi.sin() * v
            predicted_noise = phi.sin() * u + phi.cos() * v
            u = phi_next.cos() * clean + phi_next.sin() * predicted_noise
        return u
