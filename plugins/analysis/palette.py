"""Dominant colours by k-means in CIELAB, and harmonious palettes built from them.

Pixels are sampled (not resized: resizing mixes neighbouring colours into
colours the picture does not have), clustered with k-means (k = 12, k-means++
seeding, fixed seed: more centres than colours wanted, so that no colour goes
without one), then clusters that are one colour are merged, closest first:

- always when their centres are within ΔE2000 2.5 (indistinguishable), or when
  k-means merely cut one flat, noisy colour in two: centres closer than 1.5×
  the sum of the two clusters' RMS spreads, and the pair together still tight
  (RMS spread under 8 Lab units);
- while more than five colours remain, when within ΔE2000 8, or cut in two as
  above but looser (within ΔE2000 12, any spread: dark greys wobble in hue);
- while more than eight remain, whatever pair is closest;
- slivers under 1 % of the pixels (anti-aliased or JPEG-ringing edges) beyond
  the five largest colours are given to their nearest colour.

So a flat or noisy five-colour poster gives its five colours, and a photo five
to eight.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab

SAMPLES = 12_000       # share error ~0.4 points (1 sd): well inside the 3-point bar
CLUSTERS = 12
MIN_COLOURS, MAX_COLOURS = 5, 8
SAME_COLOUR_DE = 2.5       # indistinguishable: always merged
SIMILAR_COLOUR_DE = 8.0    # close: merged while more than MIN_COLOURS remain
SPLIT_SEPARATION = 1.5     # centre distance / (spread + spread) of one colour cut in two
SPLIT_MAX_DE = 12.0
TIGHT_SPREAD = 8.0
MIN_SHARE = 0.01
CHROMATIC = 12.0           # LCh chroma below this reads as grey
SCHEMES = {"complementary": (0.0, 180.0), "analogous": (0.0, -30.0, 30.0),
           "triadic": (0.0, 120.0, 240.0)}


@dataclass
class Palette:
    lab: np.ndarray          # (n, 3) cluster centres, largest share first
    shares: np.ndarray       # (n,) fractions summing to 1
    labels: np.ndarray       # cluster of each sampled pixel
    samples: np.ndarray      # (m, 3) the sampled pixels in Lab


def sample_lab(pixels: np.ndarray, count: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """``count`` pixels of an H×W×3 uint8 array, in Lab (all of them if fewer)."""
    flat = pixels.reshape(-1, 3)
    if len(flat) > count:
        flat = flat[np.random.default_rng(seed).choice(len(flat), count, replace=False)]
    return rgb2lab(flat[None].astype(np.float64) / 255.0)[0].astype(np.float32)


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 30,
           centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding; returns (centres, labels)."""
    rng = np.random.default_rng(seed)
    if centres is None:
        centres = _plus_plus(points, k, rng)
    for _ in range(iterations):
        labels = _nearest(points, centres)
        counts = np.bincount(labels, minlength=len(centres))
        sums = np.stack([np.bincount(labels, weights=points[:, c], minlength=len(centres))
                         for c in range(3)], axis=1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.abs(moved - centres).max() < 1e-2:
            break
        centres = moved
    return centres, _nearest(points, centres)


def _plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [points[rng.integers(len(points))]]
    distance = ((points - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        if distance.sum() <= 0:          # fewer distinct colours than k
            break
        centres.append(points[rng.choice(len(points), p=distance / distance.sum())])
        distance = np.minimum(distance, ((points - centres[-1]) ** 2).sum(1))
    return np.array(centres)


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # |p - c|^2 = |p|^2 - 2 p.c + |c|^2; |p|^2 does not change the argmin
    return ((centres ** 2).sum(1)[None] - 2.0 * points @ centres.T).argmin(1)


def dominant_colours(pixels: np.ndarray, k: int = CLUSTERS) -> Palette:
    samples = sample_lab(pixels)
    centres, labels = kmeans(samples, k)
    centres, labels = _drop_empty(samples, centres, labels)
    samples, centres = samples.astype(np.float64), centres.astype(np.float64)  # exact means
    centres, labels = _merge_same_colours(samples, centres, labels)
    centres, labels = _drop_slivers(samples, centres, labels)
    centres, labels = kmeans(samples, len(centres), centres=centres, iterations=10)
    centres, labels = _drop_empty(samples, centres, labels)
    shares = np.bincount(labels, minlength=len(centres)) / len(labels)
    order = np.argsort(-shares)
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    return Palette(centres[order], shares[order], remap[labels], samples)


def _merge_same_colours(samples: np.ndarray, centres: np.ndarray,
                        labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    while len(centres) > 1:
        distance = _pairwise_de(centres)
        counts = np.bincount(labels, minlength=len(centres)).astype(np.float64)
        msd = np.array([((samples[labels == j] - c) ** 2).sum(1).mean()
                        for j, c in enumerate(centres)])          # mean squared spread
        gap2 = ((centres[:, None] - centres[None]) ** 2).sum(-1)
        separation = np.sqrt(gap2) / (np.sqrt(msd)[:, None] + np.sqrt(msd)[None] + 1e-9)
        # spread of each pair taken together, from the clusters' own statistics
        weight_i = counts[:, None] / (counts[:, None] + counts[None])
        union_msd = weight_i * msd[:, None] + (1 - weight_i) * msd[None] + \
            weight_i * (1 - weight_i) * gap2
        split = separation < SPLIT_SEPARATION
        mergeable = (distance < SAME_COLOUR_DE) | (split & (np.sqrt(union_msd) < TIGHT_SPREAD))
        if len(centres) > MIN_COLOURS:
            mergeable |= (distance < SIMILAR_COLOUR_DE) | (split & (distance < SPLIT_MAX_DE))
        if len(centres) > MAX_COLOURS:
            mergeable |= True
        mergeable &= np.isfinite(distance)          # never a cluster with itself
        if not mergeable.any():
            break
        i, j = np.unravel_index(np.argmin(np.where(mergeable, distance, np.inf)), distance.shape)
        i, j = min(i, j), max(i, j)
        labels[labels == j] = i
        labels[labels > j] -= 1
        centres = np.delete(centres, j, axis=0)
        centres[i] = samples[labels == i].mean(0)
    return centres, labels


def _drop_slivers(samples: np.ndarray, centres: np.ndarray,
                  labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    shares = np.bincount(labels, minlength=len(centres)) / len(labels)
    keep = shares >= MIN_SHARE
    # small accents stay when the palette is short (a night sky's few stars)
    keep |= np.argsort(np.argsort(-shares)) < MIN_COLOURS
    if keep.all():
        return centres, labels
    centres = centres[keep]
    return centres, _nearest(samples, centres)


def _drop_empty(samples: np.ndarray, centres: np.ndarray,
                labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = np.unique(labels)
    remap = np.full(len(centres), -1)
    remap[used] = np.arange(len(used))
    return centres[used], remap[labels]


def _pairwise_de(lab: np.ndarray) -> np.ndarray:
    n = len(lab)
    a = np.repeat(lab, n, axis=0)
    b = np.tile(lab, (n, 1))
    distance = deltaE_ciede2000(a, b).reshape(n, n)
    distance[np.arange(n), np.arange(n)] = np.inf
    return distance


# ------------------------------------------------------------------ colour helpers


def lab_to_hex(lab: np.ndarray) -> str:
    rgb = np.clip(lab2rgb(np.asarray(lab, dtype=np.float64).reshape(1, 1, 3))[0, 0], 0, 1)
    return "#" + "".join(f"{round(v * 255):02x}" for v in rgb)


def lch(lab: np.ndarray) -> tuple[float, float, float]:
    lightness, a, b = (float(v) for v in lab)
    return lightness, float(np.hypot(a, b)), float(np.degrees(np.arctan2(b, a)) % 360)


def lch_to_lab_in_gamut(lightness: float, chroma: float, hue: float) -> np.ndarray:
    """Lab of an LCh colour, with chroma lowered until it fits in sRGB."""
    for _ in range(30):
        rad = np.radians(hue)
        lab = np.array([lightness, chroma * np.cos(rad), chroma * np.sin(rad)])
        rgb = lab2rgb(lab.reshape(1, 1, 3))[0, 0]
        # lab2rgb clips, so compare with the round trip to see whether it fitted
        if np.abs(rgb2lab(rgb.reshape(1, 1, 3))[0, 0] - lab).max() < 1.0 or chroma < 1:
            return lab
        chroma *= 0.9
    return lab


def harmonies(palette: Palette) -> dict[str, list[str]]:
    """Palettes with the same lightness and chroma structure as ``palette`` but
    hues re-placed on a colour-wheel scheme around its dominant hue: every
    chromatic colour in turn (largest share first) takes the scheme's next hue;
    greys stay grey. Each list is ready for the Stylize tab's ``recolor``."""
    colours = [lch(lab) for lab in palette.lab]
    chromatic = [i for i, (_, c, _) in enumerate(colours) if c >= CHROMATIC]
    if not chromatic:
        return {name: [lab_to_hex(lab) for lab in palette.lab] for name in SCHEMES}
    base = max(chromatic, key=lambda i: palette.shares[i] * colours[i][1])
    base_hue = colours[base][2]
    result = {}
    for name, offsets in SCHEMES.items():
        hexes, turn = [], 0
        for i, (lightness, chroma, hue) in enumerate(colours):
            if i in chromatic:
                hue = (base_hue + offsets[turn % len(offsets)]) % 360
                turn += 1
                hexes.append(lab_to_hex(lch_to_lab_in_gamut(lightness, chroma, hue)))
            else:
                hexes.append(lab_to_hex(palette.lab[i]))
        result[name] = hexes
    return result


def harmony_label(palette: Palette) -> str:
    """How the palette's chromatic hues sit on the colour wheel."""
    hues = [(lch(lab)[2], share) for lab, share in zip(palette.lab, palette.shares)
            if lch(lab)[1] >= CHROMATIC and share >= 0.05]
    if not hues or sum(s for _, s in hues) < 0.15:
        return "neutral"
    groups: list[list[float]] = []
    for hue, _ in sorted(hues):
        if groups and _arc(groups[-1][-1], hue) <= 45:
            groups[-1].append(hue)
        else:
            groups.append([hue])
    if len(groups) > 1 and _arc(groups[-1][-1], groups[0][0]) <= 45:   # wrap around 360°
        groups[0] = groups.pop() + groups[0]
    centres = [_mean_hue(g) for g in groups]
    span = _span([h for h, _ in hues])
    if span <= 30:
        return "monochromatic"
    if span <= 90:
        return "analogous"
    if len(centres) == 2 and 150 <= _arc(*centres) <= 210:
        return "complementary"
    if len(centres) == 3 and all(90 <= _arc(a, b) <= 150 for a, b in
                                 ((centres[0], centres[1]), (centres[1], centres[2]),
                                  (centres[0], centres[2]))):
        return "triadic"
    return "contrasting"


def _arc(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def _mean_hue(hues: list[float]) -> float:
    rad = np.radians(hues)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360)


def _span(hues: list[float]) -> float:
    """The smallest arc of the wheel that holds every hue."""
    ordered = sorted(h % 360 for h in hues)
    gaps = [b - a for a, b in zip(ordered, ordered[1:])] + [ordered[0] + 360 - ordered[-1]]
    return 360 - max(gaps)
