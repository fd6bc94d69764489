"""The Transformer's drawing processes (``plugins.transformer.drawing_pool``) with
the shipped weights: they draw exactly what one process draws, and when one cannot
start or dies, the main process draws its rows and the request still succeeds."""
from __future__ import annotations

import pytest
import torch

from core.checkpoint import ASSETS_DIR, has_checkpoint
from core.hookspecs import GenerateRequest, no_progress
from plugins.transformer import TransformerGenerator, drawing_pool
from plugins.transformer.sampling import draw_from_text, encode_prompts

FOLDER = ASSETS_DIR / "transformer"
pytestmark = pytest.mark.skipif(not has_checkpoint(FOLDER), reason="no shipped transformer weights")
needs_two_cores = pytest.mark.skipif(not drawing_pool.enabled(), reason="needs two free cores and a CPU device")
SETTINGS = {"guidance": 1.0, "temperature": 0.8, "top_k": 0}


@pytest.fixture
def generator():
    yield TransformerGenerator()
    drawing_pool.stop_all()


@needs_two_cores
def test_two_processes_draw_what_one_draws(generator):
    model = generator.model()
    prompts = ["two purple circles on a white background"] * 3 + ["a red triangle left of a green square"] * 2
    text, seeds = encode_prompts(prompts), [7, 8, 9, 100_010, 100_011]
    alone = draw_from_text(model.prior, model.tokenizer, text, seeds, **SETTINGS)
    generator.warm_up(wait=True)
    pool = drawing_pool.ready_pool(generator.weights_dir)
    assert pool is not None
    split = pool.draw(model.prior, model.tokenizer, text, seeds, SETTINGS, lambda fraction: None)
    assert torch.equal(split, alone)
    # and through the plugin: the same pictures as before the worker was started
    request = GenerateRequest("a blue square on a yellow background", n=2, seed=3, params={"candidates": 3})
    with_pool = [image.tobytes() for image in generator.generate(request, no_progress)]
    drawing_pool.stop_all()
    assert [image.tobytes() for image in generator.generate(request, no_progress)] == with_pool


@needs_two_cores
def test_when_a_worker_dies_the_main_process_draws_its_rows(generator):
    model = generator.model()
    text, seeds = encode_prompts(["a green circle on a black background"] * 4), [1, 2, 3, 4]
    alone = draw_from_text(model.prior, model.tokenizer, text, seeds, **SETTINGS)
    pool = drawing_pool.start(generator.weights_dir)
    pool.wait_ready()
    pool.workers[1]._process.kill()
    pool.workers[1]._process.wait()
    assert torch.equal(pool.draw(model.prior, model.tokenizer, text, seeds, SETTINGS, lambda f: None), alone)
    assert not pool.ready() and drawing_pool.ready_pool(generator.weights_dir) is None


@needs_two_cores
def test_a_draw_stopped_half_way_leaves_the_next_one_right(generator):
    """An abandoned job stops at its next progress report (here, once the workers have
    answered); no answer to it may be taken for the next request's."""
    model = generator.model()
    pool = drawing_pool.start(generator.weights_dir)
    pool.wait_ready()

    def stop(fraction):
        if fraction > 0.5:
            raise InterruptedError("abandoned")

    with pytest.raises(InterruptedError):
        pool.draw(model.prior, model.tokenizer, encode_prompts(["a red circle"] * 2), [5, 6], SETTINGS, stop)
    text, seeds = encode_prompts(["three blue squares on a white background"] * 4), [11, 12, 13, 14]
    alone = draw_from_text(model.prior, model.tokenizer, text, seeds, **SETTINGS)
    assert torch.equal(pool.draw(model.prior, model.tokenizer, text, seeds, SETTINGS, lambda f: None), alone)
    assert pool.ready()


@needs_two_cores
def test_a_worker_that_cannot_load_its_weights_is_not_used(tmp_path, generator):
    pool = drawing_pool.start(tmp_path)          # no weights there: the workers exit
    assert pool is not None and not pool.wait_ready()
    assert drawing_pool.ready_pool(tmp_path) is None


def test_one_process_when_turned_off(monkeypatch, generator):
    monkeypatch.setenv("IMPASTO_DRAW_PROCESSES", "1")
    assert drawing_pool.start(generator.weights_dir) is None
    generator.warm_up(wait=True)
    assert drawing_pool.ready_pool(generator.weights_dir) is None
