"""The token transformers that draw a tokenizer grid from a prompt: the masked
one (MaskGIT, Chang et al. 2022) and, built on it, the autoregressive one that
ships (``AutoregressivePrior``, ``causal=1``).

It sees a grid of codes where some are [MASK] and predicts every code at once;
self-attention runs over the grid (bidirectional), cross-attention reads the
MiniLM token states of the prompt. A learned "no caption" token is always in
the context, and is all a caption-dropped row sees: that is the unconditional
model classifier-free guidance needs.

Why 2x2 groups: one CPU thread is the budget. Each transformer position holds a
2x2 group of tokens (its input is the sum of the four tokens' embeddings, each
with its place in the group; its output is four sets of logits), so 256 tokens
are a sequence of 64 and a step costs about a quarter as much. Masking stays
per token, so decoding works exactly as in MaskGIT; the autoregressive prior
draws the four tokens of a group in turn.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

TEXT_DIM = 384     # MiniLM token states


@dataclass
class PriorConfig:
    grid: int = 16               # tokens per side
    codebook_size: int = 512
    group: int = 2               # tokens per side of one transformer position
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    local: int = 0               # 1: a depthwise 3x3 convolution over the position grid in each block
    code_dim: int = 0            # > 0: inputs also see the tokenizer's code vectors (of this size)
    causal: int = 0              # 1: autoregressive (AutoregressivePrior), not masked

    @property
    def tokens(self) -> int:
        return self.grid * self.grid

    @property
    def positions(self) -> int:
        return (self.grid // self.group) ** 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PriorConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in values.items() if k in known})


def mask_tokens(codes: torch.Tensor, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MaskGIT training corruption: each row masks a share cos(pi/2 * u),
    u ~ U(0, 1), of its tokens (at least one). Returns (input, is_masked)."""
    b, n = codes.shape
    share = torch.cos(math.pi / 2 * torch.rand(b, device=codes.device))
    count = (share * n).ceil().clamp(min=1)
    rank = torch.rand(b, n, device=codes.device).argsort(1).argsort(1)
    is_masked = rank < count[:, None]
    return codes.masked_fill(is_masked, vocab), is_masked


# The causal local convolution's taps as (row, column) offsets: the row above, the left
# neighbour and the position itself (raster order). ``Block.forward`` masks the 3x3 kernel
# to them, ``Block.step`` adds them up one position at a time.
CAUSAL_TAPS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0))


def causal_kernel_mask() -> torch.Tensor:
    """The 3x3 mask that keeps only ``CAUSAL_TAPS`` of a convolution kernel."""
    mask = torch.zeros(3, 3)
    for dy, dx in CAUSAL_TAPS:
        mask[1 + dy, 1 + dx] = 1.0
    return mask


def one_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention of one query per row (B, H, 1, d) over (B, H, K, d) keys and values,
    written out: on a CPU, ``scaled_dot_product_attention`` spends two to three times
    as long on shapes this small (the sampler makes hundreds of such calls per image)."""
    return ((q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5).softmax(-1) @ v


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, local: bool = False,
                 causal: bool = False) -> None:
        super().__init__()
        self.heads, self.causal = heads, causal
        # Neighbouring positions are neighbouring pixels: a depthwise convolution
        # gives the model that for free instead of learning it through attention.
        self.local = nn.Conv2d(dim, dim, 3, padding=1, groups=dim) if local else None
        if local and causal:
            self.register_buffer("local_mask", causal_kernel_mask(), persistent=False)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.self_out = nn.Linear(dim, dim)
        self.cross_q = nn.Linear(dim, dim)
        self.cross_kv = nn.Linear(dim, 2 * dim)
        self.cross_out = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def start_as_identity(self) -> None:
        """Zero every residual branch's output, so the block passes its input on
        unchanged until training moves it (a block added to a trained prior)."""
        outputs = [self.self_out, self.cross_out, self.mlp[-1]] + ([self.local] if self.local else [])
        with torch.no_grad():
            for layer in outputs:
                layer.weight.zero_()
                layer.bias.zero_()

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        x = x + self.self_out(self._merge(F.scaled_dot_product_attention(
            self._split(q), self._split(k), self._split(v), is_causal=self.causal)))
        k, v = self.cross_kv(context).chunk(2, dim=-1)
        attend = context_mask[:, None, None, :]          # (B, 1, 1, T): True where allowed
        x = x + self.cross_out(self._merge(F.scaled_dot_product_attention(
            self._split(self.cross_q(self.norm2(x))), self._split(k), self._split(v), attn_mask=attend)))
        if self.local is not None:
            b, n, d = x.shape
            side = int(n ** 0.5)
            weight = self.local.weight * self.local_mask if self.causal else self.local.weight
            grid = x.transpose(1, 2).reshape(b, d, side, side)
            x = x + F.conv2d(grid, weight, self.local.bias, padding=1, groups=d).flatten(2).transpose(1, 2)
        return x + self.mlp(self.norm3(x))

    def step(self, x: torch.Tensor, p: int, cache: dict[str, Any]) -> torch.Tensor:
        """A causal block at one position: ``x`` (B, 1, dim) is position ``p``'s input;
        ``cache`` (see ``AutoregressivePrior.new_cache``) holds what the earlier positions
        left: self-attention keys and values, and the local convolution's inputs; and the
        prompt's cross-attention keys and values per group of rows that share them. The
        same numbers as ``forward`` over the whole grid, for one position's work."""
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        cache["keys"][:, :, p], cache["values"][:, :, p] = self._split(k)[:, :, 0], self._split(v)[:, :, 0]
        x = x + self.self_out(self._merge(one_query_attention(
            self._split(q), cache["keys"][:, :, :p + 1], cache["values"][:, :, :p + 1])))
        x = x + self.cross_out(self._shared_cross_attention(self.cross_q(self.norm2(x)), cache["cross"]))
        if self.local is not None:
            cache["local"][:, p] = x[:, 0]
            side = int(cache["local"].shape[1] ** 0.5)
            row, column = divmod(p, side)
            out = self.local.bias.expand(x.shape[0], -1)
            for dy, dx in CAUSAL_TAPS:
                if 0 <= row + dy and 0 <= column + dx < side:
                    out = out + self.local.weight[:, 0, 1 + dy, 1 + dx] * cache["local"][:, p + dy * side + dx]
            x = x + out[:, None]
        return x + self.mlp(self.norm3(x))

    def _shared_cross_attention(self, q: torch.Tensor, groups: list[tuple[Any, torch.Tensor, torch.Tensor]]
                                ) -> torch.Tensor:
        """Cross-attention of one query per row (B, 1, dim) where rows come in groups that
        read the same prompt tokens (``shared_contexts``): one product per group and head
        instead of one per row and head, which on a CPU costs several times the work."""
        b, _, dim = q.shape
        q = q.view(b, self.heads, dim // self.heads).transpose(0, 1)       # (H, B, d)
        out = torch.empty_like(q)
        for rows, keys, values in groups:      # keys (H, d, T) and values (H, T, d) of the group's tokens
            out[:, rows] = ((q[:, rows] @ keys) * q.shape[-1] ** -0.5).softmax(-1) @ values
        return out.transpose(0, 1).reshape(b, 1, dim)


def shared_contexts(context: torch.Tensor, allowed: torch.Tensor) -> list[tuple[Any, torch.Tensor]]:
    """The rows of a batch that attend to the same tokens, as (rows, tokens (T, dim)) with
    only the allowed tokens: a sampler's candidates for one prompt share them, and every
    caption-less row reads the no-caption token alone. ``rows`` is a slice where the rows
    are consecutive. Rows are grouped only when their tokens are equal bit for bit."""
    seen = (context * allowed[..., None]).flatten(1)
    _, inverse = torch.unique(torch.cat([seen, allowed.to(seen.dtype)], 1), dim=0, return_inverse=True)
    groups = []
    for group in range(int(inverse.max()) + 1):
        index = (inverse == group).nonzero()[:, 0]
        first, last = int(index[0]), int(index[-1])
        rows = slice(first, last + 1) if last - first + 1 == len(index) else index
        groups.append((rows, context[first][allowed[first]]))
    return groups


class MaskedPrior(nn.Module):
    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        slots = cfg.group * cfg.group
        # One table for all places in a group: code c at place j is row j * (vocab + 1) + c.
        self.token_embedding = nn.Embedding(slots * (cfg.codebook_size + 1), cfg.dim)
        self.position = nn.Parameter(torch.randn(1, cfg.positions, cfg.dim) * 0.02)
        self.text_proj = nn.Sequential(nn.LayerNorm(TEXT_DIM), nn.Linear(TEXT_DIM, cfg.dim))
        self.no_caption = nn.Parameter(torch.randn(1, 1, cfg.dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio, bool(cfg.local), bool(cfg.causal))
                                    for _ in range(cfg.depth))
        if cfg.code_dim:
            # The tokenizer's code vectors (a copy, saved with the prior): codes that
            # paint alike start alike, so the model need not learn each one apart.
            self.register_buffer("code_vectors", torch.zeros(cfg.codebook_size + 1, cfg.code_dim))
            self.code_proj = nn.Linear(slots * cfg.code_dim, cfg.dim)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, slots * cfg.codebook_size)
        self.register_buffer("slot_offset", torch.arange(slots) * (cfg.codebook_size + 1), persistent=False)

    def spread_blocks(self, state: dict[str, torch.Tensor], old_depth: int) -> None:
        """Start from a shallower trained prior whose weights ``state`` holds: its block i
        becomes block i * depth // old_depth, and the blocks between them start as identity,
        so the deeper prior begins drawing exactly what the shallower one drew."""
        if not 1 <= old_depth <= self.cfg.depth:
            raise ValueError(f"a prior of depth {self.cfg.depth} cannot take {old_depth} blocks")
        places = {i * self.cfg.depth // old_depth: i for i in range(old_depth)}
        for index, block in enumerate(self.blocks):
            if index not in places:
                block.start_as_identity()
                continue
            prefix = f"blocks.{places[index]}."
            block.load_state_dict({k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)})

    def set_code_vectors(self, embedding: torch.Tensor) -> None:
        """Copy the tokenizer's (codebook_size, code_dim) code vectors in."""
        with torch.no_grad():
            self.code_vectors[:-1].copy_(embedding)
            self.code_vectors[-1].zero_()

    def to_groups(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, grid*grid) raster codes -> (B, positions, group*group)."""
        g, s = self.cfg.group, self.cfg.grid // self.cfg.group
        b = codes.shape[0]
        return codes.view(b, s, g, s, g).permute(0, 1, 3, 2, 4).reshape(b, s * s, g * g)

    def from_groups(self, values: torch.Tensor) -> torch.Tensor:
        """(B, positions, group*group, ...) -> (B, grid*grid, ...) in raster order."""
        g, s = self.cfg.group, self.cfg.grid // self.cfg.group
        b, rest = values.shape[0], values.shape[3:]
        out = values.view(b, s, s, g, g, *rest).permute(0, 1, 3, 2, 4, *range(5, 5 + len(rest)))
        return out.reshape(b, s * g * s * g, *rest)

    def context(self, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                drop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention keys: the no-caption token, then the prompt's tokens
        (hidden from rows whose caption is dropped)."""
        b = text_tokens.shape[0]
        context = torch.cat([self.no_caption.expand(b, -1, -1), self.text_proj(text_tokens)], 1)
        keep = text_mask.bool() & ~drop.bool()[:, None]
        return context, torch.cat([torch.ones(b, 1, dtype=torch.bool, device=keep.device), keep], 1)

    def embed(self, groups: torch.Tensor) -> torch.Tensor:
        """(B, P, group*group) codes -> (B, P, dim): one vector per position."""
        x = self.token_embedding(groups + self.slot_offset).sum(2)
        if self.cfg.code_dim:       # [MASK] is the all-zero row
            x = x + self.code_proj(self.code_vectors[groups].flatten(2))
        return x

    def trunk(self, x: torch.Tensor, context: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Position embeddings in, the normalised last hidden states out."""
        x = x + self.position
        for block in self.blocks:
            x = block(x, *context)
        return self.norm(x)

    def forward(self, codes: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                drop: torch.Tensor) -> torch.Tensor:
        """(B, grid*grid) codes with [MASK] = codebook_size -> (B, grid*grid, codebook_size) logits."""
        hidden = self.trunk(self.embed(self.to_groups(codes)), self.context(text_tokens, text_mask, drop))
        return self.token_logits(hidden)

    def token_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, P, dim) hidden states -> (B, grid*grid, codebook_size) logits, each
        position's four tokens apart."""
        logits = self.head(hidden).view(hidden.shape[0], self.cfg.positions,
                                        self.cfg.group ** 2, self.cfg.codebook_size)
        return self.from_groups(logits)


class AutoregressivePrior(MaskedPrior):
    """The same transformer drawing a grid in raster order (DALL-E), one 2x2
    group per step and the group's four tokens in turn.

    Why: MaskGIT samples the tokens it unmasks together independently of each
    other, so neighbouring edge tokens disagree and outlines come out lumpy
    (model card). Here every token is drawn knowing every token before it.
    Position p's input is group p - 1 (a learned start vector at p = 0), the
    self-attention and the local convolution see only earlier positions, and
    a token's logits read the hidden state of its position plus the tokens
    already drawn in its group (``slot_embedding``, a small residual MLP). Both
    start at zero, so a masked prior's weights load as a working start.
    """

    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__(cfg)
        slots = cfg.group * cfg.group
        self.start = nn.Parameter(torch.randn(1, 1, cfg.dim) * 0.02)
        self.slot_embedding = nn.Embedding(slots * (cfg.codebook_size + 1), cfg.dim)
        nn.init.zeros_(self.slot_embedding.weight)
        self.slot_mlp = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Linear(cfg.dim, 2 * cfg.dim), nn.GELU(),
                                      nn.Linear(2 * cfg.dim, cfg.dim))
        nn.init.zeros_(self.slot_mlp[-1].weight)
        nn.init.zeros_(self.slot_mlp[-1].bias)

    def shifted(self, groups: torch.Tensor) -> torch.Tensor:
        """Inputs for predicting ``groups``: the start vector, then each group's predecessor."""
        x = self.embed(groups[:, :-1])
        return torch.cat([self.start.expand(x.shape[0], -1, -1), x], 1)

    def slot_logits(self, hidden: torch.Tensor, groups: torch.Tensor, slot: int | None = None,
                    codes: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of each group's tokens given the hidden states (B, P, dim) and the
        group's earlier tokens in ``groups`` (B, P, group*group; later ones unread).
        ``slot``: only that place's logits, (B, P, codebook_size), or (B, P, len(codes))
        for just the ``codes`` given (the sampler skips codes it never draws)."""
        cfg = self.cfg
        slots = cfg.group * cfg.group
        drawn = self.slot_embedding(groups + self.slot_offset)
        z = hidden[:, :, None] + drawn.cumsum(2) - drawn          # tokens before each place
        weight = self.head.weight.view(slots, cfg.codebook_size, cfg.dim)
        bias = self.head.bias.view(slots, cfg.codebook_size)
        if slot is not None:
            z = z[:, :, slot]
            if codes is None:
                return (z + self.slot_mlp(z)) @ weight[slot].T + bias[slot]
            return (z + self.slot_mlp(z)) @ weight[slot, codes].T + bias[slot, codes]
        z = z + self.slot_mlp(z)
        return torch.einsum("bpsd,svd->bpsv", z, weight) + bias

    def new_cache(self, context: tuple[torch.Tensor, torch.Tensor]) -> list[dict[str, Any]]:
        """Per block, room for every position's keys, values and local-convolution inputs,
        and the cross-attention keys and values of each group of rows that read the same
        prompt tokens (``shared_contexts``), computed once here."""
        b, cfg = context[0].shape[0], self.cfg
        shared = shared_contexts(*context)
        caches = []
        for block in self.blocks:
            per_head = (b, cfg.heads, cfg.positions, cfg.dim // cfg.heads)    # as ``Block._split`` lays them
            cross = []
            for rows, tokens in shared:
                keys, values = block.cross_kv(tokens).view(len(tokens), 2, cfg.heads, -1).unbind(1)
                cross.append((rows, keys.permute(1, 2, 0).contiguous(), values.transpose(0, 1).contiguous()))
            caches.append({"keys": context[0].new_zeros(per_head), "values": context[0].new_zeros(per_head),
                           "local": context[0].new_zeros(b, cfg.positions, cfg.dim), "cross": cross})
        return caches

    def hidden_at(self, groups: torch.Tensor, p: int, caches: list[dict[str, Any]]) -> torch.Tensor:
        """The normalised last hidden state (B, 1, dim) of position ``p``, whose input is
        group ``p - 1`` of ``groups`` (the start vector at 0); positions before ``p`` must
        have been through ``caches`` in order. What ``trunk(shifted(groups))[:, p]`` gives."""
        x = self.start.expand(groups.shape[0], -1, -1) if p == 0 else self.embed(groups[:, p - 1:p])
        x = x + self.position[:, p:p + 1]
        for block, cache in zip(self.blocks, caches):
            x = block.step(x, p, cache)
        return self.norm(x)

    def forward(self, codes: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                drop: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: (B, grid*grid) codes -> (B, grid*grid, codebook_size) logits
        of each token given the ones before it."""
        groups = self.to_groups(codes)
        hidden = self.trunk(self.shifted(groups), self.context(text_tokens, text_mask, drop))
        return self.from_groups(self.slot_logits(hidden, groups))


def build_prior(cfg: PriorConfig) -> MaskedPrior:
    return AutoregressivePrior(cfg) if cfg.causal else MaskedPrior(cfg)
