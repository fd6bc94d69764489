"""The critic that re-ranks candidate drawings: its training through the core
loop on the real corpus, its counterfactual pairs, the candidate seeds, and
(with the shipped weights) how well it tells a corpus picture's caption from
its counterfactual, and the Transformer's ``candidates`` through it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.checkpoint import ASSETS_DIR, has_checkpoint, read_checkpoint
from core.critic import load_critic, match_scores
from core.critic_training import negative_claim
from core.reranking import candidate_seeds
from core.errors import UserError
from core.training import TrainConfig, train

SHIPPED = has_checkpoint(ASSETS_DIR / "critic")
TINY = {"width": 8, "dim": 16, "depth": 1, "heads": 2, "coordinates": 1, "relation_pairs": 2}


def run(out, steps, data="procedural:all", resume=False):
    config = TrainConfig("critic", data, steps=steps, out=str(out), batch_size=6, lr=1e-3,
                         sample_every=0, resume=resume, extra=TINY)
    return train(config, echo=False)


def test_critic_trains_through_the_core_loop_and_resumes(tmp_path):
    run(tmp_path / "critic", 2)
    first = read_checkpoint(tmp_path / "critic")
    assert first.config["backend"] == "critic" and first.step == 2
    run(tmp_path / "critic", 4, resume=True)
    second = read_checkpoint(tmp_path / "critic")
    assert second.step == 4
    assert not torch.equal(first.state_dicts["critic"]["out.weight"], second.state_dicts["critic"]["out.weight"])
    critic = load_critic(tmp_path / "critic")
    from core.corpus.dataset import make_sample

    images = [make_sample("shapes", 3, i).image for i in range(3)]
    scores = match_scores(critic, images, "a red circle")
    assert scores.shape == (3,) and all(math.isfinite(float(s)) for s in scores)


def test_critic_needs_corpus_claims(tmp_path):
    from PIL import Image

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (40 * i, 90, 200)).save(folder / f"blue{i}.png")
        (folder / f"blue{i}.txt").write_text("a blue picture")
    with pytest.raises(UserError, match="procedural corpus"):
        run(tmp_path / "critic", 1, data=str(folder))


def claim_pairs(family, seed, count):
    """(claim, its counterfactual, the generator) for ``count`` random claims of
    ``family``, skipping the rare claim with no counterfactual."""
    from core.corpus.dataset import random_claim

    rng = np.random.default_rng(seed)
    for _ in range(count):
        claim = random_claim(family, rng)
        changed = negative_claim(claim, rng)
        if changed is not None:
            yield claim, changed, rng


def test_negatives_change_the_claim_and_its_caption():
    from core.corpus.captions import caption

    dropped = flipped = 0
    for claim, changed, _ in claim_pairs("all", 0, 300):
        assert changed != claim
        assert caption(changed, np.random.default_rng(1)) != caption(claim, np.random.default_rng(1))
        dropped += getattr(claim, "caption_kind", "") in ("two", "relation") and len(changed.objects) == 1
        flipped += getattr(claim, "relation", None) is not None and changed.relation not in (None, claim.relation)
    assert dropped > 0 and flipped > 0        # the critic's own edits: an object left out, the relation swapped


def test_candidate_seeds_keep_image_i_independent_of_n():
    assert candidate_seeds(7, 3, 1) == [7, 8, 9]
    two, five = candidate_seeds(7, 2, 4), candidate_seeds(7, 5, 4)
    for j in range(4):
        assert two[j * 2:j * 2 + 2] == five[j * 5:j * 5 + 2]
    assert len(set(five)) == 20


@pytest.mark.skipif(not SHIPPED, reason="no shipped critic in assets/critic")
def test_shipped_critic_tells_captions_from_their_counterfactuals():
    """Shapes pictures laid out by a generator training never used: the critic
    scores each picture's own caption above its counterfactual's, and picks the
    picture of a caption over the counterfactual picture."""
    from core.corpus.captions import caption
    from core.corpus.dataset import render, scene_for

    critic = load_critic(ASSETS_DIR / "critic")
    right = total = 0
    for claim, changed, rng in claim_pairs("shapes", 2024, 48):
        pictures = [render(scene_for(c, rng)) for c in (claim, changed)]
        texts = [caption(c, rng) for c in (claim, changed)]
        own = match_scores(critic, pictures, texts[0])
        other = match_scores(critic, pictures, texts[1])
        right += int(own[0] > own[1]) + int(other[1] > other[0])
        total += 2
    assert right / total >= 0.85


# (the GAN chooses among its latents before decoding them: tests/test_gan.py)
@pytest.mark.parametrize("backend", ["transformer", "vae"])
def test_candidates_keep_each_images_best_draw(backend):
    """With ``candidates`` k, image i is the draw of image i with seed + j * stride
    (j < k) that the backend's chooser scores highest for the prompt, and no other: the
    shipped critic, or for the Transformer its own judge (a tuned copy of the critic)."""
    from core.reranking import CANDIDATE_STRIDE
    from core.hookspecs import GenerateRequest, no_progress
    from core.registry import get_registry

    if not (SHIPPED and has_checkpoint(ASSETS_DIR / backend)):
        pytest.skip(f"no shipped critic or {backend} weights")
    generator, prompt = get_registry().get("generators", backend), "a red triangle to the left of a green square"

    def draw(seed, candidates=1):
        request = GenerateRequest(prompt, n=2, seed=seed, params={"size": 64, "candidates": candidates})
        return generator.generate(request, no_progress)

    chosen = draw(4, candidates=3)
    draws = [draw(4 + j * CANDIDATE_STRIDE) for j in range(3)]
    critic = generator.model().judge if backend == "transformer" else load_critic(ASSETS_DIR / "critic")
    for i, image in enumerate(chosen):
        mine = [d[i] for d in draws]
        best = int(match_scores(critic, mine, prompt).argmax())
        # drawn in one batch or apart, a pixel may round one level apart (float batching)
        apart = [np.abs(np.asarray(image, dtype=int) - np.asarray(m, dtype=int)).max() for m in mine]
        assert apart[best] <= 2 and sorted(apart)[1] > 2
    assert not all(np.array_equal(np.asarray(draws[0][0]), np.asarray(d[0])) for d in draws[1:])


def test_critic_metrics_name_the_fact_each_counterfactual_changes():
    from core.critic_metrics import edit_kind

    seen = set()
    for claim, changed, _ in claim_pairs("shapes", 5, 400):
        kind = edit_kind(claim, changed)
        seen.add(kind)
        if kind == "relation swapped":
            assert changed.objects == claim.objects and changed.relation != claim.relation
        elif kind == "count or object left out":
            assert len(changed.objects) != len(claim.objects)
        elif kind == "colours swapped":
            assert [o.kind for o in changed.objects] == [o.kind for o in claim.objects]
        else:
            assert len(changed.objects) == len(claim.objects) and changed.relation == claim.relation
    assert seen == {"relation swapped", "count or object left out", "colours swapped",
                    "another kind", "another colour"}
