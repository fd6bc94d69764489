"""``python -m core SUBCOMMAND``: the command-line face of Impasto.

Every subcommand takes ``--json`` and then prints exactly one JSON document on
stdout. Exit 0 on success, 2 with a one-line message on stderr for bad input,
1 with a one-line message when a plugin fails. Never a traceback for a user error.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from core.errors import JobError, UserError

EXIT_OK, EXIT_JOB_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but bad arguments are a one-line message and exit 2 like every
    other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def _progress(enabled: bool) -> Callable[[float, str], None]:
    """A tqdm bar on stderr, created on the first report (so a job refused during
    validation prints only its error)."""
    if not enabled:
        return lambda fraction, message="": None
    from tqdm import tqdm

    bars: list[Any] = []

    def report(fraction: float, message: str = "") -> None:
        if not bars:
            bars.append(tqdm(total=100, file=sys.stderr, leave=False, bar_format="{l_bar}{bar}| {desc}"))
        bar = bars[0]
        bar.n = int(max(0.0, min(fraction, 1.0)) * 100)
        bar.set_description_str(message[:40])
        bar.refresh()
        if fraction >= 1.0:
            bar.close()

    return report


def _parse_param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--param takes KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # plain text, e.g. --param scheduler=euler
    return key.strip(), value


# --------------------------------------------------------------------- commands


def cmd_plugins(args: argparse.Namespace) -> Any:
    from core.registry import get_registry

    records = get_registry().to_json()
    if not args.json:
        for r in records:
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in r["provides"].items() if v)
            line = f"{r['name']:<20} {r['version']:<10} {r['source']:<10} {r['status']:<8} {provides}"
            print(line.rstrip())
            for extra in (r["error"], r["note"]):
                if extra:
                    print(f"{'':<20} {extra}")
    return records


def cmd_generate(args: argparse.Namespace) -> Any:
    from core import pipeline
    from core.metadata import read_settings, save_png
    from core.recipe import load_recipe_file

    options: dict[str, Any] = {}
    if args.from_png:
        settings = read_settings(args.from_png)
        options = {key: settings.get(key) for key in ("prompt", "backend", "n", "seed", "params",
                                                      "style", "style_strength", "recipe", "then")}
    for key in ("prompt", "backend", "n", "seed", "style", "style_strength"):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    if args.recipe:
        options["recipe"] = load_recipe_file(args.recipe)
    if args.param:
        options["params"] = dict(options.get("params") or {}, **dict(map(_parse_param, args.param)))
    if "prompt" not in options:
        raise UserError("generate needs --prompt (or --from-png FILE)")
    options = {key: value for key, value in options.items() if value is not None}
    options.setdefault("backend", pipeline.DEFAULT_BACKEND)
    # replay = generate, then any recipes a Stylize session applied afterwards
    result = pipeline.replay(options, progress=_progress(not args.json))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, image in enumerate(result.images):
        path = out / f"{result.backend}_{result.seed}_{index}.png"
        save_png(image, path, dict(result.settings, index=index))
        paths.append(str(path))
    if not args.json:
        print("\n".join(paths))
    return {"images": paths, "backend": result.backend, "seed": result.seed,
            "seconds": round(result.seconds, 4), "settings": result.settings}


def cmd_analyze(args: argparse.Namespace) -> Any:
    from core import pipeline

    result = pipeline.analyze(args.image)
    if args.figures:
        folder = Path(args.figures)
        folder.mkdir(parents=True, exist_ok=True)
        for name, figure in result.figures.items():
            figure.save(folder / f"{name}.png")
    data = dict(result.data, seconds=round(result.seconds, 4))
    if not args.json:
        for key, value in data.items():
            text = json.dumps(value)
            print(f"{key}: {text[:200]}{'…' if len(text) > 200 else ''}")
    return data


def cmd_transfer(args: argparse.Namespace) -> Any:
    from core import pipeline

    if bool(args.style_image) == bool(args.preset):
        raise UserError("transfer needs either --style-image IMG (repeatable) or --preset SPEC")
    presets = pipeline.parse_presets(args.preset) if args.preset else []
    weights = [1.0] * len(args.style_image or [])
    if args.style_weights:
        weights = [w for w in args.style_weights.split(",") if w.strip()]  # type: ignore[misc]
        if len(weights) != len(args.style_image or []):
            raise UserError("--style-weights needs one weight per --style-image")
    blend = pipeline.make_blend(presets, list(zip(args.style_image or [], weights)))
    out = Path(args.out)
    if len(args.content) > 1:
        out.mkdir(parents=True, exist_ok=True)
        targets = [out / f"{Path(c).stem}_styled.png" for c in args.content]
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        targets = [out]
    outputs, seconds = [], 0.0
    for content, target in zip(args.content, targets):
        result = pipeline.transfer(content, blend, engine=args.engine, strength=args.strength,
                                   preserve_color=args.preserve_color, max_size=args.max_size,
                                   progress=_progress(not args.json))
        result.image.save(target)
        outputs.append(str(target))
        seconds += result.seconds
    if not args.json:
        print("\n".join(outputs))
    return {"output": outputs[0] if len(outputs) == 1 else outputs, "outputs": outputs,
            "seconds": round(seconds, 4)}


def cmd_stylize(args: argparse.Namespace) -> Any:
    from core import pipeline
    from core.recipe import load_recipe_file

    result = pipeline.stylize(args.image, load_recipe_file(args.recipe), progress=_progress(not args.json))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(out, format="PNG")
    if not args.json:
        print(out)
    return {"output": str(out), "ops": [op.op for op in result.recipe.ops],
            "seconds": round(result.seconds, 4)}


def cmd_train(args: argparse.Namespace) -> Any:
    from core.training import train_from_cli

    return train_from_cli(args)


def cmd_eval(args: argparse.Namespace) -> Any:
    from core.evaluate import eval_from_cli

    args.params = dict(map(_parse_param, args.param or []))
    return eval_from_cli(args)


def cmd_export(args: argparse.Namespace) -> Any:
    from core.checkpoint import export_checkpoint

    summary = export_checkpoint(args.run, args.out, args.module or None, half=not args.float32)
    if not args.json:
        for name, size in summary["files"].items():
            print(f"{Path(args.out) / name}  {size / 1e6:.2f} MB")
    return summary


GRID_PROMPTS = ("a red circle on a blue background", "a yellow square on a black background",
                "two purple circles on a yellow background", "a red triangle to the left of a green square",
                "a sunset over the mountains", "green hills on a sunny day with clouds",
                "mountains at night with a full moon by the sea", "a desert at sunset")


def cmd_grid(args: argparse.Namespace) -> Any:
    """Prompts x (backends x seeds) from the shipped weights, for READMEs and model cards."""
    from core import pipeline
    from core.corpus.preview import grid_image

    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    prompts = [p.strip() for p in args.prompts.split("|") if p.strip()] if args.prompts else list(GRID_PROMPTS)
    if not backends or not 1 <= args.seeds <= 8 or not 1 <= len(prompts) <= 16:
        raise UserError("grid needs 1+ backends, 1 to 8 seeds and 1 to 16 prompts")
    images, captions = [], []
    for prompt in prompts:
        for backend in backends:
            result = pipeline.generate(prompt, backend=backend, n=args.seeds, seed=args.seed,
                                       params={"size": 64} if _has_size(backend) else None)
            for index, image in enumerate(result.images):
                images.append(image)
                head = prompt if backend == backends[0] and index == 0 else ""
                captions.append(f"{backend} #{index}" + (f": {head}" if head else ""))
    sheet = grid_image(images, captions, columns=len(backends) * args.seeds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    if not args.json:
        print(out)
    return {"output": str(out), "backends": backends, "prompts": prompts, "seeds": args.seeds}


def _has_size(backend: str) -> bool:
    from core.registry import get_registry

    return any(p.name == "size" and 64 in p.choices
               for p in get_registry().get("generators", backend).params)


def cmd_corpus_preview(args: argparse.Namespace) -> Any:
    from core.corpus.preview import write_grid

    if not 1 <= args.n <= 256:
        raise UserError(f"--n must be between 1 and 256, got {args.n}")
    path = write_grid(args.out, args.family, args.n, args.seed)
    if not args.json:
        print(path)
    return {"output": path, "family": args.family, "n": args.n, "seed": args.seed}


def cmd_bench(args: argparse.Namespace) -> Any:
    from core.bench import run_benchmarks

    return run_benchmarks(only=args.only, quiet=args.json)


# --------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="Impasto from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, handler: Callable[[argparse.Namespace], Any], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        p.set_defaults(handler=handler)
        return p

    command("plugins", cmd_plugins, "list plugins, what they provide, and any load errors")

    p = command("generate", cmd_generate, "text (+style) to images")
    p.add_argument("--backend", default=None, help="generator name (default: transformer)")
    p.add_argument("--prompt", default=None)
    p.add_argument("--n", type=int, default=None, help="number of images")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--style", default=None, help="preset:7 | preset:3:0.5,12:0.5 | image:PATH | palette:#hex,#hex")
    p.add_argument("--style-strength", type=float, default=None)
    p.add_argument("--recipe", default=None, help="a stylize recipe JSON file applied after generation")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="a backend parameter (repeatable)")
    p.add_argument("--from-png", default=None, help="reuse the settings stored in an Impasto PNG")
    p.add_argument("--out", required=True, help="output folder")

    p = command("analyze", cmd_analyze, "describe an image's style")
    p.add_argument("image")
    p.add_argument("--figures", default=None, help="also save the figures into this folder")

    p = command("transfer", cmd_transfer, "paint one or more content images in a style")
    p.add_argument("content", nargs="+")
    p.add_argument("--style-image", action="append", help="style picture (repeatable, for blends)")
    p.add_argument("--style-weights", default=None, help="comma list, one weight per --style-image")
    p.add_argument("--preset", default=None, help="7 or 3:0.5,12:0.5")
    p.add_argument("--strength", type=float, default=1.0)
    p.add_argument("--preserve-color", action="store_true")
    p.add_argument("--max-size", type=int, default=1024)
    p.add_argument("--engine", default=None)
    p.add_argument("--out", required=True, help="output file (a folder for several content images)")

    p = command("stylize", cmd_stylize, "apply an edit recipe to an image")
    p.add_argument("image")
    p.add_argument("--recipe", required=True)
    p.add_argument("--out", required=True)

    p = command("train", cmd_train, "train a generator backend")
    p.add_argument("--backend", required=True)
    p.add_argument("--data", required=True, help="procedural:shapes | procedural:landscapes | procedural:all | PATH")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--resolution", type=int, default=None)
    p.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", default=None, metavar="FOLDER",
                   help="start a new run from these weights (a run or an export such as assets/vae)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default 500)")
    p.add_argument("--sample-every", type=int, default=None, help="steps between sample grids (default 500)")
    p.add_argument("--workers", type=int, default=None,
                   help="DataLoader worker processes that render the corpus (default: 2 with a GPU, else 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="extra",
                   help="a backend-specific setting (repeatable), e.g. --set stage=tokenizer; "
                        "values are read as JSON when they parse, else as text")

    p = command("eval", cmd_eval, "score a backend's prompt faithfulness")
    p.add_argument("--backend", required=True)
    p.add_argument("--n", type=int, default=8, help="images per prompt")
    p.add_argument("--family", default="all", choices=["shapes", "landscapes", "paraphrases", "all"])
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="a generator parameter (repeatable), e.g. --param temperature=0.5")
    p.add_argument("--seed", type=int, default=0)

    p = command("export", cmd_export, "copy a training run's weights for shipping (assets/<backend>/)")
    p.add_argument("run", help="a folder written by python -m core train")
    p.add_argument("--out", required=True, help="target folder, e.g. assets/vae")
    p.add_argument("--module", action="append", help="only these modules (repeatable); default: all")
    p.add_argument("--float32", action="store_true", help="keep float32 (default: float16)")

    p = command("grid", cmd_grid, "a prompts x seeds grid from one or more backends (PNG)")
    p.add_argument("--backend", required=True, help="one backend or a comma list, e.g. gan,vae,transformer")
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=4, help="images per prompt and backend")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompts", default=None, help="prompts separated by |; default: 4 shapes + 4 landscapes")

    p = command("corpus-preview", cmd_corpus_preview, "write a captioned grid of training-corpus samples")
    p.add_argument("--family", default="all", choices=["shapes", "landscapes", "all"])
    p.add_argument("--n", type=int, default=16, help="samples in the grid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG file to write")

    p = command("bench", cmd_bench, "speed and memory figures")
    p.add_argument("--only", default=None, help="run only benchmarks whose name contains this")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        result = args.handler(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_JOB_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if getattr(args, "json", False):
        json.dump(result, sys.stdout, default=str)
        sys.stdout.write("\n")
    return EXIT_OK
