"""Reconstruction quality of a trained VAE on held-out corpus images.

    python -m plugins.vae.metrics [--weights DIR] [--n 512] [--seed 999]

Held out = a corpus seed the training never used (training streams seed 0 by
default). Each image is encoded, decoded from its posterior mean with its own
caption, and compared with the original at 64x64: PSNR over [0, 1] pixels,
averaged per image (and per family). Also with no caption at all, which is what
an uploaded picture gets.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

HELD_OUT_SEED = 999


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) / 255.0 ** 2
    return 10 * math.log10(1.0 / max(mse, 1e-10))


@torch.no_grad()
def reconstruction_psnr(model: Any, n: int = 512, seed: int = HELD_OUT_SEED,
                        batch: int = 64) -> dict[str, Any]:
    from core.corpus.dataset import image_to_tensor, make_sample
    from plugins.vae.sampling import condition, to_images

    device = next(model.parameters()).device
    scores: dict[str, dict[str, list[float]]] = {"captioned": {}, "uncaptioned": {}}
    for start in range(0, n, batch):
        samples = [make_sample("all", seed, i) for i in range(start, min(n, start + batch))]
        x = torch.stack([image_to_tensor(s.image) for s in samples]).to(device)
        for mode, prompts in (("captioned", [s.caption for s in samples]), ("uncaptioned", [""] * len(samples))):
            decoded = to_images(model.reconstruct(x, condition(model, prompts)))
            for sample, image in zip(samples, decoded):
                scores[mode].setdefault(sample.family, []).append(psnr(np.asarray(sample.image), np.asarray(image)))
    out: dict[str, Any] = {"n": n, "seed": seed}
    for mode, per_family in scores.items():
        every = [v for values in per_family.values() for v in values]
        out[mode] = {"psnr_db": round(float(np.mean(every)), 2),
                     **{f"{family}_psnr_db": round(float(np.mean(v)), 2) for family, v in per_family.items()}}
    return out


def main() -> None:
    from core.checkpoint import weights_dir
    from plugins.vae import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the shipped weights)")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    args = parser.parse_args()
    folder = Path(args.weights) if args.weights else weights_dir("vae")
    print(json.dumps({"weights": str(folder), **reconstruction_psnr(load_model(folder), args.n, args.seed)}))


if __name__ == "__main__":
    main()
