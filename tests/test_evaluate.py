"""``python -m core eval``: the corpus scores at the checker's ceiling, and a
backend that ignores the prompt scores low — the evaluator tells them apart."""
from __future__ import annotations

import json

from tests.conftest import run_cli


def evaluate(*args, env=None):
    done = run_cli("eval", *args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_corpus_passes_every_category():
    result = evaluate("--backend", "corpus", "--n", "2")
    assert result["overall"] == 1.0 and result["prompt_accuracy"] == 1.0
    assert set(result["categories"]) == {"single_object", "colour", "background", "counting",
                                         "two_objects", "position", "time_of_day", "terrain", "water"}
    assert result["families"]["paraphrases"]["prompts"] >= 30
    assert result["diversity"] > 0.1
    # every two-object and relation picture of the corpus reads as right
    readings = result["two_object_readings"]
    assert set(readings) <= {"right kinds", "one colour named twice"} and readings["right kinds"] >= 16


def test_a_backend_that_ignores_the_prompt_fails(hello_env):
    """hello_flat paints one flat colour per seed, whatever the prompt."""
    result = evaluate("--backend", "hello_flat", "--n", "3", "--family", "shapes",
                      "--param", "size=32", env=hello_env)
    assert result["params"] == {"size": 32}
    categories = result["categories"]
    assert categories["single_object"] == 0 and categories["counting"] == 0
    assert result["overall"] < 0.2
    assert result["two_object_readings"] == {"no object": 3 * 16}      # a flat picture holds none
    landscapes = evaluate("--backend", "hello_flat", "--n", "2", "--family", "landscapes",
                          "--seed", "5", env=hello_env)
    assert landscapes["overall"] < 0.5


def test_bad_requests_exit_2():
    done = run_cli("eval", "--backend", "corpus", "--n", "0")
    assert done.returncode == 2 and "--n must be between" in done.stderr
    done = run_cli("eval", "--backend", "no_such_backend")
    assert done.returncode == 2 and "no_such_backend" in done.stderr


def test_without_json_the_figures_are_printed_for_a_person():
    done = run_cli("eval", "--backend", "corpus", "--n", "2", "--family", "shapes")
    assert done.returncode == 0, done.stderr
    assert "shapes      overall 1.000" in done.stdout and "two_objects 1.00" in done.stdout
    assert "two-object pictures: right kinds" in done.stdout
    assert "[36/36]" in done.stderr        # progress goes to stderr, the figures to stdout
