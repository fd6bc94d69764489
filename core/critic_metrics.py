"""How well a critic tells a corpus picture's caption from its counterfactual,
by caption kind and by the fact the counterfactual changed (the table in
``assets/critic/MODEL_CARD.md``)::

    python -m core.critic_metrics [--weights DIR] [--n 400] [--seed 77] [--json]

Shapes claims are drawn and laid out with ``numpy.random.default_rng(seed)``, a
stream training never used. For each claim and its counterfactual (the critic
trainer's own edits, ``negative_claim``) both are rendered and captioned; a claim
counts two choices: its picture's own caption over the counterfactual caption,
and its caption's own picture over the counterfactual picture.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any

import numpy as np


def edit_kind(claim: Any, changed: Any) -> str:
    """Which stated fact ``changed`` differs from ``claim`` in."""
    if changed.relation != claim.relation and changed.relation and claim.relation:
        return "relation swapped"
    if len(changed.objects) != len(claim.objects):
        return "count or object left out"
    colours = [o.color for o in claim.objects], [o.color for o in changed.objects]
    kinds = [o.kind for o in claim.objects], [o.kind for o in changed.objects]
    if len(claim.objects) == 2 and colours[1] == colours[0][::-1] and colours[0] != colours[1]:
        return "colours swapped"
    return "another kind" if kinds[0] != kinds[1] else "another colour"


def pair_accuracy(critic: Any, n: int = 400, seed: int = 77) -> dict[str, dict[str, float]]:
    """Share of right choices per caption kind and edit, with counts, and overall."""
    from core.corpus.captions import caption
    from core.corpus.dataset import random_claim, render, scene_for
    from core.critic import match_scores
    from core.critic_training import negative_claim

    rng = np.random.default_rng(seed)
    right: dict[tuple[str, str], int] = defaultdict(int)
    total: dict[tuple[str, str], int] = defaultdict(int)
    for _ in range(n):
        claim = random_claim("shapes", rng)
        changed = negative_claim(claim, rng)
        if changed is None:
            continue
        pictures = [render(scene_for(c, rng)) for c in (claim, changed)]
        texts = [caption(c, rng) for c in (claim, changed)]
        own, other = match_scores(critic, pictures, texts[0]), match_scores(critic, pictures, texts[1])
        key = (claim.caption_kind, edit_kind(claim, changed))
        right[key] += int(own[0] > own[1]) + int(other[1] > other[0])
        total[key] += 2
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for (kind, edit), count in sorted(total.items()):
        table[kind][edit] = round(right[(kind, edit)] / count, 3)
        table[kind][f"{edit} (choices)"] = count
    table["all"]["accuracy"] = round(sum(right.values()) / max(1, sum(total.values())), 3)
    return dict(table)


def main(argv: list[str] | None = None) -> None:
    from core.checkpoint import weights_dir
    from core.critic import NAME, load_critic

    parser = argparse.ArgumentParser(prog="python -m core.critic_metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="a critic folder (default: the shipped one)")
    parser.add_argument("--n", type=int, default=400, help="claims drawn (each gives two choices)")
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    table = pair_accuracy(load_critic(args.weights or weights_dir(NAME)), args.n, args.seed)
    if args.json:
        print(json.dumps(table, indent=1))
        return
    for kind, row in table.items():
        cells = [f"{edit} {value:.2f} ({row[edit + ' (choices)']})" for edit, value in row.items()
                 if not edit.endswith("(choices)") and kind != "all"]
        print(f"{kind:9s} " + ("; ".join(cells) if kind != "all" else f"accuracy {row['accuracy']:.3f}"))


if __name__ == "__main__":
    main()
