"""Training the critic (``core.critic``) through the one training loop:
``python -m core train --backend critic --data procedural:all --steps N --out DIR``.

Each corpus picture comes with a *counterfactual*: its claim with one stated
fact changed (``core.corpus.counterfactual``: another colour, kind, count or
relation, colours swapped; here also the second of two objects left out, and
the relation swapped for half of the relation claims), rendered as a picture of
its own and captioned. For a picture x with caption t
and the counterfactual pair (x', t'), the critic learns both directions of the
one difference: x goes with t rather than t' (or a random caption of the
batch), and t goes with x rather than x'. The second direction is the one
re-ranking uses: one prompt, several pictures.

Pictures are blurred (half of them, by a 2x down- and up-sampling) and noised
at random, so that the critic judges the soft edges of generated pictures as it
judges the corpus's crisp ones. Training only: the renderer and the claims are
never used when the critic scores.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from core.corpus.counterfactual import relation_swapped
from core.critic import Critic, CriticConfig
from core.errors import UserError

DROP_SECOND = 0.25          # share of two-object counterfactuals that leave an object out
FLIP_RELATION = 0.5         # share of relation counterfactuals that swap the relation (--set flip_relation)
WARMUP = 100


class CriticTrainable:
    """What ``core.training.train`` needs of a backend: ``make_trainer``."""

    def make_trainer(self, config: Any, model_config: dict | None) -> "CriticTrainer":
        return CriticTrainer(config, model_config)


def negative_claim(claim: Any, rng: np.random.Generator, flip_relation: float = FLIP_RELATION) -> Any:
    """A claim that differs from ``claim`` in one stated fact (None if none could be made)."""
    from core.corpus.attributes import ShapesClaim
    from core.corpus.counterfactual import counterfactual

    if isinstance(claim, ShapesClaim):
        # Relation claims are a few per batch and one edit in four of theirs flips the
        # relation: too rare to learn from (the first critic stayed at chance there).
        if claim.relation and flip_relation and rng.random() < flip_relation:
            return relation_swapped(claim)
        if claim.caption_kind in ("two", "relation") and rng.random() < DROP_SECOND:
            return replace(claim, caption_kind="single", objects=claim.objects[:1], relation=None)
    return counterfactual(claim, rng)


def relation_claim(rng: np.random.Generator) -> Any:
    """A random shapes claim of the relation kind."""
    from core.corpus.shapes import sample_shapes_claim

    while True:
        claim = sample_shapes_claim(rng)
        if claim.relation:
            return claim


def augment(x: torch.Tensor) -> torch.Tensor:
    """Random blur (half the pictures) and pixel noise, from torch's global generator
    (the loop seeds it per step)."""
    b = x.shape[0]
    soft = F.interpolate(F.interpolate(x, scale_factor=0.5, mode="area"), scale_factor=2.0,
                         mode="bilinear", align_corners=False)
    x = torch.where((torch.rand(b, 1, 1, 1) < 0.5).to(x.device), soft, x)
    x = x + 0.03 * torch.rand(b, 1, 1, 1, device=x.device) * torch.randn_like(x)
    return x.clamp(0, 1)


class CriticTrainer:
    def __init__(self, train_config: Any, model_config: dict[str, Any] | None) -> None:
        saved = model_config or {}
        extra = dict(getattr(train_config, "extra", {}) or {})
        # --set wins over a saved size: --init a trained critic --set depth=4 adds layers to it
        cfg = CriticConfig.from_dict({**(saved.get("critic") or {"resolution": train_config.resolution}), **extra})
        self.critic = Critic(cfg)
        self.modules: dict[str, torch.nn.Module] = {"critic": self.critic}
        self.base_lr, self.seed = float(train_config.lr), int(train_config.seed)
        self.optimizers = {"adam": torch.optim.AdamW(self.critic.parameters(), lr=self.base_lr,
                                                     weight_decay=0.01)}
        self.flip_relation = float(extra.get("flip_relation", saved.get("flip_relation", FLIP_RELATION)))
        self.relation_pairs = int(extra.get("relation_pairs", saved.get("relation_pairs", 0)))
        self.config = {"critic": cfg.to_dict(), "flip_relation": self.flip_relation,
                       "relation_pairs": self.relation_pairs}
        self.accelerator: Any = None
        self._last: tuple[torch.Tensor, list[str]] | None = None

    def _pairs(self, batch: dict[str, Any], step: int) -> tuple[torch.Tensor, list[str]]:
        """The batch's pictures and captions, then their counterfactuals', in the same order."""
        from core.corpus.dataset import claim_of, image_to_tensor, render, scene_and_caption

        if batch.get("attributes") is None:
            raise UserError("the critic trains on the procedural corpus (--data procedural:...): "
                            "it needs each picture's claim to write its counterfactual")
        rng = np.random.default_rng([self.seed, step, 4242])
        keep, pictures, captions = [], [], []

        def draw(claim: Any, picture_list: list[torch.Tensor], caption_list: list[str]) -> None:
            scene, text = scene_and_caption(claim, rng)
            picture_list.append(image_to_tensor(render(scene)))
            caption_list.append(text)

        for i, attributes in enumerate(batch["attributes"]):
            changed = negative_claim(claim_of(attributes), rng, self.flip_relation)
            if changed is None:
                continue
            keep.append(i)
            draw(changed, pictures, captions)
        originals, own = list(batch["image"][keep].cpu()), [batch["caption"][i] for i in keep]
        for _ in range(self.relation_pairs):      # extra relation claims, each against its swap
            claim = relation_claim(rng)
            draw(claim, originals, own)
            draw(relation_swapped(claim), pictures, captions)
        images = torch.stack(originals + pictures).to(batch["image"].device)
        return images, own + captions

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        from core.text_encoder import encode_cached

        images, texts = self._pairs(batch, step)
        n, half = len(texts), len(texts) // 2
        device = images.device
        own = torch.arange(n, device=device)
        partner = (own + half) % n                       # x_k <-> its counterfactual
        offset = int(torch.randint(1, n, ()).item())
        other = (own + (1 if offset == half else offset)) % n     # a random caption of the batch
        encoded = encode_cached(texts).to(device)
        critic = self.modules["critic"]
        scores = critic(augment(images), encoded.tokens, encoded.mask, torch.cat([own, own, own]),
                        torch.cat([own, partner, other])).view(3, n)
        matched, swapped, random = scores
        same_text = torch.tensor([texts[i] == texts[j] for i, j in zip(own.tolist(), other.tolist())],
                                 device=device)
        random = random.masked_fill(same_text, -1e4)
        # picture -> caption: its own, not its counterfactual's nor a random one
        picture_loss = F.cross_entropy(torch.stack([matched, swapped, random], 1),
                                       torch.zeros(n, dtype=torch.long, device=device))
        # caption -> picture: its own picture, not the counterfactual picture
        caption_loss = F.cross_entropy(torch.stack([matched, swapped[partner]], 1),
                                       torch.zeros(n, dtype=torch.long, device=device))
        loss = picture_loss + caption_loss
        self.accelerator.backward(loss)
        for group in self.optimizers["adam"].param_groups:
            group["lr"] = self.base_lr * min(1.0, (step + 1) / WARMUP)
        self.accelerator.clip_grad_norm_(critic.parameters(), 1.0)
        self.optimizers["adam"].step()
        self.optimizers["adam"].zero_grad(set_to_none=True)
        self._last = (images.detach(), texts)
        right = (matched > swapped) & (matched > swapped[partner])
        return {"loss": float(loss.detach()), "picture_loss": float(picture_loss.detach()),
                "caption_loss": float(caption_loss.detach()), "accuracy": float(right.float().mean())}

    def sample(self, prompts: list[str], seed: int) -> list[Any]:
        """For each prompt, the picture of the latest batch the critic matches best."""
        from PIL import Image

        from core.text_encoder import encode_cached
        from core.trained import to_images

        if self._last is None:
            return [Image.new("RGB", (64, 64), "grey")] * len(prompts)
        images, _ = self._last
        encoded = encode_cached(prompts).to(images.device)
        critic = self._unwrap(self.modules["critic"])
        every = torch.arange(len(images), device=images.device)
        best = [int(critic(images, encoded.tokens[p:p + 1], encoded.mask[p:p + 1], every,
                           torch.zeros_like(every)).argmax()) for p in range(len(prompts))]
        return to_images(images[best])

    def _unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return self.accelerator.unwrap_model(module) if self.accelerator else module
