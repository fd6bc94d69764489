"""Inference with a trained :class:`ConditionalVAE`: prompts to images,
reconstruction and variations of a picture, and latent interpolation."""
from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image

from core.conditional_vae import prompt_condition
from core.conditional_vae.model import ConditionalVAE, TokenContext
from core.trained import to_images


def condition(model: ConditionalVAE, prompts: Sequence[str]) -> tuple[torch.Tensor, TokenContext | None]:
    """Conditioning vectors of ``prompts`` and the decoder's token context; an empty
    prompt means "no caption"."""
    return prompt_condition(model, prompts)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


@torch.no_grad()
def generate_images(model: ConditionalVAE, prompts: Sequence[str], seed: int = 0,
                    temperature: float = 1.0, guidance: float = 1.0,
                    streams: Sequence[int] | None = None) -> list[Image.Image]:
    """One image per prompt; the same (prompts, seed) give the same pixels.
    ``guidance`` is the diffusion prior's classifier-free guidance (no effect on
    the other priors). ``streams``: draw the prompts once from each of these seeds
    instead, stream-major (the candidates that ``core.reranking.keep_best`` chooses among)."""
    c, context = condition(model, prompts)
    return to_images(torch.cat([model.generate(c, _generator(s), temperature, guidance, context)
                                for s in streams or [seed]]))


def image_tensor(image: Image.Image, resolution: int, device: torch.device) -> torch.Tensor:
    from core.corpus.dataset import image_to_tensor
    from core.userdata import square

    return image_to_tensor(square(image.convert("RGB"), resolution))[None].to(device)


@torch.no_grad()
def variations(model: ConditionalVAE, image: Image.Image, prompt: str, n: int, seed: int,
               spread: float) -> list[Image.Image]:
    """``n`` decodings of ``image``'s latent code: the reconstruction when
    ``spread`` is 0, variations around it otherwise."""
    device = next(model.parameters()).device
    x = image_tensor(image, model.cfg.resolution, device).expand(n, -1, -1, -1)
    c, context = condition(model, [prompt] * n)
    return to_images(model.reconstruct(x, c, spread, _generator(seed), context))


@torch.no_grad()
def interpolate(model: ConditionalVAE, prompt_a: str, prompt_b: str, seed_a: int, seed_b: int,
                frames: int = 16, guidance: float = 1.0) -> list[Image.Image]:
    """Walk from (prompt_a, seed_a) to (prompt_b, seed_b): the prompt's
    conditioning and the prior sample move together, spherically for the noise."""
    c, context = condition(model, [prompt_a, prompt_b])
    noise = torch.stack([torch.randn(model.cfg.z_dim, generator=_generator(s)) for s in (seed_a, seed_b)])
    noise = noise.to(c.device)
    t = torch.linspace(0, 1, frames, device=c.device)[:, None]
    cs = (1 - t) * c[0] + t * c[1]
    omega = torch.arccos((noise[0] @ noise[1] / (noise[0].norm() * noise[1].norm())).clamp(-1, 1))
    if float(omega) < 1e-4:
        eps = noise[0].expand(frames, -1)
    else:
        eps = (torch.sin((1 - t) * omega) * noise[0] + torch.sin(t * omega) * noise[1]) / torch.sin(omega)
    context = None if context is None else context.blend(t)
    return to_images(model.decoder(model.latent(cs, eps, guidance), cs, context))
