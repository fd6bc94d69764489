"""Which diffusers models this process serves, read from the environment at start-up.

``IMPASTO_DIFFUSERS_MODELS`` is a comma list of hub ids (``owner/name``) and local
folders (anything ``save_pretrained`` wrote). Each entry becomes one generator
with a stable name derived from it. Nothing here imports torch or diffusers and
nothing touches the network: it only reads the environment and, for a quick
health line in ``python -m core plugins``, small local JSON files.

Model configuration is a start-up choice (issue 11: nothing reachable over the
network may change it). The one exception is the "any model" field, which is
offered only when the person running the app opts in with
``IMPASTO_ALLOW_MODEL_FIELD=1`` and never on a Hugging Face Space.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MODELS_ENV = "IMPASTO_DIFFUSERS_MODELS"
MODEL_FIELD_ENV = "IMPASTO_ALLOW_MODEL_FIELD"
NAME_PREFIX = "diffusers_"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_LOCAL_LOOKING = ("/", "./", "../", "~", "\\")

SourceKind = Literal["local", "hub", "invalid"]


@dataclass(frozen=True)
class ModelSpec:
    """One configured model: where it comes from and the generator it becomes."""

    source: str            # what the person typed (hub id or folder), stripped
    kind: SourceKind
    name: str              # generator name, e.g. diffusers_sd_turbo
    path: Path | None = None   # the resolved folder for local sources

    @property
    def label(self) -> str:
        return f"Diffusers: {self.source}"

    @property
    def cache_key(self) -> str:
        return f"diffusers:{self.path if self.path is not None else self.source}"


def classify(source: str) -> tuple[SourceKind, Path | None]:
    """The same rule as ``from_pretrained``: an existing folder wins; otherwise
    ``owner/name`` is a hub id, and anything path-like is a (missing) folder."""
    expanded = Path(os.path.expanduser(source))
    if expanded.is_dir():
        return "local", expanded.resolve()
    if source.startswith(_LOCAL_LOOKING) or source.count("/") > 1 or "\\" in source:
        return "local", expanded.absolute()
    if _HUB_ID.match(source):
        return "hub", None
    return "invalid", None


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_") or "model"


def _name_parts(source: str, path: Path | None) -> list[str]:
    """Candidate names, shortest first: repo or folder name, then with its owner/parent."""
    parts = [p for p in (str(path) if path else source).replace("\\", "/").split("/") if p]
    last = parts[-1] if parts else source
    owner = parts[-2] if len(parts) > 1 else ""
    return [_slug(last), _slug(f"{owner}_{last}")]


def spec_for(source: str, taken: "set[str] | frozenset[str]" = frozenset()) -> ModelSpec:
    """A spec for one source, named so that it does not collide with ``taken``."""
    source = source.strip()
    kind, path = classify(source)
    candidates = [NAME_PREFIX + part for part in _name_parts(source, path)]
    digest = hashlib.sha1(source.encode()).hexdigest()[:6]
    candidates.append(f"{candidates[-1]}_{digest}")
    name = next((c for c in candidates if c not in taken), candidates[-1])
    return ModelSpec(source=source, kind=kind, name=name, path=path)


def configured_models(environ: dict[str, str] | None = None) -> list[ModelSpec]:
    """The models named in ``IMPASTO_DIFFUSERS_MODELS``, in order, duplicates dropped."""
    raw = (environ if environ is not None else os.environ).get(MODELS_ENV, "")
    specs: list[ModelSpec] = []
    seen_sources: set[str] = set()
    for item in raw.split(","):
        item = item.strip()
        if not item or item in seen_sources:
            continue
        seen_sources.add(item)
        specs.append(spec_for(item, taken={s.name for s in specs}))
    return specs


def on_hf_space(environ: dict[str, str] | None = None) -> bool:
    env = environ if environ is not None else os.environ
    return bool(env.get("SPACE_ID") or env.get("SPACE_HOST"))


def model_field_allowed(environ: dict[str, str] | None = None) -> bool:
    """Only the person starting the app can open the free model field, and never
    on a Space, where every visitor would reach it."""
    env = environ if environ is not None else os.environ
    return env.get(MODEL_FIELD_ENV, "").strip().lower() in ("1", "true", "yes") and not on_hf_space(env)


def hub_offline(environ: dict[str, str] | None = None) -> bool:
    """Read at call time: huggingface_hub reads ``HF_HUB_OFFLINE`` only at import."""
    env = environ if environ is not None else os.environ
    return env.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def distilled(source: str) -> bool:
    """Few-step models (SD-Turbo, SDXL-Lightning, FLUX schnell, Hyper-SD) want about
    4 steps and no classifier-free guidance; everything else wants ~30 and CFG."""
    lowered = source.lower()
    return any(word in lowered for word in ("turbo", "lightning", "schnell", "hyper"))


def preferred_size(source: str) -> int:
    """0 (the native size from the model's config) except where a model card says
    otherwise: SDXL-Turbo has SDXL's 1024 px config but was distilled at 512 px."""
    return 512 if "sdxl-turbo" in source.lower() else 0


def health(spec: ModelSpec) -> str:
    """One line about a model's state, from local files only (for the plugins list)."""
    if spec.kind == "invalid":
        return f"{spec.source!r} is neither an existing folder nor a hub id like owner/name"
    if spec.kind == "local":
        assert spec.path is not None
        if not spec.path.is_dir():
            return f"folder {spec.path} does not exist"
        index = spec.path / "model_index.json"
        if not index.is_file():
            return f"folder {spec.path} has no model_index.json (not a diffusers pipeline folder)"
        try:
            class_name = json.loads(index.read_text(encoding="utf-8")).get("_class_name", "?")
        except (ValueError, OSError, AttributeError) as exc:
            return f"{index} is not valid JSON ({exc})"
        return f"local {class_name}"
    return _hub_cache_state(spec.source)


def _hub_cache_state(repo_id: str) -> str:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - diffusers depends on it
        return "huggingface_hub is not installed"
    found = try_to_load_from_cache(repo_id, "model_index.json")
    if isinstance(found, str):
        return "hub model, in the local cache"
    if hub_offline():
        return "hub model, NOT in the local cache and HF_HUB_OFFLINE is set: it cannot load"
    return "hub model, downloads on first use"
