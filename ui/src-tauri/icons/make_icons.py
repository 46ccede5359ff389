#!/usr/bin/env python3
"""Draws Weft's app icon and writes the PNGs Tauri needs, with the standard library only.

The mark is a small piece of weaving on a dark rounded square: three warp threads (vertical,
pale) and three weft threads (horizontal, amber) passing over and under each other, with a
dark gap where one thread crosses over another so the interlacing reads even at 32 px.

    python3 icons/make_icons.py        # from ui/src-tauri: rewrites icons/*.png

The output is deterministic, so the committed PNGs change only when this script does.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

# Colours (RGB).
BACKGROUND = (30, 34, 53)
WARP = (200, 211, 245)
WEFT = (255, 158, 100)
GAP = BACKGROUND

# Geometry, as fractions of the icon's side.
CORNER = 0.22  # radius of the rounded square
MARGIN = 0.17  # from the edge to the woven area
THREADS = 3  # threads each way
BAND = 0.64  # a thread's width, as a fraction of its cell
SHADOW = 0.07  # the gap beside a thread that crosses over, as a fraction of a cell
SAMPLES = 4  # supersampling per axis (anti-aliasing)

SIZES = {
    "32x32.png": 32,
    "128x128.png": 128,
    "128x128@2x.png": 256,
    "icon.png": 512,
}


def inside_rounded_square(x: float, y: float) -> bool:
    """(x, y) in unit coordinates: is it inside the rounded square?"""
    r = CORNER
    cx = min(max(x, r), 1 - r)
    cy = min(max(y, r), 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def thread_colour(x: float, y: float) -> tuple[int, int, int] | None:
    """The colour of the weave at (x, y), or None where only the background shows."""
    inner = 1 - 2 * MARGIN
    u = (x - MARGIN) / inner * THREADS
    v = (y - MARGIN) / inner * THREADS
    if not (0 <= u < THREADS and 0 <= v < THREADS):
        return None
    col, row = int(u), int(v)
    du = abs(u - col - 0.5)  # distance from the centre of the warp thread in this cell
    dv = abs(v - row - 0.5)  # ... of the weft thread
    half = BAND / 2
    on_warp = du <= half
    on_weft = dv <= half
    weft_over = (col + row) % 2 == 0
    if on_warp and on_weft:
        return WEFT if weft_over else WARP
    if on_warp:
        # The warp passes under the weft here: leave a gap beside the weft.
        return GAP if weft_over and dv <= half + SHADOW else WARP
    if on_weft:
        return GAP if not weft_over and du <= half + SHADOW else WEFT
    return None


def pixel(px: int, py: int, size: int) -> tuple[int, int, int, int]:
    """One RGBA pixel, averaged over SAMPLES x SAMPLES points."""
    r = g = b = a = 0
    n = SAMPLES * SAMPLES
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            x = (px + (sx + 0.5) / SAMPLES) / size
            y = (py + (sy + 0.5) / SAMPLES) / size
            if not inside_rounded_square(x, y):
                continue
            c = thread_colour(x, y) or BACKGROUND
            r += c[0]
            g += c[1]
            b += c[2]
            a += 255
    if a == 0:
        return (0, 0, 0, 0)
    covered = a // 255
    return (r // covered, g // covered, b // covered, a // n)


def png(size: int) -> bytes:
    """An 8-bit RGBA PNG of the icon at size x size."""
    rows = bytearray()
    for py in range(size):
        rows.append(0)  # filter: none
        for px in range(size):
            rows.extend(pixel(px, py, size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def main() -> int:
    out = Path(__file__).resolve().parent
    for name, size in SIZES.items():
        (out / name).write_bytes(png(size))
        print(f"wrote {out / name} ({size}x{size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
