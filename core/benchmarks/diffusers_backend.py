"""Diffusers backend: what the plugin adds on top of a bare diffusers call, and,
for every model in IMPASTO_DIFFUSERS_MODELS, load time, seconds per image and
peak GPU memory.

Without configured models only the overhead is measured, on the tiny random
pipeline of ``plugins/diffusers_backend/tiny.py`` (which makes noise, so its
absolute times say nothing about real models).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from core.bench import measure

PROMPT = "a sunset over the mountains"


def _registry_for(models: str) -> Any:
    from core.registry import load_registry

    saved = {k: os.environ.get(k) for k in ("IMPASTO_DIFFUSERS_MODELS", "IMPASTO_PLUGINS")}
    os.environ.update(IMPASTO_DIFFUSERS_MODELS=models, IMPASTO_PLUGINS="diffusers_backend")
    try:
        return load_registry()
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def bench_registration() -> list[dict[str, Any]]:
    """Registering three hub models: reads the environment only, loads nothing."""
    result = measure(lambda: _registry_for("stabilityai/sd-turbo,stabilityai/sdxl-turbo,"
                                           "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS"), runs=5)
    return [{"job": "register 3 diffusers models", **result}]


def bench_plugin_overhead() -> list[dict[str, Any]]:
    """Tiny pipeline, 32 px, 8 steps: through core.pipeline.generate vs a bare call."""
    import torch
    from diffusers import AutoPipelineForText2Image

    from core import pipeline
    from core.device import one_thread
    from plugins.diffusers_backend.config import spec_for
    from plugins.diffusers_backend.tiny import build_tiny_pipeline

    # One thread: on a busy 2-core machine two threads fight (10x noise).
    with one_thread(), tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_pipeline(Path(tmp) / "tiny-sd")
        registry = _registry_for(str(folder))
        name = spec_for(str(folder)).name
        params = {"steps": 8, "width": 32, "height": 32}
        through_plugin = measure(lambda: pipeline.generate(PROMPT, backend=name, params=params,
                                                           registry=registry), runs=7)
        bare = AutoPipelineForText2Image.from_pretrained(str(folder))
        bare.set_progress_bar_config(disable=True)
        direct = measure(lambda: bare(PROMPT, num_inference_steps=8, width=32, height=32,
                                      generator=torch.Generator().manual_seed(0)), runs=7)
    return [{"job": "tiny pipeline, bare diffusers call", **direct, "threads": 1},
            {"job": "tiny pipeline, through the plugin", **through_plugin, "threads": 1,
             "ratio_to_bare": round(through_plugin["median_s"] / direct["median_s"], 2)}]


def bench_configured_models() -> list[dict[str, Any]]:
    """Each configured model at its defaults and native size: first job (load +
    one image), then seconds per image, and peak GPU memory."""
    import torch

    from core import pipeline
    from core.device import get_device
    from plugins.diffusers_backend.config import configured_models

    models = os.environ.get("IMPASTO_DIFFUSERS_MODELS", "")
    if not configured_models():
        return []
    registry = _registry_for(models)
    cuda = get_device().type == "cuda"
    rows = []
    for spec in configured_models():
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            pipeline.generate(PROMPT, backend=spec.name, registry=registry)
        except Exception as exc:  # noqa: BLE001 - report, do not assert
            rows.append({"job": f"{spec.source}", "error": str(exc)[:200]})
            continue
        first = time.perf_counter() - start
        timed = measure(lambda s=spec: pipeline.generate(PROMPT, backend=s.name, registry=registry),
                        runs=3, warmup=0)
        row = {"job": f"{spec.source}, 1 image at defaults", "first_job_s": round(first, 2), **timed,
               "device": str(get_device())}
        if cuda:
            row["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
        rows.append(row)
    return rows
