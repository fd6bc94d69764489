"""The procedural corpus keeps the rules of DESIGN.md, is deterministic, and
streams the same batches whatever the number of workers or processes."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from core.corpus import captions
from core.corpus.attributes import (COLORS, MAX_SHAPE_SIZE, MIN_SHAPE_SIZE, LandscapeClaim,
                                    ShapesClaim)
from core.corpus.dataset import CorpusDataset, collate, make_sample
from core.corpus.landscapes import SKY_ROWS, silhouettes
from core.corpus.preview import write_grid
from core.corpus.shapes import TRIANGLE_HEIGHT
from core.errors import UserError

COLOR = "(red|orange|yellow|green|blue|purple|white|black)"
SHAPE = "(circle|square|triangle)"
BG = f"( on an? {COLOR} background)?"
TEMPLATES = [
    re.compile(f"^an? {COLOR} {SHAPE}{BG}$"),
    re.compile(f"^(two|three) {COLOR} {SHAPE}s{BG}$"),
    re.compile(f"^an? {COLOR} {SHAPE} and an? {COLOR} {SHAPE}{BG}$"),
    re.compile(f"^an? {COLOR} {SHAPE} (to the left of|to the right of|above|below) an? {COLOR} {SHAPE}{BG}$"),
]


def shape_samples(n: int, seed: int = 3):
    return [make_sample("shapes", seed, i, paraphrase_p=0.0) for i in range(n)]


def test_samples_are_deterministic_by_seed_and_index():
    a, b = make_sample("all", 5, 17), make_sample("all", 5, 17)
    assert a.caption == b.caption and a.scene == b.scene
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    other = make_sample("all", 6, 17)
    assert other.caption != a.caption or not np.array_equal(np.asarray(other.image), np.asarray(a.image))


def test_shapes_follow_the_spec():
    for sample in shape_samples(300):
        scene = sample.scene
        assert 1 <= len(scene.shapes) <= 3
        assert any(t.match(sample.caption) for t in TEMPLATES), sample.caption
        boxes = []
        for shape in scene.shapes:
            assert MIN_SHAPE_SIZE <= shape.size <= MAX_SHAPE_SIZE
            assert shape.color != scene.background
            assert np.abs(np.subtract(shape.rgb, COLORS[shape.color])).max() <= 6   # small jitter
            height = shape.size * (TRIANGLE_HEIGHT if shape.kind == "triangle" else 1)
            top = shape.cy - (2 * height / 3 if shape.kind == "triangle" else height / 2)
            box = (shape.cx - shape.size / 2, top, shape.cx + shape.size / 2, top + height)
            assert box[0] >= 0 and box[1] >= 0 and box[2] <= 64 and box[3] <= 64
            for other in boxes:   # never overlapping
                assert box[2] <= other[0] or other[2] <= box[0] or box[3] <= other[1] or other[3] <= box[1]
            boxes.append(box)
        claim = scene.claim
        if claim.background:
            assert claim.background == scene.background
        if claim.relation:
            a, b = scene.shapes
            gap = {"left of": b.cx - a.cx, "right of": a.cx - b.cx, "above": b.cy - a.cy,
                   "below": a.cy - b.cy}[claim.relation]
            assert gap >= 8


def test_every_caption_template_appears_with_and_without_background():
    seen = set()
    for sample in shape_samples(400):
        seen.add((sample.scene.claim.caption_kind, sample.scene.claim.background is None))
    assert seen == {(k, named) for k in ("single", "count", "two", "relation") for named in (True, False)}


def test_landscapes_keep_the_sky_the_water_and_name_every_element():
    for i in range(200):
        sample = make_sample("landscapes", 2, i, paraphrase_p=0.0)
        scene, claim = sample.scene, sample.scene.claim
        _, back, front = silhouettes(scene)
        assert min(back.min(), front.min()) >= SKY_ROWS          # sky fills the top quarter
        if claim.water:
            assert 64 - scene.water_top >= 64 / 5
            assert max(back.max(), front.max()) < scene.water_top
        else:
            assert scene.water_top == 64
        text = sample.caption
        assert ("sea" in text) == (claim.water == "sea")
        assert ("lake" in text) == (claim.water == "lake")
        assert ("tree" in text) == claim.trees
        assert ("cloud" in text) == claim.clouds


def test_sky_is_dark_at_night_and_light_by_day():
    def sky(time: str) -> float:
        from core.corpus.dataset import render_claim

        image = np.asarray(render_claim(LandscapeClaim(time, "hills"), seed=1), dtype=float)
        return float(np.median(image[:16].mean(-1)))

    assert sky("night") < 60 < sky("sunset") < sky("day")


def test_paraphrases_keep_the_facts_but_change_the_words():
    rng = np.random.default_rng(0)
    claim = ShapesClaim.from_dict({"caption_kind": "single", "objects": [{"color": "red", "kind": "circle"}],
                                   "background": "blue", "relation": None})
    texts = {captions.paraphrase(claim, rng) for _ in range(60)}
    assert len(texts) > 20
    assert any("crimson" in t or "scarlet" in t for t in texts)
    assert any("ball" in t or "disc" in t for t in texts)
    assert all(not re.search(r"\b(square|triangle|box|block|pyramid)\b", t) for t in texts)


def test_stream_is_the_same_for_any_number_of_workers_and_shards():
    from torch.utils.data import DataLoader

    def batches(workers: int, shard: int = 0, shards: int = 1, n: int = 4) -> list[list[int]]:
        data = CorpusDataset("all", seed=1, block_size=3, shard=shard, num_shards=shards)
        loader = DataLoader(data, batch_size=3, collate_fn=collate, num_workers=workers)
        out = []
        for batch in loader:
            out.append(batch["index"].tolist())
            if len(out) == n:
                return out
        return out

    single = batches(0)
    assert single == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert batches(2) == single
    # two processes share the stream: blocks alternate, nothing repeats
    assert batches(0, 0, 2) == [[0, 1, 2], [6, 7, 8], [12, 13, 14], [18, 19, 20]]
    assert batches(0, 1, 2) == [[3, 4, 5], [9, 10, 11], [15, 16, 17], [21, 22, 23]]


def test_dataset_items_carry_images_captions_and_attributes():
    data = CorpusDataset("shapes", seed=0, resolution=32)
    item = next(iter(data))
    assert tuple(item["image"].shape) == (3, 32, 32)
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["attributes"]["family"] == "shapes"
    assert ShapesClaim.from_dict(item["attributes"]["claim"])


def test_preview_grid(tmp_path):
    path = write_grid(tmp_path / "grid.png", "all", 8, 0)
    image = Image.open(path)
    assert image.width > 4 * 128 and image.height > 2 * 128
    with pytest.raises(UserError):
        write_grid(tmp_path / "x.png", "faces", 8, 0)
    with pytest.raises(UserError):
        write_grid(tmp_path / "x.png", "all", 0, 0)


def test_attribute_targets_read_the_corpus_scene_and_the_caption_claim():
    import torch

    from core.corpus.attributes import COLOR_NAMES
    from core.corpus.targets import ATTRIBUTE_DIM, IGNORE, attribute_loss, targets

    shapes = [make_sample("shapes", 0, i).scene.to_dict() for i in range(40)]
    scene_view, claim_view = targets(shapes, from_claim=False), targets(shapes, from_claim=True)
    for i, scene in enumerate(shapes):
        assert COLOR_NAMES[int(scene_view["background"][i])] == scene["background"]
        named = scene["claim"]["background"]
        assert int(claim_view["background"][i]) == (COLOR_NAMES.index(named) if named else IGNORE)
        assert int(scene_view["count"][i]) == len(scene["shapes"]) - 1
        assert float(scene_view["colours"][i].sum()) == len({s["color"] for s in scene["shapes"]})
    assert (claim_view["background"] == IGNORE).any() and (claim_view["background"] != IGNORE).any()
    landscape = targets([make_sample("landscapes", 0, 0).scene.to_dict()], from_claim=True)
    assert int(landscape["background"][0]) == IGNORE and int(landscape["time"][0]) != IGNORE
    # a confident right reading costs less than a confident wrong one
    logits = torch.zeros(1, ATTRIBUTE_DIM)
    logits[0, int(scene_view["background"][0])] = 10.0
    wrong = torch.zeros(1, ATTRIBUTE_DIM)
    wrong[0, (int(scene_view["background"][0]) + 1) % 8] = 10.0
    first = {k: v[:1] for k, v in scene_view.items()}
    assert float(attribute_loss(logits, first)) < float(attribute_loss(wrong, first))


def _picture_facts(claim):
    """What a claim says about the picture, the same however it is worded: two
    different objects in either order, and "a above b" as "b below a"."""
    if not isinstance(claim, ShapesClaim):
        return claim
    from core.corpus.counterfactual import OPPOSITE

    objects = claim.objects
    if claim.caption_kind == "two":
        return ("two", frozenset(objects), claim.background)
    if claim.caption_kind == "relation":
        return ("relation", frozenset([(objects[0], claim.relation, objects[1]),
                                       (objects[1], OPPOSITE[claim.relation], objects[0])]), claim.background)
    return (claim.caption_kind, objects, claim.background)


def test_counterfactuals_change_what_the_picture_shows():
    """A counterfactual claim is a valid corpus claim (its constructor checks the
    rules) that promises another picture; over many claims every kind of edit
    appears, and nearly every claim has one."""
    from core.corpus.counterfactual import counterfactual

    rng = np.random.default_rng(0)
    edits, missing = set(), 0
    for index in range(2000):
        claim = make_sample("all", 0, index).scene.claim
        changed = counterfactual(claim, rng)
        if changed is None:
            missing += 1
            continue
        assert type(changed) is type(claim) and _picture_facts(changed) != _picture_facts(claim)
        if isinstance(claim, ShapesClaim):
            before, after = claim.objects, changed.objects
            if len(before) != len(after):
                edits.add("count")
            elif claim.relation != changed.relation:
                edits.add("relation")
            elif [o.kind for o in before] != [o.kind for o in after]:
                edits.add("shape")
            else:
                edits.add("colour")
        else:
            edits.add(next(f for f in ("time", "terrain", "water") if getattr(claim, f) != getattr(changed, f)))
    assert edits == {"count", "relation", "shape", "colour", "time", "terrain", "water"}
    assert missing <= 20
