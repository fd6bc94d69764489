"""The body of the training loop (see :mod:`core.training` for the contract).

One :class:`TrainingRun` per ``python -m core train``: it prepares the
trainer's models and optimizers with accelerate, streams batches, encodes their
captions, calls ``trainer.training_step`` under ``accelerator.accumulate``, and
on the main process logs, draws sample grids and writes checkpoints.
"""
from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from core import checkpoint as ckpt
from core.training import DataSource, TrainConfig, open_data

SEED_STRIDE = 1_000_003


class TrainingRun:
    def __init__(self, config: TrainConfig, trainer: Any, accelerator: Any, echo: bool = True) -> None:
        self.config, self.trainer, self.acc, self.echo = config, trainer, accelerator, echo
        self.out = Path(config.out)
        self.step = 0
        self.seconds_before = 0.0      # time spent in earlier sessions of a resumed run
        self.stop_requested = False
        self.last_losses: dict[str, float] = {}
        self.last_grid: str | None = None

    def restore(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.seconds_before = float(state.get("seconds", 0.0))

    # ------------------------------------------------------------------ setup

    def _prepare(self) -> None:
        trainer, acc = self.trainer, self.acc
        trainer.accelerator = acc
        names, opt_names = list(trainer.modules), list(trainer.optimizers)
        prepared = acc.prepare(*[trainer.modules[n] for n in names],
                               *[trainer.optimizers[n] for n in opt_names])
        if len(names) + len(opt_names) == 1:
            prepared = (prepared,)
        trainer.modules = dict(zip(names, prepared[:len(names)]))
        trainer.optimizers = dict(zip(opt_names, prepared[len(names):]))
        for module in getattr(trainer, "frozen", {}).values():
            module.to(acc.device)

    def _loader(self) -> tuple[DataSource, Any]:
        from torch.utils.data import DataLoader

        from core.corpus.dataset import collate

        config = self.config
        source = open_data(config.data, config.resolution, config.seed, config.batch_size,
                           start_block=self.step * config.grad_accum,
                           shard=self.acc.process_index, num_shards=self.acc.num_processes)
        workers = config.workers if config.workers is not None else \
            (2 if self.acc.device.type == "cuda" else 0)
        loader = DataLoader(source.dataset, batch_size=config.batch_size, collate_fn=collate,
                            num_workers=workers, persistent_workers=workers > 0)
        return source, loader

    # ------------------------------------------------------------------ loop

    def run(self) -> dict[str, Any]:
        from tqdm.auto import tqdm

        from core.text_encoder import encode_cached

        config, trainer, acc = self.config, self.trainer, self.acc
        self._prepare()
        source, loader = self._loader()
        if acc.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            if source.skipped:
                self._say(f"skipped {len(source.skipped)} file(s) of {config.data}:")
                for item in source.skipped:
                    self._say(f"  {item['file']}: {item['reason']}")
        batches = iter(loader)
        images_per_step = config.batch_size * config.grad_accum * acc.num_processes
        start_step, started = self.step, time.perf_counter()
        window: dict[str, list[float]] = {}
        last_save = time.monotonic()
        bar = tqdm(total=config.steps, initial=self.step, disable=not acc.is_main_process,
                   desc=f"train {config.backend}", dynamic_ncols=True, file=sys.stderr,
                   mininterval=0.5 if sys.stderr.isatty() else 30)   # a log file gets a line every 30 s
        previous = signal.signal(signal.SIGTERM, self._on_sigterm) if _main_thread() else None
        try:
            while self.step < config.steps and not self.stop_requested:
                for micro in range(config.grad_accum):
                    batch = next(batches)
                    batch["image"] = batch["image"].to(acc.device, non_blocking=True)
                    batch["text"] = encode_cached(batch["caption"]).to(acc.device)
                    if batch["attributes"] and batch["attributes"][0] is None:
                        batch["attributes"] = None
                    torch.manual_seed(((config.seed * SEED_STRIDE + self.step) * 64 + micro) * 256
                                      + acc.process_index)
                    for module in trainer.modules.values():
                        module.train()
                    with acc.accumulate(*trainer.modules.values()):
                        losses = trainer.training_step(batch, self.step)
                    for key, value in losses.items():
                        window.setdefault(key, []).append(float(value))
                self.step += 1
                rate = (self.step - start_step) * images_per_step / max(time.perf_counter() - started, 1e-9)
                if self.step % config.log_every == 0 or self.step == config.steps:
                    self.last_losses = {k: sum(v) / len(v) for k, v in window.items()}
                    window = {}
                    self._log({"step": self.step, **self.last_losses, "images_per_s": round(rate, 2),
                               "seconds": round(self._seconds(started), 1)})
                    bar.set_postfix({**{k: f"{v:.4g}" for k, v in self.last_losses.items()},
                                     "img/s": f"{rate:.1f}"}, refresh=False)
                bar.update(1)
                if config.sample_every and self.step % config.sample_every == 0:
                    self._samples(source)
                if (self.step % config.checkpoint_every == 0 or
                        time.monotonic() - last_save > config.checkpoint_minutes * 60):
                    self._checkpoint(started)
                    last_save = time.monotonic()
        except KeyboardInterrupt:
            self.stop_requested = True
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self._checkpoint(started)
        if not config.sample_every or self.step % config.sample_every:
            self._samples(source)
        elapsed = time.perf_counter() - started
        return {"checkpoint": str(self.out), "backend": config.backend, "data": config.data,
                "steps": self.step, "seconds": round(elapsed, 2),
                "total_seconds": round(self._seconds(started), 2),
                "images_per_second": round((self.step - start_step) * images_per_step / max(elapsed, 1e-9), 2),
                "losses": self.last_losses, "samples": self.last_grid,
                "interrupted": self.stop_requested and self.step < config.steps,
                "skipped": source.skipped, "skipped_count": len(source.skipped)}

    # ------------------------------------------------------------------ outputs

    def _seconds(self, started: float) -> float:
        return self.seconds_before + time.perf_counter() - started

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.stop_requested = True     # finish this step, save, and return

    def _say(self, text: str) -> None:
        if self.echo:
            print(text, file=sys.stderr)

    def _log(self, record: dict[str, Any]) -> None:
        if self.acc.is_main_process:
            with open(self.out / "log.jsonl", "a") as log:
                log.write(json.dumps({k: (round(v, 6) if isinstance(v, float) else v)
                                      for k, v in record.items()}) + "\n")

    def _samples(self, source: DataSource) -> None:
        if not self.acc.is_main_process or not source.sample_prompts:
            return
        from core.corpus.preview import grid_image

        for module in self.trainer.modules.values():
            module.eval()
        with torch.no_grad():
            images = self.trainer.sample(list(source.sample_prompts), self.config.seed)
        folder = self.out / "samples"
        folder.mkdir(exist_ok=True)
        path = folder / f"step_{self.step:06d}.png"
        grid_image(images, list(source.sample_prompts), columns=4).save(path)
        self.last_grid = str(path)

    def _checkpoint(self, started: float) -> None:
        acc, trainer = self.acc, self.trainer
        acc.wait_for_everyone()
        if not acc.is_main_process:
            return
        modules = {name: acc.unwrap_model(m) for name, m in trainer.modules.items()}
        modules.update(getattr(trainer, "frozen", {}))
        train = {k: v for k, v in asdict(self.config).items() if k not in ("resume", "out")}
        ckpt.write_weights(self.out, {"backend": self.config.backend, "model": trainer.config,
                                      "step": self.step, "train": train}, modules)
        ckpt.write_optimizers(self.out, trainer.optimizers,
                              {"step": self.step, "seconds": round(self._seconds(started), 2)})


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

