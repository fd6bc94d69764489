"""The autoregressive prior's per-position pass, compiled with ``torch.compile``.

Why: drawing is 64 passes of one position through 12 blocks, a few hundred
small tensor operations each, and on a CPU most of a pass is the time between
operations, not the arithmetic (model card, "Compiled passes"). Inductor fuses
them into a few C++ loops around the matrix products. For that the pass must
have the same shapes at every position: self-attention reads the whole key
cache with the later positions masked out, the local convolution gathers its
taps through index tables, and each row attends to its own prompt tokens with a
mask (``Block.step`` instead slices to the positions so far, branches on the
grid edge, and shares cross-attention between rows of one prompt). The result
equals ``AutoregressivePrior.hidden_at`` up to float rounding (about 1e-5;
``tests/test_compiled_steps.py``), so a seed can draw a different picture
compiled than eager where a token's choice was that close.

Compiling costs a minute or two of CPU the first time and about 25 s after
(inductor caches it on disk), so only the drawing workers (``drawing_pool``,
started by ``TransformerGenerator.warm_up`` for the app and the benchmark)
compile, each in its own process; a one-off command draws eagerly.
``IMPASTO_COMPILE=0`` turns it off; where compiling fails (no C++ compiler),
drawing stays eager.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from plugins.transformer.prior import CAUSAL_TAPS

log = logging.getLogger(__name__)

_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("IMPASTO_COMPILE", "1") != "0"


def prepare(prior: nn.Module) -> None:
    """Compile ``prior``'s pass (a short check draws with it) and use it from then on
    for this prior; on failure, log why and stay eager. Blocks while it compiles.
    Only on a CPU: that is what it was measured on."""
    if not enabled() or not prior.cfg.causal or _device(prior) != "cpu":
        return
    with _lock:
        if "compiled_steps" in vars(prior):
            return
        try:
            steps = CompiledSteps(prior)
            steps.check()
        except Exception as error:    # noqa: BLE001 - e.g. no C++ compiler: eager works the same
            log.warning("compiling the transformer's drawing failed (%s: %s); drawing eagerly",
                        type(error).__name__, error)
            return
        # Kept on the prior itself: it lives and goes with that module.
        vars(prior)["compiled_steps"] = steps


def steps_for(prior: nn.Module) -> Any:
    """What draws ``prior``'s positions: its compiled passes once ``prepare`` made
    them (while it stays on the CPU), else the prior itself (``new_cache`` and
    ``hidden_at`` either way)."""
    steps = vars(prior).get("compiled_steps")
    return steps if steps is not None and _device(prior) == "cpu" else prior


def _device(prior: nn.Module) -> str:
    return next(prior.parameters()).device.type


class CompiledSteps:
    """``new_cache`` and ``hidden_at`` of an ``AutoregressivePrior``, with the
    blocks' pass compiled for any batch size and prompt length."""

    def __init__(self, prior: nn.Module) -> None:
        self.prior = prior
        cfg = prior.cfg
        positions, side = cfg.positions, cfg.grid // cfg.group
        # Row p: 0 for the positions up to p, -inf after (added to attention scores).
        self.later = torch.full((positions, positions), float("-inf")).triu(1)
        # Row p: the positions of the local convolution's taps, and whether each lies
        # inside the grid (outside, the tap points at position 0 and counts zero).
        self.taps = torch.zeros(positions, len(CAUSAL_TAPS), dtype=torch.long)
        self.inside = torch.zeros(positions, len(CAUSAL_TAPS))
        for p in range(positions):
            row, column = divmod(p, side)
            for j, (dy, dx) in enumerate(CAUSAL_TAPS):
                if 0 <= row + dy and 0 <= column + dx < side:
                    self.taps[p, j], self.inside[p, j] = p + dy * side + dx, 1.0
        with torch.no_grad():      # per block, the kernel's weights at the taps (taps, dim)
            self.tap_weights = [torch.stack([b.local.weight[:, 0, 1 + dy, 1 + dx] for dy, dx in CAUSAL_TAPS])
                                for b in prior.blocks]
        self._pass = torch.compile(self._blocks, dynamic=True)

    def new_cache(self, context: tuple[torch.Tensor, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Per block: every position's keys, values and local inputs, and each row's
        prompt keys and values with an additive mask (-inf on tokens it must not read)."""
        tokens, allowed = context
        b, cfg = tokens.shape[0], self.prior.cfg
        heads, width = cfg.heads, cfg.dim // cfg.heads
        mask = torch.zeros(allowed.shape, dtype=tokens.dtype).masked_fill(~allowed, float("-inf"))
        caches = []
        with torch.no_grad():
            for block in self.prior.blocks:
                keys, values = block.cross_kv(tokens).chunk(2, dim=-1)
                caches.append({
                    "keys": tokens.new_zeros(b, heads, cfg.positions, width),
                    "values": tokens.new_zeros(b, heads, cfg.positions, width),
                    "local": tokens.new_zeros(b, cfg.positions, cfg.dim),
                    "cross_keys": block._split(keys).contiguous(),
                    "cross_values": block._split(values).contiguous(),
                    "cross_mask": mask[:, None, None, :].contiguous(),
                })
        return caches

    def hidden_at(self, groups: torch.Tensor, p: int, caches: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """As ``AutoregressivePrior.hidden_at``."""
        prior = self.prior
        x = prior.start.expand(groups.shape[0], -1, -1) if p == 0 else prior.embed(groups[:, p - 1:p])
        x = x + prior.position[:, p:p + 1]
        return self._pass(x, torch.tensor([p]), self.later[p], self.taps[p], self.inside[p], caches)

    def _blocks(self, x: torch.Tensor, p: torch.Tensor, later: torch.Tensor, taps: torch.Tensor,
                inside: torch.Tensor, caches: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """The blocks at position ``p`` (a one-element tensor, so that one compiled
        graph serves every position) and the final norm."""
        for block, cache, tap_weight in zip(self.prior.blocks, caches, self.tap_weights):
            q, k, v = block.qkv(block.norm1(x)).chunk(3, dim=-1)
            cache["keys"].index_copy_(2, p, block._split(k))
            cache["values"].index_copy_(2, p, block._split(v))
            x = x + block.self_out(block._merge(_attend(block._split(q), cache["keys"], cache["values"], later)))
            q = block._split(block.cross_q(block.norm2(x)))
            x = x + block.cross_out(block._merge(
                _attend(q, cache["cross_keys"], cache["cross_values"], cache["cross_mask"])))
            cache["local"].index_copy_(1, p, x)
            near = cache["local"].index_select(1, taps)                      # (B, taps, dim)
            x = x + (block.local.bias + (near * (tap_weight * inside[:, None])).sum(1))[:, None]
            x = x + block.mlp(block.norm3(x))
        return self.prior.norm(x)

    def check(self) -> None:
        """Draw three positions of a small batch against the eager pass: compiles the
        graph, and refuses it if it does not compute the same (within rounding). The
        batch (3 rows) and prompt (11 tokens) have sizes no other dimension has: the
        compiler would tie dimensions of equal size together and compile again for
        requests where they differ."""
        prior, cfg = self.prior, self.prior.cfg
        tokens = torch.randn(3, 11, cfg.dim, generator=torch.Generator().manual_seed(0))
        allowed = torch.arange(11)[None, :] < torch.tensor([[11], [4], [1]])
        context = (tokens, allowed)
        groups = torch.randint(cfg.codebook_size, (3, cfg.positions, cfg.group ** 2),
                               generator=torch.Generator().manual_seed(1))
        ours, eager = self.new_cache(context), prior.new_cache(context)
        with torch.no_grad():
            for p in range(3):
                mine, theirs = self.hidden_at(groups, p, ours), prior.hidden_at(groups, p, eager)
                if not torch.allclose(mine, theirs, atol=1e-3, rtol=1e-3):
                    raise RuntimeError(f"compiled pass differs from the eager one by "
                                       f"{(mine - theirs).abs().max().item():.2e} at position {p}")


def _attend(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One query per row (B, H, 1, d) over (B, H, K, d) keys and values; ``mask`` is
    added to the scores (-inf: not read)."""
    return F.softmax((q @ keys.transpose(-1, -2)) * q.shape[-1] ** -0.5 + mask, dim=-1) @ values
