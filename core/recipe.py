"""Stylize recipes: an ordered list of filter operations with a seed.

``{"seed": 0, "ops": [{"op": "rotate", "params": {"angle": 15}}, ...]}``; an op
without params uses its defaults. The same recipe and seed give the same pixels
wherever it is applied (app, CLI, API), because each op draws its randomness from
its own generator seeded by (recipe seed, op position).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PIL import Image

from core import limits
from core.errors import JobError, UserError
from core.hookspecs import ProgressFn, no_progress
from core.params import validate_params

log = logging.getLogger(__name__)


@dataclass
class Op:
    op: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recipe:
    seed: int = 0
    ops: list[Op] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "ops": [{"op": o.op, "params": o.params} for o in self.ops]}


def parse_recipe(source: str | bytes | Mapping[str, Any] | list[Any] | None,
                 filters: Mapping[str, Any]) -> Recipe:
    """Parse and validate a recipe (JSON text, a dict, or a bare list of ops)
    against the registered ``filters``. Every problem is a UserError that says
    which op is wrong and why."""
    if source is None or (isinstance(source, (str, bytes)) and not source.strip()):
        return Recipe()
    if isinstance(source, (str, bytes)):
        if len(source) > limits.MAX_RECIPE_BYTES:
            raise UserError(f"recipe is {len(source)} bytes; the limit is {limits.MAX_RECIPE_BYTES}")
        try:
            source = json.loads(source)
        except json.JSONDecodeError as exc:
            raise UserError(f"recipe is not valid JSON: {exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno}") from None
        except RecursionError:
            raise UserError("recipe is nested too deeply") from None
    data: Any = {"ops": source} if isinstance(source, list) else source
    if not isinstance(data, Mapping):
        raise UserError("recipe must be a JSON object such as {\"seed\": 0, \"ops\": [...]}")
    unknown = set(data) - {"seed", "ops", "impasto"}
    if unknown:
        raise UserError(f"recipe has unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise UserError(f"recipe seed must be a whole number from 0 to {2**32 - 1}, got {seed!r}")
    ops_data = data.get("ops", [])
    if not isinstance(ops_data, list):
        raise UserError("recipe 'ops' must be a list")
    if len(ops_data) > limits.MAX_RECIPE_OPS:
        raise UserError(f"recipe has {len(ops_data)} operations; the limit is {limits.MAX_RECIPE_OPS}")
    ops = [_parse_op(i, item, filters) for i, item in enumerate(ops_data)]
    return Recipe(seed=seed, ops=ops)


def _parse_op(index: int, item: Any, filters: Mapping[str, Any]) -> Op:
    where = f"recipe op {index + 1}"
    if isinstance(item, str):
        item = {"op": item}
    if not isinstance(item, Mapping) or not isinstance(item.get("op"), str):
        raise UserError(f"{where}: expected {{\"op\": NAME, \"params\": {{...}}}}")
    name = item["op"]
    if name not in filters:
        known = ", ".join(sorted(filters)) or "none installed"
        raise UserError(f"{where}: unknown operation {name[:40]!r}; known: {known}")
    params = item.get("params") or {}
    if not isinstance(params, Mapping):
        raise UserError(f"{where} ({name}): params must be an object")
    try:
        checked = validate_params(filters[name].params, params)
    except UserError as exc:
        raise UserError(f"{where} ({name}): {exc}") from None
    return Op(name, checked)


def apply_recipe(image: Image.Image, recipe: Recipe, filters: Mapping[str, Any],
                 progress: ProgressFn = no_progress) -> Image.Image:
    """Apply every op in order. A filter that raises fails the job with its name."""
    for index, op in enumerate(recipe.ops):
        progress(index / max(len(recipe.ops), 1), f"{op.op} ({index + 1}/{len(recipe.ops)})")
        rng = np.random.default_rng([recipe.seed, index])
        try:
            result = filters[op.op].apply(image, dict(op.params), rng)
        except UserError as exc:
            raise UserError(f"{op.op}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a broken plugin fails this job only
            log.exception("filter %s failed", op.op)
            raise JobError(f"operation {op.op!r} failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, Image.Image):
            raise JobError(f"operation {op.op!r} returned {type(result).__name__}, not an image")
        if max(result.size) > limits.MAX_OUTPUT_SIDE * 2 or min(result.size) < 1:
            raise UserError(f"{op.op}: the result would be {result.size[0]}×{result.size[1]} px, "
                            f"outside 1–{limits.MAX_OUTPUT_SIDE * 2} px")
        image = result
    progress(1.0, "done")
    return image


def load_recipe_file(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"recipe file not found: {path}")
    if path.stat().st_size > limits.MAX_RECIPE_BYTES:
        raise UserError(f"recipe file is larger than {limits.MAX_RECIPE_BYTES} bytes")
    return path.read_text(encoding="utf-8", errors="replace")
