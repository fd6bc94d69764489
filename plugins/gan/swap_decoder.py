"""Give a trained GAN the decoder of a VAE that shares its latent space.

    python -m plugins.gan.swap_decoder --gan assets/gan --vae assets/vae --out assets/gan

The GAN's game is played in its autoencoder's whitened latent space alone: the
decoder only turns the generator's latents into pixels and is never trained
here. A VAE whose decoder alone was tuned (``--set stage=decoder`` of the VAE
trainer) keeps that latent space, so the GAN's generator works with the new
decoder as it is. This checks the claim tensor by tensor (text conditioner,
encoder, Gaussian prior and "no caption" vector identical) and writes the GAN
with the VAE's weights as its autoencoder; anything else is refused.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch


def swap_decoder(gan: str | Path, vae: str | Path, out: str | Path) -> dict[str, Any]:
    from core.checkpoint import read_checkpoint, write_export
    from core.conditional_vae import load
    from core.errors import UserError

    checkpoint = read_checkpoint(gan, backend="gan")
    old = checkpoint.state_dicts["autoencoder"]
    model, _ = load(vae, learned_prior=False)
    new = {k: v.detach().clone() for k, v in model.state_dict().items()}
    differ = [k for k, v in old.items() if not k.startswith("decoder.")
              and (k not in new or not torch.equal(v.float(), new[k].float()))]
    if differ:
        raise UserError(f"{vae} does not share the GAN's latent space: {', '.join(differ[:4])} differ "
                        "(only a VAE whose decoder alone was tuned can replace the GAN's autoencoder)")
    config = dict(checkpoint.config)
    config["model"] = {**config["model"], "autoencoder": model.cfg.to_dict()}
    config["decoder_from"] = str(vae)
    sizes = write_export(out, config, {**checkpoint.state_dicts, "autoencoder": new})
    return {"gan": str(gan), "vae": str(vae), "out": str(out), "files": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gan", required=True, help="the trained GAN (a run or an export)")
    parser.add_argument("--vae", required=True, help="the VAE whose decoder the GAN takes")
    parser.add_argument("--out", required=True, help="where the GAN with the new decoder goes")
    args = parser.parse_args()
    from core.errors import UserError

    try:
        print(json.dumps(swap_decoder(args.gan, args.vae, args.out)))
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
