"""A corpus of hostile and odd image files, generated on the fly.

``BAD`` files must be refused with an ImageInputError whose message contains the
given fragment; ``ODD`` files must be accepted and normalised to RGB.
"""
from __future__ import annotations

import io
import zlib
import struct

import numpy as np
from PIL import Image


def _png(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims a size; its (tiny) pixel data never matters
    because the size check comes before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


def _photo(size=(96, 64)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def bad_files() -> dict[str, tuple[bytes, str]]:
    good_png = _png(_photo())
    good_jpeg = _jpeg(_photo())
    return {
        "zero_bytes.png": (b"", "empty"),
        "truncated.png": (good_png[: len(good_png) // 2], "damaged or truncated"),
        "truncated.jpg": (good_jpeg[: len(good_jpeg) // 2], "damaged or truncated"),
        "text.png": (b"hello, I am not a picture\n" * 10, "not an image"),
        "svg_as.png": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
                       b'height="10"><rect width="10" height="10"/></svg>', "not an image"),
        "html_as.png": (b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
                        "not an image"),
        "eps_as.png": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "not an image"),
        "bomb_pixels.png": (_png_header_only(9000, 9000), "megapixels"),
        "bomb_side.png": (_png_header_only(100_000, 1), "too large"),
        "zero_size.png": (_png_header_only(0, 0), "not an image"),
    }


def odd_images() -> dict[str, tuple[bytes, tuple[int, int]]]:
    """name -> (file bytes, expected RGB size after normalisation)."""
    photo = _photo()
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.new("L", photo.size, 0))             # fully transparent -> white
    palette_t = photo.convert("P", palette=Image.Palette.ADAPTIVE)
    palette_t.info["transparency"] = 0
    i16 = Image.fromarray((np.linspace(0, 65535, 96 * 64).reshape(64, 96)).astype(np.uint16))
    floats = Image.fromarray(np.linspace(-1, 3, 96 * 64, dtype=np.float32).reshape(64, 96), "F")
    frames = [Image.new("RGB", (96, 64), c) for c in ((255, 0, 0), (0, 255, 0))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    cmyk = io.BytesIO()
    photo.convert("CMYK").save(cmyk, format="JPEG")
    tiff_f = io.BytesIO()
    floats.save(tiff_f, format="TIFF")
    exif = Image.Exif()
    exif[0x0112] = 6                                          # rotate 90° on display
    return {
        "rgba_transparent.png": (_png(rgba), (96, 64)),
        "palette.png": (_png(photo.convert("P", palette=Image.Palette.ADAPTIVE)), (96, 64)),
        "palette_transparency.png": (_png(palette_t), (96, 64)),
        "la.png": (_png(photo.convert("LA")), (96, 64)),
        "l.png": (_png(photo.convert("L")), (96, 64)),
        "one_bit.png": (_png(photo.convert("1")), (96, 64)),
        "i16.png": (_png(i16), (96, 64)),
        "float.tiff": (tiff_f.getvalue(), (96, 64)),
        "cmyk.jpg": (cmyk.getvalue(), (96, 64)),
        "animated.gif": (gif.getvalue(), (96, 64)),
        "exif_rotated.jpg": (_jpeg(photo, exif=exif), (64, 96)),
    }
