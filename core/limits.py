"""Server-side limits on everything a person can send. Each can be raised or
lowered with the environment variable of the same name (documented in README)."""
from __future__ import annotations

import os


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


MAX_IMAGE_BYTES = _int_env("IMPASTO_MAX_IMAGE_BYTES", 25 * 1024 * 1024)   # one uploaded file
MAX_IMAGE_PIXELS = _int_env("IMPASTO_MAX_IMAGE_PIXELS", 40_000_000)        # width * height
MAX_IMAGE_SIDE = _int_env("IMPASTO_MAX_IMAGE_SIDE", 12_000)                # either side, px
MAX_PROMPT_CHARS = _int_env("IMPASTO_MAX_PROMPT_CHARS", 500)
MAX_IMAGES_PER_REQUEST = _int_env("IMPASTO_MAX_IMAGES", 16)
MAX_RECIPE_OPS = _int_env("IMPASTO_MAX_RECIPE_OPS", 100)
MAX_RECIPE_BYTES = _int_env("IMPASTO_MAX_RECIPE_BYTES", 256 * 1024)
MAX_OUTPUT_SIDE = _int_env("IMPASTO_MAX_OUTPUT_SIDE", 2048)
JOB_TIMEOUT_S = _int_env("IMPASTO_JOB_TIMEOUT", 300)                      # one plugin call
MAX_JOBS_PER_CLIENT = _int_env("IMPASTO_MAX_JOBS_PER_CLIENT", 4)          # queued + running
CACHE_TTL_S = _int_env("IMPASTO_CACHE_TTL", 3600)                        # temp files of finished jobs
