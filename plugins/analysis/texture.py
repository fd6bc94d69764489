"""Texture and shape descriptors of a greyscale picture (computed at ≤ 384 px,
so the numbers describe the picture, not its resolution).

texture:
- edge_density: share of pixels on Canny edges (σ = 1.5);
- dominant_orientations: up to three edge directions (degrees, 0 = horizontal
  edge, 90 = vertical) with their share of the gradient energy, plus
  ``anisotropy`` (0 = edges in every direction, 1 = all parallel);
- glcm: grey-level co-occurrence (32 levels, distances 1 and 2, four angles):
  contrast, homogeneity, energy, correlation;
- lbp: uniform local binary patterns (8 neighbours, radius 1): the share of
  flat, edge-like and corner-like patterns and the histogram's entropy (bits);
- high_frequency_energy: share of the spectrum's power above a quarter of the
  Nyquist frequency (fine detail and noise).

shape (on the picture cut into colour regions):
- regions: connected regions covering at least 0.1 % of the picture;
- mean_circularity: mean 4πA/P² of those regions (1 = disc, ~0.785 = square);
- straight_edge_share: share of edge pixels on straight segments ≥ 12 px.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import canny, graycomatrix, graycoprops, local_binary_pattern
from skimage.measure import regionprops
from skimage.transform import probabilistic_hough_line

ORIENTATION_BINS = 12        # 15° each over 0–180°
GLCM_LEVELS = 32
MIN_REGION_SHARE = 0.001
LINE_LENGTH = 12


def texture(grey: np.ndarray) -> tuple[dict, np.ndarray]:
    """``grey``: H×W float in [0, 1]. Returns the descriptors and the edge map."""
    edges = canny(grey, sigma=1.5)
    gy, gx = np.gradient(ndimage.gaussian_filter(grey, 1.0))
    data = {
        "edge_density": round(float(edges.mean()), 4),
        "dominant_orientations": orientations(gx, gy),
        "glcm": glcm_summary(grey),
        "lbp": lbp_summary(grey),
        "high_frequency_energy": round(high_frequency_energy(grey), 4),
    }
    return data, edges


def orientations(gx: np.ndarray, gy: np.ndarray) -> dict:
    magnitude = np.hypot(gx, gy).ravel()
    # an edge runs at right angles to its gradient; fold to 0–180°
    angle = (np.degrees(np.arctan2(gy, gx)).ravel() + 90.0) % 180.0
    hist, _ = np.histogram(angle, bins=ORIENTATION_BINS, range=(0, 180), weights=magnitude ** 2)
    total = hist.sum()
    if total <= 0:
        return {"angles": [], "shares": [], "anisotropy": 0.0}
    shares = hist / total
    top = [i for i in np.argsort(-shares)[:3] if shares[i] >= 1.5 / ORIENTATION_BINS]
    doubled = np.radians(angle * 2)   # doubled angles make 0° and 180° agree
    weights = magnitude ** 2
    coherence = np.hypot((weights * np.cos(doubled)).sum(), (weights * np.sin(doubled)).sum()) / total
    width = 180 / ORIENTATION_BINS
    return {"angles": [round(float(i * width + width / 2), 1) for i in top],
            "shares": [round(float(shares[i]), 4) for i in top],
            "anisotropy": round(float(coherence), 4)}


def glcm_summary(grey: np.ndarray) -> dict:
    levels = np.clip((grey * GLCM_LEVELS).astype(np.uint8), 0, GLCM_LEVELS - 1)
    matrix = graycomatrix(levels, distances=[1, 2], angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                          levels=GLCM_LEVELS, symmetric=True, normed=True)
    out = {}
    for prop in ("contrast", "homogeneity", "energy", "correlation"):
        value = float(np.nan_to_num(graycoprops(matrix, prop)).mean())
        out[prop] = round(value, 4)
    return out


def lbp_summary(grey: np.ndarray) -> dict:
    codes = local_binary_pattern((grey * 255).astype(np.uint8), P=8, R=1, method="uniform")
    hist = np.bincount(codes.astype(int).ravel(), minlength=10)[:10] / codes.size
    # uniform codes: 0 and 8 flat spots, 3–5 edges, 1–2 and 6–7 corners/ends, 9 noise
    nonzero = hist[hist > 0]
    return {"flat": round(float(hist[0] + hist[8]), 4), "edge": round(float(hist[3:6].sum()), 4),
            "corner": round(float(hist[1:3].sum() + hist[6:8].sum()), 4),
            "non_uniform": round(float(hist[9]), 4),
            "entropy_bits": round(float(-(nonzero * np.log2(nonzero)).sum()), 4),
            "histogram": [round(float(h), 4) for h in hist]}


def high_frequency_energy(grey: np.ndarray) -> float:
    window = np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))
    power = np.abs(np.fft.rfft2((grey - grey.mean()) * window)) ** 2
    fy = np.fft.fftfreq(grey.shape[0])[:, None]
    fx = np.fft.rfftfreq(grey.shape[1])[None, :]
    radius = np.hypot(fx, fy) / 0.5            # 1 = Nyquist
    total = power.sum()
    return float(power[radius > 0.25].sum() / total) if total > 0 else 0.0


def shape(labels: np.ndarray, edges: np.ndarray) -> dict:
    """``labels``: H×W colour-cluster map (e.g. the palette's); ``edges``: Canny map."""
    labels = ndimage.median_filter(labels, size=3)   # one-pixel specks are noise, not regions
    min_area = max(4, int(MIN_REGION_SHARE * labels.size))
    circularities, count = [], 0
    for value in np.unique(labels):
        components, n = ndimage.label(labels == value)
        areas = np.bincount(components.ravel())
        keep = np.flatnonzero(areas >= min_area)
        keep = keep[keep != 0]
        if len(keep) == 0:
            continue
        # only the regions big enough to count are measured (photos have many specks)
        lookup = np.zeros(n + 1, dtype=np.int32)
        lookup[keep] = np.arange(1, len(keep) + 1)
        for region in regionprops(lookup[components]):
            count += 1
            if region.perimeter > 0:
                circularities.append(min(1.0, 4 * np.pi * region.area / region.perimeter ** 2))
    return {"regions": count,
            "mean_circularity": round(float(np.mean(circularities)), 4) if circularities else 0.0,
            "straight_edge_share": round(straight_edge_share(edges), 4)}


def straight_edge_share(edges: np.ndarray) -> float:
    total = int(edges.sum())
    if total == 0:
        return 0.0
    lines = probabilistic_hough_line(edges, threshold=8, line_length=LINE_LENGTH, line_gap=1,
                                     rng=0)
    on_lines = np.zeros_like(edges)
    for (x0, y0), (x1, y1) in lines:
        steps = max(abs(x1 - x0), abs(y1 - y0)) + 1
        xs = np.linspace(x0, x1, steps).round().astype(int)
        ys = np.linspace(y0, y1, steps).round().astype(int)
        on_lines[ys, xs] = True
    return float((on_lines & edges).sum() / total)
