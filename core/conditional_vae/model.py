"""A text-conditional VAE, readable in one sitting.

    prompt --MiniLM--> token states --TextConditioner--> c (a few attention-pooled vectors + the pooled one)
    image x --Encoder--> q(z | x [, c])  = N(mu_q, sigma_q)
    c       --Prior----> p(z | c)        = N(mu_p, sigma_p)       (a learned, text-conditional prior)
                         [--Flow or Diffusion--> reshaped to where pictures' latents lie, when fitted]
    (z, c)  --Decoder--> x_hat           (FiLM-conditioned on c at every scale;
                                          with ``decoder_attention``, each position also
                                          reads the prompt's token states)

Training minimises  recon(x, x_hat) + beta * KL(q(z|x) || p(z|c)),  beta annealed
from 0 (see ``plugins.vae.trainer``). Generation samples z from the prior of the
prompt and decodes; reconstruction and variations encode an image with q and
decode with (or near) its mean.

Why these choices: the pooled MiniLM vector barely tells "a red circle on a
blue background" from "a blue circle on a red background" (cosine 0.993), so
the conditioner attends over token states; captions are dropped for a share of
training images (the learned "no caption" vector), so any picture (an upload
without a caption) can be encoded; with ``encoder_condition`` the encoder reads c
too, so the latent carries only what the prompt leaves open; the decoder works
at 32x32 and a sub-pixel convolution produces the 64x64 output, which keeps a
training step affordable on a CPU.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from core.conditional_vae.diffusion import LatentDiffusion
from core.conditional_vae.flow import LatentFlow

TEXT_DIM = 384


@dataclass
class VAEConfig:
    resolution: int = 64        # output side; the model works at resolution / 2 internally
    z_dim: int = 64
    cond_dim: int = 256
    queries: int = 4            # attention-pooled summaries of the prompt's tokens
    width: int = 64             # channels at the internal resolution; doubled below it
    # The encoder also reads c, so the latent need only hold what the prompt does not
    # say (position, size, detail); False for weights trained before this option.
    encoder_condition: bool = False
    # A flow that reshapes the Gaussian prior (core.conditional_vae.flow), fitted after the
    # VAE with the VAE frozen; 0 = the Gaussian prior alone (earlier weights).
    flow_layers: int = 0
    flow_width: int = 192
    # Or a diffusion model over the latents (core.conditional_vae.diffusion), fitted the same
    # way; 0 = none. A VAE has at most one of the two.
    diffusion_width: int = 0
    diffusion_depth: int = 3
    diffusion_steps: int = 25       # DDIM steps per sample
    # Cross-attention from the decoder's feature maps (8, 16 and 32 px) to the prompt's token
    # states, so each object can take the colour its own words give it: one vector c binds
    # two colours to two places badly (measured in assets/vae/MODEL_CARD.md).
    decoder_attention: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VAEConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class TextConditioner(nn.Module):
    """Token states + pooled embedding -> one conditioning vector ``c``."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.key = nn.Linear(TEXT_DIM, 128)
        self.value = nn.Linear(TEXT_DIM, 128)
        self.queries = nn.Parameter(torch.randn(cfg.queries, 128) * 0.1)
        self.mlp = nn.Sequential(nn.Linear(cfg.queries * 128 + TEXT_DIM, cfg.cond_dim), nn.SiLU(),
                                 nn.Linear(cfg.cond_dim, cfg.cond_dim))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        keys, values = self.key(tokens), self.value(tokens)                 # B, T, 128
        scores = torch.einsum("qd,btd->bqt", self.queries, keys) / 128 ** 0.5
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        attended = torch.einsum("bqt,btd->bqd", scores.softmax(-1), values)  # B, Q, 128
        return self.mlp(torch.cat([attended.flatten(1), pooled], dim=1))


class TokenContext(NamedTuple):
    """What the decoder's cross-attention reads: token states (B, T, 384) and a weight
    per token (B, T): 1 for a prompt's tokens, 0 for padding and dropped captions,
    fractions to blend two prompts (interpolation)."""
    states: torch.Tensor
    weights: torch.Tensor

    def rows(self, index: torch.Tensor | slice) -> "TokenContext":
        return TokenContext(self.states[index], self.weights[index])

    def blend(self, t: torch.Tensor) -> "TokenContext":
        """This two-prompt context's rows weighted (1 - t) : t, one row per t."""
        states = torch.cat([self.states[0], self.states[1]])[None].expand(len(t), -1, -1)
        weights = torch.cat([(1 - t) * self.weights[0], t * self.weights[1]], dim=1)
        return TokenContext(states, weights)


def conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class Encoder(nn.Module):
    """64x64 image (and, with ``encoder_condition``, c) -> (mu, logvar) of q(z | x, c)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.width
        self.net = nn.Sequential(
            conv(3, w // 2, 2), nn.SiLU(),            # 32
            conv(w // 2, w), nn.SiLU(),
            conv(w, w * 2, 2), nn.SiLU(),             # 16
            conv(w * 2, w * 2, 2), nn.SiLU(),         # 8
            conv(w * 2, w * 2, 2), nn.SiLU(),         # 4
        )
        side = cfg.resolution // 16
        self.reads_condition = cfg.encoder_condition
        features = w * 2 * side * side + (cfg.cond_dim if cfg.encoder_condition else 0)
        # Flatten (a no-op here) keeps the parameter names of earlier weights.
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(features, 512), nn.SiLU(),
                                  nn.Linear(512, 2 * cfg.z_dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x * 2 - 1).flatten(1)
        if self.reads_condition:
            h = torch.cat([h, c], dim=1)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 6)


class Prior(nn.Module):
    """c -> (mu, logvar) of p(z | c)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cfg.cond_dim, 256), nn.SiLU(), nn.Linear(256, 2 * cfg.z_dim))

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(c).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 6)


class FiLMBlock(nn.Module):
    """conv -> scale/shift from c -> SiLU, with a residual path when shapes allow."""

    def __init__(self, cin: int, cout: int, cond_dim: int) -> None:
        super().__init__()
        self.conv = conv(cin, cout)
        self.film = nn.Linear(cond_dim, 2 * cout)
        self.skip = cin == cout

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(c)[:, :, None, None].chunk(2, dim=1)
        out = F.silu(self.conv(h) * (1 + scale) + shift)
        return h + out if self.skip else out


def _icnr(layer: nn.Conv2d, scale: int) -> None:
    """Start a sub-pixel convolution as nearest-neighbour upsampling (the same
    kernel for each of the scale**2 sub-pixels), which avoids checkerboard
    artefacts early in training (Aitken et al. 2017)."""
    out_channels = layer.out_channels // scale ** 2
    kernel = torch.empty(out_channels, layer.in_channels, *layer.kernel_size)
    nn.init.kaiming_normal_(kernel)
    with torch.no_grad():
        layer.weight.copy_(kernel.repeat_interleave(scale ** 2, dim=0))
        layer.bias.copy_(layer.bias.view(out_channels, scale ** 2).mean(1).repeat_interleave(scale ** 2))


class CrossAttention(nn.Module):
    """Each position of a feature map attends over the prompt's tokens, residually;
    zero-initialised, so it starts as the decoder without it and can be added to
    trained weights. A row without tokens (a dropped caption) reads a learned
    "nothing" slot instead. Rows with tokens cannot: offered to them, the slot was
    where every position looked (99 % of the attention after 2,000 steps), and the
    tokens went unread."""

    def __init__(self, channels: int, dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, channels)
        self.query = nn.Conv2d(channels, dim, 1)
        self.text_norm = nn.LayerNorm(TEXT_DIM)
        # Keys and values each see a token and its two neighbours, so "square" in "a white
        # square" carries "white": a position drawing a square can find its colour in one look.
        self.key, self.value = (nn.Conv1d(TEXT_DIM, dim, 3, padding=1) for _ in range(2))
        self.nothing = nn.Parameter(torch.zeros(2, dim))          # its key and value
        self.out = nn.Conv2d(dim, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: torch.Tensor, context: TokenContext) -> torch.Tensor:
        b, _, height, width = h.shape
        states, weights = context
        # Padding (and a blend's unweighted prompt) reads as zeros to its neighbours.
        states = (self.text_norm(states) * (weights > 0)[..., None]).transpose(1, 2)
        keys = torch.cat([self.nothing[0].expand(b, 1, -1), self.key(states).transpose(1, 2)], dim=1)
        values = torch.cat([self.nothing[1].expand(b, 1, -1), self.value(states).transpose(1, 2)], dim=1)
        tokenless = (weights.sum(1, keepdim=True) == 0).to(weights.dtype)
        weights = torch.cat([tokenless, weights], dim=1)
        # Softmax over tokens weighted w: exp(score) * w = exp(score + log w).
        bias = torch.where(weights > 0, weights.clamp_min(1e-12).log(), float("-inf"))
        split = lambda t: t.unflatten(-1, (self.heads, -1)).transpose(1, 2)   # noqa: E731
        query = self.query(self.norm(h)).flatten(2).transpose(1, 2)           # B, HW, dim
        read = F.scaled_dot_product_attention(split(query), split(keys), split(values),
                                              attn_mask=bias[:, None, None, :])
        read = read.transpose(1, 2).flatten(2).transpose(1, 2).view(b, -1, height, width)
        return h + self.out(read)


def no_context(like: torch.Tensor) -> TokenContext:
    """No tokens to read (only the "nothing" slot): as a dropped caption."""
    return TokenContext(like.new_zeros(like.shape[0], 1, TEXT_DIM), like.new_zeros(like.shape[0], 1))


class Decoder(nn.Module):
    """(z, c[, token context]) -> 64x64 image in [0, 1]: 4 -> 8 -> 16 -> 32, then a
    sub-pixel 2x."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.width
        self.side = cfg.resolution // 16
        self.start = nn.Linear(cfg.z_dim + cfg.cond_dim, w * 2 * self.side * self.side)
        self.blocks = nn.ModuleList([
            FiLMBlock(w * 2, w * 2, cfg.cond_dim),    # 4
            FiLMBlock(w * 2, w * 2, cfg.cond_dim),    # 8
            FiLMBlock(w * 2, w, cfg.cond_dim),        # 16
            FiLMBlock(w, w, cfg.cond_dim),            # 16
            FiLMBlock(w, w, cfg.cond_dim),            # 32
            FiLMBlock(w, w, cfg.cond_dim),            # 32
        ])
        self.upsample_after = {0, 1, 3}               # block indices followed by a 2x upsample
        # Cross-attention after the last block at 8, 16 and 32 px (keyed by block index).
        self.attention = nn.ModuleDict({str(i): CrossAttention(self.blocks[i].conv.out_channels)
                                        for i in (1, 3, 5)}) if cfg.decoder_attention else None
        self.to_rgb = nn.Sequential(conv(w, 12), nn.PixelShuffle(2))    # 32 -> 64, 3 channels
        _icnr(self.to_rgb[0], 2)

    def forward(self, z: torch.Tensor, c: torch.Tensor, context: TokenContext | None = None) -> torch.Tensor:
        h = self.start(torch.cat([z, c], dim=1)).view(z.shape[0], -1, self.side, self.side)
        for i, block in enumerate(self.blocks):
            h = block(h, c)
            if self.attention is not None and str(i) in self.attention:
                h = self.attention[str(i)](h, context if context is not None else no_context(h))
            if i in self.upsample_after:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return torch.sigmoid(self.to_rgb(h))


class ConditionalVAE(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.text = TextConditioner(cfg)
        self.encoder = Encoder(cfg)
        self.prior = Prior(cfg)
        self.decoder = Decoder(cfg)
        # Captions are dropped for a share of training images so that a picture can
        # be encoded and decoded without any caption (uploads, variations).
        self.null_condition = nn.Parameter(torch.zeros(1, cfg.cond_dim))
        self.flow = LatentFlow(cfg.z_dim, cfg.cond_dim, cfg.flow_layers, cfg.flow_width) \
            if cfg.flow_layers else None
        self.diffusion = LatentDiffusion(cfg.z_dim, cfg.cond_dim, cfg.diffusion_width, cfg.diffusion_depth) \
            if cfg.diffusion_width else None

    def condition(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor,
                  drop: torch.Tensor | None = None) -> torch.Tensor:
        """The conditioning vector; rows where ``drop`` is True (or prompts that are
        empty) get the learned "no caption" vector instead."""
        c = self.text(tokens, mask, pooled)
        if drop is not None:
            c = torch.where(drop[:, None], self.null_condition.expand_as(c), c)
        return c

    def unconditioned(self, batch: int) -> torch.Tensor:
        return self.null_condition.expand(batch, -1)

    def context(self, tokens: torch.Tensor, mask: torch.Tensor,
                drop: torch.Tensor | None = None) -> TokenContext | None:
        """The token states the decoder's cross-attention reads (None without it);
        rows where ``drop`` is True read none, as their c is the "no caption" one."""
        if self.decoder.attention is None:
            return None
        keep = mask if drop is None else mask & ~drop[:, None]
        return TokenContext(tokens, keep.to(tokens.dtype))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                pooled: torch.Tensor, drop: torch.Tensor | None = None,
                from_prior: bool = False, encoder_input: torch.Tensor | None = None,
                fit_prior: bool = False, posterior: tuple | None = None,
                prior_dropout: float = 0.1) -> dict[str, Any]:
        """Everything a training step needs, in one call (so DDP sees one forward).
        ``from_prior`` also decodes a sample of p(z | c) (``x_prior``), as generation does;
        ``encoder_input`` is what the encoder sees instead of ``x`` (the target stays ``x``);
        ``fit_prior`` returns only the loss of the learned prior (the flow's negative
        log-likelihood of a posterior sample, or the diffusion model's denoising
        error, ``prior_dropout`` of rows fitted without the prompt) as
        ``prior_loss``, everything else held fixed, and the frozen statistics it came
        from (``posterior``): passed back in, they spare the next update of the same
        batch the encoder."""
        seen = x if encoder_input is None else encoder_input
        if fit_prior:
            return self._prior_loss(seen, tokens, mask, pooled, drop, posterior, prior_dropout)
        c = self.condition(tokens, mask, pooled, drop)
        context = self.context(tokens, mask, drop)
        mu_q, logvar_q = self.encoder(seen, c)
        mu_p, logvar_p = self.prior(c)
        z = mu_q + torch.randn_like(mu_q) * (0.5 * logvar_q).exp()
        x_hat = self.decoder(z, c, context)
        kl = 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1)
        out = {"x_hat": x_hat, "kl": kl.sum(1), "mu": mu_q, "c": c}
        if from_prior:
            out["x_prior"] = self.decoder(mu_p + torch.randn_like(mu_p) * (0.5 * logvar_p).exp(), c, context)
        return out

    def _prior_loss(self, seen: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                    pooled: torch.Tensor, drop: torch.Tensor | None,
                    posterior: tuple | None, prior_dropout: float) -> dict[str, Any]:
        if posterior is None:
            with torch.no_grad():
                posterior = self.posterior(seen, self.condition(tokens, mask, pooled, drop))
        c, mu_q, logvar_q, mu_p, logvar_p = posterior
        if self.diffusion is not None:
            loss = self.diffusion.loss(self.whitened_sample(posterior), c, prior_dropout)
        else:
            z = mu_q + torch.randn_like(mu_q) * (0.5 * logvar_q).exp()
            loss = -self.flow.log_prob(z, c, mu_p, logvar_p)
        return {"prior_loss": loss, "posterior": posterior}

    def posterior(self, seen: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(c, mu_q, logvar_q, mu_p, logvar_p)``: the posterior of the pictures ``seen``
        and the Gaussian prior, both under the conditions ``c``."""
        return (c, *self.encoder(seen, c), *self.prior(c))

    @staticmethod
    def whitened_sample(posterior: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """A sample of ``posterior`` in the Gaussian prior's whitened coordinates,
        ``u = (z - mu_p) / sigma_p``: the space the diffusion prior and the GAN model."""
        _, mu_q, logvar_q, mu_p, logvar_p = posterior
        z = mu_q + torch.randn_like(mu_q) * (0.5 * logvar_q).exp()
        return (z - mu_p) * (-0.5 * logvar_p).exp()

    def from_whitened(self, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The latent ``z = mu_p(c) + u sigma_p(c)`` for whitened coordinates ``u``."""
        mu_p, logvar_p = self.prior(c)
        return mu_p + u * (0.5 * logvar_p).exp()

    def latent(self, c: torch.Tensor, noise: torch.Tensor, guidance: float = 1.0) -> torch.Tensor:
        """The prior's latent for standard-normal ``noise`` (through the flow or the
        diffusion model when there is one; ``guidance`` applies to the latter)."""
        if self.flow is not None:
            return self.flow.sample(noise, c, *self.prior(c))
        if self.diffusion is not None:        # it works in the Gaussian's whitened coordinates
            noise = self.diffusion.sample(noise, c, self.cfg.diffusion_steps, guidance)
        return self.from_whitened(noise, c)

    @torch.no_grad()
    def generate(self, c: torch.Tensor, generator: torch.Generator | None = None,
                 temperature: float = 1.0, guidance: float = 1.0,
                 context: TokenContext | None = None) -> torch.Tensor:
        noise = torch.randn((c.shape[0], self.cfg.z_dim), generator=generator, device="cpu")
        return self.decoder(self.latent(c, temperature * noise.to(c.device), guidance), c, context)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, c: torch.Tensor, spread: float = 0.0,
                    generator: torch.Generator | None = None,
                    context: TokenContext | None = None) -> torch.Tensor:
        """Decode the posterior mean of ``x`` (``spread`` > 0: a variation drawn that
        many posterior standard deviations around it)."""
        mu_q, logvar_q = self.encoder(x, c)
        z = mu_q
        if spread > 0:
            noise = torch.randn(mu_q.shape, generator=generator, device="cpu").to(mu_q.device)
            z = mu_q + spread * noise * (0.5 * logvar_q).exp().clamp(min=0.05)
        return self.decoder(z, c, context)
