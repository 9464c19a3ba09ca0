# SPDX-License-Identifier: GPL-3.0-or-later
"""Files the command-line checks write for graft-cli to read: PNG images of random pixels
(standard library only, so that a check needs no imaging package) and whole files written
into folders made on demand."""

import os
import struct
import zlib


def png(width, height, rng):
    """An 8-bit RGB PNG of random pixels drawn from rng (a random.Random)."""
    raw = b"".join(b"\0" + bytes(rng.randrange(256) for _ in range(width * 3))
                   for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write(path, data):
    """Write data to path, making its folder first."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
