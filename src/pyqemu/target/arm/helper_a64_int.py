"""Helpers for A64 integer instructions that have no short inline IR form.

All are pure functions of their arguments (the optimiser may drop unused
calls). Values are unsigned ints of the operation's width ``w`` (32 or 64).
"""
from __future__ import annotations

import zlib

from pyqemu.target.arm.translate import helper


@helper(pure=True)
def udiv(n: int, m: int) -> int:
    """UDIV: division by zero gives 0 (no trap on A64)."""
    return n // m if m else 0


@helper(pure=True)
def sdiv(n: int, m: int, w: int) -> int:
    """SDIV: rounds toward zero; x / 0 = 0; INT_MIN / -1 wraps to INT_MIN."""
    if not m:
        return 0
    s = 1 << (w - 1)
    n = (n ^ s) - s
    m = (m ^ s) - s
    q = abs(n) // abs(m)
    if (n < 0) != (m < 0):
        q = -q
    return q & ((1 << w) - 1)


@helper(pure=True)
def clz(x: int, w: int) -> int:
    return w - x.bit_length()


@helper(pure=True)
def ctz(x: int, w: int) -> int:
    return (x & -x).bit_length() - 1 if x else w


@helper(pure=True)
def cnt(x: int) -> int:
    return x.bit_count()


# Byte with its bits reversed, for RBIT via bytes.translate.
_RBIT8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


@helper(pure=True)
def rbit(x: int, w: int) -> int:
    n = w >> 3
    return int.from_bytes(x.to_bytes(n, "little").translate(_RBIT8), "big")


@helper(pure=True)
def rev_bytes(x: int, n: int) -> int:
    """REV of a whole n-byte value (the common REV Wd / REV Xd), without rev()'s cases."""
    return int.from_bytes(x.to_bytes(n, "little"), "big")


@helper(pure=True)
def rev(x: int, w: int, esize: int) -> int:
    """Reverse the byte order inside each `esize`-bit container of a `w`-bit value
    (REV16, REV32, REV64; the SIMD REV* use the same operation per element)."""
    n = w >> 3
    if esize == w:
        return int.from_bytes(x.to_bytes(n, "little"), "big")
    e = esize >> 3
    b = x.to_bytes(n, "big")
    # big-endian bytes read back little-endian per container = reversed bytes
    return int.from_bytes(b"".join(b[i:i + e][::-1] for i in range(0, n, e)), "big")


# --- CRC32 / CRC32C ------------------------------------------------------------------
# The A64 instructions compute the bit-reflected CRC without the initial and
# final inversion that zlib.crc32 applies; zlib does CRC32, a table CRC32C.

def _crc_table(poly: int) -> tuple[int, ...]:
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (poly if c & 1 else 0)
        t.append(c)
    return tuple(t)


_CRC32C_TABLE = _crc_table(0x82F63B78)


@helper(pure=True)
def crc32(acc: int, val: int, nbytes: int) -> int:
    return ~zlib.crc32(val.to_bytes(nbytes, "little"), ~acc & 0xFFFFFFFF) & 0xFFFFFFFF


@helper(pure=True)
def crc32c(acc: int, val: int, nbytes: int) -> int:
    t = _CRC32C_TABLE
    for _ in range(nbytes):
        acc = t[(acc ^ val) & 0xFF] ^ (acc >> 8)
        val >>= 8
    return acc
