"""The persistent dirty bitmaps extension, read-only: the directory (for ``info``) and the clusters it
owns (for ``check``).  Bitmaps are not maintained on writes: an image we write loses its
"bitmaps consistent" autoclear bit, as the spec requires of a writer without bitmap support.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..driver import ImageCorruptError
from . import header as H
from .cluster import OFFSET_MASK, decode_table

if TYPE_CHECKING:
    from .driver import Qcow2Driver

_EXT = struct.Struct(">IIQQ")  # nb_bitmaps, reserved, directory size, directory offset
# table offset, table size, flags, type, granularity bits, name size, extra data size
_ENTRY = struct.Struct(">QIIBBHI")
MAX_BITMAPS = 65535
MAX_DIRECTORY = 64 * 1024 * 1024
MAX_TABLE_ENTRIES = 0x8000000
FLAG_NAMES = ((1 << 0, "in-use"), (1 << 1, "auto"))


@dataclass(frozen=True)
class Bitmap:
    name: str
    flags: int
    granularity_bits: int
    table_offset: int
    table_size: int


def directory(drv: Qcow2Driver) -> tuple[int, int, list[Bitmap]]:
    """(directory offset, size, bitmaps); empty when the extension is absent or marked stale."""
    h = drv.hdr
    ext = next((e for e in h.extensions if e.type == H.EXT_BITMAPS), None)
    if ext is None or not h.autoclear_features & H.AUTOCLEAR_BITMAPS or len(ext.data) < _EXT.size:
        return 0, 0, []
    nb, _, size, offset = _EXT.unpack_from(ext.data)
    if nb > MAX_BITMAPS or size > MAX_DIRECTORY or offset % drv.cs:
        raise ImageCorruptError("Invalid bitmaps extension")
    buf = drv.f.pread(offset, size)
    out, pos = [], 0
    for _ in range(nb):
        if pos + _ENTRY.size > len(buf):
            raise ImageCorruptError("Bitmap directory is truncated")
        toff, tsize, flags, _type, gbits, name_len, extra = _ENTRY.unpack_from(buf, pos)
        pos += _ENTRY.size + extra
        name = buf[pos:pos + name_len].decode("utf-8", "replace")
        pos = (pos + name_len + 7) & ~7
        if tsize > MAX_TABLE_ENTRIES or toff % drv.cs:
            raise ImageCorruptError(f"Bitmap '{name}' has an invalid table")
        out.append(Bitmap(name, flags, gbits, toff, tsize))
    return offset, size, out


def info(drv: Qcow2Driver) -> list[dict] | None:
    try:
        _, _, bitmaps = directory(drv)
    except ImageCorruptError:
        return None
    if not bitmaps and not any(e.type == H.EXT_BITMAPS for e in drv.hdr.extensions):
        return None
    return [{"flags": [n for bit, n in FLAG_NAMES if b.flags & bit], "name": b.name,
             "granularity": 1 << b.granularity_bits} for b in bitmaps]


def clusters(drv: Qcow2Driver) -> list[tuple[int, int]]:
    """Host ranges the bitmaps own: the directory, each table, each table's data clusters."""
    offset, size, bitmaps = directory(drv)
    ranges = [(offset, size)] if size else []
    for b in bitmaps:
        ranges.append((b.table_offset, b.table_size * 8))
        for e in decode_table(drv.f.pread_full(b.table_offset, b.table_size * 8)):
            if e & OFFSET_MASK:
                ranges.append((e & OFFSET_MASK, drv.cs))
    return ranges
