"""Reconstruction quality of a trained VAE on held-out corpus images, and where
its prompt faithfulness is lost.

    python -m plugins.vae.metrics [--weights DIR] [--n 512] [--seed 999] [--latents 400]

Held out = a corpus seed the training never used (training streams seed 0 by
default). Each image is encoded, decoded from its posterior mean with its own
caption, and compared with the original at 64x64: PSNR over [0, 1] pixels,
averaged per image (and per family). Also with no caption at all, which is what
an uploaded picture gets.

``--latents N`` scores held-out shapes pictures' captions with the analytic
checker three ways, each decoded with the picture's own caption: from its own
posterior mean (the best a prior could do with this decoder), from the posterior
mean of another picture of the same caption kind (whether the latent carries
what the caption says, such as the object's kind: if it does not, this scores
as well as the first), and from a prior sample (what generation does, at the
default guidance). ``open_background`` (own latent only): for captions that name no
background, the share whose decoded background is the picture's own, which only
the latent can carry. ``two_object_readings`` (own latent only): why the
two-object and relation pictures pass or fail (``core.checker.two_object_reading``).
"""
from __future__ import annotations

import argparse
import json
import math
from collections import Counter
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
    from core.trained import to_images
    from plugins.vae.sampling import condition

    device = next(model.parameters()).device
    scores: dict[str, dict[str, list[float]]] = {"captioned": {}, "uncaptioned": {}}
    for start in range(0, n, batch):
        samples = [make_sample("all", seed, i) for i in range(start, min(n, start + batch))]
        x = torch.stack([image_to_tensor(s.image) for s in samples]).to(device)
        for mode, prompts in (("captioned", [s.caption for s in samples]), ("uncaptioned", [""] * len(samples))):
            c, context = condition(model, prompts)
            decoded = to_images(model.reconstruct(x, c, context=context))
            for sample, image in zip(samples, decoded):
                scores[mode].setdefault(sample.family, []).append(psnr(np.asarray(sample.image), np.asarray(image)))
    out: dict[str, Any] = {"n": n, "seed": seed}
    for mode, per_family in scores.items():
        every = [v for values in per_family.values() for v in values]
        out[mode] = {"psnr_db": round(float(np.mean(every)), 2),
                     **{f"{family}_psnr_db": round(float(np.mean(v)), 2) for family, v in per_family.items()}}
    return out


@torch.no_grad()
def latent_diagnosis(model: Any, n: int = 400, seed: int = HELD_OUT_SEED + 1,
                     batch: int = 100) -> dict[str, Any]:
    from core.checker import check, read_shapes, two_object_reading
    from core.corpus.dataset import image_to_tensor, make_sample
    from plugins.vae import GUIDANCE
    from core.trained import to_images
    from plugins.vae.sampling import condition

    device = next(model.parameters()).device
    samples = [make_sample("shapes", seed, i) for i in range(n)]
    x = torch.stack([image_to_tensor(s.image) for s in samples]).to(device)
    batches = range(0, n, batch)
    conditions = [condition(model, [s.caption for s in samples[i:i + batch]]) for i in batches]
    c = torch.cat([c for c, _ in conditions])
    mu = torch.cat([model.encoder(x[i:i + batch], c[i:i + batch])[0] for i in batches])
    # Each picture's latent handed to another picture of the same caption kind.
    rng = np.random.default_rng(seed)
    swapped = np.arange(n)
    for kind in {s.scene.claim.caption_kind for s in samples}:
        rows = np.array([i for i, s in enumerate(samples) if s.scene.claim.caption_kind == kind])
        swapped[rows] = rows[np.roll(rng.permutation(len(rows)), 1)] if len(rows) > 1 else rows
    generator = torch.Generator().manual_seed(seed)
    prior = model.latent(c, torch.randn(mu.shape, generator=generator).to(device), GUIDANCE)
    out: dict[str, Any] = {"n": n, "seed": seed}
    for name, z in (("own_latent", mu), ("swapped_latent", mu[torch.as_tensor(swapped, device=device)]),
                    ("prior_sample", prior)):
        images = to_images(torch.cat([model.decoder(z[i:i + batch], c[i:i + batch], context)
                                      for i, (_, context) in zip(batches, conditions)]))
        passed: dict[str, list[bool]] = {}
        for sample, image in zip(samples, images):
            for category, ok in check(image, sample.scene.claim).items():
                passed.setdefault(category, []).append(ok)
        if name == "own_latent":
            passed["open_background"] = [read_shapes(image).background == sample.scene.background
                                         for sample, image in zip(samples, images)
                                         if sample.scene.claim.background is None]
        out[name] = {k: round(float(np.mean(v)), 3) for k, v in sorted(passed.items())}
        if name == "own_latent":
            readings = Counter(two_object_reading(read_shapes(image), sample.scene.claim)
                               for sample, image in zip(samples, images)
                               if sample.scene.claim.caption_kind in ("two", "relation"))
            out[name]["two_object_readings"] = dict(readings.most_common())
    return out


def main() -> None:
    from core.checkpoint import weights_dir
    from plugins.vae import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="checkpoint folder (default: the shipped weights)")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--latents", type=int, default=0,
                        help="also decode N held-out shapes pictures' own, swapped and prior latents "
                             "with their captions and score them with the checker")
    args = parser.parse_args()
    folder = Path(args.weights) if args.weights else weights_dir("vae")
    model = load_model(folder)
    report = {"weights": str(folder), **reconstruction_psnr(model, args.n, args.seed)}
    if args.latents:
        report["latents"] = latent_diagnosis(model, args.latents)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
