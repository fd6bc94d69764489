"""The shared training loop: fixed seeds give the same weights, --resume
continues the same run, --init fine-tunes from an export, checkpoints are
safetensors + JSON, and a user folder with bad files trains anyway and reports
what it skipped."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file

from core.checkpoint import can_resume, export_checkpoint, read_checkpoint
from core.errors import UnavailableError, UserError
from core.training import TrainConfig, train
from core.userdata import read_image_folder
from plugins.vae import VAEGenerator
from tests.conftest import run_cli

TINY = {"width": 8, "z_dim": 8, "cond_dim": 32, "queries": 2}


def tiny_config(out, steps: int, **kw) -> TrainConfig:
    base = dict(backend="vae", data="procedural:shapes", steps=steps, out=str(out), batch_size=3,
                lr=1e-3, resolution=32, sample_every=0, checkpoint_every=1000, log_every=1,
                extra=TINY)
    base.update(kw)
    return TrainConfig(**base)


def weights(folder) -> dict[str, np.ndarray]:
    return load_file(str(folder / "vae.safetensors"))


def test_same_seed_same_weights_and_resume_continues_the_run(tmp_path):
    straight = train(tiny_config(tmp_path / "a", 4), VAEGenerator(), echo=False)
    assert straight["steps"] == 4 and straight["checkpoint"] == str(tmp_path / "a")
    train(tiny_config(tmp_path / "b", 4), VAEGenerator(), echo=False)
    first, second = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(np.array_equal(first[k], second[k]) for k in first)

    train(tiny_config(tmp_path / "c", 2), VAEGenerator(), echo=False)
    assert can_resume(tmp_path / "c")
    resumed = train(tiny_config(tmp_path / "c", 4, resume=True), VAEGenerator(), echo=False)
    assert resumed["steps"] == 4
    third = weights(tmp_path / "c")
    assert all(np.allclose(first[k], third[k], atol=1e-6) for k in first)

    other_seed = train(tiny_config(tmp_path / "d", 4, seed=1), VAEGenerator(), echo=False)
    assert other_seed["steps"] == 4
    assert not all(np.array_equal(first[k], weights(tmp_path / "d")[k]) for k in first)


def test_checkpoint_is_safetensors_plus_json_with_a_log(tmp_path):
    result = train(tiny_config(tmp_path / "run", 3, sample_every=3), VAEGenerator(), echo=False)
    checkpoint = read_checkpoint(tmp_path / "run", backend="vae")
    assert checkpoint.step == 3
    assert checkpoint.model_config["vae"]["width"] == TINY["width"]
    assert set(checkpoint.state_dicts) == {"vae"}
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3]
    assert all("mse" in line and "images_per_s" in line for line in lines)
    grid = Image.open(result["samples"])
    assert grid.width > 128
    assert not list((tmp_path / "run").glob("*.pt")) and not list((tmp_path / "run").glob("**/*.bin"))


def test_a_run_is_not_overwritten_and_resume_needs_a_run(tmp_path):
    train(tiny_config(tmp_path / "run", 1), VAEGenerator(), echo=False)
    with pytest.raises(UserError, match="--resume"):
        train(tiny_config(tmp_path / "run", 2), VAEGenerator(), echo=False)
    with pytest.raises(UserError, match="no run to resume"):
        train(tiny_config(tmp_path / "empty", 2, resume=True), VAEGenerator(), echo=False)
    with pytest.raises(UserError, match="procedural"):
        train(tiny_config(tmp_path / "x", 2, data="procedural:faces"), VAEGenerator(), echo=False)
    with pytest.raises(UserError, match="steps"):
        train(tiny_config(tmp_path / "y", 0), VAEGenerator(), echo=False)


def test_an_export_splits_a_module_over_the_file_limit_and_reads_it_back_whole(tmp_path, monkeypatch):
    """No weight file may pass ``MAX_FILE_BYTES``: an export cuts a larger module
    into ``<name>.safetensors``, ``<name>-2.safetensors``, ... and reading the
    export joins them; a later export in one file removes the stale parts."""
    import torch

    import core.checkpoint as ckpt
    from plugins.vae import load_model

    train(tiny_config(tmp_path / "base", 1), VAEGenerator(), echo=False)
    whole = read_checkpoint(tmp_path / "base").state_dicts["vae"]
    limit = sum(v.numel() * 2 for v in whole.values()) // 3 + 1        # float16 bytes / 3
    monkeypatch.setattr(ckpt, "MAX_FILE_BYTES", limit)
    export_checkpoint(tmp_path / "base", tmp_path / "export")
    files = sorted(p.name for p in (tmp_path / "export").glob("vae*.safetensors"))
    assert len(files) >= 3 and all((tmp_path / "export" / f).stat().st_size <= limit + 20_000 for f in files)
    joined = read_checkpoint(tmp_path / "export").state_dicts["vae"]
    assert joined.keys() == whole.keys() and all(torch.equal(whole[k].half(), joined[k]) for k in whole)
    load_model(tmp_path / "export")                     # the generator's loader reads every part
    monkeypatch.setattr(ckpt, "MAX_FILE_BYTES", 10**9)
    export_checkpoint(tmp_path / "base", tmp_path / "export")
    assert [p.name for p in (tmp_path / "export").glob("vae*.safetensors")] == ["vae.safetensors"]
    assert "shards" not in read_checkpoint(tmp_path / "export").config


def test_init_starts_a_new_run_from_exported_weights(tmp_path):
    train(tiny_config(tmp_path / "base", 3), VAEGenerator(), echo=False)
    export_checkpoint(tmp_path / "base", tmp_path / "export")          # float16, like assets/
    exported = weights(tmp_path / "export")
    # no model settings given: the architecture comes from the export's config.json
    tuned = train(tiny_config(tmp_path / "tuned", 1, init=str(tmp_path / "export"), lr=1e-9, extra={}),
                  VAEGenerator(), echo=False)
    assert tuned["steps"] == 1                                    # a new run: its own step count
    after = weights(tmp_path / "tuned")
    assert read_checkpoint(tmp_path / "tuned").model_config["vae"]["width"] == TINY["width"]
    assert all(np.allclose(after[k], exported[k].astype(np.float32), atol=1e-6) for k in exported)

    with pytest.raises(UserError, match="--init"):
        train(tiny_config(tmp_path / "tuned", 2, init=str(tmp_path / "export"), resume=True),
              VAEGenerator(), echo=False)
    with pytest.raises(UnavailableError, match=re.escape(str(tmp_path / "missing"))):   # names that folder
        train(tiny_config(tmp_path / "nowhere", 1, init=str(tmp_path / "missing")), VAEGenerator(), echo=False)


def _png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_user_folder(root, style: str = "jsonl"):
    root.mkdir()
    good = {"red.png": "a red picture", "green.png": "a green picture", "blue.png": "a blue picture"}
    colors = {"red.png": (220, 30, 30), "green.png": (30, 200, 30), "blue.png": (30, 30, 220)}
    for name in good:
        (root / name).write_bytes(_png(colors[name]))
    (root / "broken.png").write_bytes(_png((1, 2, 3))[:40])          # truncated file
    (root / "nocaption.png").write_bytes(_png((200, 200, 0)))
    (root / "notes.md").write_text("not an image, ignored")
    captions = {**good, "broken.png": "a broken picture"}
    if style == "jsonl":
        (root / "metadata.jsonl").write_text(
            "\n".join(json.dumps({"file_name": k, "text": v}) for k, v in captions.items()) + "\n")
    elif style == "csv":
        (root / "metadata.csv").write_text(
            "file_name,text\n" + "".join(f"{k},{v}\n" for k, v in captions.items()))
    else:
        for name, text in captions.items():
            (root / name).with_suffix(".txt").write_text(text)
    return root


@pytest.mark.parametrize("style", ["jsonl", "csv", "sidecar"])
def test_user_folder_keeps_good_images_and_reports_bad_ones(tmp_path, style):
    folder = read_image_folder(make_user_folder(tmp_path / "data", style), resolution=32)
    assert sorted(folder.files) == ["blue.png", "green.png", "red.png"]
    assert all(im.size == (32, 32) for im in folder.images)
    skipped = {item["file"]: item["reason"] for item in folder.skipped}
    assert set(skipped) == {"broken.png", "nocaption.png"}
    assert any(word in skipped["broken.png"] for word in ("damaged", "truncated", "not an image"))
    assert "no caption" in skipped["nocaption.png"]


def test_user_folder_errors_are_clear(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        read_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no usable captioned image"):
        read_image_folder(tmp_path / "empty")
    escape = tmp_path / "escape"
    escape.mkdir()
    (escape / "metadata.jsonl").write_text(json.dumps({"file_name": "../secret.png", "text": "x"}) + "\n")
    with pytest.raises(UserError, match="no usable"):
        read_image_folder(escape)


def test_cli_trains_on_a_user_folder_and_reports_what_it_skipped(tmp_path):
    data = make_user_folder(tmp_path / "data")
    out = tmp_path / "run"
    done = run_cli("train", "--backend", "vae", "--data", str(data), "--steps", "2", "--out", str(out),
                   "--batch-size", "2", "--resolution", "32", "--workers", "1", "--json",
                   env={"OMP_NUM_THREADS": "1", "IMPASTO_PLUGINS": "vae"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["steps"] == 2 and result["checkpoint"] == str(out)
    assert result["skipped_count"] == 2
    assert {s["file"] for s in result["skipped"]} == {"broken.png", "nocaption.png"}
    assert (out / "vae.safetensors").is_file() and (out / "config.json").is_file()
    assert json.loads((out / "config.json").read_text())["train"]["workers"] == 1   # a worker rendered

    with pytest.raises(UserError, match="not a folder"):
        train(tiny_config(tmp_path / "x", 2, data=str(tmp_path / "nothing")), VAEGenerator(), echo=False)
