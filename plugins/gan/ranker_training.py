"""Teach the GAN's latent ranker (``plugins.gan.ranker``) the critic's preferences.

    python -m plugins.gan.ranker_training --gan assets/gan --out runs/gan_ranker \
        --prompts 6000 --candidates 16 --temperature 0.5 --seed 0

For each of ``--prompts`` corpus captions (templates and paraphrases, as the
corpus writes them; training time only) the shipped GAN draws ``--candidates``
latents, the decoder paints them and the shipped critic scores each picture
against the caption. The ranker then learns, listwise, to put a prompt's
candidates in the critic's order from the latents alone: cross-entropy between
the softmax of its scores and the softmax of the critic's. The last
``--held-out`` prompts are kept out of training and measure how often the
ranker's pick is the critic's, and how good its picks are in the critic's eyes.
``--out`` receives the GAN's weights as they were plus ``ranker.safetensors``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from plugins.gan.ranker import LatentRanker, RankerConfig

CHUNK = 32        # prompts drawn per batch: 32 x 16 pictures decode in a few seconds


def corpus_prompts(count: int, seed: int) -> list[str]:
    """``count`` captions as the corpus writes them (30 % paraphrases), both families."""
    from core.corpus.dataset import random_claim, scene_and_caption

    rng = np.random.default_rng([seed, 7741])
    return [scene_and_caption(random_claim("all", rng), rng)[1] for _ in range(count)]


@torch.no_grad()
def draw(model: Any, critic: Any, prompts: Sequence[str], candidates: int, seed: int,
         first: int = 0) -> dict[str, torch.Tensor]:
    """Each prompt's candidate latents ``u`` (P, K, latent), conditioning ``c`` (P, cond)
    and the critic's logits for the decoded candidates (P, K). ``first``: the index of
    ``prompts[0]`` in the whole list (each chunk's noise is seeded by its first prompt's index)."""
    from core.text_encoder import encode
    from plugins.gan.model import decode
    from plugins.gan.sampling import condition, noise

    us, cs, scores = [], [], []
    started = time.time()
    for start in range(0, len(prompts), CHUNK):
        chunk = list(prompts[start:start + CHUNK])
        p = len(chunk)
        c, context = condition(model, chunk)
        rows = torch.arange(p).repeat_interleave(candidates)          # prompt-major: row = prompt * K + k
        z = noise(p * candidates, model.cfg.z_dim, seed * 1_000_003 + first + start)
        u = model.generator(z, c[rows])
        pixels = decode(model.autoencoder, u, c[rows], None if context is None else context.rows(rows))
        text = encode(chunk)
        logits = critic(pixels, text.tokens, text.mask, torch.arange(len(rows)), rows)
        us.append(u.view(p, candidates, -1))
        cs.append(c)
        scores.append(logits.view(p, candidates))
        done = start + p
        print(f"drew {done}/{len(prompts)} prompts ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    return {"u": torch.cat(us), "c": torch.cat(cs), "scores": torch.cat(scores)}


def ranked(ranker: LatentRanker, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The ranker's scores (P, K) of each prompt's K candidates ``u`` (P, K, latent)."""
    p, k, _ = u.shape
    return ranker(u.reshape(p * k, -1), c.repeat_interleave(k, 0)).view(p, k)


def listwise_loss(ranker: LatentRanker, u: torch.Tensor, c: torch.Tensor, scores: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """Cross-entropy from the critic's softmax over each prompt's candidates to the ranker's."""
    predicted = ranked(ranker, u, c)
    target = F.softmax(scores / temperature, dim=1)
    return -(target * F.log_softmax(predicted, dim=1)).sum(1).mean()


@torch.no_grad()
def agreement(ranker: LatentRanker, data: dict[str, torch.Tensor]) -> dict[str, float]:
    """How the ranker's pick per prompt fares by the critic: how often it is the critic's
    own pick, and the critic's mean logit of the ranker's pick, of the critic's pick, of
    the first candidate (no choosing) and of the worst."""
    scores = data["scores"]
    k = scores.shape[1]
    pick = ranked(ranker, data["u"], data["c"]).argmax(1)
    best = scores.argmax(1)
    picked = scores.gather(1, pick[:, None])[:, 0]
    return {"same_pick": float((pick == best).float().mean()),
            "critic_logit_of_pick": float(picked.mean()),
            "critic_logit_of_critics_pick": float(scores.max(1).values.mean()),
            "critic_logit_of_first": float(scores[:, 0].mean()),
            "critic_logit_of_worst": float(scores.min(1).values.mean()),
            "pick_in_critics_top_quarter": float((scores > picked[:, None]).sum(1).lt(max(1, k // 4)).float().mean())}


def train_ranker(train: dict[str, torch.Tensor], held_out: dict[str, torch.Tensor], cfg: RankerConfig,
                 epochs: int, lr: float, batch: int, temperature: float, seed: int) -> tuple[LatentRanker, list[dict]]:
    torch.manual_seed(seed)
    ranker = LatentRanker(cfg)
    optimizer = torch.optim.AdamW(ranker.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(train["u"]) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.05)
    order = torch.Generator().manual_seed(seed)
    log = []
    for epoch in range(epochs):
        ranker.train()
        total = 0.0
        permutation = torch.randperm(len(train["u"]), generator=order)
        for start in range(0, len(permutation), batch):
            rows = permutation[start:start + batch]
            loss = listwise_loss(ranker, train["u"][rows], train["c"][rows], train["scores"][rows], temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(rows)
        ranker.eval()
        entry = {"epoch": epoch + 1, "train_loss": total / len(permutation), **agreement(ranker, held_out)}
        log.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)
    return ranker, log


def export(gan_folder: Path, out: Path, ranker: LatentRanker, record: dict[str, Any]) -> dict[str, int]:
    """``out``: the GAN of ``gan_folder`` unchanged (same tensors) plus the ranker."""
    from core.checkpoint import read_checkpoint, write_export

    checkpoint = read_checkpoint(gan_folder, backend="gan")
    config = dict(checkpoint.config)
    config["model"] = {**checkpoint.model_config, "ranker": {**ranker.cfg.to_dict(), **record}}
    modules = {name: checkpoint.state_dicts[name] for name in checkpoint.config.get("modules", [])
               if name != "ranker"}
    return write_export(out, config, {**modules, "ranker": ranker.state_dict()})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.gan.ranker_training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gan", default="assets/gan", help="the GAN whose candidates are ranked")
    parser.add_argument("--out", required=True, help="folder for the GAN with its ranker")
    parser.add_argument("--prompts", type=int, default=6000)
    parser.add_argument("--held-out", type=int, default=600)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=64, help="prompts per update")
    parser.add_argument("--temperature", type=float, default=0.5, help="of the critic's softmax")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drawn", help="file to keep the drawn candidates in (read back if it exists; "
                                        "made with the same --gan, --seed and --candidates)")
    args = parser.parse_args(argv)
    if not 0 < args.held_out < args.prompts:
        parser.error("--held-out must be at least 1 and fewer than --prompts")

    from core.critic import load_critic
    from core.checkpoint import weights_dir
    from plugins.gan import load_model

    drawn = Path(args.drawn) if args.drawn else None
    model = load_model(Path(args.gan))
    prompts = corpus_prompts(args.prompts, args.seed)
    # --drawn keeps the draws: a later run with more prompts draws only the new ones
    data = torch.load(drawn) if drawn and drawn.is_file() else None
    have = 0 if data is None else len(data["u"])
    if data is not None and data["u"].shape[1] != args.candidates:
        parser.error(f"{drawn} holds {data['u'].shape[1]} candidates per prompt, not {args.candidates}")
    if have < len(prompts):
        started = time.time()
        more = draw(model, load_critic(weights_dir("critic")), prompts[have:], args.candidates, args.seed, have)
        data = more if data is None else {k: torch.cat([data[k], more[k]]) for k in data}
        print(f"drawn in {time.time() - started:.0f} s", file=sys.stderr)
        if drawn:
            drawn.parent.mkdir(parents=True, exist_ok=True)
            torch.save(data, drawn)
    data = {k: v[:len(prompts)] for k, v in data.items()}
    split = len(data["u"]) - args.held_out
    train = {k: v[:split] for k, v in data.items()}
    held_out = {k: v[split:] for k, v in data.items()}
    cfg = RankerConfig(latent_dim=model.cfg.latent_dim, cond_dim=model.cfg.cond_dim,
                       width=args.width, depth=args.depth)
    started = time.time()
    ranker, log = train_ranker(train, held_out, cfg, args.epochs, args.lr, args.batch, args.temperature, args.seed)
    record = {"training": {k: v for k, v in vars(args).items() if k not in ("out", "drawn")},
              "train_seconds": round(time.time() - started, 1), "held_out": log[-1]}
    sizes = export(Path(args.gan), Path(args.out), ranker, record)
    print(json.dumps({"out": args.out, "files": sizes, "held_out": log[-1]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
