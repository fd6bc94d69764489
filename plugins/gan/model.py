"""A text-conditional GAN (GAN-INT-CLS, Reed et al. 2016, brought up to date),
readable in one sitting.

    prompt --MiniLM--> token states --TextConditioner--> c   (attention-pooled summaries + pooled vector)
    (z, c)    --Generator------> 32x32 image in [-1, 1]      (DCGAN-style upsampling, FiLM from c at every scale)
    (x, c')   --Discriminator--> one score                    (projection discriminator, spectral norm)

The discriminator scores ``psi(phi(x)) + <embed(c'), phi(x)>`` (Miyato & Koyama
2018): the inner product is what ties the picture to its caption. It is trained
with the hinge loss on real pictures with their own captions (real), generated
pictures (fake) and real pictures with someone else's caption (fake: the
"matching-aware" negatives of GAN-INT-CLS, which make colour/shape binding a
thing the discriminator must check). The generator used for generation is an
exponential moving average of the trained one (see ``plugins.gan.trainer``).

Why these choices: the pooled MiniLM vector barely tells "a red circle on a
blue background" from "a blue circle on a red background" (cosine 0.993), so
both networks attend over token states with a few learned queries; the model
works at 32x32, which the analytic checker reads as well as 64x64 (the corpus
round-tripped through 32x32 scores 100 %) and which keeps a training step
affordable on one CPU thread; pixel norm instead of batch norm keeps every
image independent of the others in its batch (same seed, same picture, for
any batch size) and leaves no running statistics for the EMA copy to track.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from core.corpus.targets import ATTRIBUTE_DIM

TEXT_DIM = 384


@dataclass
class GANConfig:
    image_size: int = 32        # the side the networks work at; outputs are resampled from it
    z_dim: int = 64
    cond_dim: int = 128
    queries: int = 4            # attention-pooled summaries of the prompt's tokens
    g_width: int = 32           # generator channels at 32x32; x2 at 16, x4 at 8 and 4
    d_width: int = 32           # discriminator channels at 32x32; x2 at 16, x4 at 8, x8 at 4
    attribute_head: bool = True  # the discriminator also reads corpus attributes (core.corpus.targets)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GANConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class TextConditioner(nn.Module):
    """Token states + pooled embedding -> one conditioning vector ``c``.

    A few learned queries attend over the tokens, so word order and which
    colour goes with which noun survive (the mean-pooled vector loses them)."""

    def __init__(self, queries: int, out_dim: int, wrap=lambda layer: layer) -> None:
        super().__init__()
        self.key = nn.Linear(TEXT_DIM, 64)
        self.value = nn.Linear(TEXT_DIM, 64)
        self.queries = nn.Parameter(torch.randn(queries, 64) * 0.1)
        self.mlp = nn.Sequential(wrap(nn.Linear(queries * 64 + TEXT_DIM, out_dim)), nn.LeakyReLU(0.2),
                                 wrap(nn.Linear(out_dim, out_dim)))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        keys, values = self.key(tokens), self.value(tokens)                 # B, T, 64
        scores = torch.einsum("qd,btd->bqt", self.queries, keys) / 8.0
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        attended = torch.einsum("bqt,btd->bqd", scores.softmax(-1), values)  # B, Q, 64
        return self.mlp(torch.cat([attended.flatten(1), pooled], dim=1))


def pixel_norm(h: torch.Tensor) -> torch.Tensor:
    """Normalise each pixel's feature vector (Karras et al. 2018): batch-independent."""
    return h * torch.rsqrt(h.pow(2).mean(1, keepdim=True) + 1e-8)


class UpBlock(nn.Module):
    """2x nearest upsample -> conv -> pixel norm -> FiLM(c) -> LeakyReLU."""

    def __init__(self, cin: int, cout: int, cond_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * cout)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.conv(F.interpolate(h, scale_factor=2, mode="nearest"))
        scale, shift = self.film(c)[:, :, None, None].chunk(2, dim=1)
        return F.leaky_relu(pixel_norm(h) * (1 + scale) + shift, 0.2)


class Generator(nn.Module):
    """(z, prompt) -> image in [-1, 1] at ``image_size``: 4 -> 8 -> 16 -> 32."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.g_width
        self.text = TextConditioner(cfg.queries, cfg.cond_dim)
        self.start = nn.Linear(cfg.z_dim + cfg.cond_dim, w * 4 * 4 * 4)
        # The noise joins the conditioning of every block (as in BigGAN's skip-z),
        # so it can move shapes around at every scale, not only through the first layer.
        film_dim = cfg.cond_dim + cfg.z_dim
        self.blocks = nn.ModuleList([UpBlock(w * 4, w * 4, film_dim),   # 8
                                     UpBlock(w * 4, w * 2, film_dim),   # 16
                                     UpBlock(w * 2, w, film_dim)])      # 32
        self.to_rgb = nn.Conv2d(w, 3, 3, padding=1)

    def condition(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        return self.text(tokens, mask, pooled)

    def forward(self, z: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                pooled: torch.Tensor) -> torch.Tensor:
        return self.synthesize(z, self.condition(tokens, mask, pooled))

    def synthesize(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Noise + conditioning vector -> image (interpolation moves both)."""
        zc = torch.cat([z, c], dim=1)
        h = pixel_norm(self.start(zc).view(z.shape[0], -1, 4, 4))
        h = F.leaky_relu(h, 0.2)
        for block in self.blocks:
            h = block(h, zc)
        return torch.tanh(self.to_rgb(h))


class Discriminator(nn.Module):
    """(image in [-1, 1], prompt) -> a realness-and-match score per image."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        w = cfg.d_width

        def layer(cin: int, cout: int, kernel: int, stride: int) -> list[nn.Module]:
            return [spectral_norm(nn.Conv2d(cin, cout, kernel, stride, padding=1)), nn.LeakyReLU(0.2)]

        # Strided 4x4 convolutions halve the side (DCGAN); a 3x3 after each widens it
        # at the lower resolution, where it is cheap.
        self.features = nn.Sequential(*layer(3, w, 4, 2),                                # 16
                                      *layer(w, w * 2, 3, 1), *layer(w * 2, w * 2, 4, 2),  # 8
                                      *layer(w * 2, w * 4, 3, 1), *layer(w * 4, w * 4, 4, 2),  # 4
                                      *layer(w * 4, w * 8, 3, 1))
        self.text = TextConditioner(cfg.queries, w * 8, wrap=spectral_norm)
        self.score = spectral_norm(nn.Linear(w * 8, 1))
        self.attributes = nn.Linear(w * 8, ATTRIBUTE_DIM) if cfg.attribute_head else None

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor,
                mismatch: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Scores of ``x`` with its own captions and, when ``mismatch`` (a row
        index per image) is given, with the captions it points to; and the
        attribute logits of ``x`` (None without the head). The image features
        are computed once for all three."""
        h = self.features(x).sum(dim=(2, 3))                           # B, 8w
        realness = self.score(h).squeeze(1)
        embedding = self.text(tokens, mask, pooled)
        matched = realness + (embedding * h).sum(1)
        wrong = None if mismatch is None else realness + (embedding[mismatch] * h).sum(1)
        return matched, wrong, None if self.attributes is None else self.attributes(h)
