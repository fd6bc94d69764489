"""Speed of the trained built-in generators, the corpus and the checker.

- ``batch16``: 16 images for one prompt in one request (issue 7: <= 0.2 s median),
  after a warm-up call, for every trainable backend whose weights are present;
- ``four_images``: the transformer's 4 images for one prompt at the default size
  (issue 6: <= 1.5 s median after warm-up, the generator's ``warm_up`` included, as
  the app does it);
- ``load``: reading a backend's weights from disk into a fresh model (issue 6: <= 3 s);
- ``train_step``: one VAE training step at batch 32, 64x64 (the figure to plan
  CPU training budgets with), on the corpus, captions already encoded;
- ``corpus`` and ``checker``: samples rendered / images scored per second.
"""
from __future__ import annotations

import time
from typing import Any

from core.bench import measure

TRAINED_BACKENDS = ("vae", "gan", "transformer")
PROMPT = "a red circle on a blue background"


def _generator(name: str) -> Any:
    from core.checkpoint import has_checkpoint, weights_dir
    from core.registry import get_registry

    registry = get_registry()
    if name not in registry.generators:
        return None, f"backend {name!r} is not installed"
    if not has_checkpoint(weights_dir(name)):
        return None, f"no weights in {weights_dir(name)}"
    return registry.generators[name], ""


def bench_batch16() -> list[dict[str, Any]]:
    from core.hookspecs import GenerateRequest, no_progress

    rows = []
    for name in TRAINED_BACKENDS:
        generator, why = _generator(name)
        if generator is None:
            rows.append({"job": f"{name} 16 images", "skipped": why})
            continue
        request = GenerateRequest(PROMPT, n=16, seed=0, params={"size": 64} if name == "vae" else {})
        figures = measure(lambda: generator.generate(request, no_progress), runs=7, warmup=2)
        rows.append({"job": f"{name} 16 images", **figures, "images_per_s": round(16 / figures["median_s"], 1)})
    return rows


def bench_four_images() -> list[dict[str, Any]]:
    from core.hookspecs import GenerateRequest, no_progress

    generator, why = _generator("transformer")
    if generator is None:
        return [{"job": "transformer 4 images", "skipped": why}]
    request = GenerateRequest(PROMPT, n=4, seed=0)
    if hasattr(generator, "warm_up"):    # as the app does once it is serving
        generator.warm_up(wait=True)
    figures = measure(lambda: generator.generate(request, no_progress), runs=7, warmup=2)
    return [{"job": "transformer 4 images (256 px)", **figures}]


def bench_load() -> list[dict[str, Any]]:
    rows = []
    for name in TRAINED_BACKENDS:
        generator, why = _generator(name)
        if generator is None:
            rows.append({"job": f"{name} load", "skipped": why})
            continue
        # the plugin's own loader, straight from disk (not the model cache)
        rows.append({"job": f"{name} load", **measure(lambda: generator.load(generator.weights_dir), runs=3)})
    return rows


def bench_train_step() -> list[dict[str, Any]]:
    import torch

    from core.corpus.dataset import CorpusDataset, collate
    from core.text_encoder import encode_cached
    from core.training import TrainConfig
    from plugins.vae.trainer import VAETrainer

    class _Accelerator:   # the loop's role, without a run folder: plain CPU steps
        sync_gradients = True

        @staticmethod
        def backward(loss: torch.Tensor) -> None:
            loss.backward()

        @staticmethod
        def clip_grad_norm_(params: Any, norm: float) -> None:
            torch.nn.utils.clip_grad_norm_(params, norm)

    trainer = VAETrainer(TrainConfig("vae", batch_size=32), None)
    trainer.accelerator = _Accelerator()
    stream = iter(torch.utils.data.DataLoader(CorpusDataset("all", 0, block_size=32), batch_size=32,
                                              collate_fn=collate))
    batch = next(stream)
    batch["text"] = encode_cached(batch["caption"])
    step = [0]

    def one_step() -> None:
        trainer.training_step(batch, step[0])
        step[0] += 1

    started = time.perf_counter()
    next(stream)
    data_s = time.perf_counter() - started
    return [{"job": "vae train step (batch 32, 64x64)", **measure(one_step, runs=5, warmup=1),
             "threads": torch.get_num_threads(), "data_batch_s": round(data_s, 4)}]


def bench_corpus() -> list[dict[str, Any]]:
    from core.corpus.dataset import make_sample

    rows = []
    for family in ("shapes", "landscapes"):
        counter = iter(range(10**9))
        figures = measure(lambda: [make_sample(family, 0, next(counter)) for _ in range(32)], runs=5)
        rows.append({"job": f"corpus render 32 {family}", **figures,
                     "samples_per_s": round(32 / figures["median_s"], 1)})
    return rows


def bench_checker() -> list[dict[str, Any]]:
    from core.checker import check
    from core.corpus.dataset import make_sample

    rows = []
    for family in ("shapes", "landscapes"):
        samples = [make_sample(family, 0, i) for i in range(32)]
        figures = measure(lambda: [check(s.image, s.scene.claim) for s in samples], runs=3)
        rows.append({"job": f"checker 32 {family}", **figures,
                     "images_per_s": round(32 / figures["median_s"], 1)})
    return rows
