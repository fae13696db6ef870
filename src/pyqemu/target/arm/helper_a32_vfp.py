"""AArch32 VFP helpers that the A64 ones do not cover: half-precision conversions honouring
FPSCR.AHP (the alternative half-precision format: no infinities or NaNs, exponent 31 is an
ordinary exponent). Results are ``bits | flags << 64`` like :mod:`helper_fp`'s.
"""
from __future__ import annotations

from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm.translate32 import helper

AHP = 1 << 26


def _from_ahp(h: int, to_esz: int) -> int:
    s = h >> 15 & 1
    e = h >> 10 & 31
    f = h & 0x3FF
    fd = F.FMT[to_esz]
    if e == 0 and f == 0:
        return s << (fd.width - 1)
    if e == 0:
        sig, exp = f, -24
    else:
        sig, exp = f | 0x400, e - 25
    return F.round_pack(s, sig, exp, fd, F.RN, 0)  # exact in single and double


def _to_ahp(x: int, fpscr: int, esz: int) -> int:
    c, s, m, e, fl = F.unpack(x & F.FMT[esz].mask, F.FMT[esz], fpscr & F.FZ)
    if c >= F.QNAN:
        return (fl | F.IOC) << 64
    if c == F.INF:
        return (s << 15 | 0x7FFF) | (fl | F.IOC) << 64
    if c == F.ZERO:
        return s << 15 | fl << 64
    top = e + m.bit_length() - 1
    q = top - 10 if top >= -14 else -24  # weight of the last significand bit
    if e >= q:
        sig, rem, half = m << (e - q), 0, 1
    else:
        sh = q - e
        sig, rem, half = m >> sh, m & ((1 << sh) - 1), 1 << (sh - 1)
    if rem:
        rm = F.rmode(fpscr)
        if (rm == F.RN and (rem > half or (rem == half and sig & 1))) or (rm == F.RP and not s) \
                or (rm == F.RM and s):
            sig += 1
        fl |= F.IXC | (F.UFC if top < -14 else 0)
    if sig >= 0x800:  # rounding carried into a new bit
        sig >>= 1
        q += 1
    if sig < 0x400:  # denormal (or rounded to zero)
        return s << 15 | sig | fl << 64
    efield = q + 10 + 15
    if efield > 31:
        return s << 15 | 0x7FFF | ((fl & ~F.IXC) | F.IOC) << 64
    return s << 15 | efield << 10 | (sig & 0x3FF) | fl << 64


@helper(pure=True)
def cvt_hp(a: int, fpscr: int, from_esz: int, to_esz: int) -> int:
    """VCVTB/VCVTT: half <-> single/double per FPSCR (AHP included)."""
    if fpscr & AHP:
        if from_esz == 1:
            return _from_ahp(a & 0xFFFF, to_esz)
        return _to_ahp(a, fpscr, from_esz)
    return F.convert(a, fpscr, from_esz, to_esz)
