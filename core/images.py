"""The one door for user images.

Everything a person gives us (upload, path, bytes, array) enters through
:func:`load_image`, which returns a fully decoded, detached RGB (or RGBA) Pillow
image, or raises :class:`ImageInputError` with a one-line message. Nothing else in
Impasto opens user images, so the checks below hold everywhere.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core import limits
from core.errors import ImageInputError

# Truncated files are errors, not half-grey pictures.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Only decoders for ordinary raster formats: no EPS (runs Ghostscript), no exotic
# plugins that a polyglot file could steer us into.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")

ImageSource = Union[str, Path, bytes, bytearray, BinaryIO, Image.Image, np.ndarray]


def load_image(source: ImageSource, *, keep_alpha: bool = False, min_side: int = 1,
               max_pixels: int | None = None, what: str = "image") -> Image.Image:
    """Open, check and normalise a user image.

    - EXIF orientation applied; animated images give their first frame;
    - modes P, LA, RGBA, CMYK, I;16, I, F, 1, L ... become RGB (alpha composited on
      white) or RGBA when ``keep_alpha`` is set;
    - at most ``limits.MAX_IMAGE_BYTES`` bytes, ``max_pixels`` pixels and
      ``limits.MAX_IMAGE_SIDE`` per side, at least ``min_side`` per side.
    """
    max_pixels = max_pixels or limits.MAX_IMAGE_PIXELS
    if isinstance(source, Image.Image):
        image = source
        image.load()
    elif isinstance(source, np.ndarray):
        image = _from_array(source, what)
    else:
        image = _open(_read_bytes(source, what), max_pixels, what)
    _check_size(image.size, max_pixels, min_side, what)
    try:
        return _normalise(image, keep_alpha)
    except ImageInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - an odd mode Pillow cannot convert is the file's fault
        raise ImageInputError(f"{what}: this image's colour format cannot be read "
                              f"({type(exc).__name__}: {str(exc)[:80]})") from None


def _read_bytes(source: Any, what: str) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageInputError(f"{what}: no such file: {path.name or str(path)}")
        size = path.stat().st_size
        if size > limits.MAX_IMAGE_BYTES:
            raise ImageInputError(_too_many_bytes(size, what))
        data = path.read_bytes()
    elif hasattr(source, "read"):
        data = source.read(limits.MAX_IMAGE_BYTES + 1)
    else:
        raise ImageInputError(f"{what}: expected an image file, got {type(source).__name__}")
    if not data:
        raise ImageInputError(f"{what}: the file is empty (0 bytes)")
    if len(data) > limits.MAX_IMAGE_BYTES:
        raise ImageInputError(_too_many_bytes(len(data), what))
    return data


def _too_many_bytes(size: int, what: str) -> str:
    return (f"{what}: the file is {size / 2**20:.1f} MB; the limit is "
            f"{limits.MAX_IMAGE_BYTES / 2**20:.0f} MB")


def _open(data: bytes, max_pixels: int, what: str) -> Image.Image:
    previous = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow's own decompression-bomb guard stays on, at our limit (it raises
        # past twice this value; we refuse anything past the limit ourselves).
        Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            _check_size(image.size, max_pixels, 1, what)  # before decoding any pixels
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            image.load()
            return image
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(f"{what}: the image is too large to decode safely "
                              f"(limit {max_pixels / 1e6:.0f} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{what}: this is not an image Impasto can read "
                              f"(supported: {', '.join(ALLOWED_FORMATS)})") from None
    except MemoryError:
        raise ImageInputError(f"{what}: the image is too large to decode") from None
    except Exception as exc:  # noqa: BLE001
        # Truncated or corrupt streams surface from Pillow's decoders as OSError and
        # SyntaxError, but also as IndexError, struct.error, TypeError ... (found by
        # fuzzing): whatever a decoder raises, the file is damaged, not the app.
        text = str(exc).split("\n")[0][:120] or type(exc).__name__
        raise ImageInputError(f"{what}: the file is damaged or truncated ({text})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _check_size(size: tuple[int, int], max_pixels: int, min_side: int, what: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageInputError(f"{what}: the image has no pixels ({width}×{height})")
    if max(width, height) > limits.MAX_IMAGE_SIDE:
        raise ImageInputError(f"{what}: {width}×{height} px is too large; the limit is "
                              f"{limits.MAX_IMAGE_SIDE} px on each side")
    if width * height > max_pixels:
        raise ImageInputError(f"{what}: {width}×{height} px is {width * height / 1e6:.1f} "
                              f"megapixels; the limit is {max_pixels / 1e6:.0f}")
    if min(width, height) < min_side:
        raise ImageInputError(f"{what}: {width}×{height} px is too small; "
                              f"each side needs at least {min_side} px")


def _from_array(array: np.ndarray, what: str) -> Image.Image:
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageInputError(f"{what}: expected an H×W, H×W×3 or H×W×4 array, got shape {array.shape}")
    if array.dtype != np.uint8:
        values = array.astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise ImageInputError(f"{what}: the array holds NaN or infinite values")
        scale = 255.0 if values.max(initial=0) <= 1.0 else 1.0
        array = np.clip(values * scale, 0, 255).round().astype(np.uint8)
    if array.shape[2] == 1:
        array = array[..., 0]
    return Image.fromarray(array)


def _normalise(image: Image.Image, keep_alpha: bool) -> Image.Image:
    try:
        image = ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject the pixels
        pass
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _wide_to_8bit(image)
        mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV ...
    if image.mode == "RGBA" and not keep_alpha:
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image).convert("RGB")
    elif image.mode == "RGB" and keep_alpha:
        image = image.convert("RGBA")
    # A detached copy: no file handle, no lazy decoder state, no metadata.
    out = Image.frombytes(image.mode, image.size, image.tobytes())
    return out


def _wide_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale to 8-bit: 16-bit by its full range, float by its
    own range (floats have no fixed white level)."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        values = values / 257.0
    elif image.mode == "I" and values.max(initial=0) > 255:
        values = values / max(values.max(), 1) * 255.0
    elif image.mode == "F":
        finite = values[np.isfinite(values)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        values = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
        values = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8), "L")
