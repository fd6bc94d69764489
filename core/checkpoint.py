"""Checkpoints of trained generators: safetensors weights + a JSON config.

A checkpoint folder holds

    config.json                 {"format": 1, "backend", "model": {...}, "modules": [...], "step", "train": {...}}
    <module>.safetensors        one per saved module: everything generation needs
    resume/optimizers.safetensors, resume/state.json    optimizer state, for --resume only
    samples/step_XXXXXX.png     sample grids written during training
    log.jsonl                   one line of losses and throughput per logging interval

Generation needs only ``config.json`` and the module files: those are what ships
in ``assets/<backend>/``. Nothing here unpickles: tensors go through
safetensors, everything else through JSON.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import UnavailableError

if TYPE_CHECKING:
    import torch

FORMAT = 1
CONFIG_FILE = "config.json"
RESUME_DIR = "resume"
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
# No shipped file may exceed 10 MB (the repo's rule, and what a Space takes without LFS);
# an export splits a larger module into files of at most this many bytes of tensors.
MAX_FILE_BYTES = 9_900_000


@dataclass
class Checkpoint:
    """A checkpoint read back: its config and one state dict per module."""

    path: Path
    config: dict[str, Any]
    state_dicts: "dict[str, dict[str, torch.Tensor]]"

    @property
    def model_config(self) -> dict[str, Any]:
        return self.config.get("model", {})

    @property
    def step(self) -> int:
        return int(self.config.get("step", 0))


def weights_dir(backend: str) -> Path:
    """Where a backend's generator looks for its weights: ``$IMPASTO_<BACKEND>_WEIGHTS``
    if set (a folder written by ``python -m core train``), else ``assets/<backend>/``."""
    override = os.environ.get(f"IMPASTO_{backend.upper()}_WEIGHTS", "").strip()
    return Path(override) if override else ASSETS_DIR / backend


def missing_weights_message(backend: str, folder: str | Path | None = None,
                            data: str = "procedural:all", steps: int = 20000) -> str:
    """What to do when ``folder`` (default: where the backend looks) holds no weights."""
    folder = weights_dir(backend) if folder is None else folder
    return (f"the {backend} backend has no trained weights in {folder}; train them with "
            f"`python -m core train --backend {backend} --data {data} --steps {steps} --out runs/{backend}` "
            f"and set IMPASTO_{backend.upper()}_WEIGHTS=runs/{backend} (or copy its config.json and "
            f"*.safetensors into assets/{backend}/)")


def has_checkpoint(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def read_checkpoint(path: str | Path, backend: str | None = None) -> Checkpoint:
    """Load ``config.json`` and every module's safetensors from ``path``."""
    from core.models import load_safetensors

    path = Path(path)
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise UnavailableError(missing_weights_message(backend, path) if backend else
                               f"no checkpoint in {path} (config.json is missing)")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UnavailableError(f"{config_path} is not a readable checkpoint config ({exc})") from None
    if backend is not None and config.get("backend") != backend:
        raise UnavailableError(f"{path} holds a {config.get('backend')!r} checkpoint, not {backend!r}")
    state_dicts = {}
    for name in config.get("modules", []):
        state_dicts[name] = {}
        for file in module_files(name, config.get("shards", {}).get(name, 1)):
            state_dicts[name].update(load_safetensors(path / file))
    return Checkpoint(path, config, state_dicts)


def module_files(name: str, shards: int) -> list[str]:
    """A module's weight files: ``<name>.safetensors``, then ``<name>-2.safetensors``
    and so on when an export split it (see ``MAX_FILE_BYTES``)."""
    return [f"{name}.safetensors"] + [f"{name}-{i}.safetensors" for i in range(2, shards + 1)]


def write_weights(path: str | Path, config: dict[str, Any],
                  modules: "dict[str, torch.nn.Module]") -> None:
    """Write ``config.json`` and ``<name>.safetensors`` for each module, atomically
    per file (a run killed mid-save leaves the previous files intact)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, module in modules.items():
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
        _atomic(path / f"{name}.safetensors", lambda tmp, t=tensors: save_file(t, str(tmp)))
    full = {"format": FORMAT, **config, "modules": sorted(modules)}
    _atomic(path / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(full, indent=2) + "\n"))


def write_optimizers(path: str | Path, optimizers: "dict[str, Any]", state: dict[str, Any]) -> None:
    """Optimizer states as safetensors (tensors) + JSON (the rest), for resume."""
    import torch
    from safetensors.torch import save_file

    folder = Path(path) / RESUME_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, values in sd["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{name}/{pid}/{key}"] = value.detach().to("cpu").contiguous()
                else:
                    scalars.setdefault(str(pid), {})[key] = value
        meta[name] = {"param_groups": sd["param_groups"], "scalars": scalars}
    _atomic(folder / "optimizers.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    _atomic(folder / "state.json",
            lambda tmp: tmp.write_text(json.dumps({"optimizers": meta, **state}, indent=2)))


def read_optimizers(path: str | Path, optimizers: "dict[str, Any]") -> dict[str, Any]:
    """Load what :func:`write_optimizers` wrote into ``optimizers``; returns the
    extra state (step, ...)."""
    from core.models import load_safetensors

    folder = Path(path) / RESUME_DIR
    state = json.loads((folder / "state.json").read_text())
    tensors = load_safetensors(folder / "optimizers.safetensors")
    for name, optimizer in optimizers.items():
        meta = state["optimizers"][name]
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            opt_name, pid, field = key.split("/", 2)
            if opt_name == name:
                per_param.setdefault(int(pid), {})[field] = value
        for pid, values in meta["scalars"].items():
            per_param.setdefault(int(pid), {}).update(values)
        optimizer.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
    return {k: v for k, v in state.items() if k != "optimizers"}


def export_checkpoint(run: str | Path, target: str | Path, modules: list[str] | None = None,
                      half: bool = True) -> dict[str, Any]:
    """Copy what generation needs from a training run into ``target`` (for
    ``assets/<backend>/``): ``config.json`` and the chosen modules' weights, in
    float16 when ``half`` (loaders cast back to float32), without optimizer
    state or samples. Returns a summary with each file's size."""
    checkpoint = read_checkpoint(run)
    names = modules or list(checkpoint.config.get("modules", []))
    unknown = sorted(set(names) - set(checkpoint.state_dicts))
    if unknown:
        raise UnavailableError(f"{run} has no module(s) {', '.join(unknown)}; it has "
                               f"{', '.join(sorted(checkpoint.state_dicts))}")
    sizes = write_export(target, checkpoint.config, {name: checkpoint.state_dicts[name] for name in names}, half)
    return {"run": str(run), "target": str(target), "step": checkpoint.step, "files": sizes}


def write_export(target: str | Path, config: dict[str, Any], state_dicts: "dict[str, dict[str, torch.Tensor]]",
                 half: bool = True) -> dict[str, int]:
    """Write ``config.json`` (``config`` with its ``modules`` and ``dtype`` set) and one
    ``<name>.safetensors`` per state dict into ``target``, floats in float16 when
    ``half``, each file atomically. Returns each file's size."""
    import torch
    from safetensors.torch import save_file

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    sizes, shards = {}, {}
    for name, state in state_dicts.items():
        tensors = {k: (v.to(torch.float16) if half and v.is_floating_point() else v).contiguous()
                   for k, v in state.items()}
        parts = _split(tensors)
        for file, part in zip(module_files(name, len(parts)), parts):
            _atomic(target / file, lambda tmp, t=part: save_file(t, str(tmp)))
            sizes[file] = (target / file).stat().st_size
        for stale in module_files(name, 99)[len(parts):]:       # shards of an earlier, larger export
            (target / stale).unlink(missing_ok=True)
        if len(parts) > 1:
            shards[name] = len(parts)
    config = {**{k: v for k, v in config.items() if k != "shards"}, "modules": list(state_dicts),
              "dtype": "float16" if half else "float32", **({"shards": shards} if shards else {})}
    _atomic(target / CONFIG_FILE, lambda tmp: tmp.write_text(json.dumps(config, indent=2) + "\n"))
    return sizes


def _split(tensors: "dict[str, torch.Tensor]") -> "list[dict[str, torch.Tensor]]":
    """Tensors in their order, cut into parts of at most ``MAX_FILE_BYTES`` each."""
    parts: list[dict] = [{}]
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if parts[-1] and size + nbytes > MAX_FILE_BYTES:
            parts.append({})
            size = 0
        parts[-1][key] = tensor
        size += nbytes
    return parts


def can_resume(path: str | Path) -> bool:
    folder = Path(path) / RESUME_DIR
    return has_checkpoint(path) and (folder / "state.json").is_file()


def _atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(target.name + ".tmp")
    write(tmp)
    os.replace(tmp, target)


def export_with_module(folder: str | Path, backend: str, out: str | Path, name: str,
                       state: "dict[str, torch.Tensor]", settings: dict[str, Any]) -> dict[str, int]:
    """Write to ``out`` the checkpoint of ``folder`` with its modules as they were (same
    tensors) plus the module ``name`` (replacing one of that name), whose config entry
    ``model[name]`` is ``settings``. How a chooser trained after its generator ships."""
    checkpoint = read_checkpoint(folder, backend=backend)
    config = dict(checkpoint.config)
    config["model"] = {**checkpoint.model_config, name: settings}
    modules = {module: checkpoint.state_dicts[module] for module in checkpoint.config.get("modules", [])
               if module != name}
    return write_export(out, config, {**modules, name: state})
