"""A tiny Stable Diffusion pipeline with random weights, for tests and benchmarks.

It is built from configs (no download), saved with ``save_pretrained`` like any
hub pipeline, and loads through the same ``from_pretrained`` path. Its pictures
are coloured noise: it exercises the plumbing (loading, schedulers, seeds,
progress, img2img), not image quality. Native size 32 px (a 16x16 latent, 2x VAE).
"""
from __future__ import annotations

import json
from pathlib import Path

NATIVE_SIZE = 32


def write_char_tokenizer(folder: Path) -> Path:
    """A CLIP tokenizer with a character vocabulary and no merges: enough to turn
    any lowercase prompt into ids, written as the vocab/merges files CLIP uses."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz":
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    return folder


def build_tiny_pipeline(folder: Path, seed: int = 0) -> Path:
    """Write a random-weight StableDiffusionPipeline to ``folder``; returns it."""
    import torch
    from diffusers import (AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=NATIVE_SIZE // 2, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
        attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(  # two blocks: 2x downsampling
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4, sample_size=NATIVE_SIZE)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
        pad_token_id=1))
    tokenizer = CLIPTokenizer.from_pretrained(write_char_tokenizer(folder.parent / f"{folder.name}-tokenizer"))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                       beta_schedule="scaled_linear", steps_offset=1)
    StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                            scheduler=scheduler, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(folder)
    return folder
