"""The GAN's side of the training protocol (``core.training``): load the frozen
autoencoder, build the generator, the discriminator and the EMA copy, take one
step. Data, devices, logging and checkpoints are core's loop.

The autoencoder is a trained conditional VAE (``--set autoencoder=FOLDER``,
the shipped ``assets/vae`` by default); it is copied into this run (without
its own learned prior) and never trained here. Real latents are posterior
samples of the corpus pictures, seen by the encoder the way the VAE was
trained to see them (``scramble_colours``), whitened by its Gaussian prior.

One update = one discriminator step then one generator step, hinge loss:

    D:  relu(1 - D(u, c)) + 1/2 [relu(1 + D(G(z, c), c)) + relu(1 + D(u, c_other))]
    G:  -D(G(z, c), c)

``c_other`` is another picture's caption from the same batch (the matching-aware
negatives of GAN-INT-CLS): a real latent with the wrong caption is fake, so the
discriminator must check that the latent fits its words, not only that it looks
like a picture's. Half of them are the nearest other caption (hard negatives,
see ``_wrong_captions``); pairs with the same text are left out. Generated
latents come in pairs sharing a caption, and a diversity-sensitive term keeps
each pair apart, so the generator cannot ignore its noise. The two networks
learn at different rates (TTUR, Heusel et al. 2017; Adam with beta1 = 0 as in
SAGAN/BigGAN), and the generator used for sampling is an exponential moving
average of the trained one (``frozen``).

With ``contrastive_weight`` > 0 (the shipped weights' second stage, weight 1) both
networks also get the cross-modal contrastive term of XMC-GAN (Zhang et al.
2021): the discriminator gains heads that score every latent against every
caption of the batch, learns on real latents to pick each one's own caption, and
the generator is trained so its latents pick theirs. In-batch captions are the
negatives: a latent for "a red circle" that fits "two red circles" or "a red
square" just as well costs the generator whenever those captions share the batch.

With ``counterfactual_weight`` > 0 as well (the shipped weights' third stage) each
picture's caption also comes with a counterfactual: the same caption with one
stated fact changed ("a red circle" -> "two red circles", "a red square", "a
green circle"; ``core.corpus.counterfactual``, so corpus data only). The
discriminator learns that a real latent with its counterfactual is a wrong pair
(a hinge term weighted W), and the counterfactuals are more columns of the
contrastive term (whatever W), so a latent
for "a red circle" must fit its caption better than "two red circles" even when
no such caption is in the batch.

With ``critic_weight`` > 0 the generator also learns from the frozen critic that
re-ranks candidates (``core.critic``, the shipped one or ``--set critic=FOLDER``):
the first ``critic_rows`` generated latents of each update are decoded to pixels,
and the critic must pick each one's own caption over its counterfactual and over
another picture's caption, the task it was trained on. Its gradient reaches the
generator through the frozen decoder: a judge of the drawn picture, where the
discriminator sees only latents. (The generator's pictures still come from its own
weights; the critic is used at training time only.)

Fine-tuning from an export (``--init assets/gan``), which holds only the EMA
generator, starts the trained generator from it (``after_init``) and the
discriminator afresh; ``d_warmup`` steps train only the discriminator first. Even
so, a fresh discriminator wrecks the finished generator (measured: shapes 0.53 ->
0.25-0.27 within 50 steps, after 50 or 300 steps of warm-up). So the shipped
fourth stage plays no game (``adversarial`` 0, ``_critic_update``): the critic
term alone, with the generator held near where it started (``anchor_weight``).

Each rendered batch serves ``repeats`` updates, each with fresh posterior
samples and noise ("data echoing", Choi et al. 2019), so rendering and encoding
pictures is a small share of a step (measured: the 16 updates take nearly all of
it) and the networks get many more updates than the stream gives batches.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from PIL import Image
from torch.nn import functional as F

from core.conditional_vae import build, load
from core.errors import UserError
from plugins.gan.model import Discriminator, GANConfig, Generator, decode

DEFAULTS = {"d_lr_ratio": 2.0, "ema_decay": 0.999, "mismatch_weight": 0.5,
            "diversity_weight": 1.0, "diversity_cap": 1.0, "hard_negatives": 0.5,
            "repeats": 16, "contrastive_weight": 0.0, "counterfactual_weight": 0.0,
            "critic_weight": 0.0, "critic_rows": 32, "critic": "", "d_warmup": 0,
            "adversarial": 1, "anchor_weight": 0.0}


class GANTrainer:
    def __init__(self, train_config: Any, model_config: dict[str, Any] | None) -> None:
        saved = model_config or {}
        extra = dict(getattr(train_config, "extra", {}) or {})
        if "autoencoder" in saved:
            autoencoder = build(saved["autoencoder"])    # its weights come with the run
            scramble = saved.get("scramble_colours", False)
        else:
            from core.checkpoint import weights_dir

            folder = extra.get("autoencoder") or weights_dir("vae")
            autoencoder, vae_saved = load(folder, learned_prior=False)
            scramble = vae_saved.get("scramble_colours", False)
        autoencoder.eval().requires_grad_(False)
        vae_cfg = autoencoder.cfg
        sizes = {"latent_dim": vae_cfg.z_dim, "cond_dim": vae_cfg.cond_dim}
        cfg = GANConfig.from_dict({**(saved.get("gan") or extra), **sizes})
        self.hyper = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS},
                      **{k: v for k, v in extra.items() if k in DEFAULTS}}
        self.config = {"gan": cfg.to_dict(), "autoencoder": vae_cfg.to_dict(),
                       "scramble_colours": scramble, **self.hyper}
        self.cfg = cfg
        self.generator = Generator(cfg)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        discriminator = Discriminator(cfg, contrastive=float(self.hyper["contrastive_weight"]) > 0)
        self.modules: dict[str, torch.nn.Module] = {"generator": self.generator,
                                                    "discriminator": discriminator}
        self.frozen: dict[str, torch.nn.Module] = {"generator_ema": self.ema,
                                                   "autoencoder": autoencoder}
        if not int(self.hyper["adversarial"]):
            # The generator the run starts from (set by ``after_init``), kept to hold it near.
            self.frozen["anchor"] = copy.deepcopy(self.ema)
        lr = float(train_config.lr)
        self.optimizers = {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.0, 0.9)),
            "discriminator": torch.optim.Adam(discriminator.parameters(),
                                              lr=lr * float(self.hyper["d_lr_ratio"]), betas=(0.0, 0.9)),
        }
        self.critic = _load_critic(str(self.hyper["critic"])) if float(self.hyper["critic_weight"]) else None
        self.accelerator: Any = None

    def after_init(self, init: Any) -> None:
        """An export holds only the EMA generator: the trained one starts from it too
        (the discriminator starts fresh; ``d_warmup`` steps let it catch up first)."""
        if "generator" not in init.state_dicts and "generator_ema" in init.state_dicts:
            self.generator.load_state_dict(self.ema.state_dict())
        if "anchor" in self.frozen and "anchor" not in init.state_dicts:
            self.frozen["anchor"].load_state_dict(self.ema.state_dict())

    @torch.no_grad()
    def _posterior(self, batch: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        """The captions' conditions and the pictures' posterior and prior
        statistics, as the autoencoder was trained to see the pictures."""
        from core.conditional_vae.colours import rotate_colours

        autoencoder = self.frozen["autoencoder"]
        x, text = batch["image"], batch["text"]
        if x.shape[-1] != autoencoder.cfg.resolution:
            x = F.interpolate(x, size=autoencoder.cfg.resolution, mode="area")
        scramble = self.config["scramble_colours"]
        if scramble:
            x = rotate_colours(x, torch.ones(x.shape[0], dtype=torch.bool, device=x.device),
                               about_border=scramble == "border")
        return autoencoder.posterior(x, autoencoder.condition(text.tokens, text.mask, text.pooled))

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        posterior = self._posterior(batch)
        c = posterior[0]
        captions = batch["caption"]
        same = torch.tensor([[a == b for b in captions] for a in captions], device=c.device)
        other = self._wrong_captions(captions, batch["text"].pooled, same)
        differs = ~same[torch.arange(len(captions), device=c.device), other]
        counterfactual, critic_texts = None, None
        if float(self.hyper["counterfactual_weight"]) or self.critic is not None:
            counterfactual, counter_text = self._counterfactuals(batch, step)
            if self.critic is not None:
                critic_texts = self._critic_texts(batch, counter_text, counterfactual, other, differs)
        if not float(self.hyper["counterfactual_weight"]):
            counterfactual = None        # only the critic's choices use them
        logged: dict[str, list[float]] = {}
        for _ in range(max(1, int(self.hyper["repeats"]))):
            if not int(self.hyper["adversarial"]):
                for name, value in self._critic_update(c, critic_texts, step).items():
                    logged.setdefault(name, []).append(value)
                continue
            real = self.frozen["autoencoder"].whitened_sample(posterior)
            for name, value in self._update(real, c, other, differs, same, step, counterfactual,
                                            critic_texts).items():
                logged.setdefault(name, []).append(value)
        return {name: sum(values) / len(values) for name, values in logged.items()}

    @torch.no_grad()
    def _counterfactuals(self, batch: dict[str, Any], step: int) -> tuple[tuple[torch.Tensor, ...], Any]:
        """Each picture's caption with one stated fact changed (``core.corpus.counterfactual``),
        as conditions; whether each row has one; and which of them repeat a row's own
        caption text (rows x counterfactuals), so they are not counted as wrong. Also
        the counterfactuals' text encoding (for the critic)."""
        import numpy as np

        from core.corpus.counterfactual import counterfactual_caption
        from core.corpus.dataset import claim_of
        from core.text_encoder import encode_cached

        attributes = batch.get("attributes") or []
        if len(attributes) != len(batch["caption"]) or not all(isinstance(a, dict) and "claim" in a
                                                               for a in attributes):
            raise UserError("--set counterfactual_weight needs the procedural corpus (its pictures "
                            "carry the facts their captions state); use --data procedural:...")
        rng = np.random.default_rng(step)        # the same negatives when a run resumes
        texts = [counterfactual_caption(claim_of(a), rng) for a in attributes]
        # Cached like the batch's own captions (the counterfactuals come from the same
        # finite templates), so negatives and positives carry the same float16 token states.
        text = encode_cached([t or "." for t in texts]).to(batch["image"].device)
        conditions = self.frozen["autoencoder"].condition(text.tokens, text.mask, text.pooled)
        valid = torch.tensor([t is not None for t in texts], device=conditions.device)
        repeats = torch.tensor([[a == t for t in texts] for a in batch["caption"]], device=conditions.device)
        return (conditions, valid, repeats | ~valid[None, :]), text

    @torch.no_grad()
    def _critic_texts(self, batch: dict[str, Any], counter_text: Any, counterfactual: tuple[torch.Tensor, ...],
                      other: torch.Tensor, differs: torch.Tensor) -> dict[str, Any]:
        """What the critic term needs per caption row: the critic's encodings of the
        row's own caption and its counterfactual, which counterfactuals and
        mismatched captions count as wrong answers, and the decoder's token context."""
        critic = self.critic.to(batch["image"].device)
        text = batch["text"]
        _, _, repeats = counterfactual
        rows = torch.arange(len(batch["caption"]), device=repeats.device)
        return {"own": critic.encode_texts(text.tokens.float(), text.mask),
                "counterfactual": critic.encode_texts(counter_text.tokens.float(), counter_text.mask),
                "has_counterfactual": ~repeats[rows, rows], "other": other, "differs": differs,
                "context": self.frozen["autoencoder"].context(text.tokens, text.mask)}

    def _critic_update(self, c: torch.Tensor, critic_texts: dict[str, Any] | None, step: int) -> dict[str, float]:
        """Fine-tuning on the critic alone (``adversarial`` 0): no discriminator; the
        critic term, and the generator held near where it started (``anchor_weight`` times
        the mean squared distance of its latents to the anchor's, same noise and
        caption), so it keeps the realism and spread the game gave it. Why not the game:
        a discriminator trained afresh against the trained generator wrecks it (the
        module docstring)."""
        if critic_texts is None:
            raise UserError("--set adversarial=0 trains on the critic alone: give --set critic_weight=W > 0")
        generator, g_opt = self.modules["generator"], self.optimizers["generator"]
        noise = torch.randn(c.shape[0], self.cfg.z_dim, device=c.device)
        fake = generator(noise, c)
        with torch.no_grad():
            start = self.frozen["anchor"](noise, c)
        critic_loss = self._critic_loss(fake, c, torch.arange(c.shape[0], device=c.device), critic_texts)
        anchor_loss = (fake - start).pow(2).mean()
        loss = float(self.hyper["critic_weight"]) * critic_loss + float(self.hyper["anchor_weight"]) * anchor_loss
        self.accelerator.backward(loss)
        g_opt.step()
        g_opt.zero_grad(set_to_none=True)
        self._update_ema(step)
        return {"critic": float(critic_loss.detach()), "anchor": float(anchor_loss.detach())}

    def _critic_loss(self, fake: torch.Tensor, fake_c: torch.Tensor, pair: torch.Tensor,
                     texts: dict[str, Any]) -> torch.Tensor:
        """The first ``critic_rows`` generated latents, decoded to pixels, must make the
        frozen critic pick their own caption over its counterfactual and over another
        picture's caption (the critic's own training task, ``core.critic_training``):
        a differentiable judge of counts and kinds that the discriminator, which sees
        latents, reads less well. Decoder and critic are frozen; only the generator
        learns from it."""
        logits, counts = self._critic_logits(fake, fake_c, pair[: int(self.hyper["critic_rows"])], texts)
        return F.cross_entropy(logits.masked_fill(~counts, float("-inf")),
                               torch.zeros(len(logits), dtype=torch.long, device=logits.device))

    def _critic_logits(self, fake: torch.Tensor, fake_c: torch.Tensor, rows: torch.Tensor,
                       texts: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(k, 3) critic scores of the first k = len(rows) generated latents (caption rows
        ``rows``) with their own caption, its counterfactual and another caption, and
        which of the three count (the own caption always; the others when they differ)."""
        k = len(rows)
        context = texts["context"]
        pixels = decode(self.frozen["autoencoder"], fake[:k], fake_c[:k],
                        None if context is None else context.rows(rows))
        features = self.critic.encode_images(pixels)

        def score(encoded: tuple[torch.Tensor, torch.Tensor], which: torch.Tensor) -> torch.Tensor:
            return self.critic.score(features, (encoded[0][which], encoded[1][which]))

        logits = torch.stack([score(texts["own"], rows), score(texts["counterfactual"], rows),
                              score(texts["own"], texts["other"][rows])], 1)
        counts = torch.stack([torch.ones_like(rows, dtype=torch.bool), texts["has_counterfactual"][rows],
                              texts["differs"][rows]], 1)
        return logits, counts

    def _update(self, real: torch.Tensor, c: torch.Tensor, other: torch.Tensor,
                differs: torch.Tensor, same: torch.Tensor, step: int,
                counterfactual: tuple[torch.Tensor, ...] | None = None,
                critic_texts: dict[str, Any] | None = None) -> dict[str, float]:
        generator, discriminator = self.modules["generator"], self.modules["discriminator"]
        g_opt, d_opt = self.optimizers["generator"], self.optimizers["discriminator"]
        n = real.shape[0]
        # Generated latents come in pairs that share a caption (rows i and i + half),
        # so the diversity term below can compare two noises for one prompt.
        half = (n + 1) // 2
        pair = torch.arange(n, device=real.device) % half
        fake_c = c[pair]
        noise = torch.randn(n, self.cfg.z_dim, device=real.device)
        fake = generator(noise, fake_c)

        # Discriminator: real + own caption up, generated and wrong-caption down.
        negatives, d_same, g_same = None, same, same[pair][:, pair]
        if counterfactual is not None:
            # A real latent with its caption's counterfactual is one more wrong pair, and
            # the counterfactuals are more columns of the contrastive term: "a red circle"
            # must pick its picture over "two red circles", not only over unrelated captions.
            negatives, valid, repeats = counterfactual
            d_same = torch.cat([same, repeats], 1)
            g_same = torch.cat([g_same, repeats[pair][:, pair]], 1)
        real_scores = discriminator(real, c, mismatch=other, negatives=negatives)
        real_score, wrong_score = real_scores.matched, real_scores.wrong
        fake_score = discriminator(fake.detach(), fake_c, similarity=False).matched
        wrong_loss = (F.relu(1 + wrong_score) * differs).sum() / differs.sum().clamp(min=1)
        weight = float(self.hyper["mismatch_weight"])
        d_loss = (F.relu(1 - real_score).mean() + (1 - weight) * F.relu(1 + fake_score).mean()
                  + weight * wrong_loss)
        if counterfactual is not None:
            counter_score = real_scores.counterfactual
            counter_loss = (F.relu(1 + counter_score) * valid).sum() / valid.sum().clamp(min=1)
            d_loss = d_loss + float(self.hyper["counterfactual_weight"]) * counter_loss
        contrast_weight = float(self.hyper["contrastive_weight"])
        rows = torch.arange(n, device=real.device)
        if contrast_weight:
            d_contrast = _contrastive(real_scores.similarity, rows, d_same)
            d_loss = d_loss + contrast_weight * d_contrast
        self.accelerator.backward(d_loss)
        d_opt.step()
        d_opt.zero_grad(set_to_none=True)
        logged = {"d_loss": float(d_loss.detach()), "real": float(real_score.detach().mean()),
                  "fake": float(fake_score.detach().mean()), "wrong": float(wrong_score.detach().mean())}
        if contrast_weight:
            logged.update(d_contrast=float(d_contrast.detach()))
        if counterfactual is not None:
            logged.update(counterfactual=float(real_scores.counterfactual.detach().mean()))
        if step < int(self.hyper["d_warmup"]):
            return logged        # a fresh discriminator first learns before it teaches

        # Generator: make the (updated) discriminator score its latents, with their
        # captions, as real; and keep two noises for one caption apart (the
        # diversity-sensitive term of Yang et al. 2019): a discriminator that sees
        # one latent at a time cannot tell that the generator ignores its noise.
        g_scores = discriminator(fake, fake_c, negatives=None if negatives is None else negatives[pair])
        g_score = g_scores.matched
        second = torch.arange(half, n, device=real.device)
        first = pair[second]
        spread = ((fake[first] - fake[second]).abs().mean(1)
                  / (noise[first] - noise[second]).abs().mean(1)).clamp(max=float(self.hyper["diversity_cap"]))
        g_loss = -g_score.mean() - float(self.hyper["diversity_weight"]) * spread.mean()
        if contrast_weight:
            # Columns are the rows' own captions, each twice (pairs share one).
            g_contrast = _contrastive(g_scores.similarity, rows, g_same)
            g_loss = g_loss + contrast_weight * g_contrast
            logged.update(g_contrast=float(g_contrast.detach()))
        if critic_texts is not None:
            critic_loss = self._critic_loss(fake, fake_c, pair, critic_texts)
            g_loss = g_loss + float(self.hyper["critic_weight"]) * critic_loss
            logged.update(critic=float(critic_loss.detach()))
        self.accelerator.backward(g_loss)
        g_opt.step()
        g_opt.zero_grad(set_to_none=True)
        d_opt.zero_grad(set_to_none=True)      # the generator's pass left gradients in D
        self._update_ema(step)
        logged.update(g_loss=float(g_loss.detach()), spread=float(spread.detach().mean()))
        return logged

    @torch.no_grad()
    def _wrong_captions(self, captions: list[str], pooled: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """For each picture, the row whose caption serves as its mismatched negative.

        Half of them are the batch's nearest other caption by pooled embedding
        ("a green triangle on a white background" for "a white triangle on a
        green background"): those differ only in what the pooled vector blurs,
        so they teach the discriminator to read which word goes with what. The
        other half are a random other row, for coarse mismatches."""
        n = len(captions)
        rows = torch.arange(n, device=pooled.device)
        nearest = (pooled @ pooled.T).masked_fill(same, float("-inf")).argmax(1)
        shuffled = (rows + torch.randint(1, max(n, 2), (n,), device=pooled.device)) % n
        hard = torch.rand(n, device=pooled.device) < float(self.hyper["hard_negatives"])
        return torch.where(hard, nearest, shuffled)

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        # A short effective horizon early on, so the EMA is not stuck near the random init.
        decay = min(float(self.hyper["ema_decay"]), (1 + step) / (10 + step))
        trained = self._unwrap(self.modules["generator"])
        for ema_p, p in zip(self.ema.parameters(), trained.parameters()):
            ema_p.lerp_(p.detach(), 1 - decay)

    def _unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return self.accelerator.unwrap_model(module) if self.accelerator else module

    def sample(self, prompts: list[str], seed: int) -> list[Image.Image]:
        from plugins.gan.sampling import GANModel, generate_images

        return generate_images(GANModel(self.ema, self.frozen["autoencoder"]), prompts, seed)


def _load_critic(folder: str) -> torch.nn.Module:
    from core.checkpoint import weights_dir
    from core.critic import NAME, load_critic

    return load_critic(folder or weights_dir(NAME)).requires_grad_(False)


def _contrastive(logits: torch.Tensor, target: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row's own caption (column ``target``) against the
    batch's other captions. Columns that repeat the target's text are left out:
    they are not wrong answers."""
    columns = torch.arange(logits.shape[1], device=logits.device)
    duplicate = same[target] & (columns[None, :] != target[:, None])
    return F.cross_entropy(logits.masked_fill(duplicate, float("-inf")), target)
