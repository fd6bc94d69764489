"""Re-ranking for the built-in generators: draw several candidates per image, keep
the one the critic (``core.critic``) matches best with the prompt.

Light on purpose (no torch at import): the generators build their ``candidates``
control from here when their plugin loads.
"""
from __future__ import annotations

from typing import Any, Sequence

CANDIDATE_STRIDE = 100_003     # candidate j of image i is drawn with seed + i + j * stride


def candidates_param(default: int = 1, note: str = "",
                     chooser: str = "pictures per image and keep the one the critic judges closest to the prompt"
                     ) -> Any:
    """The ``candidates`` control the built-in generators share."""
    from core.params import Param

    return Param("candidates", "int", default, min=1, max=16, step=1,
                 help=f"Draw this many {chooser} (1: no choosing{note})")


def candidate_streams(seed: int, candidates: int) -> list[int]:
    """The seed of each candidate's draws, for generators that draw a request's images
    from one seeded stream (the GAN): candidate 0 draws with ``seed``, as without re-ranking."""
    return [seed + j * CANDIDATE_STRIDE for j in range(candidates)]


def candidate_seeds(seed: int, n: int, candidates: int) -> list[int]:
    """Seeds of ``candidates`` draws for each of ``n`` images, candidate-major, for
    generators that seed each image (image i: seed + i). Candidate 0 of image i is
    seed + i, the draw without re-ranking, and no seed depends on ``n``, so image i of
    a request is the same whatever ``n`` is."""
    return [stream + i for stream in candidate_streams(seed, candidates) for i in range(n)]


def keep_best(images: Sequence[Any], prompt: str, n: int, candidates: int, critic: Any = None) -> list[Any]:
    """Of the candidate-major draws of :func:`candidate_seeds`, each image's best match for
    ``prompt`` by ``critic`` (default: the shipped one); all of them as they are with
    one candidate."""
    if candidates == 1:
        return list(images)
    from core.critic import match_scores, shared_critic

    scores = match_scores(critic if critic is not None else shared_critic(), images, prompt)
    return [images[int(row)] for row in best_rows(scores, n, candidates)]


def best_rows(scores: Any, n: int, candidates: int) -> Any:
    """For a tensor of scores of candidate-major rows (candidate j of image i at row
    j * n + i), the row of each image's best candidate."""
    import torch

    best = scores.view(candidates, n).argmax(0)
    return best * n + torch.arange(n, device=scores.device)


def pick_agreement(scores: Any, pick: Any) -> dict[str, float]:
    """How a chooser's pick per prompt (P,) fares by a teacher's scores (P, K) of each
    prompt's K candidates: how often it is the teacher's own pick, the teacher's mean
    score of the chooser's pick, of its own pick, of the first candidate (no choosing)
    and of the worst, and how often the pick is in the teacher's top quarter."""
    k = scores.shape[1]
    best = scores.argmax(1)
    picked = scores.gather(1, pick[:, None])[:, 0]
    return {"same_pick": float((pick == best).float().mean()),
            "teacher_score_of_pick": float(picked.mean()),
            "teacher_score_of_its_own_pick": float(scores.max(1).values.mean()),
            "teacher_score_of_first": float(scores[:, 0].mean()),
            "teacher_score_of_worst": float(scores.min(1).values.mean()),
            "pick_in_teachers_top_quarter": float((scores > picked[:, None]).sum(1).lt(max(1, k // 4)).float().mean())}


def listwise_loss(predicted: Any, scores: Any, temperature: float) -> Any:
    """Cross-entropy from a teacher's softmax (at ``temperature``) over each prompt's K
    candidates (P, K) to a chooser's softmax over its own scores (P, K): how the GAN's
    ranker and the Transformer's judge learn a teacher's order."""
    from torch.nn import functional as F

    target = F.softmax(scores / temperature, dim=1)
    return -(target * F.log_softmax(predicted, dim=1)).sum(1).mean()
