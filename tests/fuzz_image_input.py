"""Fuzz ``core.images.load_image`` with mutated real image files (outside CI).

    OMP_NUM_THREADS=1 python tests/fuzz_image_input.py --minutes 12 --out runs/fuzz
    python tests/fuzz_image_input.py --replay      # only the crashers found so far

Hypothesis draws a real, valid file (PNG in several modes, JPEG baseline and
progressive, GIF, WebP lossy and lossless, TIFF raw and compressed, BMP) and
damages it: truncations, bit flips, overwritten and inserted bytes, junk
appended, two files spliced, and width/height fields rewritten to huge, zero or
negative values (with the PNG checksum fixed, so the decoder believes them).

The contract under test: ``load_image`` either returns an RGB/RGBA image within
the limits or raises ``core.errors.UserError``. Any other exception is a crash;
each distinct crash (type + first line of the message) is saved with its input
as ``OUT/crash-N.bin`` plus a one-line reproducer in ``OUT/report.json``, and the
run carries on so one bug does not hide the next. The file name does not start
with ``test_``, so pytest never collects it.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import limits  # noqa: E402
from core.errors import UserError  # noqa: E402
from core.images import load_image  # noqa: E402

SLOW_S = 10.0   # one input taking longer than this is reported as a near-hang


# ---------------------------------------------------------------- seed files


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def seed_files() -> dict[str, bytes]:
    """Small valid files of every accepted format, several modes and encoders."""
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    grey16 = Image.fromarray(rng.integers(0, 65535, (24, 32), dtype=np.uint16))
    frames = [Image.new("RGB", (32, 24), c) for c in ((255, 0, 0), (0, 0, 255))]
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "rgb.png": _save(photo, "PNG"),
        "rgba.png": _save(photo.convert("RGBA"), "PNG"),
        "palette.png": _save(photo.convert("P"), "PNG", transparency=0),
        "grey16.png": _save(grey16, "PNG"),
        "optimized.png": _save(photo, "PNG", optimize=True),
        "baseline.jpg": _save(photo, "JPEG", quality=80, exif=exif),
        "progressive.jpg": _save(photo, "JPEG", progressive=True),
        "cmyk.jpg": _save(photo.convert("CMYK"), "JPEG"),
        "animated.gif": _save(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0),
        "lossy.webp": _save(photo, "WEBP", quality=60),
        "lossless.webp": _save(photo.convert("RGBA"), "WEBP", lossless=True),
        "raw.tiff": _save(photo, "TIFF"),
        "lzw.tiff": _save(photo, "TIFF", compression="tiff_lzw"),
        "float.tiff": _save(Image.fromarray(rng.random((24, 32), dtype=np.float32), "F"), "TIFF"),
        "rgb.bmp": _save(photo, "BMP"),
        "one_bit.bmp": _save(photo.convert("1"), "BMP"),
    }


SEEDS = seed_files()


# ---------------------------------------------------------------- mutations


def _fix_png_crcs(data: bytearray) -> None:
    """Recompute every chunk CRC so that size rewrites reach the decoder."""
    pos = 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        end = pos + 8 + length
        if end + 4 > len(data):
            return
        data[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(data[pos + 4:end])))
        pos = end + 4


def set_declared_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the width/height fields of a file's header, whatever the format."""
    out = bytearray(data)
    if out.startswith(b"\x89PNG") and len(out) >= 24:
        out[16:24] = struct.pack(">II", width & 0xFFFFFFFF, height & 0xFFFFFFFF)
        _fix_png_crcs(out)
    elif out[:3] == b"GIF" and len(out) >= 10:
        out[6:10] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
        at = out.find(b"\x2c", 13)                    # first image descriptor
        if at > 0 and at + 9 <= len(out):
            out[at + 5:at + 9] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
    elif out[:2] == b"BM" and len(out) >= 26:
        out[18:26] = struct.pack("<ii", _clamp32(width), _clamp32(height))
    elif out[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
            at = out.find(marker)
            if at > 0 and at + 9 <= len(out):
                out[at + 5:at + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
                break
    elif out[:4] == b"RIFF" and out[8:12] == b"WEBP" and len(out) >= 30:
        kind = bytes(out[12:16])
        if kind == b"VP8X":
            out[24:30] = ((width - 1) & 0xFFFFFF).to_bytes(3, "little") + \
                ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
        elif kind == b"VP8L":
            bits = ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
            out[21:25] = (bits | (int.from_bytes(out[21:25], "little") & 0xF0000000)).to_bytes(4, "little")
        elif kind == b"VP8 ":
            out[26:30] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    elif out[:2] in (b"II", b"MM") and len(out) >= 8:
        _set_tiff_size(out, width, height)
    return bytes(out)


def _clamp32(value: int) -> int:
    return max(-2**31, min(2**31 - 1, value))


def _set_tiff_size(out: bytearray, width: int, height: int) -> None:
    order = "<" if out[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", out[4:8])[0]
    if ifd + 2 > len(out):
        return
    count = struct.unpack(order + "H", out[ifd:ifd + 2])[0]
    for index in range(count):
        entry = ifd + 2 + 12 * index
        if entry + 12 > len(out):
            return
        tag, kind = struct.unpack(order + "HH", out[entry:entry + 4])
        if tag in (256, 257):                        # ImageWidth, ImageLength
            value = width if tag == 256 else height
            if kind == 3:
                out[entry + 8:entry + 10] = struct.pack(order + "H", value & 0xFFFF)
            else:
                out[entry + 8:entry + 12] = struct.pack(order + "I", value & 0xFFFFFFFF)


SIZES = st.sampled_from([0, 1, 2, 255, 256, 4096, 12_000, 12_001, 65_535, 100_000,
                         2**24 - 1, 2**31 - 1, 2**32 - 1, -1, -100_000])


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "insert", "append",
                                 "size", "header_flip", "splice"]))
    where = draw(st.floats(0.0, 1.0, exclude_max=True))
    if kind in ("flip", "header_flip"):
        return kind, where, draw(st.integers(0, 7)), None
    if kind in ("overwrite", "insert", "append"):
        junk = draw(st.one_of(st.binary(min_size=1, max_size=64),
                              st.sampled_from([b"\xff" * 16, b"\x00" * 16, b"PK\x03\x04",
                                               b"<html><script>alert(1)</script></html>",
                                               b"\xff\xd9", b"IEND\xaeB`\x82"])))
        return kind, where, 0, junk
    if kind == "size":
        return kind, where, 0, (draw(SIZES), draw(SIZES))
    if kind == "splice":
        return kind, where, 0, draw(st.sampled_from(sorted(SEEDS)))
    return kind, where, 0, None


def apply_mutation(data: bytes, change) -> bytes:
    kind, where, bit, extra = change
    if not data:
        return extra if isinstance(extra, bytes) else data
    if kind == "header_flip":                  # the first 64 bytes hold the headers
        where = where * min(len(data), 64) / len(data)
    at = int(where * len(data))
    if kind in ("flip", "header_flip"):
        out = bytearray(data)
        out[at] ^= 1 << bit
        return bytes(out)
    if kind == "overwrite":
        return data[:at] + extra + data[at + len(extra):]
    if kind == "insert":
        return data[:at] + extra + data[at:]
    if kind == "append":
        return data + extra
    if kind == "truncate":
        return data[:at]
    if kind == "size":
        return set_declared_size(data, *extra)
    if kind == "splice":
        other = SEEDS[extra]
        return data[:at] + other[int(where * len(other)):]
    return data


@st.composite
def hostile_file(draw):
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    changes = draw(st.lists(mutation(), min_size=1, max_size=6))
    for change in changes:
        data = apply_mutation(data, change)
    return name, changes, data


# Inputs this fuzzer found that escape load_image as something other than a
# UserError (zlib + base64; 2026-11-23, Pillow 12.3). ``--replay`` runs only these.
KNOWN_CRASHERS = {
    "gif_index_error": (
        "eNpz93SzsExUYJBgaGRg+M+AAIr/uf1cQ4KdHQNcjfQMmBmBQjogcZBSBgl9BkYOGY8NCw42cwhrxZzYsPBw"
        "u4Cy1xyPjYuOdksYZ905sXHx8X4F5y4Zz01LTvYyMjIo/mQBGsGIMAMAX+Udrg=="),
    "gif_struct_error": (
        "eNpz93SzsExUYJBgaGRg+M+AAIr/uf1cQ4KdHQNcjfQMmBmBQjogcaBSBQYOfQZGDhmPDQsONnMIa8Wc2LDw"
        "cLuAstccj42LjnZLGGfdObFx8fF+BecuGc9NS072MjIyKP5kARrBCDUDAAszHaY="),
    "tiff_missing_dimensions": (
        "eNrz9NRi4GBgYOBiYGBkYWAEshSAmBHKlgBiJkZmuDgzlA3CbEhsQaj6NiAWQ9IrDmUz8DAwyCCpD4aymUFy"
        "DPK6BroaBqoamhr/bzM4M7Kzs3NxcAlzcQlrSIlJaZAM/h9gEOQAWq/AzKjEwCTIyCzI+P8IgzzQZlZGMGCA"
        "AkYmZhZWNnYOTi5uoIKtAiCvMjOxMLOysrAAZWuB8gwsgqxCioaObMKBiexKhSJGjRMXcig7bTwoGnTxg4px"
        "UlETJ5eYuISklKqauoamlompmbmFpZWzi6ubu4enV3BIaFh4RGRUckpqWnpGZlZxSWlZeUVlVXNLa1t7R2fX"
        "pMlTpk6bPmPmrEWLlyxdtnzFylWbNm/Zum37jp27Dh0+cvTY8RMnT126fOXqtes3bt56+Ojxk6fPnr94+erj"
        "p89fvn77/uPnL5C/GIGxAgNY/SUI9BcTCwszCzvIX4xM5SAFgiysioZsQo6B7ImFwkpGjRwiThMXbjzIqWwc"
        "9EE0qegil5iKyUPVjyCvgX1GnMeayPIZ3GMIf91i4GFmBEYesyCDPYP+Vu2b7/Nyl+3cZhTt+Cy3y0Z57qpe"
        "lQmPuXZwub3RKjx34cZqpb3LVv+da8Mz/dKbWZYyRok33qo25M/sO9v8XFmjvexacXCW0cH01Z1rHnefrg7d"
        "VeowUTJQVEh35vFpIUc4b07ayc5edqqwu3b3rVPTw4sXSXYfVWqb5DbB/anWUc1PB3KaTjEkLd08x3Bn7K31"
        "+rqT36z5uvtrWH503i1P85wrC/0Ewr9HlceWe32/n7Zl79f91Srbes1WXZtVu/XNte8CYh1nC8q25HHoK4uf"
        "1ixw1nywIsY4z+fKll1ln2edi24u2DZdt9Lg93demdapU/0KWud2/nTz2hmweof0RO/qmm/diWkTNnMs6ruW"
        "Xq+Vemf3xQsrQ5x6DjAseGvdebsxbM2Dvlff0vf3Ra7VSyrp8XkhnhFweif7e4agg00LZTklFM2Tnmr1GRfk"
        "Zl7d9ss2+urWddv3zn27ds7HkodyUW+Pev2rjntpsjY7eull/2qh7CCb8I3OAt0Brjd5F7/Xus7/LLfU0pIv"
        "9N93LYkVEneypLs1uv21Mven7+tI091v0ndmcU72ljmyJ/hPzz2a8nPfx0VdzyN2HnTSXrX367vp1XXstlLz"
        "o1azB2rfu/tlT9i51+tmCerdVTj1vVx82zTfrE3uOqdefZA96rVq8zSeJ9stDpyecJxHYseWioSmbM6bSk6T"
        "fHeeSJ8x7fYGBSEz5kpXfxs+92kyImEzPKo9g+fM3uv5aW/0a4n7sfnXt/6K3PI99MnrosicPffu3v96vez2"
        "/5sA9THd+w=="),
    "gif_struct_error_short": (
        "eNpz93SzsExUYJBgaGRg+M+AAIr/uf1cQ4KdHQNcjfQMmBmBQjogcZBSBg59BkYOm4yS3Bw7m+LkosyCErvE"
        "nNSiEg1DTRt9qICNPlh+05KTvYyMDIo/WYBGMILMAAAixRmF"),
}


def known_crashers() -> dict[str, bytes]:
    return {name: zlib.decompress(base64.b64decode(text)) for name, text in KNOWN_CRASHERS.items()}


# ---------------------------------------------------------------- the run


class Tally:
    def __init__(self, out: Path):
        self.out = out
        self.tried = 0
        self.accepted = 0
        self.refused = 0
        self.crashes: dict[str, dict] = {}
        self.slowest = (0.0, "")

    def check(self, name: str, changes, data: bytes) -> None:
        self.tried += 1
        started = time.perf_counter()
        try:
            image = load_image(data)
        except UserError:
            self.refused += 1
        except BaseException as exc:  # noqa: BLE001 - exactly what we are looking for
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._record(exc, name, changes, data)
        else:
            self.accepted += 1
            w, h = image.size
            if image.mode not in ("RGB", "RGBA") or w * h > limits.MAX_IMAGE_PIXELS or \
                    max(w, h) > limits.MAX_IMAGE_SIDE:
                self._record(AssertionError(f"accepted {image.mode} {w}x{h}"), name, changes, data)
        took = time.perf_counter() - started
        if took > self.slowest[0]:
            self.slowest = (took, f"{name} {changes!r}"[:300])

    def _record(self, exc: BaseException, name: str, changes, data: bytes) -> None:
        key = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        if key in self.crashes:
            self.crashes[key]["count"] += 1
            return
        path = self.out / f"crash-{len(self.crashes) + 1}.bin"
        path.write_bytes(data)
        self.crashes[key] = {"count": 1, "seed": name, "mutations": repr(changes)[:500],
                             "input": str(path),
                             "reproduce": f"python -c \"from core.images import load_image; "
                                          f"load_image(open('{path}','rb').read())\""}
        print(f"CRASH {key} (saved {path})", flush=True)

    def report(self, seconds: float) -> dict:
        return {"inputs_tried": self.tried, "accepted": self.accepted, "refused": self.refused,
                "distinct_crashes": len(self.crashes), "crashes": self.crashes,
                "seconds": round(seconds, 1), "inputs_per_s": round(self.tried / max(seconds, 1e-9), 1),
                "slowest_input_s": round(self.slowest[0], 3), "slowest_input": self.slowest[1]}


def run(minutes: float, out: Path, batch: int = 2000) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    # A runaway allocation becomes a MemoryError (a finding), not a machine swap-out.
    resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, resource.RLIM_INFINITY))
    tally = Tally(out)
    warnings.simplefilter("ignore")   # Pillow warns on every corrupt EXIF block

    # Failures are recorded by Tally, not raised, so hypothesis never stops to
    # shrink; we only want its generation. Each batch is one hypothesis run.
    @settings(max_examples=batch, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(hostile_file())
    def one_batch(case):
        tally.check(*case)

    started = time.perf_counter()
    while time.perf_counter() - started < minutes * 60:
        one_batch()
        summary = tally.report(time.perf_counter() - started)
        print(json.dumps({k: summary[k] for k in ("inputs_tried", "accepted", "refused",
                                                   "distinct_crashes", "seconds")}), flush=True)
        (out / "report.json").write_text(json.dumps(summary, indent=2))
    return tally.report(time.perf_counter() - started)


def replay() -> int:
    """Re-run the known crashers: exit 1 while any still escapes as a non-UserError."""
    still = 0
    for name, data in known_crashers().items():
        try:
            load_image(data)
            outcome = "accepted"
        except UserError as exc:
            outcome = f"refused: {exc}"
        except Exception as exc:  # noqa: BLE001 - the finding being checked
            outcome = f"CRASH {type(exc).__name__}: {exc}"
            still += 1
        print(f"{name}: {outcome}")
    return 1 if still else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("runs/fuzz"))
    parser.add_argument("--batch", type=int, default=2000, help="inputs per hypothesis run")
    parser.add_argument("--replay", action="store_true", help="only re-run KNOWN_CRASHERS")
    args = parser.parse_args()
    if args.replay:
        return replay()
    summary = run(args.minutes, args.out, args.batch)
    (args.out / "report.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 1 if summary["distinct_crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
