"""Diffusers backend: any diffusers text-to-image pipeline as an Impasto generator.

Configure models at start-up (a comma list of hub ids and local folders)::

    IMPASTO_DIFFUSERS_MODELS=stabilityai/sd-turbo,./my-pipeline python app.py

Each becomes a generator named from its id (``diffusers_sd_turbo``,
``diffusers_my_pipeline``) in the app, the CLI and the API. Registration reads
only the environment: weights load on a model's first job, through core's model
cache, on core's device. With nothing configured the plugin registers nothing and
its note (shown by ``python -m core plugins``) says how to add a model.
"""
from __future__ import annotations

import os

from core.hookspecs import hookimpl

from plugins.diffusers_backend.config import (MODEL_FIELD_ENV, MODELS_ENV, configured_models,
                                              health, model_field_allowed, on_hf_space)
from plugins.diffusers_backend.generator import AnyModelGenerator, DiffusersGenerator

__version__ = "0.1.0"


@hookimpl
def register_generators(register):  # type: ignore[no-untyped-def]
    for spec in configured_models():
        register(DiffusersGenerator(spec))
    if model_field_allowed():
        register(AnyModelGenerator())


def IMPASTO_NOTE() -> str:  # noqa: N802 - the name core's registry looks for
    """What ``python -m core plugins`` says about this plugin."""
    specs = configured_models()
    lines = []
    if not specs:
        lines.append(f"No diffusers model configured. Set {MODELS_ENV} to a comma list of hub ids or "
                     f"pipeline folders before starting, e.g. {MODELS_ENV}=stabilityai/sd-turbo "
                     "python app.py (downloads on first use unless HF_HUB_OFFLINE=1; a GPU is "
                     "strongly recommended).")
    for spec in specs:
        lines.append(f"{spec.name}: {spec.source} ({health(spec)})")
    if model_field_allowed():
        lines.append(f"{MODEL_FIELD_ENV}=1: the 'diffusers_any' generator takes any model typed in "
                     "the UI; keep this for local use, never behind a public link.")
    elif on_hf_space() and MODEL_FIELD_ENV in os.environ:
        lines.append(f"{MODEL_FIELD_ENV} is ignored on a Hugging Face Space.")
    return "; ".join(lines)   # one line: the plugins list and table show notes inline
