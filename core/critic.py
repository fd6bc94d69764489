"""A learned judge of how well a picture matches a prompt, for re-ranking.

DALL-E (Ramesh et al. 2021) drew many candidates per prompt and kept the ones
CLIP scored best. Impasto's built-in generators do the same with this critic
when asked for more than one candidate per image (their ``candidates``
parameter): the generator draws, the critic only chooses among its drawings.

Why a cross-encoder and not CLIP's two towers: a dot product of one image
vector and one text vector is known to be blind to word order ("a red circle
left of a blue square" against the same objects swapped). Here the prompt's
MiniLM token states attend to the picture's 8x8 grid of features, so the score
can read which words go with which place. Trained on the procedural corpus with
counterfactual pairs (``core.critic_training``); reads pixels and the prompt's
encoding, nothing else. Weights: ``assets/critic/`` (or ``$IMPASTO_CRITIC_WEIGHTS``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

TEXT_DIM = 384          # MiniLM token states
NAME = "critic"


@dataclass
class CriticConfig:
    resolution: int = 64
    width: int = 32          # channels of the first convolution; doubled at each of 3 halvings
    dim: int = 128
    depth: int = 2
    heads: int = 4
    coordinates: int = 0     # 1: each grid cell's row and column as fixed sines and cosines, added to its features

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CriticConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in values.items() if k in known})


def grid_coordinates(side: int, dim: int) -> torch.Tensor:
    """(1, side * side, dim): for each cell of a side x side grid in raster order, sines
    and cosines of its row (first half) and column (second half) at dim / 4 frequencies."""
    import math

    frequencies = torch.exp(torch.linspace(0.0, math.log(side), dim // 4))
    angles = (torch.arange(side).float() / side * math.pi)[:, None] * frequencies
    one_axis = torch.cat([angles.sin(), angles.cos()], 1)                  # (side, dim / 2)
    rows = one_axis[:, None, :].expand(side, side, -1)
    columns = one_axis[None, :, :].expand(side, side, -1)
    return torch.cat([rows, columns], 2).reshape(1, side * side, -1)


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    kernel = 4 if stride == 2 else 3
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, 1), nn.GroupNorm(8, cout), nn.GELU())


class Critic(nn.Module):
    def __init__(self, cfg: CriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        # 64 -> 32 -> 16 -> 8: one feature per 8x8 pixels; a shape (14-24 px) spans 2-3 of them.
        self.image = nn.Sequential(_conv(3, w, 1), _conv(w, 2 * w, 2), _conv(2 * w, 4 * w, 2),
                                   _conv(4 * w, 4 * w, 1), _conv(4 * w, 4 * w, 2),
                                   nn.Conv2d(4 * w, cfg.dim, 1))
        side = cfg.resolution // 8
        self.image_position = nn.Parameter(torch.randn(1, side * side, cfg.dim) * 0.02)
        # Why fixed coordinates: the learned positions stayed at 4 % of the features' size,
        # and the critic could not tell "left of" from "right of" (model card).
        self.register_buffer("coordinates", grid_coordinates(side, cfg.dim) if cfg.coordinates
                             else torch.zeros(1, side * side, cfg.dim), persistent=False)
        self.text = nn.Sequential(nn.LayerNorm(TEXT_DIM), nn.Linear(TEXT_DIM, cfg.dim))
        self.summary = nn.Parameter(torch.randn(1, 1, cfg.dim) * 0.02)   # the token the score is read from
        layer = nn.TransformerDecoderLayer(cfg.dim, cfg.heads, 4 * cfg.dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, cfg.depth, norm=nn.LayerNorm(cfg.dim))
        self.out = nn.Linear(cfg.dim, 1)

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, R, R) pixels in [0, 1] -> (B, (R/8)^2, dim) features."""
        features = self.image(x * 2 - 1).flatten(2).transpose(1, 2)
        return features + self.image_position + self.coordinates

    def encode_texts(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MiniLM token states (B, T, 384) and mask -> the sequence the layers read and its padding."""
        b = tokens.shape[0]
        sequence = torch.cat([self.summary.expand(b, -1, -1), self.text(tokens)], 1)
        padding = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=mask.device), ~mask.bool()], 1)
        return sequence, padding

    def score(self, images: torch.Tensor, texts: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Row-aligned pairs: image features (B, N, dim) with encoded texts (B, ...) -> (B,) logits."""
        sequence, padding = texts
        hidden = self.layers(sequence, images, tgt_key_padding_mask=padding)
        return self.out(hidden[:, 0])[:, 0]

    def forward(self, pixels: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                pictures: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Scores of the pairs (picture ``pictures[k]``, caption ``captions[k]``): each
        picture and caption is encoded once, however many pairs it is in."""
        features = self.encode_images(pixels)
        sequence, padding = self.encode_texts(text_tokens, text_mask)
        return self.score(features[pictures], (sequence[captions], padding[captions]))


def load_critic(folder: str | Path) -> Critic:
    from core.checkpoint import read_checkpoint

    checkpoint = read_checkpoint(folder, backend=NAME)
    return critic_from(checkpoint.model_config["critic"], checkpoint.state_dicts["critic"])


def critic_from(config: dict[str, Any], state: dict[str, torch.Tensor]) -> Critic:
    """A critic (or a tuned copy, such as the Transformer's judge) from its config entry
    and saved weights, float32, in eval mode."""
    critic = Critic(CriticConfig.from_dict(config))
    critic.load_state_dict({k: v.float() for k, v in state.items()})
    return critic.eval()


def shared_critic() -> Critic:
    """The shipped critic, loaded once through the model cache (UnavailableError if absent)."""
    from core.checkpoint import weights_dir
    from core.models import cache

    folder = weights_dir(NAME)
    return cache.get(f"{NAME}:{folder.resolve()}", lambda: load_critic(folder))


@torch.no_grad()
def match_scores(critic: Critic, images: Sequence[Any], prompt: str) -> torch.Tensor:
    """How well each PIL image matches ``prompt`` (logits; higher is better)."""
    from core.corpus.dataset import image_to_tensor
    from core.text_encoder import encode

    size = critic.cfg.resolution
    device = next(critic.parameters()).device
    pixels = torch.stack([image_to_tensor(im.convert("RGB").resize((size, size)) if im.width != size
                                          else im) for im in images]).to(device)
    encoded = encode([prompt]).to(device)
    every = torch.arange(len(images), device=device)
    return critic(pixels, encoded.tokens, encoded.mask, every, torch.zeros_like(every)).float().cpu()

