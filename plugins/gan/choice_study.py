"""How much choosing among the GAN's candidates gains, measured on the eval's prompts.

    python -m plugins.gan.choice_study --seed 0 --candidates 16

For each prompt of the eval's ``--family`` (``core.evaluate``), ``--n`` images are drawn
with ``--candidates`` latents each, as generation draws them, and every candidate is
decoded and checked. Three picks are scored the way ``python -m core eval`` scores
(the mean of the checker's categories): the first candidate (no choosing), the
shipped ranker's, and the candidate the checker itself passes best, an oracle that
reads the eval's claims and is a measuring stick only: generation never runs it.
Pictures are checked at the model's 64 px (the eval checks them enlarged, so its
figures differ by a point or so).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Sequence

import torch


@torch.no_grad()
def study(folder: Path, family: str = "shapes", n: int = 8, seed: int = 0, candidates: int = 16,
          limit: int | None = None) -> dict[str, dict]:
    """Per pick ("first", "ranker", "oracle"): its summary as ``python -m core eval`` gives
    it (``overall``, ``categories``, ...)."""
    from core.checker import check, passed_share
    from core.evaluate import eval_prompts, summarise
    from core.reranking import best_rows, candidate_streams
    from core.trained import to_images
    from plugins.gan import load_model
    from plugins.gan.model import decode
    from plugins.gan.sampling import NO_TRUNCATION, _draws

    model = load_model(folder)
    if model.ranker is None:
        raise SystemExit(f"{folder} has no ranker")
    records: dict[str, list[dict]] = {"first": [], "ranker": [], "oracle": []}
    for item in eval_prompts(family)[:limit]:
        z, c, context = _draws(model, [item.prompt] * n, candidate_streams(seed, candidates), NO_TRUNCATION)
        u = model.generator(z, c)
        results = [check(image, item.claim) for image in to_images(decode(model.autoencoder, u, c, context))]
        shares = torch.tensor([passed_share(r) for r in results])
        picks = {"first": torch.arange(n), "ranker": best_rows(model.ranker(u, c), n, candidates),
                 "oracle": best_rows(shares, n, candidates)}
        for name, rows in picks.items():
            records[name].append({"results": [results[row] for row in rows.tolist()]})
    return {name: summarise(chosen, family) for name, chosen in records.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.gan.choice_study", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=os.environ.get("IMPASTO_GAN_WEIGHTS", "assets/gan"))
    parser.add_argument("--family", choices=("shapes", "landscapes", "paraphrases"), default="shapes")
    parser.add_argument("--n", type=int, default=8, help="images per prompt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=16)
    args = parser.parse_args(argv)
    print(json.dumps(study(Path(args.weights), args.family, args.n, args.seed, args.candidates), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
