#!/usr/bin/env python3
"""Screenshot check for the desktop smoke test, standard library only.

    shot.py SCREEN.xwd OUT.png [--min-colours N] [--max-share F]

Reads an X window dump (`xwd -root -silent`, ZPixmap, 24/32 bits per pixel as Xvfb writes
it), writes it as a PNG, and checks that something was drawn: at least N distinct colours and
no single colour covering more than a share F of the screen. Prints one line with the figures;
exits 1 when the check fails, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections import Counter
from pathlib import Path

HEADER_FIELDS = 25  # CARD32s in an XWDFileHeader
ZPIXMAP = 2


class XwdError(Exception):
    pass


def read_xwd(data: bytes) -> tuple[int, int, list[bytes]]:
    """Returns (width, height, rows of packed RGB bytes)."""
    if len(data) < HEADER_FIELDS * 4:
        raise XwdError("file too short for an XWD header")
    h = struct.unpack(">25I", data[: HEADER_FIELDS * 4])  # xwd always writes it big-endian
    (
        header_size,
        version,
        fmt,
        _depth,
        width,
        height,
        _xoff,
        byte_order,
        _unit,
        _bit_order,
        _pad,
        bits_per_pixel,
        bytes_per_line,
        _visual,
        red_mask,
        green_mask,
        blue_mask,
        _bits_per_rgb,
        _cmap_entries,
        ncolors,
    ) = h[:20]
    if version != 7:
        raise XwdError(f"XWD version {version}, expected 7")
    if fmt != ZPIXMAP or bits_per_pixel not in (24, 32):
        raise XwdError(f"unsupported XWD layout (format {fmt}, {bits_per_pixel} bits per pixel)")
    offset = header_size + ncolors * 12
    if len(data) < offset + height * bytes_per_line:
        raise XwdError("XWD image data is truncated")
    step = bits_per_pixel // 8
    endian = "little" if byte_order == 0 else "big"

    def shift(mask: int) -> int:
        return (mask & -mask).bit_length() - 1 if mask else 0

    shifts = [
        (red_mask, shift(red_mask)),
        (green_mask, shift(green_mask)),
        (blue_mask, shift(blue_mask)),
    ]
    cache: dict[bytes, bytes] = {}
    rows = []
    # Xvfb's usual layout (32-bit little-endian 0x00RRGGBB): reorder by slicing, 100x faster.
    fast = (step, endian, red_mask, green_mask, blue_mask) == (4, "little", 0xFF0000, 0xFF00, 0xFF)
    for y in range(height):
        line = data[offset + y * bytes_per_line : offset + y * bytes_per_line + width * step]
        if fast:
            out = bytearray(width * 3)
            out[0::3] = line[2::4]
            out[1::3] = line[1::4]
            out[2::3] = line[0::4]
            rows.append(bytes(out))
            continue
        out = bytearray()
        for x in range(0, width * step, step):
            raw = line[x : x + step]
            rgb = cache.get(raw)
            if rgb is None:
                v = int.from_bytes(raw, endian)
                rgb = bytes(((v & m) >> s) & 0xFF for m, s in shifts)
                cache[raw] = rgb
            out += rgb
        rows.append(bytes(out))
    return width, height, rows


def write_png(path: Path, width: int, height: int, rows: list[bytes]) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + r for r in rows)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("xwd", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--min-colours", type=int, default=16)
    ap.add_argument("--max-share", type=float, default=0.95)
    args = ap.parse_args()
    try:
        width, height, rows = read_xwd(args.xwd.read_bytes())
    except (OSError, XwdError) as e:
        print(f"shot: {args.xwd}: {e}", file=sys.stderr)
        return 2
    args.png.parent.mkdir(parents=True, exist_ok=True)
    write_png(args.png, width, height, rows)
    colours: Counter[bytes] = Counter()
    for r in rows:
        colours.update(r[i : i + 3] for i in range(0, len(r), 3))
    top, top_count = colours.most_common(1)[0]
    share = top_count / (width * height)
    print(
        f"shot: {args.png} {width}x{height}, {len(colours)} colours, "
        f"most common #{top.hex()} covers {share:.1%}"
    )
    if len(colours) < args.min_colours:
        print(
            f"shot: only {len(colours)} colours (< {args.min_colours}): nothing was drawn",
            file=sys.stderr,
        )
        return 1
    if share > args.max_share:
        print(
            f"shot: one colour covers {share:.1%} (> {args.max_share:.0%}): the window is blank",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
