"""The one training loop of Impasto's generators, on accelerate's ``Accelerator``.

``python -m core train --backend B --data D --steps N --out DIR`` lands in
:func:`train_from_cli`; the loop is :func:`train`. It does everything that is
the same for every backend: data (the procedural corpus or a user folder),
the text encoder, device placement, mixed precision, gradient accumulation,
multi-GPU (``accelerate launch -m core train ...``), a progress bar with losses
and throughput, sample grids, checkpoints (safetensors + JSON, see
:mod:`core.checkpoint`), resume, fine-tuning (``--init``) and fixed seeds. A
backend only says how to build its models and how to take one step.

The trainer protocol (what a backend implements)
=================================================

A registered generator that can be trained has one more method::

    def make_trainer(self, config: TrainConfig, model_config: dict | None) -> Trainer

``model_config`` is None for a new run (choose defaults, e.g. from
``config.resolution``) or the ``"model"`` dict of the checkpoint being resumed
(or fine-tuned from, ``--init``).
The returned trainer has:

``config: dict``
    JSON-ready; everything needed to rebuild the models (saved as
    ``config.json["model"]``, handed back as ``model_config``).
``modules: dict[str, torch.nn.Module]``
    the trained models. The loop replaces each entry by its
    ``accelerator.prepare``-d version before the first step, so always reach
    them through this dict. Each is saved as ``<name>.safetensors``.
``optimizers: dict[str, torch.optim.Optimizer]``
    prepared and saved (for resume) the same way.
``frozen: dict[str, torch.nn.Module]`` (optional)
    modules that are saved and moved to the device but not trained by
    gradient (an EMA copy of a generator, say).
``accelerator``
    set by the loop before the first step.
``after_init(init)`` (optional)
    called once ``--init``'s weights are loaded, for what only the backend
    knows (the GAN starts its trained generator from an export's EMA copy).
``training_step(batch, step) -> dict[str, float]``
    one optimisation step: forward, ``self.accelerator.backward(loss)``,
    ``optimizer.step()``, ``optimizer.zero_grad()``, and return the losses to
    log. The loop wraps it in ``accelerator.accumulate(...)`` and seeds torch
    with ``(seed, step)`` first, so a step is reproducible and resumable.
    ``batch`` holds ``image`` (B x 3 x R x R float in [0, 1], on the device),
    ``caption`` (list of str), ``text`` (:class:`core.text_encoder.TextEncoding`
    of the captions, on the device), ``attributes`` (the corpus scene dicts,
    or None for user images).
``sample(prompts, seed) -> list[PIL.Image]``
    images for the sample grids, in eval mode (the loop wraps it in
    ``torch.no_grad`` and calls it on the main process only).

A generator loads what training wrote with :func:`core.checkpoint.read_checkpoint`
from :func:`core.checkpoint.weights_dir` (``assets/<backend>/`` by default),
lazily through ``core.models.cache``, and raises ``UnavailableError`` with
:func:`core.checkpoint.missing_weights_message` when there are none.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from core.errors import UserError

SAMPLE_PROMPTS: dict[str, tuple[str, ...]] = {
    "shapes": ("a red circle on a blue background", "a yellow square on a black background",
               "a green triangle on a white background", "two purple circles on a yellow background",
               "a blue square and an orange circle on a white background",
               "a red triangle to the left of a green square on a black background",
               "three white squares on a red background", "a black circle above a yellow triangle"),
    "landscapes": ("a sunset over the mountains", "green hills on a sunny day with clouds",
                   "mountains at night with a full moon by the sea", "a desert at sunset",
                   "green hills at night by a lake", "sand dunes on a sunny day by the sea",
                   "a sunny day over the mountains with trees", "a starry night over the desert"),
}
SAMPLE_PROMPTS["all"] = SAMPLE_PROMPTS["shapes"][:4] + SAMPLE_PROMPTS["landscapes"][:4]
MIXED_PRECISION = ("no", "fp16", "bf16")


@dataclass
class TrainConfig:
    """Everything about a run that is not the model itself."""

    backend: str
    data: str = "procedural:all"
    steps: int = 1000
    out: str = "runs/run"
    batch_size: int = 32
    lr: float = 2e-4
    resolution: int = 64
    mixed_precision: str = "no"
    grad_accum: int = 1
    seed: int = 0
    resume: bool = False
    init: str | None = None             # start from these weights (a run or an export) at step 0
    sample_every: int = 500
    checkpoint_every: int = 500
    checkpoint_minutes: float = 10.0
    log_every: int = 25
    workers: int | None = None          # DataLoader workers; None: 2 with a GPU, else 0
    extra: dict[str, Any] = field(default_factory=dict)   # backend-specific overrides

    def check(self) -> None:
        if self.steps < 1:
            raise UserError(f"--steps must be at least 1, got {self.steps}")
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and 0 < self.lr < 1):
            raise UserError(f"--lr must be between 0 and 1, got {self.lr}")
        if not 16 <= self.resolution <= 512 or self.resolution % 8:
            raise UserError(f"--resolution must be a multiple of 8 between 16 and 512, got {self.resolution}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise UserError(f"--mixed-precision must be one of {', '.join(MIXED_PRECISION)}")
        if self.grad_accum < 1:
            raise UserError(f"--grad-accum must be at least 1, got {self.grad_accum}")
        if self.init and self.resume:
            raise UserError("--init starts a new run from other weights; --resume continues this "
                            "one: give one of them")


class Trainer(Protocol):
    """See the module docstring: the contract between a backend and the loop."""

    config: dict[str, Any]
    modules: dict[str, Any]
    optimizers: dict[str, Any]
    accelerator: Any

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, float]: ...

    def sample(self, prompts: list[str], seed: int) -> list[Any]: ...


# --------------------------------------------------------------------------- data


@dataclass
class DataSource:
    dataset: Any                     # an IterableDataset of {"image", "caption", "attributes"}
    family: str                      # shapes / landscapes / all / user
    description: str
    skipped: list[dict[str, str]] = field(default_factory=list)
    sample_prompts: tuple[str, ...] = ()


def check_data_spec(spec: str) -> None:
    """Refuse a bad ``--data`` before anything heavy is imported."""
    if spec.startswith("procedural:"):
        if spec.split(":", 1)[1] not in ("shapes", "landscapes", "all"):
            raise UserError(f"--data {spec}: unknown corpus; use procedural:shapes, "
                            "procedural:landscapes or procedural:all")
    elif not Path(spec).is_dir():
        raise UserError(f"--data {spec}: not a folder (use a folder of images, or "
                        "procedural:shapes / procedural:landscapes / procedural:all)")


def open_data(spec: str, resolution: int, seed: int, block_size: int, start_block: int = 0,
              shard: int = 0, num_shards: int = 1) -> DataSource:
    """``procedural:shapes|landscapes|all`` or a folder of captioned images."""
    from core.corpus.dataset import DATA_FAMILIES, CorpusDataset

    if spec.startswith("procedural:"):
        family = spec.split(":", 1)[1]
        if family not in DATA_FAMILIES:
            raise UserError(f"--data {spec}: unknown corpus; use procedural:shapes, "
                            "procedural:landscapes or procedural:all")
        dataset = CorpusDataset(family, seed, resolution, block_size=block_size,
                                start_block=start_block, shard=shard, num_shards=num_shards)
        return DataSource(dataset, family, f"procedural corpus ({family})",
                          sample_prompts=SAMPLE_PROMPTS[family])
    from core.userdata import UserImageDataset, read_image_folder

    folder = read_image_folder(spec, resolution)
    dataset = UserImageDataset(folder, seed, block_size=block_size, start_block=start_block,
                               shard=shard, num_shards=num_shards)
    prompts = tuple(dict.fromkeys(folder.captions))[:8]
    return DataSource(dataset, "user", f"{len(folder)} images from {spec}", folder.skipped, prompts)


# --------------------------------------------------------------------------- the loop


def find_trainable(backend: str) -> Any:
    if backend == "critic":       # not a generator: the re-ranking judge of core.critic
        from core.critic_training import CriticTrainable

        return CriticTrainable()
    from core.registry import get_registry

    generator = get_registry().get("generators", backend)
    if not callable(getattr(generator, "make_trainer", None)):
        raise UserError(f"the {backend!r} backend cannot be trained (it has no make_trainer)")
    return generator


def train(config: TrainConfig, generator: Any = None, echo: bool = True) -> dict[str, Any]:
    """Run (or resume) a training run; returns a summary dict."""
    config.check()
    check_data_spec(config.data)
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from core import checkpoint as ckpt
    from core.training_loop import TrainingRun

    out = Path(config.out)
    if config.resume and not ckpt.can_resume(out):
        raise UserError(f"--resume: {out} holds no run to resume (no config.json and resume/ state)")
    if not config.resume and ckpt.has_checkpoint(out):
        raise UserError(f"{out} already holds a checkpoint; pass --resume to continue it "
                        "or choose another --out")
    generator = generator or find_trainable(config.backend)
    accelerator = Accelerator(mixed_precision=config.mixed_precision,
                              gradient_accumulation_steps=config.grad_accum)
    set_seed(config.seed)
    saved = ckpt.read_checkpoint(out) if config.resume else None
    init = ckpt.read_checkpoint(config.init, config.backend) if config.init else None
    source = saved or init
    trainer = generator.make_trainer(config, source.model_config if source else None)
    if saved:
        for name, module in _saved_modules(trainer).items():
            module.load_state_dict(saved.state_dicts[name])
    if init:
        _load_init(trainer, init)
    run = TrainingRun(config, trainer, accelerator, echo=echo)
    if saved:
        run.restore(ckpt.read_optimizers(out, trainer.optimizers))
    with torch.random.fork_rng(devices=[]), deterministic_kernels():
        return run.run()


@contextlib.contextmanager
def deterministic_kernels() -> Iterator[None]:
    """Deterministic kernels for the run, so one command gives the same weights twice.

    With more than one thread some CPU kernels (the backward of indexing among them)
    add in an order that changes from run to run; a GAN amplifies the difference
    (two runs of one GAN command ended 0.025 apart on its checker figure). They
    cost about 3 % of a GAN step here. ``warn_only``: a kernel with no
    deterministic version (some CUDA ones) warns instead of stopping the run.
    The previous setting comes back afterwards."""
    import torch

    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def _saved_modules(trainer: Any) -> dict[str, Any]:
    return {**trainer.modules, **getattr(trainer, "frozen", {})}


def _load_init(trainer: Any, init: Any) -> None:
    """Fine-tuning: the modules ``init`` holds take its weights (an export's float16
    is cast to each parameter's dtype); the rest, such as training-only heads an
    export leaves out, keep their fresh initialisation, and so do parameters a
    module gains over ``init`` (a part added for this run, such as the VAE's flow
    prior). Weights ``init`` holds that the module has no place for are an error,
    unless their names start with one of the trainer's ``discard_on_init``
    prefixes (a part this run leaves out on purpose). Optimizer state and the step
    count start anew."""
    modules = _saved_modules(trainer)
    found = [name for name in modules if name in init.state_dicts]
    if not found:
        raise UserError(f"--init {init.path}: it holds none of this run's modules "
                        f"({', '.join(modules)})")
    discarded = tuple(getattr(trainer, "discard_on_init", ()))
    for name in found:
        unexpected = modules[name].load_state_dict(init.state_dicts[name], strict=False).unexpected_keys
        unexpected = [k for k in unexpected if not k.startswith(discarded)]
        if unexpected:
            raise UserError(f"--init {init.path}: its {name} holds weights this run's model has no "
                            f"place for ({', '.join(unexpected[:5])}); is it the same backend and size?")
    if hasattr(trainer, "after_init"):
        trainer.after_init(init)


def train_from_cli(args: Any) -> dict[str, Any]:
    """``python -m core train``: argparse Namespace -> summary dict."""
    config = TrainConfig(
        backend=args.backend, data=args.data, steps=int(args.steps), out=str(args.out),
        batch_size=int(_arg(args, "batch_size", 32)), lr=float(_arg(args, "lr", 2e-4)),
        resolution=int(_arg(args, "resolution", 64)),
        mixed_precision=str(_arg(args, "mixed_precision", "no")),
        grad_accum=int(_arg(args, "grad_accum", 1)), seed=int(_arg(args, "seed", 0)),
        resume=bool(_arg(args, "resume", False)), init=_arg(args, "init", None),
        sample_every=int(_arg(args, "sample_every", 500)),
        checkpoint_every=int(_arg(args, "checkpoint_every", 500)),
        workers=_arg(args, "workers", None), extra=parse_extra(_arg(args, "extra", [])))
    return train(config, echo=not bool(_arg(args, "json", False)))


def parse_extra(pairs: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs -> a dict; values are JSON when they parse (numbers,
    true/false), else the text itself."""
    import json

    extra: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            extra[key.strip()] = json.loads(value)
        except ValueError:
            extra[key.strip()] = value
    return extra


def _arg(args: Any, name: str, default: Any) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value
