"""How much choosing among the Transformer's candidates could give, and how much its judges get.

    python -m plugins.transformer.headroom --family paraphrases --seed 0 --pool runs/pool_p0.pt \
        [--judge NAME=FOLDER ...] [--mix judge+NAME:0.5 ...]

For every prompt of an eval family, draws every candidate of each of ``--n`` images as
the generator does (the same seeds, its sampling unless ``--guidance`` or ``--temperature``
say otherwise, pictures enlarged to the output size before the checker reads them, as in
``python -m core eval``), and keeps the checker's result
of each. Then prints the eval's figures for the pick of:
- the first draw (no choosing);
- the shipped judge (``judge``) and each ``--judge`` folder's judge;
- with ``--likelihood``, the prior's own log-probability of the codes given the prompt;
- each ``--mix``: a weighted sum of judges' scores, standardised over each image's candidates;
- the checker itself (``oracle``): what a perfect chooser among these draws would score.

The pool (codes, checker results, judges' scores) is kept in ``--pool``, so further
judges are scored without drawing again. The checker runs here only, never when the
generator draws.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

SHIPPED = "judge"
LIKELIHOOD = "likelihood"


@torch.no_grad()
def draw_pool(model: Any, prompts: Sequence[Any], n: int, seed: int, candidates: int,
              sampling: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per eval prompt (``core.evaluate.EvalPrompt``): every candidate's codes and the
    checker's result of its picture, candidate-major as ``core.reranking.candidate_seeds``
    orders them. ``sampling``: generator params to change (guidance, temperature, top_k);
    the rest, and the output size, are the generator's defaults."""
    from core.checker import check
    from core.params import validate_params
    from core.reranking import candidate_seeds
    from core.trained import enlarge
    from plugins.transformer import NAME, OUTPUT_RESAMPLE, TransformerGenerator, sampling_settings
    from plugins.transformer.sampling import draw_from_text, encode_prompts, paint_codes

    params = validate_params(TransformerGenerator.params, sampling, owner=NAME)
    pool, started = [], time.time()
    for item in prompts:
        seeds = candidate_seeds(seed, n, candidates)
        codes = draw_from_text(model.prior, model.tokenizer, encode_prompts([item.prompt] * len(seeds)), seeds,
                               **sampling_settings(params))
        pictures = enlarge(paint_codes(model.tokenizer, codes), int(params["size"]), OUTPUT_RESAMPLE)
        pool.append({"prompt": item.prompt, "codes": codes.to(torch.int16), "scores": {},
                     "results": [check(picture, item.claim) for picture in pictures]})
        print(f"{time.time() - started:4.0f} s  {item.prompt}", file=sys.stderr, flush=True)
    return pool


@torch.no_grad()
def add_scores(pool: list[dict[str, Any]], name: str, model: Any) -> None:
    """``model``'s judge's score of every candidate, under ``name``, as the generator scores them."""
    from core.critic import match_scores
    from plugins.transformer.sampling import paint_codes

    for record in pool:
        pictures = paint_codes(model.tokenizer, record["codes"].long())
        record["scores"][name] = match_scores(model.judge, pictures, record["prompt"])


@torch.no_grad()
def add_likelihood(pool: list[dict[str, Any]], model: Any, chunk: int = 48) -> None:
    """The prior's log-probability of every candidate's codes given its prompt (teacher
    forcing), under ``likelihood``: how the prior itself would rank its drawings."""
    from torch.nn import functional as F

    from plugins.transformer.sampling import encode_prompts

    for record in pool:
        codes = record["codes"].long().flatten(1)
        tokens, mask, no_caption = encode_prompts([record["prompt"]] * len(codes))
        totals = []
        for start in range(0, len(codes), chunk):
            rows = slice(start, start + chunk)
            logits = model.prior(codes[rows], tokens[rows], mask[rows], no_caption[rows])
            totals.append(F.log_softmax(logits, -1).gather(2, codes[rows, :, None])[:, :, 0].sum(1))
        record["scores"][LIKELIHOOD] = torch.cat(totals)


def standardised(scores: torch.Tensor, n: int, candidates: int) -> torch.Tensor:
    """Candidate-major scores with mean 0 and deviation 1 over each image's candidates."""
    grid = scores.float().view(candidates, n)
    return ((grid - grid.mean(0)) / (grid.std(0) + 1e-6)).flatten()


def parse_mix(text: str) -> list[tuple[str, float]]:
    """``"judge+other:0.5"`` -> ``[("judge", 1.0), ("other", 0.5)]``."""
    terms = []
    for term in text.split("+"):
        name, _, weight = term.partition(":")
        terms.append((name, float(weight) if weight else 1.0))
    return terms


def figures(pool: list[dict[str, Any]], family: str, n: int, candidates: int,
            chooser: Any) -> dict[str, Any]:
    """The eval's summary of the pictures ``chooser(record)`` (candidate-major scores) picks."""
    from core.evaluate import summarise
    from core.reranking import best_rows

    chosen = [{"results": [record["results"][int(row)] for row in best_rows(chooser(record), n, candidates)]}
              for record in pool]
    return summarise(chosen, family)


def choosers(names: Sequence[str], mixes: Sequence[str], n: int, candidates: int) -> dict[str, Any]:
    """Label -> scores of a record's candidates, for every way of choosing to report."""
    from core.checker import passed_share

    first = torch.zeros(n * candidates)
    first[:n] = 1.0
    found = {"first draw": lambda record: first}
    for name in names:
        found[name] = lambda record, name=name: record["scores"][name]
    for mix in mixes:
        terms = parse_mix(mix)
        found[mix] = lambda record, terms=terms: sum(
            weight * standardised(record["scores"][name], n, candidates) for name, weight in terms)
    # The checker's own pick; ties go to the shipped judge's order (standardised scores stay
    # within +-sqrt(candidates), so 1e-3 of them never outweighs a category).
    found["oracle"] = lambda record: torch.tensor([passed_share(r) for r in record["results"]]) + \
        1e-3 * standardised(record["scores"][SHIPPED], n, candidates)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    from core.evaluate import EVAL_FAMILIES, eval_prompts
    from core.errors import UserError
    from plugins.transformer import DEFAULT_CANDIDATES, load_model

    parser = argparse.ArgumentParser(prog="python -m plugins.transformer.headroom",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=[f for f in EVAL_FAMILIES if f != "all"], default="shapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=8, help="images per prompt")
    parser.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES)
    parser.add_argument("--transformer", type=Path, default=Path("assets/transformer"),
                        help="the weights that draw, and whose judge is 'judge'")
    parser.add_argument("--guidance", type=float, help="sampling (default: the generator's)")
    parser.add_argument("--temperature", type=float, help="sampling (default: the generator's)")
    parser.add_argument("--pool", type=Path, help="file to keep the drawings in (read back if it exists)")
    parser.add_argument("--judge", action="append", default=[], metavar="NAME=FOLDER",
                        help="a transformer folder whose judge to score the candidates with")
    parser.add_argument("--likelihood", action="store_true",
                        help="also score each candidate by the prior's log-probability of its codes")
    parser.add_argument("--mix", action="append", default=[], metavar="A+B:W",
                        help="pick by judges' standardised scores summed with weights")
    args = parser.parse_args(argv)
    judges = dict(spec.split("=", 1) for spec in args.judge)
    if SHIPPED in judges:
        parser.error(f"'{SHIPPED}' names the judge of --transformer")

    model = load_model(args.transformer)
    sampling = {k: v for k, v in (("guidance", args.guidance), ("temperature", args.temperature)) if v is not None}
    setting = {"family": args.family, "seed": args.seed, "n": args.n, "candidates": args.candidates,
               "transformer": str(args.transformer), **sampling}
    stored = torch.load(args.pool, weights_only=False) if args.pool and args.pool.is_file() else None
    if stored is not None and stored["setting"] != setting:
        parser.error(f"{args.pool} holds draws for {stored['setting']}, not {setting}")
    if stored is not None:
        pool = stored["pool"]
    else:
        try:
            pool = draw_pool(model, eval_prompts(args.family), args.n, args.seed, args.candidates, sampling)
        except UserError as error:          # a setting out of the generator's range
            parser.error(str(error))
        add_scores(pool, SHIPPED, model)
    if args.likelihood:
        add_likelihood(pool, model)
    for name, folder in judges.items():
        add_scores(pool, name, load_model(Path(folder)))
    if args.pool:
        torch.save({"setting": setting, "pool": pool}, args.pool)
    scored = list(pool[0]["scores"])            # judges scored in this run or an earlier one
    unknown = {name for mix in args.mix for name, _ in parse_mix(mix)} - set(scored)
    if unknown:
        parser.error(f"--mix names judges not scored: {sorted(unknown)} (scored: {scored})")
    for label, chooser in choosers(scored, args.mix, args.n, args.candidates).items():
        summary = figures(pool, args.family, args.n, args.candidates, chooser)
        parts = "  ".join(f"{c} {v:.3f}" for c, v in summary["categories"].items())
        print(f"{label:>24}  {summary['overall']:.4f}  {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
