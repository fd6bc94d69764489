"""The GAN's side of the training protocol (``core.training``): build the
generator, the discriminator and the EMA copy, take one step. Data, devices,
logging and checkpoints are core's loop.

One step = one discriminator update then one generator update, hinge loss:

    D:  relu(1 - D(x, c)) + 1/2 [relu(1 + D(G(z, c), c)) + relu(1 + D(x, c_other))]
    G:  -D(G(z, c), c)

``c_other`` is another image's caption from the same batch (the matching-aware
negatives of GAN-INT-CLS): a real picture with the wrong caption is fake, so
the discriminator must check that the picture fits its words, not only that it
looks like the corpus. Half of them are the nearest other caption (hard
negatives, see ``_wrong_captions``); pairs with the same text are left out.
Generated pictures come in pairs sharing a caption, and a diversity-sensitive
term keeps each pair apart, so the generator cannot ignore its noise. The two networks learn at different rates (TTUR, Heusel et al.
2017; Adam with beta1 = 0 as in SAGAN/BigGAN), and the generator used for
sampling is an exponential moving average of the trained one (``frozen``).
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from PIL import Image
from torch.nn import functional as F

from core.corpus.targets import attribute_loss, targets
from plugins.gan.model import Discriminator, GANConfig, Generator

DEFAULTS = {"d_lr_ratio": 2.0, "ema_decay": 0.999, "mismatch_weight": 0.5,
            "diversity_weight": 1.0, "diversity_cap": 0.1, "hard_negatives": 0.5,
            "attribute_weight": 1.0}


class GANTrainer:
    def __init__(self, train_config: Any, model_config: dict[str, Any] | None) -> None:
        saved = model_config or {}
        extra = dict(getattr(train_config, "extra", {}) or {})
        cfg = GANConfig.from_dict(saved["gan"] if "gan" in saved else extra)
        if cfg.image_size != 32:
            from core.errors import UserError

            raise UserError(f"the GAN's networks work at 32x32 (image_size=32), got {cfg.image_size}")
        self.hyper = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS},
                      **{k: v for k, v in extra.items() if k in DEFAULTS}}
        self.config = {"gan": cfg.to_dict(), **self.hyper,
                       **({"init_from": extra["init_from"]} if extra.get("init_from") and not saved else {}),
                       **({"init_from": saved["init_from"]} if "init_from" in saved else {})}
        self.cfg = cfg
        self.generator = Generator(cfg)
        discriminator = Discriminator(cfg)
        self.initialised_from = None if saved else extra.get("init_from")
        if self.initialised_from:
            self._load_weights(str(self.initialised_from), discriminator)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        if self.initialised_from:
            self._load_weights(str(self.initialised_from), None, ema=True)
        self.modules: dict[str, torch.nn.Module] = {"generator": self.generator,
                                                    "discriminator": discriminator}
        self.frozen: dict[str, torch.nn.Module] = {"generator_ema": self.ema}
        lr = float(train_config.lr)
        self.optimizers = {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.0, 0.9)),
            "discriminator": torch.optim.Adam(discriminator.parameters(),
                                              lr=lr * float(self.hyper["d_lr_ratio"]), betas=(0.0, 0.9)),
        }
        self.accelerator: Any = None

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        generator, discriminator = self.modules["generator"], self.modules["discriminator"]
        g_opt, d_opt = self.optimizers["generator"], self.optimizers["discriminator"]
        text = batch["text"]
        words = (text.tokens, text.mask, text.pooled)
        x = batch["image"]
        if x.shape[-1] != self.cfg.image_size:
            x = F.interpolate(x, size=self.cfg.image_size, mode="area")
        x = x * 2 - 1
        n = x.shape[0]
        other = self._wrong_captions(batch["caption"], text.pooled)
        differs = torch.tensor([batch["caption"][i] != batch["caption"][int(j)]
                                for i, j in enumerate(other)], device=x.device)

        # Generated pictures come in pairs that share a caption (rows i and i + half),
        # so the diversity term below can compare two noises for one prompt.
        half = (n + 1) // 2
        pair = torch.arange(n, device=x.device) % half
        fake_words = tuple(t[pair] for t in words)
        z = torch.randn(n, self.cfg.z_dim, device=x.device)
        fake = generator(z, *fake_words)

        # Discriminator: real + own caption up, generated and wrong-caption down.
        # One generated batch serves both updates (as in the DCGAN reference code).
        real_score, wrong_score, real_attributes = discriminator(x, *words, mismatch=other)
        fake_score, _, _ = discriminator(fake.detach(), *fake_words)
        wrong_loss = (F.relu(1 + wrong_score) * differs).sum() / differs.sum().clamp(min=1)
        weight = float(self.hyper["mismatch_weight"])
        d_loss = (F.relu(1 - real_score).mean() + (1 - weight) * F.relu(1 + fake_score).mean()
                  + weight * wrong_loss)
        labelled = batch.get("attributes") is not None and real_attributes is not None
        aux_weight = float(self.hyper["attribute_weight"]) if labelled else 0.0
        if aux_weight:
            read_real = attribute_loss(real_attributes, targets(batch["attributes"], from_claim=False))
            d_loss = d_loss + aux_weight * read_real
        self.accelerator.backward(d_loss)
        d_opt.step()
        d_opt.zero_grad(set_to_none=True)

        # Generator: make the (updated) discriminator score its pictures, with their
        # captions, as real; and keep two noises for one caption apart (the
        # diversity-sensitive term of Yang et al. 2019): a discriminator that sees
        # one picture at a time cannot tell that the generator ignores its noise.
        g_score, _, fake_attributes = discriminator(fake, *fake_words)
        second = torch.arange(half, n, device=x.device)
        first = pair[second]
        spread = ((fake[first] - fake[second]).abs().mean(dim=(1, 2, 3))
                  / (z[first] - z[second]).abs().mean(1)).clamp(max=float(self.hyper["diversity_cap"]))
        g_loss = -g_score.mean() - float(self.hyper["diversity_weight"]) * spread.mean()
        if aux_weight:
            claimed = targets([batch["attributes"][int(i)] for i in pair], from_claim=True)
            read_fake = attribute_loss(fake_attributes, claimed)
            g_loss = g_loss + aux_weight * read_fake
        self.accelerator.backward(g_loss)
        g_opt.step()
        g_opt.zero_grad(set_to_none=True)
        d_opt.zero_grad(set_to_none=True)      # the generator's pass left gradients in D
        self._update_ema(step)
        return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                "real": float(real_score.detach().mean()), "fake": float(fake_score.detach().mean()),
                "wrong": float(wrong_score.detach().mean()), "spread": float(spread.detach().mean()),
                **({"read_real": float(read_real.detach()), "read_fake": float(read_fake.detach())}
                   if aux_weight else {})}

    def _load_weights(self, folder: str, discriminator: Any, ema: bool = False) -> None:
        """Start from another run's weights (``--set init_from=runs/gan``): the
        networks must have the same shapes; parts that run lacks (a new head)
        keep their fresh initialisation."""
        from core.checkpoint import read_checkpoint

        state = read_checkpoint(folder, backend="gan").state_dicts
        if ema:
            self.ema.load_state_dict(state.get("generator_ema", state["generator"]))
            return
        self.generator.load_state_dict(state["generator"])
        missing, unexpected = discriminator.load_state_dict(state["discriminator"], strict=False)
        if unexpected or any(not k.startswith("attributes.") for k in missing):
            raise ValueError(f"{folder}: discriminator does not fit ({missing + unexpected})")

    @torch.no_grad()
    def _wrong_captions(self, captions: list[str], pooled: torch.Tensor) -> torch.Tensor:
        """For each image, the row whose caption serves as its mismatched negative.

        Half of them are the batch's nearest other caption by pooled embedding
        ("a green triangle on a white background" for "a white triangle on a
        green background"): those differ only in what the pooled vector blurs,
        so they teach the discriminator to read which word goes with what. The
        other half are a random other row, for coarse mismatches."""
        n = len(captions)
        rows = torch.arange(n, device=pooled.device)
        same = torch.tensor([[a == b for b in captions] for a in captions], device=pooled.device)
        nearest = (pooled @ pooled.T).masked_fill(same, float("-inf")).argmax(1)
        shuffled = (rows + torch.randint(1, max(n, 2), (n,), device=pooled.device)) % n
        hard = torch.rand(n, device=pooled.device) < float(self.hyper["hard_negatives"])
        return torch.where(hard, nearest, shuffled)

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        # A short effective horizon early on, so the EMA is not stuck near the random init.
        decay = min(float(self.hyper["ema_decay"]), (1 + step) / (10 + step))
        if self.initialised_from:
            decay = float(self.hyper["ema_decay"])     # the EMA came with the weights
        trained = self._unwrap(self.modules["generator"])
        for ema_p, p in zip(self.ema.parameters(), trained.parameters()):
            ema_p.lerp_(p.detach(), 1 - decay)

    def _unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return self.accelerator.unwrap_model(module) if self.accelerator else module

    def sample(self, prompts: list[str], seed: int) -> list[Image.Image]:
        from plugins.gan.sampling import generate_images

        return generate_images(self.ema, prompts, seed)
