"""``python -m core bench``: runs every ``bench_*`` function in core/benchmarks/.

Benchmarks measure and report; they never assert. Each returns a list of dicts,
one per measured job. Figures on a shared machine are noisy: benchmarks report
medians of several runs and, where there is a reference, the ratio to it
measured in the same run.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from statistics import median
from typing import Any, Callable

from core import benchmarks


def measure(fn: Callable[[], Any], runs: int = 5, warmup: int = 1) -> dict[str, Any]:
    """Median and spread of ``runs`` timed calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": round(median(times), 4), "min_s": round(min(times), 4),
            "max_s": round(max(times), 4), "runs": runs}


def discover() -> dict[str, Callable[[], list[dict[str, Any]]]]:
    found = {}
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{benchmarks.__name__}.{info.name}")
        for attr in sorted(dir(module)):
            if attr.startswith("bench_") and callable(getattr(module, attr)):
                found[f"{info.name}.{attr[6:]}"] = getattr(module, attr)
    return found


def run_benchmarks(only: str | None = None, quiet: bool = False) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for name, fn in discover().items():
        if only and only not in name:
            continue
        if not quiet:
            print(f"running {name} ...", file=sys.stderr)
        try:
            rows = fn()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the rest
            rows = [{"job": name, "error": f"{type(exc).__name__}: {exc}"}]
        for row in rows:
            row.setdefault("benchmark", name)
            results.append(row)
            if not quiet:
                figures = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("job", "benchmark"))
                print(f"{row.get('job', name)}: {figures}")
    return results
