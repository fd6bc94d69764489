"""A text-conditional GAN (GAN-INT-CLS, Reed et al. 2016, brought up to date)
that plays its game in a learned latent space, readable in one sitting.

    prompt --MiniLM--> token states --autoencoder's text conditioner--> c
    (noise, c) --Generator-----> u            (a residual MLP; FiLM-like conditioning on c)
    (u, c)     --decoder-------> 64x64 image  (the conv decoder of a trained autoencoder, frozen)
    (u, c')    --Discriminator-> one score    (projection discriminator, spectral norm)

``u`` is a latent of the autoencoder (``plugins.vae``'s conditional VAE) in the
whitened coordinates of its Gaussian prior, ``u = (z - mu_p(c)) / sigma_p(c)``:
real pictures give ``u`` through the encoder, the generator makes its own, and
the discriminator tells them apart, with the hinge loss and the matching-aware
negatives of GAN-INT-CLS (a real picture's ``u`` with someone else's caption
is fake). The discriminator scores ``psi(phi(u)) + <embed(c'), phi(u)>``
(Miyato & Koyama 2018): the inner product ties the latent to the caption.

Why a latent GAN (Achlioptas et al. 2018; the adversarial prior of Makhzani et
al.'s adversarial autoencoders) rather than one over pixels: the earlier pixel
GAN of this plugin, trained for 9,000 steps on a CPU, drew small blobs of the
wrong colour and nearly ignored its noise (shapes 0.24, diversity 0.04; the
card keeps its figures). Over the autoencoder's latents the pictures' detail
is the decoder's job, learned by reconstruction, and the game is only about
*what* to draw where: the networks are MLPs, cheap enough for many updates per
rendered batch, and the discriminator's judgement is about content, not about
pixel texture. The decoder is the conv upsampling stack a DCGAN generator would
be, but it is learned by reconstruction and not trained here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from core.conditional_vae.diffusion import ResidualBlock


CONTRAST_DIM = 128
CONTRAST_TEMPERATURE = 0.1      # XMC-GAN's


@dataclass
class GANConfig:
    z_dim: int = 64             # the noise
    latent_dim: int = 64        # the autoencoder's latent (its z_dim)
    cond_dim: int = 256         # the autoencoder's conditioning vector c
    g_width: int = 384
    g_depth: int = 3
    d_width: int = 512
    d_depth: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GANConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class ConditionedMLP(nn.Module):
    """(x, c) -> y: residual blocks, each reading c (the generator, and the latent
    ranker of ``plugins.gan.ranker``, are built this way)."""

    def __init__(self, in_dim: int, cond_dim: int, width: int, depth: int, out_dim: int) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(cond_dim, width), nn.SiLU())
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList([ResidualBlock(width) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        embedding = self.embed(c)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, embedding)
        return self.out(h)


class Generator(ConditionedMLP):
    """(noise, c) -> whitened latent ``u``."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__(cfg.z_dim, cfg.cond_dim, cfg.g_width, cfg.g_depth, cfg.latent_dim)
        self.cfg = cfg


class Scores(NamedTuple):
    """What one discriminator pass gives (``None`` where the pass was not asked for it)."""

    matched: torch.Tensor                 # each latent with its own condition
    wrong: torch.Tensor | None            # ... with the condition ``mismatch`` points to
    counterfactual: torch.Tensor | None   # ... with its row of ``negatives``
    similarity: torch.Tensor | None       # latents x conditions (+ negatives), contrastive logits


class Discriminator(nn.Module):
    """(u, c) -> a realness-and-match score per latent."""

    def __init__(self, cfg: GANConfig, contrastive: bool = False) -> None:
        super().__init__()
        w = cfg.d_width
        layers: list[nn.Module] = [spectral_norm(nn.Linear(cfg.latent_dim, w)), nn.LeakyReLU(0.2)]
        for _ in range(cfg.d_depth - 1):
            layers += [spectral_norm(nn.Linear(w, w)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        # c is a fixed feature of the frozen autoencoder; a small MLP reshapes it for the projection.
        self.text = nn.Sequential(spectral_norm(nn.Linear(cfg.cond_dim, w)), nn.LeakyReLU(0.2),
                                  spectral_norm(nn.Linear(w, w)))
        self.score = spectral_norm(nn.Linear(w, 1))
        self.contrastive = contrastive
        if contrastive:
            # Heads of the contrastive term (``forward``'s similarity), only in runs that use it
            # (so earlier runs still resume); not spectrally normalised: their scores
            # are cosines, bounded by construction.
            self.contrast_latent = nn.Linear(w, CONTRAST_DIM)
            self.contrast_text = nn.Linear(w, CONTRAST_DIM)

    def forward(self, u: torch.Tensor, c: torch.Tensor, mismatch: torch.Tensor | None = None,
                negatives: torch.Tensor | None = None, similarity: bool = True) -> Scores:
        """Scores of ``u`` with its own conditions; when ``mismatch`` (a row index
        per latent) is given, with the conditions it points to; when ``negatives``
        (one more condition per latent) are given, with those; and, with the
        contrastive heads and ``similarity``, the similarity of every latent (rows)
        with every condition (columns, those of ``c`` then those of ``negatives``):
        cosines / temperature from the discriminator's own features, the logits of
        the cross-modal contrastive loss of XMC-GAN (Zhang et al. 2021)."""
        h = self.features(u)
        realness = self.score(h).squeeze(1)
        embedding = self.text(c)
        matched = realness + (embedding * h).sum(1)
        wrong = None if mismatch is None else realness + (embedding[mismatch] * h).sum(1)
        counter = None if negatives is None else self.text(negatives)
        counterfactual = None if counter is None else realness + (counter * h).sum(1)
        logits = None
        if self.contrastive and similarity:
            latent = F.normalize(self.contrast_latent(h), dim=1)
            columns = embedding if counter is None else torch.cat([embedding, counter])
            text = F.normalize(self.contrast_text(columns), dim=1)
            logits = latent @ text.T / CONTRAST_TEMPERATURE
        return Scores(matched, wrong, counterfactual, logits)


def decode(autoencoder: nn.Module, u: torch.Tensor, c: torch.Tensor, context: Any = None) -> torch.Tensor:
    """Whitened latents -> 64x64 pictures in [0, 1] through the autoencoder (whose
    decoder may also read the prompt's tokens, ``context``)."""
    return autoencoder.decoder(autoencoder.from_whitened(u, c), c, context)
