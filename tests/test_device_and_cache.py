"""One device (accelerate's choice or IMPASTO_DEVICE) and the shared model cache."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from core import device
from core.errors import UnavailableError
from core.models import Busy, ModelCache, load_safetensors


@pytest.fixture(autouse=True)
def fresh_device(monkeypatch):
    device.reset_device()
    yield
    device.reset_device()


def test_default_device_comes_from_accelerate(monkeypatch):
    from accelerate import PartialState

    monkeypatch.delenv("IMPASTO_DEVICE", raising=False)
    assert device.get_device() == torch.device(PartialState().device)
    assert device.get_device() is device.get_device()  # chosen once


def test_impasto_device_overrides(monkeypatch):
    monkeypatch.setenv("IMPASTO_DEVICE", "cpu")
    assert device.get_device() == torch.device("cpu")


@pytest.mark.parametrize("name, fragment", [("gpu0", "not a device name"), ("cuda:7", "GPU")])
def test_bad_or_missing_device_is_a_clear_error(monkeypatch, name, fragment):
    if name.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine really has 8 GPUs")
    monkeypatch.setenv("IMPASTO_DEVICE", name)
    with pytest.raises(UnavailableError, match=fragment):
        device.get_device()


def test_cache_is_lazy_shared_and_loads_once_under_concurrency():
    cache = ModelCache()
    calls = []

    def loader():
        calls.append(1)
        time.sleep(0.2)
        return torch.nn.Linear(4, 4)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("lin", loader))) for _ in range(4)]
    assert calls == []
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results)
    assert not results[0].training  # put in eval mode
    assert cache.loaded() == [{"key": "lin", "bytes": 4 * 4 * 4 + 4 * 4, "on_device": True}]


def test_eviction_moves_least_recently_used_models_off_the_device():
    cache = ModelCache(budget_bytes=1000)
    for key in ("a", "b", "c"):
        cache.get(key, lambda: torch.nn.Linear(10, 10))   # 440 bytes each
        time.sleep(0.01)
    cache.get("a", lambda: None)                           # a becomes the most recent
    cache._make_room(440, keep="new", budget=1000)
    state = {row["key"]: row["on_device"] for row in cache.loaded()}
    assert state == {"a": True, "b": False, "c": False}


def test_one_job_on_the_device_at_a_time():
    cache = ModelCache()
    order = []

    def job(name):
        with cache.job():
            order.append(f"{name}+")
            time.sleep(0.1)
            order.append(f"{name}-")

    threads = [threading.Thread(target=job, args=(n,)) for n in "xy"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["x+", "x-", "y+", "y-"], ["y+", "y-", "x+", "x-"])
    with cache.job():
        with pytest.raises(Busy):
            with ModelCache.job(cache, timeout=0.05):
                pass


def test_weights_load_only_from_safetensors(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, tmp_path / "m.safetensors")
    assert load_safetensors(tmp_path / "m.safetensors")["w"].tolist() == [1.0, 1.0]
    torch.save({"w": torch.ones(2)}, tmp_path / "m.pt")
    with pytest.raises(UnavailableError, match="only from .safetensors"):
        load_safetensors(tmp_path / "m.pt")
    with pytest.raises(UnavailableError, match="not found"):
        load_safetensors(tmp_path / "missing.safetensors")


def test_importing_core_loads_no_torch_and_no_model():
    import subprocess
    import sys

    code = ("import sys, core, core.registry, core.pipeline, core.images, core.models; "
            "r = core.registry.load_registry(); "
            "print('torch' in sys.modules, len(core.models.cache.loaded()))")
    out = subprocess.check_output([sys.executable, "-c", code], text=True).split()
    assert out == ["False", "0"]
