"""Ship a training run's generator: ``python -m plugins.gan.export runs/gan assets/gan``.

Generation needs only the EMA generator, so the export holds ``config.json``
(listing that one module) and ``generator_ema.safetensors`` in float16 (the
loader casts back to float32): a fraction of the run folder, which also holds
the trained generator, the discriminator, optimizer state and sample grids.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from core.checkpoint import CONFIG_FILE, read_checkpoint
from plugins.gan import NAME, SAMPLING_MODULE


def export(run: str | Path, target: str | Path) -> Path:
    checkpoint = read_checkpoint(run, backend=NAME)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    weights = {k: v.to(torch.float16).contiguous() for k, v in checkpoint.state_dicts[SAMPLING_MODULE].items()}
    save_file(weights, str(target / f"{SAMPLING_MODULE}.safetensors"))
    config = {**checkpoint.config, "modules": [SAMPLING_MODULE], "dtype": "float16"}
    (target / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m plugins.gan.export RUN_FOLDER TARGET_FOLDER")
    print(export(sys.argv[1], sys.argv[2]))
