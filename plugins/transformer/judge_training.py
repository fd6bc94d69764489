"""Teach the Transformer a judge of its own drawings, to choose among its candidates.

    python -m plugins.transformer.judge_training --transformer assets/transformer \
        --out runs/tf_judged --prompts 12000 --candidates 8 --drawn runs/tf_drawn.pt --seed 0

For ``--prompts`` corpus captions of ``--family`` (templates and paraphrases, as
the corpus writes them; training time only) the shipped prior draws
``--candidates`` code grids each with its default sampling, the decoder paints
them and the analytic checker scores each picture by the share of its caption's
claim categories it passes. The judge, a copy of the shipped critic
(``core.critic``: pixels and the prompt's MiniLM token states), then learns
listwise to put each caption's candidates in the checker's order: cross-entropy
between the softmax of its scores and the softmax of the checker's. The last
``--held-out`` captions measure how good its picks are in the checker's eyes.
``--out`` receives the transformer's weights as they were plus ``judge.safetensors``.

``--pairs N`` adds, at every step, N corpus pictures of two objects (beside or in
a relation) against the same claim with the relation or the colours swapped: the
prior's commonest failures, which the drawings alone did not teach the judge to
see (it chose between swapped relations at chance, model card); ``--relation-pairs``
adds pairs that swap only the relation, ``--relation-steps`` trains on those alone
first. ``--hindsight W`` adds, for each caption of a step, a passing drawing and a failed
one against the failed one's own caption: what the checker reads in it, written as the
corpus writes captions (the prior's failures named for what they are, not corpus pictures).
``--coordinates`` gives the judge's grid cells fixed row and column codes,
without which a critic never learned to read relations (the critic's card).

Why not the shared critic: it learned from corpus pictures against counterfactual
captions, and it picks the best of the prior's draws for few prompts (model
card); the prior's failures (a lumpy outline the checker takes for another kind,
a stray third object) are not what the corpus showed it. The checker runs only
here: generation runs the prior, the decoder and the judge, nothing else.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

CHUNK = 64                  # captions drawn per batch
SEED_STRIDE = 10_000_019    # the draw of seed s, caption i, candidate k uses s * stride + i * K + k


@torch.no_grad()
def draw(model: Any, prompts: Sequence[Any], candidates: int, seed: int, first: int = 0) -> dict[str, Any]:
    """Each caption's candidate grids (P, K, grid, grid) and the share of its claim's
    checker categories each candidate's picture passes (P, K). ``first``: the index of
    ``prompts[0]`` in the whole list; each caption's seeds follow from its own index, so
    a long draw and a short one extended later hold the same drawings."""
    from core.checker import check, passed_share
    from core.trained import to_images
    from plugins.transformer.sampling import draw_codes

    codes, scores = [], []
    started = time.time()
    for start in range(0, len(prompts), CHUNK):
        chunk = list(prompts[start:start + CHUNK])
        captions = [item.caption for item in chunk for _ in range(candidates)]
        base = seed * SEED_STRIDE + (first + start) * candidates
        grids = draw_codes(model.prior, model.tokenizer, captions, seeds=range(base, base + len(captions)))
        images = to_images(model.tokenizer.decode(grids))
        shares = [passed_share(check(image, chunk[row // candidates].claim)) for row, image in enumerate(images)]
        codes.append(grids.view(len(chunk), candidates, *grids.shape[1:]).to(torch.int16))
        scores.append(torch.tensor(shares).view(len(chunk), candidates))
        print(f"drew {start + len(chunk)}/{len(prompts)} captions ({time.time() - started:.0f} s)",
              file=sys.stderr, flush=True)
    return {"captions": [item.caption for item in prompts], "codes": torch.cat(codes),
            "scores": torch.cat(scores)}


@torch.no_grad()
def paint(tokenizer: Any, codes: torch.Tensor) -> torch.Tensor:
    """(P, K, grid, grid) codes -> (P, K, 3, R, R) uint8 pictures, decoded in chunks."""
    p, k = codes.shape[:2]
    flat = codes.flatten(0, 1).long()
    pixels = [(tokenizer.decode(flat[i:i + 512]).clamp(0, 1) * 255).round().to(torch.uint8)
              for i in range(0, len(flat), 512)]
    pixels = torch.cat(pixels)
    return pixels.view(p, k, *pixels.shape[1:])


def judged(judge: Any, pixels: torch.Tensor, captions: Sequence[str]) -> torch.Tensor:
    """The judge's scores (P, K) of each caption's K candidate pictures (P, K, 3, R, R) uint8."""
    from core.text_encoder import encode_cached

    p, k = pixels.shape[:2]
    text = encode_cached(list(captions))
    return judge(pixels.flatten(0, 1).float() / 255, text.tokens, text.mask,
                 torch.arange(p * k), torch.arange(p).repeat_interleave(k)).view(p, k)


@torch.no_grad()
def agreement(judge: Any, pixels: torch.Tensor, captions: Sequence[str], scores: torch.Tensor) -> dict[str, float]:
    """The checker's mean score of the judge's pick per caption, of its own pick and of the first draw."""
    from core.reranking import pick_agreement

    judge.eval()
    pick = torch.cat([judged(judge, pixels[i:i + 64], captions[i:i + 64]).argmax(1)
                      for i in range(0, len(captions), 64)])
    return pick_agreement(scores, pick)


def swapped(claim: Any, rng: Any, relation_only: bool = False) -> Any:
    """``claim`` (two objects, beside or in a relation) with the relation or the two
    colours swapped, or None where that changes nothing (two objects of one colour).
    ``relation_only``: only relations are swapped (None for two objects beside)."""
    from core.corpus.counterfactual import colours_swapped, relation_swapped

    if relation_only:
        return relation_swapped(claim) if claim.relation else None
    colours = colours_swapped(claim)
    if claim.relation and (colours is None or rng.random() < 0.5):
        return relation_swapped(claim)
    return colours


def hard_pairs(count: int, rng: Any, relation_only: bool = False) -> tuple[torch.Tensor, list[str]]:
    """``count`` corpus pictures of two objects and their captions, then those of each
    one's :func:`swapped` claim in the same order: (2 * count, 3, R, R) in [0, 1]."""
    from core.corpus.dataset import image_to_tensor, render, scene_and_caption
    from core.corpus.shapes import sample_shapes_claim

    claims: list[Any] = []
    while len(claims) < count:
        claim = sample_shapes_claim(rng)
        other = swapped(claim, rng, relation_only) if claim.caption_kind in ("two", "relation") else None
        if other is not None:
            claims.append((claim, other))
    pictures, captions = [], []
    for which in (0, 1):
        for pair in claims:
            scene, text = scene_and_caption(pair[which], rng)
            pictures.append(image_to_tensor(render(scene)))
            captions.append(text)
    return torch.stack(pictures), captions


def pair_scores(judge: Any, pixels: torch.Tensor, captions: list[str]) -> torch.Tensor:
    """For :func:`hard_pairs`, the judge's scores (3, 2N) of each caption with its own
    picture, with its partner's picture, and of each picture with its partner's caption."""
    from core.text_encoder import encode_cached

    n = len(captions)
    own = torch.arange(n)
    partner = (own + n // 2) % n
    text = encode_cached(captions)
    return judge(pixels, text.tokens, text.mask, torch.cat([own, partner, own]),
                 torch.cat([own, own, partner])).view(3, n)


def pair_loss(judge: Any, pixels: torch.Tensor, captions: list[str]) -> torch.Tensor:
    """Each caption of :func:`hard_pairs` chooses its own picture over its partner's,
    and each picture its own caption over its partner's (cross-entropy, both ways), on
    pictures blurred and noised as the critic learns them."""
    from torch.nn import functional as F

    from core.critic_training import augment

    matched, other_picture, other_caption = pair_scores(judge, augment(pixels), captions)
    zero = torch.zeros(len(captions), dtype=torch.long)
    return F.cross_entropy(torch.stack([matched, other_picture], 1), zero) + \
        F.cross_entropy(torch.stack([matched, other_caption], 1), zero)


@torch.no_grad()
def pair_choices(judge: Any, pixels: torch.Tensor, captions: list[str]) -> float:
    """Share of right choices in :func:`hard_pairs`, both ways."""
    matched, other_picture, other_caption = pair_scores(judge, pixels, captions)
    return float(torch.cat([matched > other_picture, matched > other_caption]).float().mean())


def relabelled(pixels: torch.Tensor, prompts: Sequence[Any], scores: torch.Tensor,
               seed: int) -> list[tuple[list[int], list[tuple[int, str]]]]:
    """Per drawn caption (pixels (P, K, 3, R, R) uint8): its candidates the checker passes,
    and each failed candidate whose picture it reads as another claim
    (``core.checker.shown_claim``) that no passing candidate also fits, with a caption of
    what it shows, written as the corpus writes one. Hindsight: the prior's own failures,
    named for what they are (``--hindsight``)."""
    import numpy as np

    from core.checker import check_shapes, read_shapes, shown_claim
    from core.corpus.dataset import write_caption

    rng = np.random.default_rng([seed, 999])
    found: list[tuple[list[int], list[tuple[int, str]]]] = []
    for i, prompt in enumerate(prompts):
        if prompt.claim.family != "shapes":
            found.append(([], []))
            continue
        readings = [read_shapes(picture.permute(1, 2, 0).numpy()) for picture in pixels[i]]
        passing = [k for k in range(len(readings)) if scores[i, k] >= 1.0]
        failures = []
        for k, reading in enumerate(readings):
            shown = None if k in passing else shown_claim(reading, prompt.claim)
            if shown is None or shown == prompt.claim or not all(check_shapes(reading, shown).values()) \
                    or any(all(check_shapes(readings[j], shown).values()) for j in passing):
                continue
            failures.append((k, write_caption(shown, rng)))
        found.append((passing, failures))
    return found


def hindsight_loss(judge: Any, pixels: torch.Tensor, captions: Sequence[str], rows: torch.Tensor,
                   found: Sequence[tuple[list[int], list[tuple[int, str]]]], rng: Any) -> torch.Tensor | None:
    """For each caption of ``rows`` with a passing and a relabelled failed candidate
    (:func:`relabelled`), one of each at random: the caption chooses the passing picture,
    the failure's caption its own picture, and each picture its own caption (:func:`pair_loss`)."""
    chosen = [(i, passing[rng.integers(len(passing))], failures[rng.integers(len(failures))])
              for i in rows.tolist() for passing, failures in [found[i]] if passing and failures]
    if not chosen:
        return None
    pictures = [pixels[i, k] for i, k, _ in chosen] + [pixels[i, k] for i, _, (k, _) in chosen]
    texts = [captions[i] for i, _, _ in chosen] + [text for _, _, (_, text) in chosen]
    return pair_loss(judge, torch.stack(pictures).float() / 255, texts)


def teach_relations(judge: Any, steps: int, lr: float, seed: int, pairs: int = 32) -> list[dict[str, float]]:
    """Before the listwise tuning: ``steps`` steps of corpus relation claims against the
    same claims with the relation swapped, and nothing else. Mixed into the listwise
    tuning, 16 relation pairs a step left the judge at chance on them after 4 epochs;
    alone, 32 a step took it past 0.9 in 300 steps (model card)."""
    import numpy as np

    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 6262])
    check = hard_pairs(100, np.random.default_rng([seed, 7373]), relation_only=True)
    optimizer = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=1e-4)
    log, started = [], time.time()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50)
        judge.train()
        loss = pair_loss(judge, *hard_pairs(pairs, rng, relation_only=True))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(judge.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            judge.eval()
            log.append({"relation_step": step + 1, "loss": round(float(loss.detach()), 4),
                        "relation_choices": round(pair_choices(judge, *check), 3),
                        "seconds": round(time.time() - started)})
            print(json.dumps(log[-1]), file=sys.stderr, flush=True)
    judge.eval()
    return log


def with_coordinates(judge: Any) -> Any:
    """The same judge with fixed row and column codes added to its grid cells."""
    from dataclasses import replace

    from core.critic import Critic

    if judge.cfg.coordinates:
        return judge
    new = Critic(replace(judge.cfg, coordinates=1))
    new.load_state_dict(judge.state_dict())
    return new


def train_judge(judge: Any, pixels: torch.Tensor, captions: list[str], scores: torch.Tensor,
                held_out: dict[str, Any], epochs: int, lr: float, batch: int, temperature: float,
                seed: int, pairs: int = 0, relation_pairs: int = 0,
                hindsight: tuple[float, Sequence[Any]] | None = None) -> list[dict[str, float]]:
    """Listwise tuning on the captions whose candidates the checker does not score alike,
    with ``pairs`` :func:`hard_pairs` a step, ``relation_pairs`` more that swap only
    the relation, and ``hindsight`` (weight, :func:`relabelled`) pairs of the step's captions."""
    import numpy as np

    from core.reranking import listwise_loss

    torch.manual_seed(seed)
    informative = (scores.max(1).values > scores.min(1).values).nonzero()[:, 0]
    optimizer = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(informative) + batch - 1) // batch)
    order = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng([seed, 5151])
    log = [{"epoch": 0, **agreement(judge, held_out["pixels"], held_out["captions"], held_out["scores"])}]
    print(json.dumps(log[-1]), file=sys.stderr, flush=True)
    if not steps:           # --epochs 0: only the pair steps before
        return log
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.05)
    started = time.time()
    for epoch in range(epochs):
        judge.train()
        total = 0.0
        permutation = informative[torch.randperm(len(informative), generator=order)]
        for start in range(0, len(permutation), batch):
            rows = permutation[start:start + batch]
            predicted = judged(judge, pixels[rows], [captions[i] for i in rows])
            loss = listwise_loss(predicted, scores[rows], temperature)
            if pairs:
                loss = loss + pair_loss(judge, *hard_pairs(pairs, rng))
            if relation_pairs:
                loss = loss + pair_loss(judge, *hard_pairs(relation_pairs, rng, relation_only=True))
            if hindsight:
                relabelled_loss = hindsight_loss(judge, pixels, captions, rows, hindsight[1], rng)
                loss = loss if relabelled_loss is None else loss + hindsight[0] * relabelled_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(rows)
        log.append({"epoch": epoch + 1, "train_loss": round(total / len(permutation), 4),
                    "seconds": round(time.time() - started),
                    **agreement(judge, held_out["pixels"], held_out["captions"], held_out["scores"])})
        print(json.dumps(log[-1]), file=sys.stderr, flush=True)
    judge.eval()
    return log


def export(folder: Path, out: Path, judge: Any, record: dict[str, Any]) -> dict[str, int]:
    """``out``: the transformer of ``folder`` unchanged (same tensors) plus the judge."""
    from core.checkpoint import export_with_module

    return export_with_module(folder, "transformer", out, "judge", judge.state_dict(),
                              {**judge.cfg.to_dict(), **record})


def main(argv: Sequence[str] | None = None) -> int:
    from core.checkpoint import weights_dir
    from core.corpus.dataset import DATA_FAMILIES, captioned_claims
    from core.critic import load_critic
    from plugins.transformer import load_model

    parser = argparse.ArgumentParser(prog="python -m plugins.transformer.judge_training",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--transformer", type=Path, default=Path("assets/transformer"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prompts", type=int, default=12000)
    parser.add_argument("--held-out", type=int, default=400)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--family", choices=DATA_FAMILIES, default="shapes")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=8, help="captions per step (each with its candidates)")
    parser.add_argument("--temperature", type=float, default=0.1, help="of the checker's softmax")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", choices=("critic", "judge"), default="critic",
                        help="tune from the shared critic, or go on from the judge --transformer holds")
    parser.add_argument("--pairs", type=int, default=0,
                        help="corpus pictures of two objects a step, each against its claim with the "
                             "relation or colours swapped")
    parser.add_argument("--relation-pairs", type=int, default=0,
                        help="more corpus relation pairs a step, each against its relation swapped")
    parser.add_argument("--relation-steps", type=int, default=0,
                        help="steps of corpus relation pairs alone (relation swapped) before the tuning")
    parser.add_argument("--relation-lr", type=float, default=3e-4)
    parser.add_argument("--hindsight", type=float, default=0.0, metavar="WEIGHT",
                        help="weight of pairs of a passing drawing and a failed one captioned with what "
                             "the checker reads in it, one per caption a step (0: none)")
    parser.add_argument("--coordinates", action="store_true",
                        help="give the judge fixed row and column codes for its grid cells")
    parser.add_argument("--drawn", type=Path, help="file to keep the drawings in (read back if it exists; "
                                                   "a later run with more --prompts draws only the new ones)")
    args = parser.parse_args(argv)
    if not 0 < args.held_out < args.prompts:
        parser.error("--held-out must be at least 1 and fewer than --prompts")

    model = load_model(args.transformer, with_judge=False)
    prompts = captioned_claims(args.prompts, args.seed, args.family)
    data = torch.load(args.drawn) if args.drawn and args.drawn.is_file() else None
    made_by = {"family": args.family, "seed": args.seed}
    if data is not None and data.get("made_by", made_by) != made_by:
        parser.error(f"{args.drawn} was drawn for {data['made_by']}, not {made_by}")
    if data is not None and data["codes"].shape[1] != args.candidates:
        parser.error(f"{args.drawn} holds {data['codes'].shape[1]} candidates per caption, not {args.candidates}")
    have = 0 if data is None else len(data["captions"])
    if have < len(prompts):
        more = draw(model, prompts[have:], args.candidates, args.seed, have)
        data = more if data is None else {"captions": data["captions"] + more["captions"],
                                          "codes": torch.cat([data["codes"], more["codes"]]),
                                          "scores": torch.cat([data["scores"], more["scores"]])}
        if args.drawn:
            args.drawn.parent.mkdir(parents=True, exist_ok=True)
            torch.save({**data, "made_by": made_by}, args.drawn)
    captions, scores = data["captions"][:len(prompts)], data["scores"][:len(prompts)]
    pixels = paint(model.tokenizer, data["codes"][:len(prompts)])
    split = len(prompts) - args.held_out
    held_out = {"pixels": pixels[split:], "captions": captions[split:], "scores": scores[split:]}
    judge = load_critic(weights_dir("critic")) if args.start == "critic" else \
        load_model(args.transformer).judge
    if judge is None:
        parser.error(f"--start judge: {args.transformer} holds no judge")
    if args.coordinates:
        judge = with_coordinates(judge)
    relations = teach_relations(judge, args.relation_steps, args.relation_lr, args.seed) if args.relation_steps else []
    hindsight = (args.hindsight, relabelled(pixels[:split], prompts[:split], scores[:split], args.seed)) \
        if args.hindsight else None
    started = time.time()
    log = train_judge(judge, pixels[:split], captions[:split], scores[:split], held_out,
                      args.epochs, args.lr, args.batch, args.temperature, args.seed, args.pairs,
                      args.relation_pairs, hindsight)
    record = {"training": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                           if k not in ("out", "drawn")},
              "train_seconds": round(time.time() - started, 1), "held_out": log[-1], "before": log[0],
              "relations": relations[-1:]}
    sizes = export(args.transformer, args.out, judge, record)
    print(json.dumps({"out": str(args.out), "files": sizes, "held_out": log[-1]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
