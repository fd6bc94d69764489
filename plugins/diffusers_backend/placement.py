"""Where a pipeline's weights live and in what precision: decided once, here.

The decision follows core's device (``core.device.get_device()``):

- CPU: float32, everything in RAM (half precision is slow or unsupported there).
- CUDA: bfloat16 where the card has it natively (Ampere and newer: no fp16
  overflow, so the SDXL VAE needs no upcast), float16 otherwise (T4, V100).
  Attention runs through PyTorch's scaled-dot-product attention, which
  diffusers uses by default on torch 2. When the pipeline (plus working memory) does not fit the model
  budget, ``enable_model_cpu_offload`` keeps it in RAM and moves one component
  at a time to the GPU, and attention slicing trims the peak further.
- MPS: float16 with attention slicing (what diffusers recommends for Apple GPUs).

Without offload every component is handed to core's model cache as an
``nn.Module``, so the diffusers weights count against the same budget as every
other model and are evicted to RAM (and brought back) like any other.

Overrides for people who know better: ``IMPASTO_DIFFUSERS_DTYPE`` (float32,
float16, bfloat16) and ``IMPASTO_DIFFUSERS_OFFLOAD`` (auto, on, off).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import UnavailableError

if TYPE_CHECKING:
    import torch

DTYPE_ENV = "IMPASTO_DIFFUSERS_DTYPE"
OFFLOAD_ENV = "IMPASTO_DIFFUSERS_OFFLOAD"
#: room for activations and the VAE decode on top of the weights
WORKSPACE_BYTES = 3 * 2**30
_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}


@dataclass(frozen=True)
class Placement:
    device: "torch.device"
    dtype: "torch.dtype"
    offload: bool = False
    attention_slicing: bool = False

    def describe(self) -> str:
        dtype = str(self.dtype).replace("torch.", "")
        extra = [w for w, on in (("model CPU offload", self.offload),
                                 ("attention slicing", self.attention_slicing)) if on]
        return f"{self.device.type} {dtype}" + (f" with {' and '.join(extra)}" if extra else "")


def choose_dtype(device: "torch.device") -> "torch.dtype":
    import torch

    wanted = os.environ.get(DTYPE_ENV, "").strip().lower()
    if wanted:
        if wanted not in _DTYPES:
            raise UnavailableError(f"{DTYPE_ENV}={wanted!r} is not one of float32, float16, bfloat16")
        return getattr(torch, _DTYPES[wanted])
    if device.type == "cuda":
        # Native bf16 only: torch.cuda.is_bf16_supported() also says yes for cards
        # that merely emulate it (a T4), where it is slow.
        native_bf16 = torch.version.hip or torch.cuda.get_device_properties(device).major >= 8
        return torch.bfloat16 if native_bf16 else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def choose_placement(device: "torch.device", dtype: "torch.dtype", model_bytes: int) -> Placement:
    """Offload when the weights plus working memory exceed the device's budget."""
    mode = os.environ.get(OFFLOAD_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "on", "off"):
        raise UnavailableError(f"{OFFLOAD_ENV}={mode!r} must be auto, on or off")
    if device.type == "cpu":
        return Placement(device, dtype)
    if device.type == "mps":
        return Placement(device, dtype, attention_slicing=True)
    short = model_bytes + WORKSPACE_BYTES > device_budget(device)
    offload = mode == "on" or (mode == "auto" and short and device.type == "cuda")
    return Placement(device, dtype, offload=offload, attention_slicing=offload)


def device_budget(device: "torch.device") -> int:
    """The same budget core's model cache works to (IMPASTO_MODEL_BUDGET_MB, else
    80 % of the card)."""
    from core.models import device_budget as core_budget

    return core_budget(device)


def torch_modules(pipe: Any) -> dict[str, Any]:
    import torch

    return {name: module for name, module in pipe.components.items()
            if isinstance(module, torch.nn.Module)}


def module_bytes(pipe: Any) -> int:
    return sum(t.numel() * t.element_size()
               for module in torch_modules(pipe).values()
               for t in list(module.parameters()) + list(module.buffers()))


def apply_placement(pipe: Any, placement: Placement) -> None:
    """Once per loaded pipeline: offload hooks and attention slicing."""
    pipe.set_progress_bar_config(disable=True)   # progress goes to core's callback
    if placement.offload:
        pipe.enable_model_cpu_offload(device=placement.device)
    if placement.attention_slicing and hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing()
