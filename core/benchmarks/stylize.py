"""Stylize: recipe speed on a 1024×1024 photo (scikit-image's astronaut).

Bars from issue 4: a 10-operation recipe without oil paint ≤ 1 s median, oil
paint alone ≤ 2 s median. Everything runs through ``core.pipeline.stylize`` (the
job the app, CLI and API share: recipe parsing, image normalisation, every op);
the picture is handed over decoded, so file decoding is not counted.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

from core.bench import measure

SIZE = 1024

# A typical finishing recipe: tone, looks and elements (no size-reducing op, so
# every step works on the full 1024 px).
TEN_OPS = [
    {"op": "auto_contrast"},
    {"op": "temperature", "params": {"warmth": 0.2}},
    {"op": "saturation", "params": {"factor": 1.2}},
    {"op": "contrast", "params": {"amount": 0.15}},
    {"op": "sharpen"},
    {"op": "vignette"},
    {"op": "film_grain"},
    {"op": "scatter", "params": {"kind": "mixed", "count": 12}},
    {"op": "caption", "params": {"text": "Impasto"}},
    {"op": "border"},
]
# Ten ops with geometry and a palette: rotation and recolour are the costly ones.
TEN_OPS_GEOMETRY = [
    {"op": "rotate", "params": {"angle": 7, "mode": "crop"}},
    {"op": "flip"},
    {"op": "brightness", "params": {"amount": 0.1}},
    {"op": "gamma", "params": {"gamma": 1.1}},
    {"op": "hue_shift", "params": {"degrees": 15}},
    {"op": "recolor", "params": {"palette": "#264653,#2a9d8f,#e9c46a,#f4a261,#e76f51", "strength": 0.5}},
    {"op": "blur", "params": {"kind": "tilt_shift"}},
    {"op": "sticker", "params": {"kind": "bird", "x": 0.7, "y": 0.3}},
    {"op": "caption", "params": {"text": "Ten operations", "position": "top"}},
    {"op": "frame", "params": {"style": "gold"}},
]


def _setup() -> tuple[Any, Any]:
    from PIL import Image
    from skimage import data

    import plugins.stylize as stylize_plugin
    from core.registry import Registry

    registry = Registry()
    registry.add_plugin(stylize_plugin, "stylize", stylize_plugin.__version__, "builtin")
    photo = Image.fromarray(data.astronaut()).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return registry, photo


def _time_recipe(registry: Any, photo: Any, ops: list[dict[str, Any]], runs: int) -> dict[str, Any]:
    """Wall-clock figures from core.bench.measure, plus the median CPU time of the
    same calls: the ops are single-threaded, so on a shared, busy machine the CPU
    time is what the wall time would be on an idle one."""
    from core import pipeline

    recipe = {"seed": 0, "ops": ops}
    cpu: list[float] = []

    def job() -> None:
        start = time.process_time()
        pipeline.stylize(photo, recipe, registry=registry)
        cpu.append(time.process_time() - start)

    figures = measure(job, runs=runs)
    return {**figures, "cpu_median_s": round(statistics.median(cpu[1:]), 4)}   # cpu[0]: warm-up


def bench_recipes() -> list[dict[str, Any]]:
    registry, photo = _setup()
    rows = []
    for job, ops, bar in (("10-op recipe: tone, looks, elements (1024 px)", TEN_OPS, 1.0),
                          ("10-op recipe: geometry, palette, elements (1024 px)", TEN_OPS_GEOMETRY, 1.0),
                          ("oil paint alone (1024 px)", [{"op": "oil_paint"}], 2.0)):
        figures = _time_recipe(registry, photo, ops, runs=7)
        rows.append({"job": job, **figures, "bar_s": bar, "ratio_to_bar": round(figures["median_s"] / bar, 3),
                     "cpu_ratio_to_bar": round(figures["cpu_median_s"] / bar, 3)})
    return rows


def bench_each_operation() -> list[dict[str, Any]]:
    """Every registered operation alone, with its defaults, at 1024 px."""
    registry, photo = _setup()
    return [{"job": f"op {name} (1024 px)", **_time_recipe(registry, photo, [{"op": name}], runs=3)}
            for name in registry.filters]
