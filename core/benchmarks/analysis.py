"""Style analysis of a 1024 px photo (scikit-image's astronaut, enlarged):
everything ``python -m core analyze`` computes, figures included, through
``core.pipeline.analyze``. Bar from issue 3: ≤ 0.5 s median. The picture is
handed over decoded, so file decoding is not counted; each analyzer is also
timed on its own.
"""
from __future__ import annotations

from typing import Any

from core.bench import measure

SIZE = 1024
RUNS = 7


def _registry() -> Any:
    import plugins.analysis as plugin
    from core.registry import Registry

    registry = Registry()
    registry.add_plugin(plugin, "analysis", "bench", "builtin")
    return registry


def bench_analysis_1024() -> list[dict[str, Any]]:
    from PIL import Image
    from skimage import data

    from core import pipeline

    registry = _registry()
    image = Image.fromarray(data.astronaut()).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    rows = [{"job": f"analyze {SIZE} px (all analyzers, figures included)",
             **measure(lambda: pipeline.analyze(image, registry=registry), runs=RUNS)}]
    for name, analyzer in sorted(registry.analyzers.items()):
        rows.append({"job": f"analyze {SIZE} px, analyzer {name!r} alone",
                     **measure(lambda a=analyzer: a.analyze(image, {}), runs=RUNS)})
    return rows
