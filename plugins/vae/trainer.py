"""The VAE's side of the training protocol (``core.training``): build the model,
take one step. Data, devices, logging and checkpoints are core's loop.

The loss is the negative ELBO with the decoder's noise level set to the batch's
own reconstruction error (the "sigma-VAE" of Rybkin et al. 2021): the pixel term
is the squared error divided by twice that variance, so reconstructions keep
getting sharper as they improve instead of settling at a fixed blur, and the
KL term, annealed from 0 to full weight over ``kl_warmup`` steps, keeps the
posterior close enough to the text-conditional prior to sample from it.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image

from plugins.vae.model import ConditionalVAE, VAEConfig

DEFAULTS = {"kl_warmup": 3000, "beta_max": 1.0, "min_sigma2": 0.0025, "caption_dropout": 0.1,
            "weight_decay": 0.0, "lr_warmup": 200}


class VAETrainer:
    def __init__(self, train_config: Any, model_config: dict[str, Any] | None) -> None:
        saved = model_config or {}
        extra = dict(getattr(train_config, "extra", {}) or {})
        if "vae" in saved:
            cfg = VAEConfig.from_dict(saved["vae"])
        else:
            cfg = VAEConfig.from_dict({"resolution": train_config.resolution, **extra})
        if cfg.resolution % 16:
            from core.errors import UserError

            raise UserError(f"the VAE needs a resolution divisible by 16, got {cfg.resolution}")
        self.hyper = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS},
                      **{k: v for k, v in extra.items() if k in DEFAULTS}}
        self.config = {"vae": cfg.to_dict(), **self.hyper}
        self.model = ConditionalVAE(cfg)
        self.modules: dict[str, torch.nn.Module] = {"vae": self.model}
        self.optimizers = {"adam": torch.optim.AdamW(self.model.parameters(), lr=train_config.lr,
                                                      betas=(0.9, 0.99),
                                                      weight_decay=self.hyper["weight_decay"])}
        self.base_lr = float(train_config.lr)     # from the command line, also on --resume
        self.accelerator: Any = None

    def beta(self, step: int) -> float:
        warmup = max(1, int(self.hyper["kl_warmup"]))
        return float(self.hyper["beta_max"]) * min(1.0, step / warmup)

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        model = self.modules["vae"]
        x, text = batch["image"], batch["text"]
        if x.shape[-1] != self.model.cfg.resolution:
            x = torch.nn.functional.interpolate(x, size=self.model.cfg.resolution, mode="area")
        drop = torch.rand(x.shape[0], device=x.device) < self.hyper["caption_dropout"]
        out = model(x, text.tokens, text.mask, text.pooled, drop)
        squared = (out["x_hat"] - x).pow(2).flatten(1)
        dims = squared.shape[1]
        sigma2 = squared.mean().detach().clamp(min=self.hyper["min_sigma2"])
        recon = squared.sum(1) / (2 * sigma2)
        beta = self.beta(step)
        loss = (recon + beta * out["kl"]).mean() / dims
        self.accelerator.backward(loss)
        optimizer = self.optimizers["adam"]
        for group in optimizer.param_groups:
            group["lr"] = self.base_lr * min(1.0, (step + 1) / self.hyper["lr_warmup"])
        if self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        mse = float(squared.detach().mean())
        return {"loss": float(loss.detach()), "mse": mse, "psnr": 10 * math.log10(1 / max(mse, 1e-10)),
                "kl": float(out["kl"].detach().mean()), "beta": beta}

    def sample(self, prompts: list[str], seed: int) -> list[Image.Image]:
        from plugins.vae.sampling import generate_images

        model = self.accelerator.unwrap_model(self.modules["vae"]) if self.accelerator else self.model
        return generate_images(model, prompts, seed)
