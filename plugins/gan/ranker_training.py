"""Teach the GAN's latent ranker (``plugins.gan.ranker``) which candidates to keep.

    python -m plugins.gan.ranker_training --gan assets/gan --out runs/gan_ranker \
        --prompts 24000 --candidates 16 --teacher checker --family shapes --seed 0

For each of ``--prompts`` corpus captions (templates and paraphrases, as the
corpus writes them; training time only) the shipped GAN draws ``--candidates``
latents, the decoder paints them and a teacher scores each picture against the
caption: the shipped critic (``--teacher critic``: its logit), or the analytic
checker (``--teacher checker``: the share of the caption's checker categories the
picture passes; it reads the corpus claim the caption was written from). The
ranker then learns, listwise, to put a prompt's candidates in the teacher's
order from the latents alone: cross-entropy between the softmax of its scores and
the softmax of the teacher's. ``--members`` such rankers, trained alike from
different seeds, are averaged. The last ``--held-out`` prompts are kept out of
training and measure how often the ranker's pick is the teacher's, and how good
its picks are in the teacher's eyes. ``--out`` receives the GAN's weights as they
were plus ``ranker.safetensors``. Teachers serve training only: generation runs
the generator and the ranker, nothing else.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from core.corpus.dataset import CaptionedClaim as Prompt
from core.corpus.dataset import captioned_claims as corpus_prompts
from plugins.gan.ranker import LatentRanker, RankerConfig

CHUNK = 32        # prompts drawn per batch: 32 x 16 pictures decode in a few seconds
TEACHERS = ("critic", "checker")
DEFAULT_TEMPERATURE = {"critic": 0.5, "checker": 0.1}     # critic logits span ~10; checker shares span 1

# A teacher scores decoded candidates: (pixels (P * K, 3, H, W), the chunk's prompts,
# each row's prompt index) -> (P * K,) scores, higher for a better match.
Teacher = Callable[[torch.Tensor, Sequence[Prompt], torch.Tensor], torch.Tensor]


def critic_teacher(critic: Any) -> Teacher:
    """The critic's logit of each decoded candidate against its prompt."""
    from core.text_encoder import encode

    def score(pixels: torch.Tensor, chunk: Sequence[Prompt], rows: torch.Tensor) -> torch.Tensor:
        text = encode([p.caption for p in chunk])
        return critic(pixels, text.tokens, text.mask, torch.arange(len(rows)), rows)
    return score


def checker_teacher(pixels: torch.Tensor, chunk: Sequence[Prompt], rows: torch.Tensor) -> torch.Tensor:
    """The share of its prompt's checker categories each decoded candidate passes."""
    from core.checker import check, passed_share
    from core.trained import to_images

    return torch.tensor([passed_share(check(image, chunk[row].claim))
                         for image, row in zip(to_images(pixels), rows.tolist())])


@torch.no_grad()
def draw(model: Any, teacher: Teacher, prompts: Sequence[Prompt], candidates: int, seed: int,
         first: int = 0) -> dict[str, torch.Tensor]:
    """Each prompt's candidate latents ``u`` (P, K, latent), conditioning ``c`` (P, cond)
    and the teacher's scores of the decoded candidates (P, K). ``first``: the index of
    ``prompts[0]`` in the whole list. Each prompt's noise is seeded by its own index, so
    one long draw and a short one extended later (``--drawn``) hold the same candidates."""
    from plugins.gan.model import decode
    from plugins.gan.sampling import condition, noise

    us, cs, scores = [], [], []
    started = time.time()
    for start in range(0, len(prompts), CHUNK):
        chunk = list(prompts[start:start + CHUNK])
        p = len(chunk)
        c, context = condition(model, [item.caption for item in chunk])
        rows = torch.arange(p).repeat_interleave(candidates)          # prompt-major: row = prompt * K + k
        z = torch.cat([noise(candidates, model.cfg.z_dim, seed * 1_000_003 + first + start + i) for i in range(p)])
        u = model.generator(z, c[rows])
        pixels = decode(model.autoencoder, u, c[rows], None if context is None else context.rows(rows))
        us.append(u.view(p, candidates, -1))
        cs.append(c)
        scores.append(teacher(pixels, chunk, rows).view(p, candidates))
        done = start + p
        print(f"drew {done}/{len(prompts)} prompts ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    return {"u": torch.cat(us), "c": torch.cat(cs), "scores": torch.cat(scores)}


def ranked(ranker: LatentRanker, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The ranker's scores (P, K) of each prompt's K candidates ``u`` (P, K, latent)."""
    p, k, _ = u.shape
    return ranker(u.reshape(p * k, -1), c.repeat_interleave(k, 0)).view(p, k)


def listwise_loss(ranker: LatentRanker, u: torch.Tensor, c: torch.Tensor, scores: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """Cross-entropy from the teacher's softmax over each prompt's candidates to the ranker's."""
    from core.reranking import listwise_loss as loss

    return loss(ranked(ranker, u, c), scores, temperature)


@torch.no_grad()
def agreement(ranker: LatentRanker, data: dict[str, torch.Tensor]) -> dict[str, float]:
    """How the ranker's pick per prompt fares by the teacher: how often it is the teacher's
    own pick, and the teacher's mean score of the ranker's pick, of its own pick, of the
    first candidate (no choosing) and of the worst."""
    from core.reranking import pick_agreement

    return pick_agreement(data["scores"], ranked(ranker, data["u"], data["c"]).argmax(1))


def train_ranker(train: dict[str, torch.Tensor], held_out: dict[str, torch.Tensor], cfg: RankerConfig,
                 epochs: int, lr: float, batch: int, temperature: float, seed: int) -> tuple[LatentRanker, list[dict]]:
    """A ranker of ``cfg.members`` scorers, member i trained alone from seed + i (another
    initialisation and order of batches). The log's last entry is the whole ranker's
    held-out agreement."""
    ranker = LatentRanker(cfg)
    log: list[dict] = []
    for i, member in enumerate(ranker.members):
        alone, member_log = train_member(train, held_out, replace(cfg, members=1), epochs, lr, batch,
                                         temperature, seed + i)
        member.load_state_dict(alone.members[0].state_dict())
        log += [{"member": i, **entry} for entry in member_log]
    ranker.eval()
    log.append({"members": cfg.members, **agreement(ranker, held_out)})
    print(json.dumps(log[-1]), file=sys.stderr, flush=True)
    return ranker, log


def train_member(train: dict[str, torch.Tensor], held_out: dict[str, torch.Tensor], cfg: RankerConfig,
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
    from core.checkpoint import export_with_module

    return export_with_module(gan_folder, "gan", out, "ranker", ranker.state_dict(),
                              {**ranker.cfg.to_dict(), **record})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.gan.ranker_training", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gan", default="assets/gan", help="the GAN whose candidates are ranked")
    parser.add_argument("--out", required=True, help="folder for the GAN with its ranker")
    parser.add_argument("--prompts", type=int, default=24000)
    parser.add_argument("--held-out", type=int, default=600)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=16, help="per member (held-out agreement levels off by 16)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=64, help="prompts per update")
    parser.add_argument("--teacher", choices=TEACHERS, default="checker",
                        help="who scores the decoded candidates: the critic or the analytic checker")
    parser.add_argument("--family", choices=("all", "shapes", "landscapes"), default="shapes",
                        help="corpus family the captions are drawn from")
    parser.add_argument("--temperature", type=float,
                        help="of the teacher's softmax (default: 0.5 for the critic, 0.1 for the checker)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--members", type=int, default=3, help="scorers trained from seeds seed, seed + 1, ... and averaged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drawn", help="file to keep the drawn candidates in (read back if it exists; "
                                        "made with the same --gan, --seed, --teacher, --family and --candidates)")
    args = parser.parse_args(argv)
    if not 0 < args.held_out < args.prompts:
        parser.error("--held-out must be at least 1 and fewer than --prompts")
    if args.members < 1:
        parser.error("--members must be at least 1")
    if args.temperature is None:
        args.temperature = DEFAULT_TEMPERATURE[args.teacher]

    from core.critic import load_critic
    from core.checkpoint import weights_dir
    from plugins.gan import load_model

    drawn = Path(args.drawn) if args.drawn else None
    model = load_model(Path(args.gan), with_ranker=False)     # any ranker it has is replaced
    prompts = corpus_prompts(args.prompts, args.seed, args.family)
    # --drawn keeps the draws: a later run with more prompts draws only the new ones
    stored = torch.load(drawn) if drawn and drawn.is_file() else None
    made_by = {"teacher": args.teacher, "family": args.family}
    data = None if stored is None else {k: v for k, v in stored.items() if k != "made_by"}
    have = 0 if data is None else len(data["u"])
    if stored is not None and stored.get("made_by", made_by) != made_by:
        parser.error(f"{drawn} was drawn for {stored['made_by']}, not {made_by}")
    if data is not None and data["u"].shape[1] != args.candidates:
        parser.error(f"{drawn} holds {data['u'].shape[1]} candidates per prompt, not {args.candidates}")
    if have < len(prompts):
        started = time.time()
        teacher = critic_teacher(load_critic(weights_dir("critic"))) if args.teacher == "critic" else checker_teacher
        more = draw(model, teacher, prompts[have:], args.candidates, args.seed, have)
        data = more if data is None else {k: torch.cat([data[k], more[k]]) for k in data}
        print(f"drawn in {time.time() - started:.0f} s", file=sys.stderr)
        if drawn:
            drawn.parent.mkdir(parents=True, exist_ok=True)
            torch.save({**data, "made_by": made_by}, drawn)
    data = {k: v[:len(prompts)] for k, v in data.items()}
    split = len(data["u"]) - args.held_out
    train = {k: v[:split] for k, v in data.items()}
    held_out = {k: v[split:] for k, v in data.items()}
    cfg = RankerConfig(latent_dim=model.cfg.latent_dim, cond_dim=model.cfg.cond_dim,
                       width=args.width, depth=args.depth, members=args.members)
    started = time.time()
    ranker, log = train_ranker(train, held_out, cfg, args.epochs, args.lr, args.batch, args.temperature, args.seed)
    record = {"training": {k: v for k, v in vars(args).items() if k not in ("out", "drawn")},
              "train_seconds": round(time.time() - started, 1), "held_out": log[-1]}
    sizes = export(Path(args.gan), Path(args.out), ranker, record)
    print(json.dumps({"out": args.out, "files": sizes, "held_out": log[-1]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
