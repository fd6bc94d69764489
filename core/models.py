"""The model cache: every plugin loads its weights through ``cache.get``.

- lazy: a model is loaded by its first job, never at import or registration;
- shared: one copy per key for every tab, request and thread;
- safe: weights come from safetensors (``load_safetensors``), nothing is unpickled;
- bounded: torch modules on an accelerator count against a memory budget and the
  least recently used ones are moved back to the CPU when a new one needs room;
- serial: ``cache.job()`` is the lock that keeps two jobs off the device at once.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from core.errors import UnavailableError, UserError

T = TypeVar("T")


@dataclass
class _Entry:
    value: Any
    nbytes: int
    last_used: float
    on_device: bool


class Busy(UserError):
    """The device stayed busy longer than the caller was willing to wait."""


class ModelCache:
    def __init__(self, budget_bytes: int | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.RLock()            # guards _entries
        self._loading: dict[str, threading.Lock] = {}
        self._job_lock = threading.Lock()         # one job on the device at a time
        self._budget = budget_bytes

    # ------------------------------------------------------------------ models

    def get(self, key: str, loader: Callable[[], T]) -> T:
        """Return the model stored under ``key``, loading it with ``loader()`` once.

        A ``torch.nn.Module`` is put in eval mode and moved to the core device
        (making room under the budget first); anything else (an onnxruntime
        session, a tokenizer) is kept as it is.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.last_used = time.monotonic()
                if not entry.on_device:
                    self._to_device(key, entry)
                return entry.value
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:  # two first requests for one model load it once
            with self._lock:
                if key in self._entries:
                    return self.get(key, loader)
            value = loader()
            entry = _Entry(value, _module_bytes(value), time.monotonic(), on_device=False)
            with self._lock:
                self._entries[key] = entry
                self._to_device(key, entry)
            return value

    def loaded(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"key": k, "bytes": e.nbytes, "on_device": e.on_device}
                    for k, e in self._entries.items()]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _to_device(self, key: str, entry: _Entry) -> None:
        if not _is_module(entry.value):
            entry.on_device = True
            return
        from core.device import get_device

        device = get_device()
        if device.type != "cpu":
            self._make_room(entry.nbytes, keep=key, budget=self._device_budget(device))
        entry.value.to(device).eval()
        entry.on_device = True

    def _make_room(self, needed: int, keep: str, budget: int) -> None:
        resident = [(e.last_used, k, e) for k, e in self._entries.items()
                    if e.on_device and e.nbytes and k != keep]
        used = sum(e.nbytes for _, _, e in resident)
        for _, key, entry in sorted(resident, key=lambda r: r[0]):
            if used + needed <= budget:
                break
            entry.value.to("cpu")          # evicted, not forgotten: back on next get()
            entry.on_device = False
            used -= entry.nbytes
        if used + needed > budget:
            import torch

            torch.cuda.empty_cache() if torch.cuda.is_available() else None

    def _device_budget(self, device: Any) -> int:
        return self._budget if self._budget is not None else device_budget(device)

    # ------------------------------------------------------------------ jobs

    @contextmanager
    def job(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the device for one job; ``timeout`` seconds to wait, then Busy."""
        if not self._job_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise Busy("Impasto is busy with another job; try again in a moment")
        try:
            yield
        finally:
            self._job_lock.release()


def _is_module(value: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, torch.nn.Module)


def _module_bytes(value: Any) -> int:
    if not _is_module(value):
        return 0
    return sum(t.numel() * t.element_size()
               for t in list(value.parameters()) + list(value.buffers()))


def load_safetensors(path: str | Path) -> "dict[str, Any]":
    """Read a weights file: safetensors only, onto the CPU (the cache moves it)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise UnavailableError(f"refusing to load {path.name}: Impasto loads weights only from .safetensors")
    if not path.is_file():
        raise UnavailableError(f"model weights not found: {path}")
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


#: the process-wide cache every plugin uses
cache = ModelCache()


def device_budget(device: Any) -> int:
    """Bytes of models a device may hold: IMPASTO_MODEL_BUDGET_MB, else 80 % of a
    CUDA card, else no limit. Plugins that place models themselves use the same rule."""
    env = os.environ.get("IMPASTO_MODEL_BUDGET_MB")
    if env:
        return int(float(env) * 2**20)
    import torch

    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * 0.8)
    return 2**62
