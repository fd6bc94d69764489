"""The GAN's own figures (its 16-image batch is timed with the other generators
in ``generators.py``):

- ``train_step``: one GAN training step as the shipped run takes it (the
  autoencoder's encoder pass on a corpus batch of 256, then 16 discriminator and
  generator updates), captions already encoded, on the threads torch has (set
  ``OMP_NUM_THREADS=1`` for the one-thread figure training plans use);
- ``generate16_native``: 16 images at the model's own 64x64, without the final resize.
"""
from __future__ import annotations

from typing import Any

from core.bench import measure


def bench_train_step() -> list[dict[str, Any]]:
    import torch
    from accelerate import Accelerator

    from core.corpus.dataset import CorpusDataset, collate
    from core.text_encoder import encode_cached
    from core.training import TrainConfig
    from plugins.gan.trainer import GANTrainer

    trainer = GANTrainer(TrainConfig("gan", batch_size=256), None)
    trainer.accelerator = Accelerator(cpu=True)
    batch = next(iter(torch.utils.data.DataLoader(CorpusDataset("all", 0, block_size=256), batch_size=256,
                                                  collate_fn=collate)))
    batch["text"] = encode_cached(batch["caption"])
    step = [0]

    def one_step() -> None:
        trainer.training_step(batch, step[0])
        step[0] += 1

    return [{"job": "gan train step (batch 256, 16 updates)", **measure(one_step, runs=5, warmup=1),
             "threads": torch.get_num_threads()}]


def bench_generate16_native() -> list[dict[str, Any]]:
    from core.checkpoint import has_checkpoint, weights_dir
    from plugins.gan import GANGenerator
    from plugins.gan.sampling import generate_images

    if not has_checkpoint(weights_dir("gan")):
        return [{"job": "gan 16 images at 64x64", "skipped": f"no weights in {weights_dir('gan')}"}]
    model = GANGenerator().model()
    prompts = ["a red circle on a blue background"] * 16
    return [{"job": "gan 16 images at 64x64", **measure(lambda: generate_images(model, prompts, 0),
                                                         runs=7, warmup=2)}]
