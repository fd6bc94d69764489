"""The transformer backend's side of the training protocol (``core.training``),
in stages through the one core loop:

``--set stage=tokenizer``
    trains the VQ-VAE alone on pixels: L1 + squared error (L1 keeps edges
    crisp, the squared term fixes colours fast) + L1 on the pixel differences
    (``edge_weight``: a blurred edge or a rounded corner costs there far more
    than in the plain pixel terms) + commitment.
``--set stage=prior --set tokenizer=RUN``
    freezes the tokenizer of checkpoint ``RUN`` and trains the masked token
    transformer on its codes, with captions dropped ``caption_dropout`` of the
    time so that sampling can use classifier-free guidance. ``--init`` a prior
    run to go on from it: ``--set causal=1`` makes a masked prior autoregressive,
    ``--set depth=N`` grows it to N blocks (``MaskedPrior.spread_blocks``).
``--set stage=merge --set merged=K --init RUN``
    merges the codes of RUN's tokenizer into K groups (``VQTokenizer.merge_codes``)
    and fine-tunes its decoder to paint pictures from the merged codes; encoder
    and codebook stay. A prior in RUN is carried along untouched, so that a prior
    stage ``--init`` from this run goes on from it on the merged codes.

``--set contrast=W`` (prior stage) adds a term that makes each shapes picture
likelier under its own caption than under a counterfactual one (``_contrast``).
Tried on the 8-block prior and not kept: it drew no better (the model card,
"Tried on 2026-12-03").

The prior and merge stages save every module they hold, so a prior run's
checkpoint folder is everything generation needs (what ships in
``assets/transformer/``).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image
from torch.nn import functional as F

from core.errors import UserError
from plugins.transformer.tokenizer import TokenizerConfig, VQTokenizer

STAGES = ("tokenizer", "prior", "merge")
DEFAULTS = {"caption_dropout": 0.1, "lr_warmup": 200, "weight_decay": 0.01, "lr_floor": 0.1,
            "edge_weight": 1.0, "target_softness": 0.0, "edge_token_weight": 1.0,
            "contrast": 0.0, "contrast_margin": 8.0}


class TransformerTrainer:
    def __init__(self, train_config: Any, model_config: dict[str, Any] | None) -> None:
        saved = model_config or {}
        extra = dict(getattr(train_config, "extra", {}) or {})
        # --set stage wins over a saved one: a run started with --init goes on to the next stage
        stage = str(extra.get("stage") or saved.get("stage") or "")
        if stage not in STAGES:
            raise UserError("the transformer backend trains in stages: pass --set stage=tokenizer, "
                            "then --set stage=prior --set tokenizer=<the tokenizer run's folder> "
                            "(optionally between them --set stage=merge --init <the tokenizer run>)")
        self.stage = stage
        self.hyper = {**DEFAULTS, **{k: v for k, v in saved.items() if k in DEFAULTS},
                      **{k: v for k, v in extra.items() if k in DEFAULTS}}
        self.base_lr = float(train_config.lr)      # from the command line, also on --resume
        self.seed = int(train_config.seed)
        self.total_steps = int(train_config.steps)
        self.accelerator: Any = None
        self.frozen: dict[str, torch.nn.Module] = {}
        if stage == "tokenizer":
            tok_cfg = TokenizerConfig.from_dict(saved.get("tokenizer") or
                                                {"resolution": train_config.resolution, **extra})
            self.tokenizer = VQTokenizer(tok_cfg)
            self.modules: dict[str, torch.nn.Module] = {"tokenizer": self.tokenizer}
            self.config = {"stage": stage, "tokenizer": tok_cfg.to_dict(), **self.hyper}
            self._last_batch: torch.Tensor | None = None
            trained = self.tokenizer.parameters()
        elif stage == "prior":
            self._init_prior(train_config, saved, extra)
            trained = self.prior.parameters()
        else:
            self._init_merge(saved, extra)
            trained = self.tokenizer.decoder.parameters()
        self.optimizers = {"adam": torch.optim.AdamW(
            trained, lr=self.base_lr, betas=(0.9, 0.99), weight_decay=self.hyper["weight_decay"])}

    def _init_prior(self, train_config: Any, saved: dict[str, Any], extra: dict[str, Any]) -> None:
        from plugins.transformer.prior import PriorConfig, build_prior

        if saved:       # resuming: the loop loads both modules from the checkpoint itself
            tok_cfg = TokenizerConfig.from_dict(saved["tokenizer"])
            self.tokenizer = VQTokenizer(tok_cfg)
        else:
            self.tokenizer = load_tokenizer(extra.get("tokenizer"))
            tok_cfg = self.tokenizer.cfg
        self.tokenizer.eval().requires_grad_(False)
        values = saved.get("prior") or {**extra, "grid": tok_cfg.grid, "codebook_size": tok_cfg.codebook_size,
                                        **({"code_dim": tok_cfg.code_dim}
                                           if int(extra.get("code_features", 0)) else {})}
        if "causal" in extra:   # --init a masked prior, --set causal=1: go on autoregressively
            values = {**values, "causal": extra["causal"]}
        if "depth" in extra:    # --init a prior, --set depth=N: go on with more blocks (after_init)
            values = {**values, "depth": extra["depth"]}
        prior_cfg = PriorConfig.from_dict(values)
        self.prior = build_prior(prior_cfg)
        if prior_cfg.code_dim and not saved:
            self.prior.set_code_vectors(self.tokenizer.codebook.embedding)
        self.modules = {"prior": self.prior}
        self.frozen = {"tokenizer": self.tokenizer}
        self.config = {"stage": "prior", "tokenizer": tok_cfg.to_dict(),
                       "prior": prior_cfg.to_dict(), **self.hyper}
        self.looks = CodeLooks(tok_cfg.codebook_size, float(self.hyper["target_softness"]),
                               float(self.hyper["edge_token_weight"]))

    def _init_merge(self, saved: dict[str, Any], extra: dict[str, Any]) -> None:
        from plugins.transformer.prior import PriorConfig, build_prior

        if "tokenizer" not in saved:
            raise UserError("--set stage=merge merges the codes of a trained tokenizer: pass "
                            "--init <a tokenizer or prior run folder>")
        groups = int(extra.get("merged") or saved["tokenizer"].get("merged") or 0)
        if not 2 <= groups < int(saved["tokenizer"]["codebook_size"]):
            raise UserError(f"--set merged=K: K groups, between 2 and the codebook size "
                            f"({saved['tokenizer']['codebook_size']}); got {groups}")
        tok_cfg = TokenizerConfig.from_dict({**saved["tokenizer"], "merged": groups})
        self.tokenizer = VQTokenizer(tok_cfg)
        self.tokenizer.encoder.requires_grad_(False)
        self.modules = {"tokenizer": self.tokenizer}
        self.config = {"stage": "merge", "tokenizer": tok_cfg.to_dict(), **self.hyper}
        if "prior" in saved:
            self.frozen = {"prior": build_prior(PriorConfig.from_dict(saved["prior"])).requires_grad_(False)}
            self.config["prior"] = saved["prior"]
        self._merged = False
        self._last_batch = None

    def after_init(self, init: Any) -> None:
        """``--set depth=N`` on ``--init`` of a shallower prior: spread its blocks out
        and start the new ones as identity (``MaskedPrior.spread_blocks``)."""
        old = (init.model_config.get("prior") or {}).get("depth")
        if self.stage != "prior" or old is None or int(old) == self.prior.cfg.depth:
            return
        self.prior.spread_blocks(init.state_dicts["prior"], int(old))

    # ------------------------------------------------------------------ steps

    def learning_rate(self, step: int) -> float:
        """Linear warm-up, then a cosine down to ``lr_floor`` of the peak at
        ``--steps``: a short CPU run ends on a low rate instead of mid-stride."""
        warmup = max(1, int(self.hyper["lr_warmup"]))
        if step < warmup:
            return self.base_lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, self.total_steps - warmup))
        floor = float(self.hyper["lr_floor"])
        return self.base_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    def _set_lr(self, step: int) -> None:
        for group in self.optimizers["adam"].param_groups:
            group["lr"] = self.learning_rate(step)

    def _optimise(self, loss: torch.Tensor, module: torch.nn.Module, step: int) -> None:
        self.accelerator.backward(loss)
        self._set_lr(step)
        if self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(module.parameters(), 1.0)
        self.optimizers["adam"].step()
        self.optimizers["adam"].zero_grad(set_to_none=True)

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        x = batch["image"]
        resolution = self.tokenizer.cfg.resolution
        if x.shape[-1] != resolution:
            x = F.interpolate(x, size=resolution, mode="area")
        if self.stage == "tokenizer":
            return self._tokenizer_step(x, step)
        if self.stage == "merge":
            return self._merge_step(x, step)
        return self._prior_step(x, batch["text"], step, batch.get("attributes"))

    def _pixel_loss(self, x_hat: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        mse = F.mse_loss(x_hat, x)
        edges = edge_loss(x_hat, x)
        loss = F.l1_loss(x_hat, x) + mse + float(self.hyper["edge_weight"]) * edges
        return loss, {"psnr": 10 * math.log10(1 / max(float(mse.detach()), 1e-10)),
                      "edges": float(edges.detach())}

    def _tokenizer_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        model = self.modules["tokenizer"]
        out = model(x)
        loss, figures = self._pixel_loss(out["x_hat"], x)
        loss = loss + self.tokenizer.cfg.commitment * out["commitment"]
        self._optimise(loss, model, step)
        self._last_batch = x[:8].detach()
        used = len(torch.unique(out["codes"]))
        return {"loss": float(loss.detach()), **figures, "commitment": float(out["commitment"].detach()),
                "codes_used": used, "lr": self.learning_rate(step)}

    def _merge_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        model = self.modules["tokenizer"]
        tokenizer = self._unwrap(model)
        if not self._merged:
            # Here, not in __init__: --init loads the weights after the trainer is built.
            # The grouping depends only on the frozen codebook, so a resumed run
            # recomputes the same one.
            tokenizer.merge_codes()
            self._merged = True
        with torch.no_grad():
            codes = tokenizer.encode(x)
        loss, figures = self._pixel_loss(tokenizer.decode(codes), x)
        self._optimise(loss, model, step)
        self._last_batch = x[:8].detach()
        return {"loss": float(loss.detach()), **figures, "codes_used": len(torch.unique(codes)),
                "lr": self.learning_rate(step)}

    def _prior_step(self, x: torch.Tensor, text: Any, step: int,
                    attributes: list[Any] | None = None) -> dict[str, float]:
        from plugins.transformer.prior import mask_tokens

        with torch.no_grad():
            codes = self.tokenizer.encode(x).flatten(1)
        self.looks.observe(x, codes)
        if self.prior.cfg.causal:       # every token, given the ones before it
            masked, is_masked = codes, torch.ones_like(codes, dtype=torch.bool)
        else:
            masked, is_masked = mask_tokens(codes, self.prior.cfg.codebook_size)
        drop = torch.rand(codes.shape[0], device=codes.device) < self.hyper["caption_dropout"]
        model = self.modules["prior"]
        logits = model(masked, text.tokens, text.mask, drop)
        wanted = codes[is_masked]
        log_probs = logits[is_masked].float().log_softmax(-1)
        if self.looks.targets is None:
            per_token = -log_probs.gather(1, wanted[:, None])[:, 0]
        else:
            per_token = -(self.looks.targets.to(log_probs.device)[wanted] * log_probs).sum(-1)
        weights = self.looks.weights.to(log_probs.device)[wanted]
        loss = (per_token * weights).sum() / weights.sum()
        figures = {"loss": float(loss.detach())}
        if float(self.hyper["contrast"]) > 0:
            contrast, gap = self._contrast(model, masked, codes, is_masked, logits, drop, attributes, step)
            if contrast is not None:
                loss = loss + float(self.hyper["contrast"]) * contrast
                figures.update(contrast=float(contrast.detach()), gap=gap)
        self._optimise(loss, model, step)
        accuracy = (logits[is_masked].argmax(-1) == codes[is_masked]).float().mean()
        return {**figures, "accuracy": float(accuracy), "lr": self.learning_rate(step)}

    def _contrast(self, model: torch.nn.Module, masked: torch.Tensor, codes: torch.Tensor,
                  is_masked: torch.Tensor, logits: torch.Tensor, drop: torch.Tensor,
                  attributes: list[Any] | None, step: int) -> tuple[torch.Tensor | None, float]:
        """``--set contrast=W``: each shapes picture's codes must be likelier, by
        ``contrast_margin`` nats over the picture, under its own caption than under a
        counterfactual one (its claim with one fact changed: another kind, colour or
        count, the two objects' kinds swapped, the relation flipped, one object
        left out; ``core.critic_training.negative_claim``). The plain loss teaches
        what a caption's pictures look like; this teaches which words decide it,
        where the prior draws the right colours with the wrong kinds. Returns the
        loss (per token, like the plain one) and the median gap in nats."""
        from core.text_encoder import encode_cached

        rows, negatives = counterfactual_captions(attributes, self.seed, step)
        keep = [k for k, row in enumerate(rows) if not bool(drop[row])]
        if not keep:
            return None, 0.0
        index = torch.tensor([rows[k] for k in keep], device=codes.device)
        other_text = encode_cached([negatives[k] for k in keep]).to(codes.device)
        other_logits = model(masked[index], other_text.tokens, other_text.mask,
                             torch.zeros(len(keep), dtype=torch.bool, device=codes.device))
        own = sequence_log_likelihood(logits[index], codes[index], is_masked[index])
        other = sequence_log_likelihood(other_logits, codes[index], is_masked[index])
        gap = own - other
        tokens = is_masked[index].sum(1).float().mean()
        loss = F.softplus(float(self.hyper["contrast_margin"]) - gap).mean() / tokens
        return loss, float(gap.detach().median())

    # ------------------------------------------------------------------ samples

    def sample(self, prompts: list[str], seed: int) -> list[Image.Image]:
        """Prior stage: images for ``prompts``. Tokenizer stage: reconstructions
        of the latest training batch (there is nothing to draw from a prompt yet;
        the captions under them in the grid do not apply)."""
        from plugins.transformer.sampling import generate_images, to_images

        if self.stage in ("tokenizer", "merge"):
            if self._last_batch is None:
                return [Image.new("RGB", (64, 64), "grey")] * len(prompts)
            tokenizer = self._unwrap(self.modules["tokenizer"])
            recon = tokenizer.decode(tokenizer.encode(self._last_batch))
            return to_images(recon)[:len(prompts)]
        return generate_images(self._unwrap(self.modules["prior"]), self.tokenizer, prompts, seed)

    def _unwrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return self.accelerator.unwrap_model(module) if self.accelerator else module


def sequence_log_likelihood(logits: torch.Tensor, codes: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """(B,) log-likelihood in nats of each row's ``codes`` (B, N) under ``logits``
    (B, N, vocab), summed over the tokens where ``counted`` (B, N) is True."""
    picked = logits.float().log_softmax(-1).gather(-1, codes[..., None])[..., 0]
    return (picked * counted).sum(1)


def counterfactual_captions(attributes: list[Any] | None, seed: int, step: int) -> tuple[list[int], list[str]]:
    """The rows of a batch of shapes pictures that have a counterfactual claim, and
    its caption (written as the corpus writes captions: template or paraphrase).
    Landscape rows are left out: the prior already draws what their captions say."""
    import numpy as np

    from core.corpus.attributes import ShapesClaim
    from core.corpus.dataset import claim_of, write_caption
    from core.critic_training import negative_claim

    rng = np.random.default_rng([seed, step, 5151])
    rows, captions = [], []
    for row, item in enumerate(attributes or []):
        claim = claim_of(item)
        changed = negative_claim(claim, rng) if isinstance(claim, ShapesClaim) else None
        if changed is not None:
            rows.append(row)
            captions.append(write_caption(changed, rng))
    return rows, captions


def edge_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 between the horizontal and vertical pixel differences of two images."""
    dx = F.l1_loss(x_hat[..., :, 1:] - x_hat[..., :, :-1], x[..., :, 1:] - x[..., :, :-1])
    dy = F.l1_loss(x_hat[..., 1:, :] - x_hat[..., :-1, :], x[..., 1:, :] - x[..., :-1, :])
    return dx + dy


class CodeLooks:
    """What each code stands for in the training data: the mean 4x4 pixel patch
    it encodes and how often that patch holds an edge; from these, soft prior
    targets and per-code loss weights.

    Many codes paint (almost) the same patch, so a one-hot target punishes the
    prior for a choice nobody could see. With ``softness`` > 0 (an RMS pixel
    difference) the target of code c spreads over the codes that look like it,
    weight exp(-(distance / softness)^2). Codes that mostly encode an edge (not
    one flat colour) weigh ``edge_token_weight`` in the loss: they are about a
    tenth of the tokens and all of the shapes. The statistics build up from the
    batches the prior trains on (they are not saved: a resumed run rebuilds them).
    """

    REFRESH = 100        # steps between recomputing targets from the statistics

    def __init__(self, codebook_size: int, softness: float, edge_token_weight: float) -> None:
        self.softness, self.edge_token_weight = softness, edge_token_weight
        self.size = codebook_size
        self.patch_sum = torch.zeros(codebook_size, 48, dtype=torch.float64)
        self.edge_sum = torch.zeros(codebook_size, dtype=torch.float64)
        self.count = torch.zeros(codebook_size, dtype=torch.float64)
        self.targets: torch.Tensor | None = None
        self.weights = torch.ones(codebook_size)
        self._seen = 0

    @property
    def active(self) -> bool:
        return self.softness > 0 or self.edge_token_weight != 1.0

    @torch.no_grad()
    def observe(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """x (B, 3, 4H, 4W) pixels, codes (B, H*W) in raster order."""
        if not self.active:
            return
        b = x.shape[0]
        patches = x.unfold(2, 4, 4).unfold(3, 4, 4)                 # B, 3, H, W, 4, 4
        edge = patches.flatten(-2).std(-1).amax(1).flatten(1) > 0.02  # B, H*W
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(b, -1, 48)
        flat = codes.flatten().cpu()
        self.patch_sum.index_add_(0, flat, patches.reshape(-1, 48).double().cpu())
        self.edge_sum.index_add_(0, flat, edge.flatten().double().cpu())
        self.count.index_add_(0, flat, torch.ones_like(flat, dtype=torch.float64))
        self._seen += 1
        if self._seen % self.REFRESH == 1 or self.targets is None and self.softness > 0:
            self._refresh()

    def _refresh(self) -> None:
        seen = self.count > 0
        mean = (self.patch_sum / self.count.clamp(min=1)[:, None]).float()
        edgy = (self.edge_sum / self.count.clamp(min=1)) > 0.5
        self.weights = torch.where(edgy, torch.tensor(float(self.edge_token_weight)), torch.tensor(1.0))
        if self.softness > 0:
            distance = torch.cdist(mean, mean) / 48 ** 0.5
            distance[:, ~seen] = math.inf                # never spread onto codes not seen yet
            distance.fill_diagonal_(0.0)
            self.targets = (-(distance / self.softness) ** 2).softmax(-1)


def load_tokenizer(folder: Any) -> VQTokenizer:
    """The trained tokenizer of a tokenizer-stage (or prior-stage) run folder."""
    from core.checkpoint import has_checkpoint, read_checkpoint

    if not folder or not has_checkpoint(str(folder)):
        raise UserError(f"--set tokenizer={folder or ''}: not a checkpoint folder; train the "
                        "tokenizer first (--set stage=tokenizer) and pass its --out folder")
    checkpoint = read_checkpoint(str(folder), backend="transformer")
    if "tokenizer" not in checkpoint.state_dicts:
        raise UserError(f"--set tokenizer={folder}: that checkpoint holds no tokenizer")
    tokenizer = VQTokenizer(TokenizerConfig.from_dict(checkpoint.model_config["tokenizer"]))
    tokenizer.load_state_dict({k: v.float() for k, v in checkpoint.state_dicts["tokenizer"].items()})
    return tokenizer
