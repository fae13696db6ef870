"""Helpers for the rarer AArch32 integer instructions (saturation, parallel add/sub,
dual multiplies, SEL, USAD8, byte-pair extends).

All are pure: results that also set the sticky Q flag or the GE bits return them
above bit 32 (``result | flag << 32``) and the translator merges them in, so no
helper touches CPU state. Values are unsigned 32-bit ints unless said otherwise.
"""
from __future__ import annotations

from pyqemu.target.arm.translate32 import helper

M16 = 0xFFFF
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def _s32(x: int) -> int:
    return (x ^ 0x80000000) - 0x80000000


def _s16(x: int) -> int:
    x &= M16
    return (x ^ 0x8000) - 0x8000


def _s8(x: int) -> int:
    x &= 0xFF
    return (x ^ 0x80) - 0x80


def _sat_s(v: int, bits: int) -> tuple[int, int]:
    """``v`` clamped to a signed ``bits``-bit range; (value, saturated)."""
    hi = (1 << (bits - 1)) - 1
    lo = -(1 << (bits - 1))
    if v > hi:
        return hi, 1
    if v < lo:
        return lo, 1
    return v, 0


def _sat_u(v: int, bits: int) -> tuple[int, int]:
    """``v`` clamped to an unsigned ``bits``-bit range; (value, saturated)."""
    hi = (1 << bits) - 1
    if v > hi:
        return hi, 1
    if v < 0:
        return 0, 1
    return v, 0


@helper(pure=True)
def qaddsub(m: int, n: int, op: int) -> int:
    """QADD (0), QSUB (1), QDADD (2), QDSUB (3): ``sat(Rm +/- [sat(2 *)] Rn) | Q << 32``."""
    a, b = _s32(m), _s32(n)
    q = 0
    if op & 2:
        b, q = _sat_s(2 * b, 32)
    r, q2 = _sat_s(a - b if op & 1 else a + b, 32)
    return (r & M32) | ((q | q2) << 32)


@helper(pure=True)
def ssat(v: int, bits: int) -> int:
    """SSAT: signed 32-bit ``v`` saturated to ``bits`` (1..32) bits, ``| Q << 32``."""
    r, q = _sat_s(_s32(v), bits)
    return (r & M32) | (q << 32)


@helper(pure=True)
def usat(v: int, bits: int) -> int:
    """USAT: signed 32-bit ``v`` saturated to unsigned ``bits`` (0..31) bits, ``| Q << 32``."""
    r, q = _sat_u(_s32(v), bits)
    return r | (q << 32)


@helper(pure=True)
def sat16(v: int, bits: int, unsigned: int) -> int:
    """SSAT16 / USAT16: each signed halfword saturated, ``| Q << 32``."""
    fn = _sat_u if unsigned else _sat_s
    lo, q1 = fn(_s16(v), bits)
    hi, q2 = fn(_s16(v >> 16), bits)
    return (lo & M16) | ((hi & M16) << 16) | ((q1 | q2) << 32)


# Parallel add/sub lanes per A32 op2 code: (lane position in Rn and Rd, position in Rm, add).
_PAR_LANES = {
    0: ((0, 0, True), (16, 16, True)),  # ADD16
    1: ((0, 16, False), (16, 0, True)),  # ASX
    2: ((0, 16, True), (16, 0, False)),  # SAX
    3: ((0, 0, False), (16, 16, False)),  # SUB16
    4: tuple((i, i, True) for i in (0, 8, 16, 24)),  # ADD8
    7: tuple((i, i, False) for i in (0, 8, 16, 24)),  # SUB8
}


@helper(pure=True)
def parallel(n: int, m: int, op: int, kind: int) -> int:
    """Parallel add/sub: ``op`` is the A32 op2 code (ADD16, ASX, SAX, SUB16, ADD8, SUB8),
    ``kind`` the A32 op1 code (1 S, 2 Q, 3 SH, 5 U, 6 UQ, 7 UH). Returns
    ``result | GE << 32`` (GE is meaningful for S and U)."""
    esize = 8 if op >= 4 else 16
    mask = (1 << esize) - 1
    half = 1 << (esize - 1)
    signed = kind < 4
    k = kind & 3
    gebits = (1 << (esize >> 3)) - 1
    r = ge = 0
    for pa, pb, add in _PAR_LANES[op]:
        x = (n >> pa) & mask
        y = (m >> pb) & mask
        if signed:
            x = (x ^ half) - half
            y = (y ^ half) - half
        v = x + y if add else x - y
        if k == 1:
            if v >= ((1 << esize) if (add and not signed) else 0):
                ge |= gebits << (pa >> 3)
        elif k == 2:
            v = (_sat_s if signed else _sat_u)(v, esize)[0]
        else:
            v >>= 1
        r |= (v & mask) << pa
    return r | (ge << 32)


@helper(pure=True)
def sel(n: int, m: int, ge: int) -> int:
    """SEL: byte i from Rn if GE[i] else from Rm."""
    mask = 0
    for i in range(4):
        if ge >> i & 1:
            mask |= 0xFF << (8 * i)
    return (n & mask) | (m & ~mask & M32)


@helper(pure=True)
def usad8(n: int, m: int, acc: int) -> int:
    """USAD8 / USADA8: sum of absolute byte differences plus ``acc``."""
    t = acc
    for i in range(0, 32, 8):
        t += abs(((n >> i) & 0xFF) - ((m >> i) & 0xFF))
    return t & M32


@helper(pure=True)
def xtb16(v: int, n: int, signed: int, acc: int) -> int:
    """SXTB16/UXTB16 of the (rotated) value ``v``, plus ``n`` per halfword when ``acc``."""
    lo, hi = v & 0xFF, (v >> 16) & 0xFF
    if signed:
        lo, hi = _s8(lo), _s8(hi)
    if acc:
        lo += n
        hi += n >> 16
    return (lo & M16) | ((hi & M16) << 16)


def _dual(n: int, m: int, swap: int, sub: int) -> int:
    if swap:
        m = ((m >> 16) | (m << 16)) & M32
    p1 = _s16(n) * _s16(m)
    p2 = _s16(n >> 16) * _s16(m >> 16)
    return p1 - p2 if sub else p1 + p2


@helper(pure=True)
def smlad(n: int, m: int, acc: int, swap: int, sub: int) -> int:
    """SMLAD/SMLSD (SMUAD/SMUSD with ``acc`` 0): ``result | Q << 32``."""
    r = _dual(n, m, swap, sub) + _s32(acc)
    q = 0 if -(1 << 31) <= r < (1 << 31) else 1
    return (r & M32) | (q << 32)


@helper(pure=True)
def smlald(n: int, m: int, acc: int, swap: int, sub: int) -> int:
    """SMLALD/SMLSLD: the 64-bit ``acc`` (RdHi:RdLo) plus the dual product, mod 2**64."""
    return (_dual(n, m, swap, sub) + acc) & M64
