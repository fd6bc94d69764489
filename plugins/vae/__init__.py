"""Built-in generator: a text-conditional VAE trained on Impasto's corpus.

Prompt -> images (sampled from the prompt's learned prior); with a starting
image, its reconstruction (variation 0) or variations around it. Weights load
lazily from ``assets/vae/`` (or ``$IMPASTO_VAE_WEIGHTS``) through the model
cache; train them with ``python -m core train --backend vae ...``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.hookspecs import GenerateRequest, ProgressFn, hookimpl
from core.params import Param
from core.reranking import candidates_param
from core.trained import TrainedGenerator, enlarge

__version__ = "0.1.0"
NAME = "vae"
OUTPUT_SIZES = (64, 128, 256)
GUIDANCE = 3.0          # the diffusion prior's default guidance (measured in the model card)


class VAEGenerator(TrainedGenerator):
    name = NAME
    plugin_version = __version__
    label = "Conditional VAE (built-in, small)"
    params = (
        Param("temperature", "float", 1.0, min=0.0, max=1.5, step=0.05,
              help="How far samples stray from the prompt's most typical picture"),
        Param("guidance", "float", GUIDANCE, min=0.0, max=8.0, step=0.25,
              help="How strongly the latent prior follows the prompt rather than any prompt "
                   "(classifier-free guidance of the diffusion prior; 1 = none)"),
        Param("variation", "float", 0.6, min=0.0, max=2.0, step=0.05,
              help="With a starting image: 0 reconstructs it (its objects in the prompt's colours "
                   "when there is a prompt), higher values vary it more"),
        candidates_param(note="; not with a starting image"),
        Param("size", "choice", 256, choices=OUTPUT_SIZES,
              help="Output side in pixels (the model draws 64 x 64; larger sizes are resampled)"),
    )

    def load(self, folder: Path) -> Any:
        return load_model(folder)

    def generate(self, request: GenerateRequest, progress: ProgressFn) -> list:
        from plugins.vae import sampling

        model = self.model()
        progress(0.1, "sampling")
        params = self.settings(request)
        if request.init_image is not None:
            images = sampling.variations(model, request.init_image, request.prompt, request.n,
                                         request.seed, float(params["variation"]))
        else:
            from core.reranking import candidate_streams, keep_best

            candidates = int(params["candidates"])
            images = sampling.generate_images(model, [request.prompt] * request.n, request.seed,
                                              float(params["temperature"]), float(params["guidance"]),
                                              streams=candidate_streams(request.seed, candidates))
            progress(0.8, "choosing the best candidates")
            images = keep_best(images, request.prompt, request.n, candidates)
        progress(1.0, "done")
        return enlarge(images, int(params["size"]))

    def interpolate(self, prompt_a: str, prompt_b: str, seed_a: int = 0, seed_b: int = 1,
                    frames: int = 16) -> list:
        """Frames of a walk in latent space between two prompts and/or two seeds."""
        from plugins.vae import sampling

        return sampling.interpolate(self.model(), prompt_a, prompt_b, seed_a, seed_b, frames, GUIDANCE)

    def make_trainer(self, config: Any, model_config: dict | None) -> Any:
        from plugins.vae.trainer import VAETrainer

        return VAETrainer(config, model_config)


def load_model(folder: Path) -> Any:
    from core.conditional_vae import load

    return load(folder)[0]


@hookimpl
def register_generators(register):
    register(VAEGenerator())
