"""Colour scrambling for the conditional VAE's encoder (``scramble_colours``,
see ``plugins.vae.trainer``): the same map must be used wherever latents of
captioned pictures are made (VAE training, its learned prior, the GAN's real
latents), so it lives here."""
from __future__ import annotations

import torch


def border_colour(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, 1, 1): the median of each picture's outer two pixels, each corner
    counted once (a picture's background, as the colour rotation reads it)."""
    frame = torch.cat([x[:, :, :2].flatten(2), x[:, :, -2:].flatten(2),
                       x[:, :, 2:-2, :2].flatten(2), x[:, :, 2:-2, -2:].flatten(2)], dim=2)
    return frame.median(dim=2).values[:, :, None, None]


def rotate_colours(x: torch.Tensor, rows: torch.Tensor, about_border: bool = False) -> torch.Tensor:
    """``x`` with each picture in ``rows`` passed through its own random orthogonal
    map of RGB about mid-grey, or about the picture's border colour (the median of
    its outer two pixels, as the checker reads a background), uniform over
    rotations and reflections (the QR of a Gaussian matrix, signs fixed); the other
    pictures unchanged."""
    q, r = torch.linalg.qr(torch.randn(x.shape[0], 3, 3, device=x.device))
    q = q * torch.diagonal(r, dim1=1, dim2=2).sign()[:, None, :]
    centre = torch.full((x.shape[0], 3, 1, 1), 0.5, device=x.device, dtype=x.dtype)
    if about_border:
        centre = border_colour(x)
    rotated = torch.einsum("bij,bjhw->bihw", q, x - centre) + centre
    return torch.where(rows[:, None, None, None], rotated, x)
