"""The VAE's side of the training protocol (``core.training``): build the model,
take one step. Data, devices, logging and checkpoints are core's loop.

The loss is the negative ELBO with the decoder's noise level set to the batch's
own reconstruction error (the "sigma-VAE" of Rybkin et al. 2021): the pixel term
is the squared error divided by twice that variance, so reconstructions keep
getting sharper as they improve instead of settling at a fixed blur, and the
KL term, annealed from 0 to full weight over ``kl_warmup`` steps, keeps the
posterior close enough to the text-conditional prior to sample from it.

``sigma2`` > 0 fixes that noise level instead (a plain Gaussian likelihood): each
nat of latent information must then buy a set amount of squared error, so the
latent stops carrying what the prompt already says and prior samples decode to
what the prompt asks for. Measured in assets/vae/MODEL_CARD.md.

Two more terms, off by default, make the decoder take what the prompt says from
the prompt: ``prior_recon`` weighs the reconstruction of the picture from a
sample of the prior p(z | c) (the "hybrid objective" of Sohn et al. 2015: what
generation does, trained directly; the picture's caption-level content, such as
its colours, can only come from c there; ``prior_recon_fade=[a,b]`` fades it out
between steps a and b), and ``attribute_weight`` weighs a
training-only linear head that reads the caption's claimed attributes from c
(:mod:`core.corpus.targets`).

``scramble_colours`` hides the picture's colours from the encoder when a caption
is given: the encoder sees the picture through a random rotation of colour space
about mid-grey (a different one per picture), which keeps every edge, region and
layout but not which colour is which. The latent then cannot carry the colours,
so the decoder must take them from c, which is all it has at generation time.
Uncaptioned pictures (the "no caption" share, what an upload gets) are shown as
they are, so reconstruction of uploads still sees colour. ``scramble_colours=border``
rotates about each picture's border colour instead, which the map then leaves as
it is: a caption that names no background leaves that colour to the latent,
and about mid-grey neither the latent nor c knew it (the decoder painted an
average; measured in assets/vae/MODEL_CARD.md).

``flow_layers`` > 0 or ``diffusion_width`` > 0 is a second stage, started with
``--init`` from a trained VAE (``--init`` from weights that have such a prior
continues fitting it; add ``--set flow_layers=0`` or ``--set diffusion_width=0``
to train the VAE itself, without it): the VAE is frozen and only the learned
prior is fitted, a flow (:mod:`core.conditional_vae.flow`) by maximum likelihood or a
diffusion model (:mod:`core.conditional_vae.diffusion`) by denoising, to posterior samples
of the pictures the encoder sees (colours scrambled as in the first stage when
``scramble_colours`` is on, so the latents are the ones the decoder was trained
on). Each batch is used for ``prior_repeats`` updates, each with fresh posterior
samples ("data echoing", Choi et al. 2019): the prior is cheap next to rendering
and encoding a batch, and it needs many more updates than the stream gives it
batches.

``--set stage=decoder`` (with ``--init`` from a trained VAE) tunes the decoder
alone, everything else frozen, learned prior included: the latents of every
picture stay what they were, so the prior fitted to them (and a GAN trained in
their space) still fits. Adding ``--set decoder_attention=true`` there gives the
decoder its cross-attention to the prompt's tokens (zero-initialised, so the run
starts from the decoder it had). ``object_weight`` weighs the squared error of
pixels off the picture's border colour (its objects) that many times: an
object's colour is a small share of the pixels, and which object takes which
named colour is what the cross-attention is there to learn.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image

from core.corpus.targets import ATTRIBUTE_DIM, attribute_loss, targets
from core.conditional_vae.colours import border_colour, rotate_colours
from core.conditional_vae.model import ConditionalVAE, VAEConfig

STAGES = ("vae", "decoder")
DEFAULTS = {"kl_warmup": 3000, "beta_max": 1.0, "min_sigma2": 0.0025, "caption_dropout": 0.1,
            "weight_decay": 0.0, "lr_warmup": 200, "sigma2": 0.0,
            "prior_recon": 0.0, "prior_recon_fade": None, "attribute_weight": 0.0,
            "scramble_colours": False, "prior_repeats": 8, "prior_dropout": 0.1,
            "object_weight": 1.0}


class VAETrainer:
    def __init__(self, train_config: Any, model_config: dict[str, Any] | None) -> None:
        saved = model_config or {}
        extra = dict(getattr(train_config, "extra", {}) or {})
        if "vae" in saved:
            # Trained weights can gain (or lose) a flow or a diffusion prior, or the decoder's
            # cross-attention; nothing else about their shape can change.
            added = {k: extra[k] for k in ("flow_layers", "flow_width", "diffusion_width",
                                           "diffusion_depth", "diffusion_steps", "decoder_attention")
                     if k in extra}
            cfg = VAEConfig.from_dict({**saved["vae"], **added})
        else:
            cfg = VAEConfig.from_dict({"resolution": train_config.resolution, **extra})
        if cfg.resolution % 16:
            from core.errors import UserError

            raise UserError(f"the VAE needs a resolution divisible by 16, got {cfg.resolution}")
        self.hyper = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS},
                      **{k: v for k, v in extra.items() if k in DEFAULTS}}
        # --resume goes on with the run's stage; --init starts the stage given (by default
        # the VAE's own, or its learned prior's when it has one), whatever made the weights.
        resumed = saved.get("stage") if getattr(train_config, "resume", False) else None
        self.stage = str(extra.get("stage") or resumed or "vae")
        self.config = {"vae": cfg.to_dict(), **self.hyper, "stage": self.stage}
        self.model = ConditionalVAE(cfg)
        self.modules: dict[str, torch.nn.Module] = {"vae": self.model}
        learned_priors = {"flow": cfg.flow_layers, "diffusion": cfg.diffusion_width}
        fitted = [name for name, size in learned_priors.items() if size > 0]
        self.fits_prior = bool(fitted) and self.stage != "decoder"
        # A flow or diffusion prior this run leaves out is dropped on --init: it would
        # no longer fit latents the VAE changes, or the other one replaces it.
        self.discard_on_init = tuple(f"{name}." for name, size in learned_priors.items() if not size)
        if self.stage not in STAGES or (self.stage == "decoder" and not saved):
            from core.errors import UserError

            raise UserError(f"stage must be one of {', '.join(STAGES)}, and the decoder stage tunes "
                            f"a trained VAE's decoder: start from its weights with --init FOLDER "
                            f"(got stage={self.stage!r})")
        if self.stage == "decoder":
            for name, parameter in self.model.named_parameters():
                parameter.requires_grad_(name.startswith("decoder."))
        elif self.fits_prior:
            from core.errors import UserError

            if len(fitted) > 1:
                raise UserError("a VAE has one learned prior: add --set flow_layers=0 to fit a "
                                "diffusion prior in place of its flow (or diffusion_width=0)")
            if not saved:
                raise UserError(f"{fitted[0]} fits a learned prior to a trained VAE: start from "
                                "its weights with --init FOLDER (or --resume such a run)")
            for name, parameter in self.model.named_parameters():
                parameter.requires_grad_(name.startswith(f"{fitted[0]}."))
        elif self.hyper["attribute_weight"] > 0:
            self.modules["attributes"] = torch.nn.Linear(cfg.cond_dim, ATTRIBUTE_DIM)
        self.optimizers = {"adam": torch.optim.AdamW(trainable(self.modules), lr=train_config.lr,
                                                      betas=(0.9, 0.99),
                                                      weight_decay=self.hyper["weight_decay"])}
        self.base_lr = float(train_config.lr)     # from the command line, also on --resume
        self.accelerator: Any = None

    def beta(self, step: int) -> float:
        warmup = max(1, int(self.hyper["kl_warmup"]))
        return float(self.hyper["beta_max"]) * min(1.0, step / warmup)

    def prior_weight(self, step: int) -> float:
        """``prior_recon``, faded linearly to 0 between the two steps of
        ``prior_recon_fade`` when given: the term gets the decoder to take the
        prompt's content from c, then steps aside, since averaging over the prior's
        layouts also blurs the objects it draws."""
        weight = float(self.hyper["prior_recon"])
        if self.hyper["prior_recon_fade"]:
            start, end = (int(v) for v in self.hyper["prior_recon_fade"])
            weight *= min(1.0, max(0.0, (end - step) / max(1, end - start)))
        return weight

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        model = self.modules["vae"]
        x, text = batch["image"], batch["text"]
        if x.shape[-1] != self.model.cfg.resolution:
            x = torch.nn.functional.interpolate(x, size=self.model.cfg.resolution, mode="area")
        drop = torch.rand(x.shape[0], device=x.device) < self.hyper["caption_dropout"]
        scramble = self.hyper["scramble_colours"]
        seen = rotate_colours(x, ~drop, about_border=scramble == "border") if scramble else None
        if self.fits_prior:
            return self._prior_step(model, x, seen, text, drop, step)
        prior_weight = self.prior_weight(step)
        out = model(x, text.tokens, text.mask, text.pooled, drop, from_prior=prior_weight > 0,
                    encoder_input=seen)
        error = (out["x_hat"] - x).pow(2)
        squared = error.flatten(1)
        if self.hyper["object_weight"] != 1:
            squared = (error * object_weights(x, float(self.hyper["object_weight"]))).flatten(1)
        dims = squared.shape[1]
        sigma2 = (torch.tensor(float(self.hyper["sigma2"])) if self.hyper["sigma2"] > 0
                  else squared.mean().detach().clamp(min=self.hyper["min_sigma2"]))
        recon = squared.sum(1) / (2 * sigma2)
        beta = self.beta(step)
        loss = (recon + beta * out["kl"]).mean() / dims
        logged: dict[str, float] = {}
        if prior_weight > 0:
            prior_squared = (out["x_prior"] - x).pow(2).flatten(1)
            loss = loss + prior_weight * (prior_squared.sum(1) / (2 * sigma2)).mean() / dims
            logged["prior_mse"] = float(prior_squared.detach().mean())
        keep = (~drop).nonzero().flatten().tolist()
        if "attributes" in self.modules and batch.get("attributes") is not None and keep:
            logits = self.modules["attributes"](out["c"][keep])
            read = attribute_loss(logits, targets([batch["attributes"][i] for i in keep], from_claim=True))
            loss = loss + float(self.hyper["attribute_weight"]) * read
            logged["attributes"] = float(read.detach())
        self._update(loss, step)
        mse = float(error.detach().mean())
        return {"loss": float(loss.detach()), "mse": mse, "psnr": 10 * math.log10(1 / max(mse, 1e-10)),
                "kl": float(out["kl"].detach().mean()), "beta": beta, **logged}

    def _prior_step(self, model: torch.nn.Module, x: torch.Tensor, seen: torch.Tensor | None,
                    text: Any, drop: torch.Tensor, step: int) -> dict[str, float]:
        losses, posterior = [], None
        for _ in range(max(1, int(self.hyper["prior_repeats"]))):
            out = model(x, text.tokens, text.mask, text.pooled, drop, encoder_input=seen,
                        fit_prior=True, posterior=posterior,
                        prior_dropout=float(self.hyper["prior_dropout"]))
            loss, posterior = out["prior_loss"].mean(), out["posterior"]
            self._update(loss, step)
            losses.append(float(loss.detach()))
        mean = sum(losses) / len(losses)
        return {"loss": mean, "prior_loss": mean}

    def _update(self, loss: torch.Tensor, step: int) -> None:
        self.accelerator.backward(loss)
        optimizer = self.optimizers["adam"]
        for group in optimizer.param_groups:
            group["lr"] = self.base_lr * min(1.0, (step + 1) / self.hyper["lr_warmup"])
        if self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(trainable(self.modules), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sample(self, prompts: list[str], seed: int) -> list[Image.Image]:
        from plugins.vae.sampling import generate_images

        model = self.accelerator.unwrap_model(self.modules["vae"]) if self.accelerator else self.model
        return generate_images(model, prompts, seed)


def object_weights(x: torch.Tensor, weight: float) -> torch.Tensor:
    """(B, 1, H, W): ``weight`` where a pixel is off its picture's border colour (an
    object; 0.2 summed over RGB), 1 elsewhere."""
    off = (x - border_colour(x)).abs().sum(1, keepdim=True) > 0.2
    return 1 + (weight - 1) * off.to(x.dtype)


def trainable(modules: dict[str, torch.nn.Module]) -> list[torch.nn.Parameter]:
    return [p for module in modules.values() for p in module.parameters() if p.requires_grad]
