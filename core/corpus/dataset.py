"""Corpus samples, deterministic by (seed, index), and the streaming dataset.

Sample ``i`` of a corpus with seed ``s`` is drawn from its own generator
``np.random.default_rng([s, i])``, so it is the same picture and caption on every
machine, in every worker, whatever was drawn before it. The stream is cut into
*blocks* (one block = one batch) and blocks are dealt to processes and
DataLoader workers round-robin, so the sequence of batches a training run sees
does not depend on how many workers or GPUs produce it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

import numpy as np
from PIL import Image
from torch.utils.data import IterableDataset

from core.corpus.attributes import (NATIVE_SIZE, Claim, LandscapeClaim, Scene, ShapesClaim,
                                    ShapesScene)
from core.corpus.captions import caption, paraphrase
from core.corpus.landscapes import layout_landscape, render_landscape, sample_landscape_claim
from core.corpus.shapes import layout_shapes, render_shapes, sample_shapes_claim

DATA_FAMILIES = ("shapes", "landscapes", "all")
PARAPHRASE_P = 0.3        # share of captions written as paraphrases


@dataclass
class Sample:
    image: Image.Image    # RGB, resolution x resolution
    caption: str
    scene: Scene          # the structured attributes (claim + layout)
    index: int

    @property
    def family(self) -> str:
        return self.scene.family


def random_claim(family: str, rng: np.random.Generator) -> Claim:
    """A random claim of ``family`` ("shapes", "landscapes" or "all": half each)."""
    if family == "all":
        family = "shapes" if rng.random() < 0.5 else "landscapes"
    if family == "shapes":
        return sample_shapes_claim(rng)
    if family == "landscapes":
        return sample_landscape_claim(rng)
    raise ValueError(f"unknown corpus family {family!r}; use one of {', '.join(DATA_FAMILIES)}")


def scene_for(claim: Claim, rng: np.random.Generator) -> Scene:
    """A random concrete picture of ``claim``."""
    if isinstance(claim, ShapesClaim):
        return layout_shapes(claim, rng)
    return layout_landscape(claim, rng)


def render(scene: Scene, size: int = NATIVE_SIZE) -> Image.Image:
    """Draw ``scene`` at ``size`` x ``size`` (the corpus is native at 64)."""
    if isinstance(scene, ShapesScene):
        return render_shapes(scene, size)
    return render_landscape(scene, size)


def render_claim(claim: Claim, seed: int = 0, size: int = NATIVE_SIZE) -> Image.Image:
    """A ground-truth picture of ``claim`` (for the checker's tests and references)."""
    return render(scene_for(claim, np.random.default_rng([seed, 7919])), size)


def scene_and_caption(claim: Claim, rng: np.random.Generator,
                      paraphrase_p: float = PARAPHRASE_P) -> tuple[Scene, str]:
    """A scene of ``claim`` and its caption, written as a paraphrase with probability
    ``paraphrase_p``: how the corpus draws and captions each of its pictures."""
    scene = scene_for(claim, rng)
    return scene, write_caption(claim, rng, paraphrase_p)


def write_caption(claim: Claim, rng: np.random.Generator, paraphrase_p: float = PARAPHRASE_P) -> str:
    """A caption of ``claim`` as the corpus writes one: a paraphrase with probability
    ``paraphrase_p``, else the template."""
    return paraphrase(claim, rng) if rng.random() < paraphrase_p else caption(claim, rng)


class CaptionedClaim(NamedTuple):
    caption: str
    claim: Claim        # what the caption was written from (the checker reads it)


def captioned_claims(count: int, seed: int, family: str = "all") -> list[CaptionedClaim]:
    """``count`` captions as the corpus writes them (30 % paraphrases), with their
    claims and no pictures: prompts for teaching a model by the checker."""
    rng = np.random.default_rng([seed, 7741])
    prompts = []
    for _ in range(count):
        claim = random_claim(family, rng)
        prompts.append(CaptionedClaim(scene_and_caption(claim, rng)[1], claim))
    return prompts


def make_sample(family: str, seed: int, index: int, resolution: int = NATIVE_SIZE,
                paraphrase_p: float = PARAPHRASE_P) -> Sample:
    """Sample ``index`` of the corpus ``(family, seed)``."""
    rng = np.random.default_rng([seed, index])
    scene, text = scene_and_caption(random_claim(family, rng), rng, paraphrase_p)
    return Sample(render(scene, resolution), text, scene, index)


def image_to_tensor(image: Image.Image) -> Any:
    """RGB image -> float tensor 3 x H x W in [0, 1]."""
    import torch

    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack images; keep captions and attributes as lists (they vary in shape)."""
    import torch

    return {"image": torch.stack([item["image"] for item in items]),
            "caption": [item["caption"] for item in items],
            "attributes": [item["attributes"] for item in items],
            "index": torch.tensor([item["index"] for item in items])}


class BlockStream(IterableDataset):
    """An endless stream of items ``item(index)`` for index 0, 1, 2, ..., dealt
    out in blocks so that it is the same whatever the number of workers/GPUs.

    Use ``block_size`` = the DataLoader's batch size: batch ``k`` of shard
    ``shard`` (of ``num_shards`` processes) is then always block ``k *
    num_shards + shard``, whichever worker made it; ``start_block`` skips the
    blocks a resumed run has already trained on.
    """

    def __init__(self, block_size: int = 1, start_block: int = 0, shard: int = 0,
                 num_shards: int = 1) -> None:
        super().__init__()
        self.block_size, self.start_block = block_size, start_block
        self.shard, self.num_shards = shard, num_shards

    def item(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def blocks(self) -> Iterator[int]:
        """Global block numbers this process and DataLoader worker produce, in order."""
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        local = self.start_block + worker
        while True:
            yield local * self.num_shards + self.shard
            local += workers

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for block in self.blocks():
            for index in range(block * self.block_size, (block + 1) * self.block_size):
                yield self.item(index)


class CorpusDataset(BlockStream):
    """The procedural corpus as an endless, deterministic stream.

    Each item is ``{"image": float tensor 3xRxR in [0,1], "caption": str,
    "attributes": scene dict, "index": int}``; batch with :func:`collate`.
    """

    def __init__(self, family: str = "all", seed: int = 0, resolution: int = NATIVE_SIZE,
                 paraphrase_p: float = PARAPHRASE_P, block_size: int = 1, start_block: int = 0,
                 shard: int = 0, num_shards: int = 1) -> None:
        super().__init__(block_size, start_block, shard, num_shards)
        if family not in DATA_FAMILIES:
            raise ValueError(f"unknown corpus family {family!r}; use one of {', '.join(DATA_FAMILIES)}")
        self.family, self.seed, self.resolution = family, seed, resolution
        self.paraphrase_p = paraphrase_p

    def item(self, index: int) -> dict[str, Any]:
        sample = make_sample(self.family, self.seed, index, self.resolution, self.paraphrase_p)
        return {"image": image_to_tensor(sample.image), "caption": sample.caption,
                "attributes": sample.scene.to_dict(), "index": index}


def claim_of(attributes: dict[str, Any]) -> Claim:
    """The claim inside a sample's ``attributes`` dict."""
    data = attributes["claim"]
    return ShapesClaim.from_dict(data) if data["family"] == "shapes" else LandscapeClaim.from_dict(data)
