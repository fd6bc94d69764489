"""Colour-space conversions used by the tone and palette operations.

Oklab (Björn Ottosson, 2020) is used for hue and saturation because its
lightness stays put when hue turns or chroma changes, unlike HSV. CIELAB is used
for nearest-colour matching against a palette (see ``palette.py``).
"""
from __future__ import annotations

import numpy as np

_LMS_FROM_LINEAR = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                             [0.2119034982, 0.6806995451, 0.1073969566],
                             [0.0883024619, 0.2817188376, 0.6299787005]], dtype=np.float32)
_LAB_FROM_LMS = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                          [1.9779984951, -2.4285922050, 0.4505937099],
                          [0.0259040371, 0.7827717662, -0.8086757660]], dtype=np.float32)
_LMS_FROM_LAB = np.linalg.inv(_LAB_FROM_LMS.astype(np.float64)).astype(np.float32)
_LINEAR_FROM_LMS = np.linalg.inv(_LMS_FROM_LINEAR.astype(np.float64)).astype(np.float32)

# sRGB decoding/encoding through tables: exact enough (16k steps in linear light
# is finer than 8-bit sRGB everywhere) and several times faster than np.power.
_ENCODE_STEPS = 16384


def _decode(values: np.ndarray) -> np.ndarray:
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _encode(values: np.ndarray) -> np.ndarray:
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * np.power(values, 1 / 2.4) - 0.055)


_DECODE_TABLE = _decode(np.linspace(0, 1, _ENCODE_STEPS + 1)).astype(np.float32)
_ENCODE_TABLE = _encode(np.linspace(0, 1, _ENCODE_STEPS + 1)).astype(np.float32)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    index = np.clip(rgb * _ENCODE_STEPS + 0.5, 0, _ENCODE_STEPS).astype(np.int32)
    return _DECODE_TABLE[index]


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    index = np.clip(linear * _ENCODE_STEPS + 0.5, 0, _ENCODE_STEPS).astype(np.int32)
    return _ENCODE_TABLE[index]


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    lms = srgb_to_linear(rgb) @ _LMS_FROM_LINEAR.T
    return np.cbrt(lms) @ _LAB_FROM_LMS.T


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    lms = (lab @ _LMS_FROM_LAB.T) ** 3
    return linear_to_srgb(lms @ _LINEAR_FROM_LMS.T)


def srgb_to_cielab(rgb: np.ndarray) -> np.ndarray:
    """sRGB floats in [0, 1] (any shape ending in 3) -> CIELAB (D65)."""
    from skimage.color import rgb2lab

    flat = np.asarray(rgb, dtype=np.float64).reshape(-1, 1, 3)
    return rgb2lab(flat).reshape(np.shape(rgb)).astype(np.float32)


def cielab_to_srgb(lab: np.ndarray) -> np.ndarray:
    from skimage.color import lab2rgb

    flat = np.asarray(lab, dtype=np.float64).reshape(-1, 1, 3)
    return np.clip(lab2rgb(flat), 0, 1).reshape(np.shape(lab)).astype(np.float32)
