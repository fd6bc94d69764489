"""Built-in generator: a text-conditional GAN trained on Impasto's corpus.

Prompt -> images from the EMA generator (a latent GAN over a frozen
autoencoder, see ``plugins.gan.model``), with a truncation control. Weights
load lazily from ``assets/gan/`` (or ``$IMPASTO_GAN_WEIGHTS``) through the
model cache; train them with ``python -m core train --backend gan ...``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.hookspecs import GenerateRequest, ProgressFn, hookimpl
from core.params import Param
from core.reranking import candidates_param
from core.trained import TrainedGenerator, enlarge

__version__ = "0.6.0"     # 0.2: the contrastive stage; 0.3: counterfactual captions; 0.3.1: one discriminator pass; 0.3.2: deterministic kernels; 0.4: tuned on the critic; 0.5: candidates chosen by a latent ranker; 0.6: the ranker taught by the checker, three members, 16 candidates (model_version counts its steps)
NAME = "gan"
OUTPUT_SIZES = (64, 128, 256)
# Chosen in latent space, 16 candidates cost next to nothing (shapes 0.57 -> 0.74, model card).
DEFAULT_CANDIDATES = 16
SAMPLING_MODULE = "generator_ema"      # the moving average draws cleaner pictures than the trained copy


class GANGenerator(TrainedGenerator):
    name = NAME
    plugin_version = __version__
    label = "Text-conditional GAN (built-in, small)"
    params = (
        Param("truncation", "float", 4.0, min=0.25, max=4.0, step=0.05,
              help="Noise beyond this many standard deviations is redrawn: lower values give "
                   "more typical, less varied pictures (4 = no truncation)"),
        candidates_param(DEFAULT_CANDIDATES, chooser="latents per image and decode the one the ranker, "
                                                      "trained on the analytic checker's judgement, scores best"),
        Param("size", "choice", 256, choices=OUTPUT_SIZES,
              help="Output side in pixels (the model draws 64 x 64; larger sizes are resampled)"),
    )

    def load(self, folder: Path) -> Any:
        """The trained (EMA) generator with its autoencoder."""
        return load_model(folder)

    def generate(self, request: GenerateRequest, progress: ProgressFn) -> list:
        from core.reranking import candidate_streams, keep_best
        from plugins.gan import sampling

        model = self.model()
        progress(0.1, "sampling")
        params = self.settings(request)
        n, candidates = request.n, int(params["candidates"])
        prompts, truncation = [request.prompt] * n, float(params["truncation"])
        streams = candidate_streams(request.seed, candidates)
        if candidates > 1 and model.ranker is not None:
            images = sampling.generate_ranked(model, prompts, streams, truncation)
        else:       # an export without a ranker: the critic chooses among decoded pictures
            images = sampling.generate_images(model, prompts, request.seed, truncation, streams=streams)
            progress(0.8, "choosing the best candidates")
            images = keep_best(images, request.prompt, n, candidates)
        progress(1.0, "done")
        return enlarge(images, int(params["size"]))

    def interpolate(self, prompt_a: str, prompt_b: str, seed_a: int = 0, seed_b: int = 1,
                    frames: int = 16) -> list:
        """Frames of a walk in latent space between two prompts and/or two seeds."""
        from plugins.gan import sampling

        return sampling.interpolate(self.model(), prompt_a, prompt_b, seed_a, seed_b, frames)

    def make_trainer(self, config: Any, model_config: dict | None) -> Any:
        from plugins.gan.trainer import GANTrainer

        return GANTrainer(config, model_config)


def load_model(folder: Path, with_ranker: bool = True) -> Any:
    """The GAN of ``folder``: its EMA generator, its autoencoder and, unless
    ``with_ranker`` is false, its latent ranker if it has one."""
    from core.checkpoint import read_checkpoint
    from core.conditional_vae import build
    from core.errors import UnavailableError
    from plugins.gan.model import GANConfig, Generator
    from plugins.gan.ranker import LatentRanker, RankerConfig
    from plugins.gan.sampling import GANModel

    checkpoint = read_checkpoint(folder, backend=NAME)
    missing = [m for m in (SAMPLING_MODULE, "autoencoder") if m not in checkpoint.state_dicts]
    if missing or "autoencoder" not in checkpoint.model_config:
        raise UnavailableError(f"{folder} holds no {' or '.join(missing or ['autoencoder'])} weights "
                               "(weights of the earlier pixel GAN no longer load)")
    generator = Generator(GANConfig.from_dict(checkpoint.model_config["gan"]))
    autoencoder = build(checkpoint.model_config["autoencoder"])
    modules = [(generator, SAMPLING_MODULE), (autoencoder, "autoencoder")]
    ranker = None
    if with_ranker and "ranker" in checkpoint.state_dicts:
        ranker = LatentRanker(RankerConfig.from_dict(checkpoint.model_config["ranker"]))
        modules.append((ranker, "ranker"))
    for module, name in modules:
        module.load_state_dict({k: v.float() for k, v in checkpoint.state_dicts[name].items()})
    return GANModel(generator, autoencoder, ranker).eval().requires_grad_(False)


@hookimpl
def register_generators(register):
    register(GANGenerator())
