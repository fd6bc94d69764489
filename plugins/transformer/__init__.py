"""Built-in generator, Impasto's default: a transformer over VQ-VAE image
tokens, conditioned on MiniLM token states by cross-attention.

Prompt -> MiniLM token states -> the shipped autoregressive transformer draws a
16x16 grid of codes, one 2x2 group at a time in raster order (classifier-free
guidance, temperature, top-k; a masked MaskGIT prior, the stage it was trained
from, fills the grid in parallel steps instead) -> the VQ-VAE decoder paints
them as a 64x64 picture, enlarged with a clean resampling. Weights load lazily
from ``assets/transformer/`` (or ``$IMPASTO_TRANSFORMER_WEIGHTS``) through the
model cache; train them with
``python -m core train --backend transformer --set stage=...`` (see trainer.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.hookspecs import GenerateRequest, ProgressFn, hookimpl
from core.params import Param
from core.reranking import candidates_param
from core.trained import TrainedGenerator, enlarge

__version__ = "0.7.1"     # 0.2: autoregressive prior; 0.3: re-ranked by the critic; 0.4: by its own checker-taught judge, 8 candidates; 0.5: a prior of 8 blocks; 0.5.1: its judge tuned on its drawings; 0.6: 12 blocks, 6 candidates; 0.6.1: drawn on two cores, 8 candidates; 0.6.2: drawn by two compiled worker processes; 0.7: 14 blocks, trained on a GPU; 0.7.1: 12 candidates
NAME = "transformer"
OUTPUT_SIZES = (64, 128, 256)
# The shipped prior's best on the shapes set (model card: guidance 3 at temperature
# 1 scores 0.33 there, 1.5 at 0.8 scores 0.42, 1 at 0.8 scores 0.45); also the
# sampler's defaults.
DEFAULT_GUIDANCE, DEFAULT_TEMPERATURE = 1.0, 0.8
# Re-ranking draws by the checker-taught judge (judge_training.py). The 14-block prior
# that ships scores shapes 0.55 with one draw, 0.72-0.73 with 8 and 0.74 with 12 (model
# card). Drawn by two compiled worker processes (drawing_pool, started by warm_up) 4 images
# take 0.71-0.72 s with 12 against 0.56-0.57 s with 8 (bar 1.5 s), so 12 is the default;
# the tab goes up to 16.
DEFAULT_CANDIDATES = 12
# Flat colours with hard edges: LANCZOS keeps edges crisp without the
# staircase of NEAREST at non-integer display scales.
OUTPUT_RESAMPLE = "lanczos"


def sampling_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The sampler's keyword arguments from a request's checked params."""
    return {"guidance": float(params["guidance"]), "temperature": float(params["temperature"]),
            "top_k": int(params["top_k"])}


class TransformerGenerator(TrainedGenerator):
    name = NAME
    plugin_version = __version__
    label = "Transformer (built-in, autoregressive over VQ tokens)"
    params = (
        Param("guidance", "float", DEFAULT_GUIDANCE, min=0.0, max=10.0, step=0.5,
              help="Classifier-free guidance: how strongly the picture follows the prompt"),
        Param("temperature", "float", DEFAULT_TEMPERATURE, min=0.0, max=2.0, step=0.05,
              help="Randomness of the token choices (0 always takes the likeliest)"),
        Param("top_k", "int", 0, min=0, max=1024, step=1,
              help="Sample each token among its k likeliest codes (0: all)"),
        candidates_param(DEFAULT_CANDIDATES, chooser="pictures per image and keep the one its judge "
                                                      "(a critic tuned on its drawings) finds closest to the prompt"),
        Param("size", "choice", 256, choices=OUTPUT_SIZES,
              help="Output side in pixels (the model draws 64 x 64; larger sizes are resampled)"),
    )

    def load(self, folder: Path) -> Any:
        """(prior, tokenizer), float32, in eval mode."""
        return load_model(folder)

    def warm_up(self, wait: bool = False) -> None:
        """Load the weights and start the drawing processes (``drawing_pool``), so that
        later requests draw on every core with a compiled pass; ``wait``: until they
        are ready (they compile first: about 25-50 s, 3-4 minutes the first time on a
        machine)."""
        from plugins.transformer import drawing_pool

        pool = drawing_pool.start(self.weights_dir)      # loads in their own processes meanwhile
        self.model()
        if wait and pool is not None:
            pool.wait_ready()

    def generate(self, request: GenerateRequest, progress: ProgressFn) -> list:
        from core.reranking import candidate_seeds, keep_best
        from plugins.transformer import drawing_pool
        from plugins.transformer.sampling import draw_from_text, encode_prompts, paint_codes

        model = self.model()
        progress(0.05, "sampling")
        params = self.settings(request)
        n, candidates = request.n, int(params["candidates"])
        seeds = candidate_seeds(request.seed, n, candidates)
        text = encode_prompts([request.prompt] * len(seeds), next(model.prior.parameters()).device)
        settings = sampling_settings(params)
        report = lambda f: progress(0.05 + 0.85 * f, "decoding tokens")   # noqa: E731
        pool = drawing_pool.ready_pool(self.weights_dir) if len(seeds) > 1 else None
        if pool is not None:
            codes = pool.draw(model.prior, model.tokenizer, text, seeds, settings, report)
        else:
            codes = draw_from_text(model.prior, model.tokenizer, text, seeds, progress=report, **settings)
        images = paint_codes(model.tokenizer, codes)
        progress(0.9, "choosing the best candidates")
        images = keep_best(images, request.prompt, n, candidates, critic=model.judge)
        progress(1.0, "done")
        return enlarge(images, int(params["size"]), OUTPUT_RESAMPLE)

    def make_trainer(self, config: Any, model_config: dict | None) -> Any:
        from plugins.transformer.trainer import TransformerTrainer

        return TransformerTrainer(config, model_config)


def load_model(folder: Path, with_judge: bool = True) -> Any:
    """The modules of a prior-stage checkpoint, float32, in eval mode: prior, tokenizer
    and, when the folder has one and ``with_judge``, the judge that chooses among
    candidates (``judge_training``; without one, the shared critic chooses)."""
    from core.checkpoint import read_checkpoint
    from core.critic import critic_from
    from core.errors import UnavailableError
    from plugins.transformer.prior import PriorConfig, build_prior
    from plugins.transformer.sampling import TextToImage
    from plugins.transformer.tokenizer import TokenizerConfig, VQTokenizer

    checkpoint = read_checkpoint(folder, backend=NAME)
    if "prior" not in checkpoint.state_dicts:
        raise UnavailableError(f"{folder} holds only a tokenizer; train the prior stage "
                               "(--set stage=prior) to generate from prompts")
    config = checkpoint.model_config
    tokenizer = VQTokenizer(TokenizerConfig.from_dict(config["tokenizer"]))
    tokenizer.load_state_dict({k: v.float() for k, v in checkpoint.state_dicts["tokenizer"].items()})
    prior = build_prior(PriorConfig.from_dict(config["prior"]))
    prior.load_state_dict({k: v.float() for k, v in checkpoint.state_dicts["prior"].items()})
    judge = None
    if with_judge and "judge" in checkpoint.state_dicts:
        judge = critic_from(config["judge"], checkpoint.state_dicts["judge"])
    return TextToImage(prior.eval(), tokenizer.eval(), judge)


@hookimpl
def register_generators(register):
    register(TransformerGenerator())
