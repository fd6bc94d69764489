"""The one device every model runs on.

Chosen once through accelerate's ``PartialState`` (so ``accelerate launch`` and
multi-GPU setups pick the right card per process), or forced with
``IMPASTO_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from core.errors import UnavailableError

if TYPE_CHECKING:
    import torch

_device: "torch.device | None" = None
_lock = threading.Lock()


def get_device() -> "torch.device":
    global _device
    with _lock:
        if _device is None:
            _device = _choose()
        return _device


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread inside the block, restored after: where another process
    (or job) has the other core, two threads would only fight over one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def reset_device() -> None:
    """Forget the choice (tests switch ``IMPASTO_DEVICE``)."""
    global _device
    with _lock:
        _device = None


def _choose() -> "torch.device":
    import torch

    wanted = os.environ.get("IMPASTO_DEVICE", "").strip().lower()
    if not wanted:
        from accelerate import PartialState

        return torch.device(PartialState().device)
    try:
        device = torch.device(wanted)
    except RuntimeError:
        raise UnavailableError(f"IMPASTO_DEVICE={wanted!r} is not a device name "
                               "(use cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UnavailableError(f"IMPASTO_DEVICE={wanted!r} but no CUDA GPU is available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UnavailableError(f"IMPASTO_DEVICE={wanted!r} but only {torch.cuda.device_count()} GPU(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UnavailableError("IMPASTO_DEVICE='mps' but MPS is not available on this machine")
    return device
