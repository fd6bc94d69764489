"""The scheduler choice: a short name a person picks -> a fresh diffusers scheduler.

A new scheduler object is built for every job from the model's own scheduler
config, because schedulers keep state between steps (timesteps, step index):
a fresh one makes the same request give the same pixels, whatever ran before.
"""
from __future__ import annotations

from typing import Any

from core.errors import UserError

DEFAULT = "default"

#: choice -> (diffusers class name, extra config). The names follow the usual
#: A1111/ComfyUI vocabulary so people recognise them.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
}

CHOICES: tuple[str, ...] = (DEFAULT, *SCHEDULERS)


def compatible_choices(scheduler: Any) -> list[str]:
    """The choices that fit a model whose default scheduler is ``scheduler``
    (flow-matching models such as SD3 or FLUX only take their own)."""
    compatible = {cls.__name__ for cls in getattr(scheduler, "compatibles", [])}
    compatible.add(type(scheduler).__name__)
    return [DEFAULT] + [name for name, (cls, _) in SCHEDULERS.items() if cls in compatible]


def fresh_scheduler(default: Any, choice: str, model: str) -> Any:
    """A new scheduler for one job: ``default``'s class (or the chosen one) built
    from ``default``'s config, so betas, prediction type and spacing carry over."""
    if choice == DEFAULT:
        return type(default).from_config(default.config)
    if choice not in SCHEDULERS:
        raise UserError(f"unknown scheduler {choice!r}; choose one of: {', '.join(CHOICES)}")
    allowed = compatible_choices(default)
    if choice not in allowed:
        raise UserError(f"scheduler {choice!r} does not fit {model} (its own is "
                        f"{type(default).__name__}); choose one of: {', '.join(allowed)}")
    import diffusers

    class_name, extra = SCHEDULERS[choice]
    return getattr(diffusers, class_name).from_config(default.config, **extra)
