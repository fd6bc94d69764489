"""The CLI contract of DESIGN.md: --json documents, exit codes, one-line errors,
and PNG settings that reproduce the same pixels."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli


def test_plugins_json_lists_builtins_with_the_contract_keys():
    from tests.conftest import ROOT

    done = run_cli("plugins", "--json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    packages = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file()}
    assert {r["name"] for r in records} == packages
    for record in records:
        assert {"name", "version", "source", "hooks", "status", "error", "provides"} <= set(record)
        assert record["source"] == "builtin" and record["status"] == "ok", record


def test_generate_writes_pngs_that_reproduce_themselves(tmp_path, hello_env):
    done = run_cli("generate", "--backend", "hello_flat", "--prompt", "a test", "--n", "2",
                   "--seed", "11", "--param", "size=24", "--out", str(tmp_path / "a"), "--json", env=hello_env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"images", "backend", "seed", "seconds"} <= set(result)
    assert result["backend"] == "hello_flat" and result["seed"] == 11 and len(result["images"]) == 2
    first = result["images"][0]
    again = run_cli("generate", "--from-png", first, "--out", str(tmp_path / "b"), "--json", env=hello_env)
    assert again.returncode == 0, again.stderr
    repro = json.loads(again.stdout)["images"][0]
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(repro)))
    assert Image.open(repro).size == (24, 24)


@pytest.mark.parametrize("args, fragment", [
    (["generate", "--backend", "hello_flat", "--prompt", "   ", "--out", "X"], "prompt is empty"),
    (["generate", "--backend", "nope", "--prompt", "cat", "--out", "X"], "unknown generator"),
    (["generate", "--backend", "hello_flat", "--prompt", "cat", "--n", "0", "--out", "X"], "number of images"),
    (["generate", "--backend", "hello_flat", "--prompt", "cat", "--param", "size", "--out", "X"], "KEY=VALUE"),
    (["generate", "--backend", "hello_flat", "--prompt", "cat", "--param", "size=NaN", "--out", "X"], "finite"),
    (["generate", "--from-png", "missing.png", "--out", "X"], "no such file"),
    (["generate", "--prompt", "cat"], "--out"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, fragment, hello_env, tmp_path):
    args = [str(tmp_path / "X") if a == "X" else a for a in args]
    done = run_cli(*args, env=hello_env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("recipe, fragment", [
    ("{not json", "not valid JSON"),
    ('{"ops": [{"op": "nope"}]}', "unknown operation"),
    ('{"ops": "rotate"}', "must be a list"),
    ('{"seed": -1, "ops": []}', "seed"),
    (json.dumps({"ops": [{"op": "hello_invert"}] * 10000}), "limit"),
    ('{"ops": [{"op": "hello_invert", "params": {"amount": 2}}]}', "at most 1"),
])
def test_bad_recipes_exit_2(recipe, fragment, tmp_path, hello_env):
    image = tmp_path / "in.png"
    Image.new("RGB", (40, 40)).save(image)
    path = tmp_path / "r.json"
    path.write_text(recipe)
    done = run_cli("stylize", str(image), "--recipe", str(path), "--out", str(tmp_path / "o.png"), env=hello_env)
    assert done.returncode == 2 and fragment in done.stderr, done.stderr


def test_corpus_preview_writes_a_captioned_grid(tmp_path):
    out = tmp_path / "grid.png"
    done = run_cli("corpus-preview", "--family", "shapes", "--n", "4", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == str(out)
    from PIL import Image

    grid = Image.open(out)
    assert grid.width > 128 and len(grid.convert("RGB").getcolors(1 << 20)) > 8
    refused = run_cli("corpus-preview", "--n", "0", "--out", str(out))
    assert refused.returncode == 2 and "--n must be" in refused.stderr


def test_grid_lays_out_prompts_by_seeds(tmp_path, hello_env):
    out = tmp_path / "grid.png"
    done = run_cli("grid", "--backend", "hello_flat", "--seeds", "3", "--prompts", "one|two",
                   "--out", str(out), "--json", env=hello_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["prompts"] == ["one", "two"]
    from PIL import Image

    grid = Image.open(out)
    assert grid.width == 3 * (128 + 6) + 6                 # 3 seeds across
    assert 2 * 128 < grid.height < 3 * 128 + 3 * 80       # 2 prompts down, with captions
    refused = run_cli("grid", "--backend", "hello_flat", "--seeds", "9", "--out", str(out), env=hello_env)
    assert refused.returncode == 2 and "1 to 8 seeds" in refused.stderr
