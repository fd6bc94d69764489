"""Diffusers backend, offline: a tiny Stable Diffusion pipeline with random weights is
built from configs, saved with ``save_pretrained`` and served through
IMPASTO_DIFFUSERS_MODELS exactly like a hub model would be: through the plugin,
the CLI and the ``/generate`` endpoint, same seed -> same pixels. (The tiny
pipeline and its character-level CLIP tokenizer are written by
``plugins/diffusers_backend/tiny.py``; its pictures are coloured noise.)"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import UnavailableError, UserError

ROOT = Path(__file__).resolve().parent.parent
FAST = {"steps": 2, "width": 32, "height": 32}
PROMPT = "a red circle on a blue background"
BACKEND = "diffusers_tiny_sd"


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny model runs ~10x faster on one thread than on two on this shared
    2-core machine (no spinning threads fighting other jobs). The CLI runs get the
    same (ONE_THREAD), so all pixel comparisons use the same arithmetic."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from plugins.diffusers_backend.tiny import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("diffusers") / "tiny-sd")


@pytest.fixture(scope="module")
def broken_dirs(tiny_dir) -> dict[str, Path]:
    """One folder per bad configuration."""
    base = tiny_dir.parent
    (base / "not-a-pipeline").mkdir()
    (base / "not-a-pipeline" / "notes.txt").write_text("weights are elsewhere")
    (base / "corrupt-index").mkdir()
    (base / "corrupt-index" / "model_index.json").write_text('{"_class_name": "StableDiff')
    shutil.copytree(tiny_dir, base / "odd-scheduler")
    index_path = base / "odd-scheduler" / "model_index.json"
    index = json.loads(index_path.read_text())
    index["scheduler"] = ["diffusers", "NoSuchScheduler"]
    index_path.write_text(json.dumps(index))
    return {"missing": base / "no-such-folder", "no_index": base / "not-a-pipeline",
            "corrupt": base / "corrupt-index", "scheduler": base / "odd-scheduler"}


def _load_registry(monkeypatch, models: str, **env: str):
    from core.registry import load_registry

    monkeypatch.setenv("IMPASTO_DIFFUSERS_MODELS", models)
    monkeypatch.setenv("IMPASTO_PLUGINS", "diffusers_backend")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_registry()


@pytest.fixture(scope="module")
def tiny_registry(tiny_dir, broken_dirs):
    """The tiny model beside every broken one: the broken ones must not hurt it."""
    models = ",".join([str(tiny_dir), *(str(p) for p in broken_dirs.values()),
                       "stabilityai/sd-turbo-typo", "not a model id"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield _load_registry(mp, models)


def generate(registry, **kwargs):
    from core import pipeline

    options = {"backend": BACKEND, "n": 1, "seed": 0, "params": FAST, "registry": registry}
    options.update(kwargs)
    return pipeline.generate(options.pop("prompt", PROMPT), **options)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


# ---------------------------------------------------------------------- registration


def test_registration_reads_only_the_environment(tiny_dir):
    """Registering loads no weights and imports neither torch nor diffusers."""
    code = ("import json, sys\nfrom core.registry import load_registry\nr = load_registry()\n"
            "print(json.dumps({'plugins': r.to_json(), 'heavy': sorted(m for m in ('torch', "
            "'diffusers', 'transformers') if m in sys.modules)}))")
    env = dict(os.environ, IMPASTO_PLUGINS="diffusers_backend", HF_HUB_OFFLINE="1",
               IMPASTO_DIFFUSERS_MODELS=f"{tiny_dir},stabilityai/sd-turbo,stabilityai/sdxl-turbo")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["heavy"] == []
    record = next(r for r in report["plugins"] if r["name"] == "diffusers_backend")
    assert record["status"] == "ok"
    assert record["provides"]["generators"] == [BACKEND, "diffusers_sd_turbo", "diffusers_sdxl_turbo"]
    assert "diffusers_sd_turbo: stabilityai/sd-turbo (hub model, NOT in the local cache" in record["note"]
    assert f"{BACKEND}: {tiny_dir} (local StableDiffusionPipeline)" in record["note"]


def test_without_models_nothing_is_registered_and_the_note_says_how(monkeypatch):
    registry = _load_registry(monkeypatch, "")
    record = next(r for r in registry.plugins if r.name == "diffusers_backend")
    assert record.status == "ok" and not any(record.provides.values())
    assert "IMPASTO_DIFFUSERS_MODELS=stabilityai/sd-turbo" in record.note


def test_generator_names_are_stable_identifiers_and_never_collide():
    from plugins.diffusers_backend.config import configured_models
    from plugins.diffusers_backend.generator import model_params

    specs = configured_models({"IMPASTO_DIFFUSERS_MODELS":
                               "stabilityai/sd-turbo, PixArt-alpha/PixArt-Sigma-XL-2-1024-MS,"
                               "alice/model,bob/model,stabilityai/sd-turbo"})
    assert [s.name for s in specs] == ["diffusers_sd_turbo", "diffusers_pixart_sigma_xl_2_1024_ms",
                                       "diffusers_model", "diffusers_bob_model"]
    assert specs[0].label == "Diffusers: stabilityai/sd-turbo"
    turbo = {p.name: p.default for p in model_params("stabilityai/sd-turbo")}
    assert (turbo["steps"], turbo["guidance"], turbo["width"]) == (4, 0.0, 0)
    sdxl_turbo = {p.name: p.default for p in model_params("stabilityai/sdxl-turbo")}
    assert (sdxl_turbo["steps"], sdxl_turbo["width"], sdxl_turbo["height"]) == (4, 512, 512)


def test_the_model_field_is_opt_in_and_never_on_a_space(monkeypatch, tiny_dir):
    assert "diffusers_any" not in _load_registry(monkeypatch, "").generators
    opted_in = _load_registry(monkeypatch, "", IMPASTO_ALLOW_MODEL_FIELD="1")
    assert "diffusers_any" in opted_in.generators
    images = generate(opted_in, backend="diffusers_any", params=dict(FAST, model=str(tiny_dir))).images
    assert images[0].size == (32, 32)
    with pytest.raises(UserError, match="type a model"):
        generate(opted_in, backend="diffusers_any", params=FAST)
    on_space = _load_registry(monkeypatch, "", IMPASTO_ALLOW_MODEL_FIELD="1", SPACE_ID="me/impasto")
    assert "diffusers_any" not in on_space.generators


# ---------------------------------------------------------------------- generation


def test_same_seed_same_pixels_and_each_image_has_its_own_seed(tiny_registry):
    reports = []
    first = generate(tiny_registry, n=2, seed=5, progress=lambda f, m="": reports.append((f, m)))
    assert [im.size for im in first.images] == [(32, 32), (32, 32)]
    assert all(im.mode == "RGB" for im in first.images)
    again = generate(tiny_registry, n=1, seed=5)
    other = generate(tiny_registry, n=1, seed=6)
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0]))
    assert not np.array_equal(pixels(first.images[0]), pixels(first.images[1]))
    assert not np.array_equal(pixels(first.images[0]), pixels(other.images[0]))
    assert pixels(first.images[0]).std() > 1   # a picture, not a flat fill
    step_reports = [(f, m) for f, m in reports if "step" in m]
    assert [m for _, m in step_reports] == ["image 1/2, step 1/2", "image 1/2, step 2/2",
                                            "image 2/2, step 1/2", "image 2/2, step 2/2"]
    assert [f for f, _ in step_reports] == [0.25, 0.5, 0.75, 1.0]


def test_native_size_when_no_size_is_given_and_sizes_are_checked(tiny_registry):
    assert generate(tiny_registry, params={"steps": 1}).images[0].size == (32, 32)
    wide = generate(tiny_registry, params={"steps": 1, "width": 48, "height": 16}).images[0]
    assert wide.size == (48, 16)
    with pytest.raises(UserError, match="width 36 is not a multiple of 8"):
        generate(tiny_registry, params={"steps": 1, "width": 36})
    with pytest.raises(UserError, match=r"height 128 is outside 8–64 px .*native size 32 px"):
        generate(tiny_registry, params={"steps": 1, "height": 128})


def test_scheduler_and_negative_prompt_change_the_picture_deterministically(tiny_registry):
    base = pixels(generate(tiny_registry).images[0])
    ddim = [pixels(generate(tiny_registry, params=dict(FAST, scheduler="ddim")).images[0])
            for _ in range(2)]
    assert np.array_equal(ddim[0], ddim[1]) and not np.array_equal(ddim[0], base)
    negative = generate(tiny_registry, params=dict(FAST, guidance=7.0, negative_prompt="green")).images[0]
    positive_only = generate(tiny_registry, params=dict(FAST, guidance=7.0)).images[0]
    assert not np.array_equal(pixels(negative), pixels(positive_only))
    with pytest.raises(UserError, match="parameter 'scheduler' must be one of: default, euler"):
        generate(tiny_registry, params=dict(FAST, scheduler="karras_magic"))
    # the default scheduler is still the model's own after other choices ran
    assert np.array_equal(pixels(generate(tiny_registry).images[0]), base)


def test_a_flow_matching_model_refuses_schedulers_it_cannot_use():
    from diffusers import DDIMScheduler, FlowMatchEulerDiscreteScheduler

    from plugins.diffusers_backend.schedulers import compatible_choices, fresh_scheduler

    flow = FlowMatchEulerDiscreteScheduler()
    assert compatible_choices(flow) == ["default"]
    with pytest.raises(UserError, match="scheduler 'ddim' does not fit sd3.*choose one of: default"):
        fresh_scheduler(flow, "ddim", "sd3")
    assert isinstance(fresh_scheduler(DDIMScheduler(), "ddim", "sd15"), DDIMScheduler)


def test_a_starting_image_runs_image_to_image_on_the_same_weights(tiny_registry, tiny_dir):
    from plugins.diffusers_backend.config import spec_for
    from plugins.diffusers_backend.loading import get_model

    blue = Image.new("RGB", (64, 40), (30, 60, 200))   # resized and cropped to 32x32
    red = Image.new("RGB", (32, 32), (220, 40, 30))
    params = dict(FAST, steps=4, strength=0.5)
    runs = [generate(tiny_registry, params=params, init_image=blue).images[0] for _ in range(2)]
    from_red = generate(tiny_registry, params=params, init_image=red).images[0]
    text_only = generate(tiny_registry, params=params).images[0]
    assert runs[0].size == (32, 32)
    assert np.array_equal(pixels(runs[0]), pixels(runs[1]))
    assert not np.array_equal(pixels(runs[0]), pixels(text_only))
    assert np.abs(pixels(runs[0]) - pixels(from_red)).mean() > 1   # the start image matters
    model = get_model(spec_for(str(tiny_dir)))
    assert model.pipeline(True).unet is model.text2image.unet   # from_pipe: no second copy
    with pytest.raises(UserError, match="at least one step must run"):
        generate(tiny_registry, params=dict(FAST, steps=1, strength=0.5), init_image=blue)


def test_cancel_stops_between_steps_and_the_model_keeps_working(tiny_registry):
    class Stop(Exception):
        pass

    seen = []

    def cancel_after_first_step(fraction, message=""):
        seen.append(message)
        if "step 1/" in message:
            raise Stop("cancelled")

    with pytest.raises(Exception) as caught:
        generate(tiny_registry, params=dict(FAST, steps=10), progress=cancel_after_first_step)
    assert isinstance(caught.value, Stop) or isinstance(caught.value.__cause__, Stop)
    assert [m for m in seen if "step" in m] == ["image 1/1, step 1/10"]
    assert generate(tiny_registry).images[0].size == (32, 32)


# ---------------------------------------------------------------------- bad configuration


@pytest.mark.parametrize("case, message", [
    ("missing", r"diffusers model folder .*no-such-folder does not exist"),
    ("no_index", r"folder .*not-a-pipeline has no model_index.json, so it is not a diffusers pipeline"),
    ("corrupt", r"corrupt-index/model_index.json is not valid JSON"),
    ("scheduler", r"could not load diffusers model .*odd-scheduler.*has no class `NoSuchScheduler`"),
])
def test_bad_model_folders_give_a_clear_message(tiny_registry, broken_dirs, case, message):
    from plugins.diffusers_backend.config import spec_for

    name = spec_for(str(broken_dirs[case])).name
    with pytest.raises(UnavailableError, match=message):
        generate(tiny_registry, backend=name)
    assert generate(tiny_registry).images[0].size == (32, 32)   # the good model is unaffected


def test_bad_hub_ids_name_what_was_tried(tiny_registry):
    with pytest.raises(UnavailableError, match="'stabilityai/sd-turbo-typo' is not in the local "
                                               "Hugging Face cache and HF_HUB_OFFLINE is set"):
        generate(tiny_registry, backend="diffusers_sd_turbo_typo")
    with pytest.raises(UnavailableError, match="not an existing folder and not a hub id of the form"):
        generate(tiny_registry, backend="diffusers_not_a_model_id")


def test_half_precision_prefers_fp16_weight_files_and_falls_back(tiny_dir, tmp_path, monkeypatch):
    import torch
    from diffusers import StableDiffusionPipeline

    from plugins.diffusers_backend.config import spec_for
    from plugins.diffusers_backend.loading import get_model

    StableDiffusionPipeline.from_pretrained(tiny_dir).save_pretrained(tmp_path / "fp16-only",
                                                                      variant="fp16")
    shutil.copytree(tiny_dir, tmp_path / "full-only")
    monkeypatch.setenv("IMPASTO_DIFFUSERS_DTYPE", "bfloat16")
    registry = _load_registry(monkeypatch, f"{tmp_path / 'fp16-only'},{tmp_path / 'full-only'}")
    for folder in ("fp16-only", "full-only"):
        spec = spec_for(str(tmp_path / folder))
        assert generate(registry, backend=spec.name).images[0].size == (32, 32)
        assert get_model(spec).text2image.unet.dtype == torch.bfloat16


def test_placement_follows_the_device_and_the_memory_budget(monkeypatch):
    import torch

    from plugins.diffusers_backend.placement import choose_dtype, choose_placement

    assert choose_dtype(torch.device("cpu")) == torch.float32
    assert choose_placement(torch.device("cpu"), torch.float32, 10 * 2**30).offload is False
    monkeypatch.setenv("IMPASTO_MODEL_BUDGET_MB", "8000")
    cuda = torch.device("cuda")
    small = choose_placement(cuda, torch.float16, 2 * 2**30)      # SD 1.5 in fp16 fits
    large = choose_placement(cuda, torch.float16, 24 * 2**30)     # FLUX in bf16 does not
    assert (small.offload, large.offload, large.attention_slicing) == (False, True, True)
    monkeypatch.setenv("IMPASTO_DIFFUSERS_OFFLOAD", "sometimes")
    with pytest.raises(UnavailableError, match="must be auto, on or off"):
        choose_placement(cuda, torch.float16, 1)
    monkeypatch.setenv("IMPASTO_DIFFUSERS_DTYPE", "bf16")
    assert choose_dtype(torch.device("cpu")) == torch.bfloat16


# ---------------------------------------------------------------------- CLI and API


def _cli_generate(models: str, out: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, IMPASTO_PLUGINS="diffusers_backend", HF_HUB_OFFLINE="1",
                    IMPASTO_DIFFUSERS_MODELS=models, **ONE_THREAD, **env)
    command = [sys.executable, "-m", "core", "generate", "--backend", BACKEND, "--prompt", PROMPT,
               "--n", "1", "--seed", "0", "--out", str(out), "--json",
               *(f"--param={key}={value}" for key, value in FAST.items())]
    return subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=120)


def test_cli_generate_gives_the_same_pixels(tiny_registry, tiny_dir, tmp_path):
    done = _cli_generate(str(tiny_dir), tmp_path / "out")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["backend"] == BACKEND and result["seed"] == 0
    expected = generate(tiny_registry).images[0]
    assert np.array_equal(pixels(Image.open(result["images"][0])), pixels(expected))


def test_a_hub_id_loads_from_the_local_cache_when_offline(tiny_registry, tiny_dir, tmp_path):
    """The same weights as a hub repo in a Hugging Face cache (the layout `hf download`
    leaves), with HF_HUB_OFFLINE=1: served by hub id, same pixels."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--impasto-test--tiny-sd"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_dir, repo / "snapshots" / commit)
    done = _cli_generate("impasto-test/tiny-sd", tmp_path / "out", HF_HUB_CACHE=str(tmp_path / "hub"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["settings"]["model_version"] == "impasto-test/tiny-sd"
    expected = generate(tiny_registry).images[0]
    assert np.array_equal(pixels(Image.open(result["images"][0])), pixels(expected))


def test_generate_endpoint_gives_the_same_pixels(tiny_registry, tmp_path):
    import app
    from gradio_client import Client

    demo = app.build_app(tiny_registry)
    demo.launch(server_name="127.0.0.1", server_port=7874, prevent_thread_lock=True, quiet=True)
    try:
        client = Client("http://127.0.0.1:7874/", verbose=False)
        images, settings = client.predict(PROMPT, BACKEND, 1, 0, "none", 1.0, "", json.dumps(FAST),
                                          api_name="/generate")
        assert settings["backend"] == BACKEND and settings["params"]["steps"] == 2
        expected = generate(tiny_registry).images[0]
        assert np.array_equal(pixels(Image.open(images[0]["image"])), pixels(expected))
        with pytest.raises(Exception, match="does not exist"):
            client.predict(PROMPT, "diffusers_no_such_folder", 1, 0, "none", 1.0, "", "{}",
                           api_name="/generate")
        again, _ = client.predict(PROMPT, BACKEND, 1, 0, "none", 1.0, "", json.dumps(FAST),
                                  api_name="/generate")   # still serving after the error
        assert np.array_equal(pixels(Image.open(again[0]["image"])), pixels(expected))
        # a starting picture through the API: image-to-image, the same pixels as the library
        from gradio_client import handle_file

        start = Image.new("RGB", (48, 40), (30, 60, 200))
        start_path = tmp_path / "start.png"
        start.save(start_path)
        params = dict(FAST, steps=4, strength=0.5)
        varied, settings = client.predict(PROMPT, BACKEND, 1, 0, "none", 1.0, "", json.dumps(params),
                                          handle_file(str(start_path)), api_name="/generate")
        direct = generate(tiny_registry, params=params, init_image=start).images[0]
        assert np.array_equal(pixels(Image.open(varied[0]["image"])), pixels(direct))
        assert not np.array_equal(pixels(direct), pixels(expected))
    finally:
        demo.close()
