"""Worker processes, one per core, that draw a request's candidates between them.

Why processes: the sampler makes hundreds of small matrix products per image, and
on a CPU a second thread speeds them up little (not at all on one host, 1.25x on
another; model card); two processes drawing different rows use both cores better
(1.35x against one thread, 1.1x against two, on the same host). Each row's codes depend only
on its own text and seed (``sampling.draw_from_text``), so the rows come out the
same however they are split.

Each worker compiles its drawing (``compiled_steps``: 4 images in 0.84-0.88 s against
1.13-1.20 s eager, model card) before it says it is ready. That is why the main process draws nothing once they are: compiling
in the main process would hold the interpreter lock for a minute or more while the app
serves (requests took 17-33 s meanwhile, model card), and a process of its own does
not.

A worker is ``python -m plugins.transformer.drawing_pool FOLDER``: a plain child
process (not multiprocessing, which would run the caller's main script again in
the child) holding its own float32 copy of the prior and tokenizer, a few MB. It
gets MiniLM's token states from the main process, which keeps the only copy of
the encoder, and answers over its stdin and stdout, one pickled message each way.
The workers are started by ``TransformerGenerator.warm_up`` (the app does that once
it is serving, the benchmark before it times), never by a plain ``generate``: a
one-off command would pay the start for nothing. Until every worker is ready, or
once one breaks, the main process draws every row itself.
"""
from __future__ import annotations

import atexit
import logging
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

if __name__ == "__main__" and hasattr(os, "nice"):
    # The worker: it starts while the app may already be serving its first request,
    # and importing torch takes seconds of CPU; the request goes first.
    os.nice(10)

import torch  # noqa: E402

log = logging.getLogger(__name__)

_pools: dict[Path, "DrawingPool"] = {}
_pools_lock = threading.Lock()


def enabled() -> bool:
    """Only on a CPU with two cores or more, and unless turned off
    with ``IMPASTO_DRAW_PROCESSES=1``."""
    from core.device import get_device

    if os.environ.get("IMPASTO_DRAW_PROCESSES", "2") == "1":
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores >= 2 and get_device().type == "cpu"


def start(folder: Path) -> "DrawingPool | None":
    """The pool for ``folder``'s weights, started if it was not (None where not
    ``enabled``); its workers load in the background (``DrawingPool.wait_ready``)."""
    if not enabled():
        return None
    folder = Path(folder).resolve()
    with _pools_lock:
        pool = _pools.get(folder)
        if pool is None:
            pool = _pools[folder] = DrawingPool(folder)
    return pool


def ready_pool(folder: Path) -> "DrawingPool | None":
    """The started pool for ``folder`` if its workers are ready to draw, else None."""
    with _pools_lock:
        pool = _pools.get(Path(folder).resolve())
    return pool if pool is not None and pool.ready() else None


@atexit.register
def stop_all() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


WORKERS = 2     # one per core of the machine it was measured on


class DrawingPool:
    """``WORKERS`` worker processes that load ``folder``'s prior and tokenizer once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.workers = [Worker(folder) for _ in range(WORKERS)]
        self._lock = threading.Lock()           # one request at a time on the pipes

    def wait_ready(self) -> bool:
        return all([worker.wait_ready() for worker in self.workers])

    def ready(self) -> bool:
        return all(worker.ready() for worker in self.workers)

    def draw(self, prior: torch.nn.Module, tokenizer: torch.nn.Module,
             text: tuple[torch.Tensor, torch.Tensor, torch.Tensor], seeds: Sequence[int],
             settings: dict[str, Any], progress: Callable[[float], None]) -> torch.Tensor:
        """``sampling.draw_from_text`` with the rows split between the workers; the
        rows of a worker that breaks are drawn here."""
        from plugins.transformer.sampling import draw_from_text

        bounds = [len(seeds) * i // len(self.workers) for i in range(len(self.workers) + 1)]
        parts = list(zip(bounds, bounds[1:]))
        with self._lock:
            sent = [worker.send(([t[a:b].cpu() for t in text], [int(s) for s in seeds[a:b]], settings))
                    for worker, (a, b) in zip(self.workers, parts)]
            # Every answer is read before anything can raise here: one left in a pipe
            # would be taken for the next request's.
            answers = [worker.receive() if was_sent else None for worker, was_sent in zip(self.workers, sent)]
        progress(1.0)
        return torch.cat([answer if answer is not None else
                          draw_from_text(prior, tokenizer, tuple(t[a:b] for t in text), seeds[a:b], **settings)
                          for answer, (a, b) in zip(answers, parts)])

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


class Worker:
    """One worker process and the state of its pipe."""

    def __init__(self, folder: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen([sys.executable, "-m", __name__, str(folder)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._state = "starting"                # -> "ready" | "broken"
        self._started = threading.Thread(target=self._await_hello, daemon=True)
        self._started.start()

    def _await_hello(self) -> None:
        try:
            hello = pickle.load(self._process.stdout)
        except Exception:    # noqa: BLE001 - EOF: the worker died while loading (its stderr says why)
            hello = None
        if hello == "ready":
            self._state = "ready"
        else:
            log.warning("a drawing worker did not start; drawing in one process")
            self.close()

    def wait_ready(self) -> bool:
        self._started.join()
        return self.ready()

    def ready(self) -> bool:
        return self._state == "ready"

    def send(self, message: Any) -> bool:
        try:
            pickle.dump(message, self._process.stdin)
            self._process.stdin.flush()
            return True
        except (OSError, ValueError):
            self._broke("could not reach a drawing worker")
            return False

    def receive(self) -> torch.Tensor | None:
        try:
            answer = pickle.load(self._process.stdout)
        except Exception:    # noqa: BLE001 - EOF or a torn message: the worker is gone
            answer = None
        if not isinstance(answer, torch.Tensor):
            self._broke(f"a drawing worker failed ({answer!r})" if answer else "a drawing worker stopped")
            return None
        return answer

    def _broke(self, why: str) -> None:
        log.warning("%s; drawing in one process from now on", why)
        self.close()

    def close(self) -> None:
        self._state = "broken"
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def serve(folder: Path, requests: Any, answers: Any) -> None:
    """The worker's loop: load, compile, say "ready", then for each (text, seeds, settings)
    message answer the codes (or a string saying what failed) until stdin closes."""
    from plugins.transformer import compiled_steps, load_model
    from plugins.transformer.sampling import draw_from_text

    torch.set_num_threads(1)
    model = load_model(folder, with_judge=False)
    compiled_steps.prepare(model.prior)     # until it is ready, the main process draws every row
    pickle.dump("ready", answers)
    answers.flush()
    while True:
        try:
            text, seeds, settings = pickle.load(requests)
        except EOFError:
            return
        try:
            answer: Any = draw_from_text(model.prior, model.tokenizer, tuple(text), seeds, **settings)
        except Exception as error:   # noqa: BLE001 - reported to the main process, which draws instead
            answer = f"{type(error).__name__}: {error}"
        pickle.dump(answer, answers)
        answers.flush()


if __name__ == "__main__":
    # stdout carries the answers: anything else printed, from Python or C, goes to stderr
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(Path(sys.argv[1]), sys.stdin.buffer, channel)
