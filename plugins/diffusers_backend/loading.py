"""Loading one configured model into a :class:`LoadedModel`, with clear errors.

A model loads on its first job, through ``core.models.cache``, with
``AutoPipelineForText2Image.from_pretrained``: the same call for a hub id and a
local folder, so UNet pipelines (SD 1.x/2.x, SDXL, Turbo) and transformer
pipelines (PixArt, SD3, FLUX, Sana) all work. Weights load from safetensors
only (nothing is unpickled), and no custom pipeline code is ever run.

Everything that can go wrong before the weights are read (a missing folder, a
folder that is not a pipeline, a broken ``model_index.json``, a hub id that is
not cached while offline) is checked first, so the message names exactly what
was tried. Failures inside diffusers are turned into the same kind of message.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from core.device import get_device
from core.errors import UnavailableError, UserError
from core.models import cache

from plugins.diffusers_backend.config import ModelSpec, hub_offline
from plugins.diffusers_backend.placement import (Placement, apply_placement, choose_dtype,
                                                  choose_placement, module_bytes, torch_modules)

log = logging.getLogger(__name__)
DEFAULT_NATIVE_SIZE = 512
#: names (not classes: requests, httpx and the hub each have their own) of the
#: errors that mean "no network and not cached"
_NETWORK_ERRORS = {"LocalEntryNotFoundError", "ConnectError", "ConnectTimeout", "ConnectionError",
                   "gaierror", "OfflineModeIsEnabled"}


class LoadedModel:
    """A text-to-image pipeline, its image-to-image twin (same weights, made on
    first use) and the placement they run with. Lives in core's model cache."""

    def __init__(self, spec: ModelSpec, text2image: Any, placement: Placement) -> None:
        self.spec = spec
        self.text2image = text2image
        self.placement = placement
        self.default_scheduler = text2image.scheduler   # jobs swap in fresh copies
        self._image2image: Any = None
        self._hooked: Any = text2image if placement.offload else None

    @property
    def pipeline_class(self) -> str:
        return type(self.text2image).__name__

    def native_size(self) -> int:
        """The side the model was trained at (e.g. 512 for SD 1.5, 1024 for SDXL)."""
        pipe = self.text2image
        factor = int(getattr(pipe, "vae_scale_factor", 8) or 8)
        sample = getattr(pipe, "default_sample_size", None)
        if sample is None:
            config = getattr(self._denoiser(), "config", None)
            sample = getattr(config, "sample_size", None)
        if isinstance(sample, (list, tuple)):
            sample = sample[0]
        return int(sample) * factor if sample else DEFAULT_NATIVE_SIZE

    def size_multiple(self) -> int:
        """Image sides must be a multiple of this: the VAE's downsampling times
        the transformer's patch size (8 for SD/SDXL, 16 for PixArt, SD3, FLUX)."""
        factor = int(getattr(self.text2image, "vae_scale_factor", 8) or 8)
        patch = getattr(getattr(self._denoiser(), "config", None), "patch_size", None) or 1
        return max(8, factor * int(patch))

    def pipeline(self, image_to_image: bool) -> Any:
        """The pipeline for one job, ready on the device."""
        pipe = self._image_to_image() if image_to_image else self.text2image
        self._ready(pipe)
        return pipe

    def _denoiser(self) -> Any:
        return getattr(self.text2image, "unet", None) or getattr(self.text2image, "transformer", None)

    def _image_to_image(self) -> Any:
        if self._image2image is None:
            from diffusers import AutoPipelineForImage2Image

            try:
                pipe = AutoPipelineForImage2Image.from_pipe(self.text2image)
            except ValueError:
                raise UserError(f"{self.spec.source} ({self.pipeline_class}) has no image-to-image "
                                "pipeline in diffusers; generate without a starting image") from None
            pipe.set_progress_bar_config(disable=True)
            self._image2image = pipe
        return self._image2image

    def _ready(self, pipe: Any) -> None:
        if self.placement.offload:
            # The two pipelines share their modules, and the offload hooks belong to
            # the pipeline that installed them: re-hook when the other one runs.
            if self._hooked is not pipe:
                pipe.enable_model_cpu_offload(device=self.placement.device)
                self._hooked = pipe
            return
        # Each component goes through core's cache, which moves it onto the device
        # (evicting other models under the budget) or back there if it was evicted.
        for name, module in torch_modules(pipe).items():
            cache.get(f"{self.spec.cache_key}/{name}", lambda m=module: m)


def get_model(spec: ModelSpec) -> LoadedModel:
    """The model for ``spec`` from core's cache, loading it on first use."""
    return cache.get(spec.cache_key, lambda: load_model(spec))


def is_loaded(spec: ModelSpec) -> bool:
    return any(entry["key"] == spec.cache_key for entry in cache.loaded())


def load_model(spec: ModelSpec) -> LoadedModel:
    check_source(spec)
    device = get_device()
    dtype = choose_dtype(device)
    pipe = _from_pretrained(spec, dtype)
    placement = choose_placement(device, dtype, module_bytes(pipe))
    apply_placement(pipe, placement)
    log.info("loaded %s (%s) on %s", spec.source, type(pipe).__name__, placement.describe())
    return LoadedModel(spec, pipe, placement)


def check_source(spec: ModelSpec) -> None:
    """The checks that need no diffusers: each names the folder or repo tried."""
    if spec.kind == "invalid":
        raise UnavailableError(f"diffusers model {spec.source!r}: not an existing folder and not a "
                               "hub id of the form owner/name (check IMPASTO_DIFFUSERS_MODELS)")
    if spec.kind == "local":
        assert spec.path is not None
        if not spec.path.is_dir():
            raise UnavailableError(f"diffusers model folder {spec.path} does not exist "
                                   f"(from {spec.source!r} in IMPASTO_DIFFUSERS_MODELS)")
        read_model_index(spec.path / "model_index.json", spec.source)
        return
    if hub_offline():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(spec.source, "model_index.json"), str):
            raise UnavailableError(
                f"diffusers model {spec.source!r} is not in the local Hugging Face cache and "
                "HF_HUB_OFFLINE is set, so it cannot be downloaded; run "
                f"`hf download {spec.source}` once while online, or unset HF_HUB_OFFLINE")


def read_model_index(index_path: Any, source: str) -> dict[str, Any]:
    if not index_path.is_file():
        raise UnavailableError(f"folder {index_path.parent} has no model_index.json, so it is not a "
                               "diffusers pipeline folder (pipeline.save_pretrained(folder) writes one)")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnavailableError(f"{index_path} is not valid JSON ({exc}); re-save the pipeline "
                               "or fix the file") from None
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise UnavailableError(f"{index_path} names no pipeline class (\"_class_name\" is missing)")
    return index


def _from_pretrained(spec: ModelSpec, dtype: Any) -> Any:
    import torch
    from diffusers import AutoPipelineForText2Image

    where = (f"folder {spec.path}" if spec.kind == "local"
             else f"Hugging Face Hub repo {spec.source}" + (" (offline: local cache only)"
                                                             if hub_offline() else ""))
    source = str(spec.path) if spec.path is not None else spec.source
    options = dict(use_safetensors=True, local_files_only=hub_offline(), **_dtype_kwarg(dtype))
    try:
        if dtype != torch.float32:
            # Most hub pipelines also ship "fp16" weight files: half the download and
            # disk. Pipelines without them load their full files (unless the hub was
            # unreachable: then the second attempt would only fail the same way).
            try:
                return AutoPipelineForText2Image.from_pretrained(source, variant="fp16", **options)
            except Exception as exc:  # noqa: BLE001 - the second attempt reports the real cause
                if _unreachable(exc) and not hub_offline():
                    raise
                log.info("%s has no usable fp16 variant; loading its full weights", spec.source)
        return AutoPipelineForText2Image.from_pretrained(source, **options)
    except Exception as exc:  # noqa: BLE001 - any loading failure is this model's, not the app's
        log.info("loading %s failed", spec.source, exc_info=True)   # details for the server log
        raise UnavailableError(f"could not load diffusers model {spec.source!r} from {where}: "
                               f"{_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """A one-line cause a person can act on, from diffusers' / the hub's error."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    kind = type(exc).__name__
    causes = {type(e).__name__ for e in _chain(exc)}
    if _unreachable(exc):
        return ("the Hub could not be reached and the model is not in the local cache; check the "
                "network, or download it once with `hf download` and set HF_HUB_OFFLINE=1")
    if causes & {"RepositoryNotFoundError", "GatedRepoError"}:
        return ("the repo does not exist, is private or is gated "
                "(check the spelling; for gated models accept the licence and run `hf auth login`)")
    if "safetensors" in text.lower():
        return f"{text[:300]} (Impasto loads only .safetensors weights)"
    if "can't find a pipeline linked to" in text:
        return f"it is not a text-to-image pipeline that AutoPipelineForText2Image knows ({text[:200]})"
    return f"{kind}: {text[:300]}"


def _unreachable(exc: BaseException) -> bool:
    return bool({type(e).__name__ for e in _chain(exc)} & _NETWORK_ERRORS)


def _chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (the hub wraps network errors)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 20:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _dtype_kwarg(dtype: Any) -> dict[str, Any]:
    # diffusers renamed from_pretrained's ``torch_dtype`` to ``dtype`` (the old name
    # still works with a FutureWarning); use whichever this install knows.
    from diffusers.utils import deprecation_utils

    return {"dtype": dtype} if hasattr(deprecation_utils, "_resolve_dtype") else {"torch_dtype": dtype}
