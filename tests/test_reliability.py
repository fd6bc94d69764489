"""A plugin that raises or hangs fails only its own job; the device lock is
released; one visitor cannot fill the queue."""
from __future__ import annotations

import threading
import time
import types

import pytest
from PIL import Image

from core import limits, pipeline
from core.errors import JobError
from core.models import cache
from core.params import Param
from core.registry import Registry
from tests.conftest import free_port


class Misbehaving:
    """A generator that sleeps, hangs or raises, as asked by its params."""

    name = "misbehaving"
    label = "Misbehaving"
    params = (Param("mode", "choice", "ok", choices=("ok", "raise", "hang", "slow")),)

    def __init__(self):
        self.hangs_stopped = threading.Event()

    def generate(self, request, progress):
        mode = request.params["mode"]
        if mode == "raise":
            raise RuntimeError("CUDA out of memory (pretend)")
        steps = {"hang": 10_000, "slow": 10}.get(mode, 0)
        try:
            for step in range(steps):
                progress(step / max(steps, 1), "working")
                time.sleep(0.1)
        except BaseException:
            self.hangs_stopped.set()
            raise
        return [Image.new("RGB", (8, 8), "white") for _ in range(request.n)]


@pytest.fixture()
def misbehaving_registry():
    module = types.ModuleType("misbehaving")
    plugin = Misbehaving()
    exec("import pluggy\nh = pluggy.HookimplMarker('impasto')\n"
         "@h\ndef register_generators(register):\n    register(PLUGIN)\n", module.__dict__)
    module.PLUGIN = plugin
    registry = Registry()
    registry.add_plugin(module, "misbehaving", "1", "entrypoint")
    return registry, plugin


def test_a_raising_plugin_fails_its_job_with_a_message_and_releases_the_lock(misbehaving_registry):
    registry, _ = misbehaving_registry
    with pytest.raises(JobError, match="generator 'misbehaving' failed: RuntimeError: CUDA out of memory"):
        pipeline.generate("x", backend="misbehaving", params={"mode": "raise"}, registry=registry)
    assert len(pipeline.generate("x", backend="misbehaving", registry=registry).images) == 1


def test_a_hanging_plugin_is_stopped_at_the_time_limit(misbehaving_registry, monkeypatch):
    registry, plugin = misbehaving_registry
    monkeypatch.setattr(limits, "JOB_TIMEOUT_S", 1)
    started = time.perf_counter()
    with pytest.raises(JobError, match="did not finish within 1 s"):
        pipeline.generate("x", backend="misbehaving", params={"mode": "hang"}, registry=registry)
    assert time.perf_counter() - started < 5
    with cache.job(timeout=1):          # the device lock is free again
        pass
    assert plugin.hangs_stopped.wait(2)  # the abandoned call stopped at its next progress report
    assert len(pipeline.generate("x", backend="misbehaving", registry=registry).images) == 1


def test_stop_ends_a_running_job_and_frees_the_device(misbehaving_registry):
    """The tabs' Stop button: the session's flag makes the next progress report
    raise, the plugin unwinds and the device lock is free for the next job."""
    from core.errors import UserError
    from core.ui.controls import progress_fn, stops

    registry, plugin = misbehaving_registry
    session = types.SimpleNamespace(session_hash="visitor-1")
    flag = stops.start(session)
    outcome = {}

    def job():
        try:
            pipeline.generate("x", backend="misbehaving", params={"mode": "hang"}, registry=registry,
                              progress=progress_fn(lambda *a, **k: None, flag))
        except UserError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=job)
    worker.start()
    time.sleep(0.5)
    stops.stop(types.SimpleNamespace(session_hash="someone-else"))   # not this job's flag
    assert worker.is_alive()
    started = time.perf_counter()
    stops.stop(session)
    worker.join(5)
    assert not worker.is_alive() and outcome["error"] == "stopped"
    assert time.perf_counter() - started < 2 and plugin.hangs_stopped.is_set()
    with cache.job(timeout=1):
        pass
    assert len(pipeline.generate("x", backend="misbehaving", registry=registry).images) == 1


def test_one_session_cannot_fill_the_queue(misbehaving_registry):
    from gradio_client import Client

    import app

    registry, _ = misbehaving_registry
    demo = app.build_app(registry)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        greedy = Client(url, verbose=False)
        args = ("x", "misbehaving", 1, 0, "none", 1.0, "", '{"mode": "slow"}')
        jobs = [greedy.submit(*args, api_name="/generate") for _ in range(limits.MAX_JOBS_PER_CLIENT + 3)]
        outcomes = []
        for job in jobs:
            try:
                job.result(timeout=120)
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001
                outcomes.append(str(exc))
        assert outcomes.count("ok") >= limits.MAX_JOBS_PER_CLIENT - 1
        refused = [o for o in outcomes if o != "ok"]
        assert refused and all("Busy" in o or "queue" in o.lower() for o in refused), outcomes
        # another visitor is still served
        other = Client(url, verbose=False)
        images, _ = other.predict("x", "misbehaving", 1, 0, "none", 1.0, "", "{}", api_name="/generate")
        assert len(images) == 1
    finally:
        demo.close()


def test_old_output_files_are_pruned_and_new_ones_kept(tmp_path, monkeypatch):
    import os
    import time

    from core.ui import files

    monkeypatch.setenv("IMPASTO_OUTPUT_DIR", str(tmp_path / "impasto"))
    old = files.output_folder("results", "session-a") / "old.png"
    new = files.output_folder("results", "session-b") / "new.png"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(old.parent, (two_hours_ago, two_hours_ago))
    assert files.prune(max_age_s=3600, force=True) == 1
    assert not old.exists() and not old.parent.exists() and new.exists()
    assert files.output_folder("results", "../../etc").parent == tmp_path / "impasto" / "results"
