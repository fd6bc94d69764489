"""The conditional VAE (text-conditional encoder, prior and decoder, and the
learned priors over its latents) that two built-in backends share: the ``vae``
plugin trains and samples it, and the ``gan`` plugin plays its adversarial game
in its latent space with a frozen copy. Plugins never import each other, so the
model lives here; training and sampling stay in the plugins."""
from __future__ import annotations

from pathlib import Path
from typing import Any

LEARNED_PRIORS = ("flow.", "diffusion.")


def build(config: dict[str, Any]) -> Any:
    """An untrained model from a saved ``VAEConfig`` dict."""
    from core.conditional_vae.model import ConditionalVAE, VAEConfig

    return ConditionalVAE(VAEConfig.from_dict(config))


def load(folder: str | Path, learned_prior: bool = True) -> tuple[Any, dict[str, Any]]:
    """The VAE trained in ``folder`` (a run or an export of ``--backend vae``),
    in eval mode, and the model settings it was trained with; without its flow or
    diffusion prior when ``learned_prior`` is False."""
    from core.checkpoint import read_checkpoint

    checkpoint = read_checkpoint(folder, backend="vae")
    config = dict(checkpoint.model_config["vae"])
    if not learned_prior:
        config.update(flow_layers=0, diffusion_width=0)
    model = build(config)
    model.load_state_dict({k: v.float() for k, v in checkpoint.state_dicts["vae"].items()
                           if learned_prior or not k.startswith(LEARNED_PRIORS)})
    return model.eval(), checkpoint.model_config


def prompt_condition(model: Any, prompts: Any, empty_means_no_caption: bool = True) -> tuple[Any, Any]:
    """The conditioning vectors of ``prompts`` and the token context the decoder
    reads (None for a decoder without cross-attention), for a ``ConditionalVAE``.

    A batch usually repeats one prompt, and the text encoder costs more than the
    decoder, so each distinct prompt is encoded once. An empty prompt gets the
    learned "no caption" vector when ``empty_means_no_caption`` (the VAE saw it in
    training); otherwise it reads as "." (the GAN never saw the "no caption" vector)."""
    import torch

    from core.text_encoder import encode

    device = next(model.parameters()).device
    keys = [p if p.strip() else "" for p in prompts]
    distinct = list(dict.fromkeys(keys))
    text = encode([k or "." for k in distinct]).to(device)
    rows = torch.tensor([distinct.index(k) for k in keys], device=device)
    empty = torch.tensor([not k for k in distinct], device=device) if empty_means_no_caption else None
    context = model.context(text.tokens, text.mask, empty)
    return (model.condition(text.tokens, text.mask, text.pooled, empty)[rows],
            None if context is None else context.rows(rows))
