"""A64 data processing: immediate and register groups (integer)."""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm.translate import DisasContext


def _w(sf: int) -> int:
    return 64 if sf else 32


def _mask(sf: int) -> int:
    return C.M64 if sf else C.M32


# --- PC-relative ---------------------------------------------------------------

def trans_ADR(s: DisasContext, a) -> bool:
    s.set_x(a.rd, (s.pc + a.imm) & C.M64)
    return True


def trans_ADRP(s: DisasContext, a) -> bool:
    s.set_x(a.rd, ((s.pc & ~0xFFF) + (a.imm << 12)) & C.M64)
    return True


# --- add/sub immediate -----------------------------------------------------------

def addsub(s: DisasContext, rd: int, n, m, sf: int, sub: bool, setflags: bool, rd_sp: bool) -> None:
    """rd = n +/- m (optionally setting NZCV); the shared core of ADD/SUB/ADDS/SUBS."""
    w = _w(sf)
    if setflags:
        (s.flags_sub if sub else s.flags_add)(n, m, sf)
    r = s.b.sub(n, m, w) if sub else s.b.add(n, m, w)
    if rd_sp:
        s.set_xsp(rd, r)
    else:
        s.set_x(rd, r)


def _addsub_imm(s: DisasContext, a, shift: int, sub: bool, setflags: bool) -> bool:
    n = s.xsp(a.rn, a.sf)
    addsub(s, a.rd, n, a.imm << shift, a.sf, sub, setflags, not setflags)
    return True


def trans_ADD_i(s, a):
    return _addsub_imm(s, a, 0, False, False)


def trans_ADD_i12(s, a):
    return _addsub_imm(s, a, 12, False, False)


def trans_ADDS_i(s, a):
    return _addsub_imm(s, a, 0, False, True)


def trans_ADDS_i12(s, a):
    return _addsub_imm(s, a, 12, False, True)


def trans_SUB_i(s, a):
    return _addsub_imm(s, a, 0, True, False)


def trans_SUB_i12(s, a):
    return _addsub_imm(s, a, 12, True, False)


def trans_SUBS_i(s, a):
    return _addsub_imm(s, a, 0, True, True)


def trans_SUBS_i12(s, a):
    return _addsub_imm(s, a, 12, True, True)


# --- logical immediate -------------------------------------------------------------

def decode_bitmask(n: int, imms: int, immr: int, w: int) -> tuple[int, int] | None:
    """DecodeBitMasks (immediate form): (wmask, tmask), or None if reserved."""
    combined = (n << 6) | (~imms & 0x3F)
    if combined == 0:
        return None
    length = combined.bit_length() - 1
    if length < 1 or (1 << length) > w:
        return None
    esize = 1 << length
    levels = esize - 1
    s = imms & levels
    r = immr & levels
    if s == levels:
        return None
    welem = (1 << (s + 1)) - 1
    emask = (1 << esize) - 1
    welem = ((welem >> r) | (welem << (esize - r))) & emask
    d = (s - r) & levels
    telem = (1 << (d + 1)) - 1
    wmask = tmask = 0
    for i in range(0, w, esize):
        wmask |= welem << i
        tmask |= telem << i
    return wmask, tmask


def _logic_imm(s: DisasContext, a, op: str, setflags: bool = False) -> bool:
    if not a.sf and a.n:
        return False
    w = _w(a.sf)
    bm = decode_bitmask(a.n, a.imms, a.immr, w)
    if bm is None:
        return False
    imm = bm[0]
    n = s.x(a.rn, a.sf)
    b = s.b
    r = {"and": b.and_, "or": b.or_, "xor": b.xor}[op](n, imm, w)
    if setflags:
        s.flags_logic(r, a.sf)
        s.set_x(a.rd, r)
    else:
        s.set_xsp(a.rd, r)
    return True


def trans_AND_i(s, a):
    return _logic_imm(s, a, "and")


def trans_ORR_i(s, a):
    return _logic_imm(s, a, "or")


def trans_EOR_i(s, a):
    return _logic_imm(s, a, "xor")


def trans_ANDS_i(s, a):
    return _logic_imm(s, a, "and", True)


# --- move wide ------------------------------------------------------------------------

def _movw_ok(a) -> bool:
    return a.sf or a.hw < 2


def trans_MOVZ(s, a):
    if not _movw_ok(a):
        return False
    s.set_x(a.rd, a.imm << (16 * a.hw))
    return True


def trans_MOVN(s, a):
    if not _movw_ok(a):
        return False
    s.set_x(a.rd, ~(a.imm << (16 * a.hw)) & _mask(a.sf))
    return True


def trans_MOVK(s, a):
    if not _movw_ok(a):
        return False
    sh = 16 * a.hw
    old = s.x(a.rd, a.sf)
    r = s.b.or_(s.b.and_(old, ~(0xFFFF << sh) & _mask(a.sf)), a.imm << sh)
    s.set_x(a.rd, r)
    return True


# --- bitfield ---------------------------------------------------------------------------

def _bitfield_ok(a) -> bool:
    if a.sf != a.n:
        return False
    if not a.sf and (a.immr > 31 or a.imms > 31):
        return False
    return True


def trans_UBFM(s: DisasContext, a) -> bool:
    if not _bitfield_ok(a):
        return False
    w = _w(a.sf)
    b = s.b
    src = s.x(a.rn, a.sf)
    r, sw = a.immr, a.imms
    if sw >= r:  # UBFX: extract bits [sw:r] to the bottom
        t = b.shr(src, r, w) if r else src
        res = b.and_(t, (1 << (sw - r + 1)) - 1)
    else:  # LSL / UBFIZ: bits [sw:0] placed at w - r
        t = b.and_(src, (1 << (sw + 1)) - 1)
        res = b.shl(t, w - r, w)
    s.set_x(a.rd, res)
    return True


def trans_SBFM(s: DisasContext, a) -> bool:
    if not _bitfield_ok(a):
        return False
    w = _w(a.sf)
    b = s.b
    src = s.x(a.rn, a.sf)
    r, sw = a.immr, a.imms
    if sw >= r:  # SBFX / ASR / SXTB...: sign-extend bits [sw:r]
        width = sw - r + 1
        t = b.shr(src, r, w) if r else src
        res = b.ext(t, width, True, w) if width < w else t
    else:  # SBFIZ: sign-extend bits [sw:0], shift left to w - r
        t = b.ext(src, sw + 1, True, w)
        res = b.shl(t, w - r, w)
    s.set_x(a.rd, res)
    return True


def trans_BFM(s: DisasContext, a) -> bool:
    if not _bitfield_ok(a):
        return False
    w = _w(a.sf)
    b = s.b
    src = s.x(a.rn, a.sf)
    dst = s.x(a.rd, a.sf)
    r, sw = a.immr, a.imms
    if sw >= r:  # BFXIL: bits [sw:r] of src into the bottom of dst
        width = sw - r + 1
        field = b.and_(b.shr(src, r, w) if r else src, (1 << width) - 1)
        pos = 0
    else:  # BFI: bits [sw:0] of src into dst at w - r
        width = sw + 1
        pos = w - r
        field = b.shl(b.and_(src, (1 << width) - 1), pos, w)
    keep = ~(((1 << width) - 1) << pos) & ((1 << w) - 1)
    s.set_x(a.rd, b.or_(b.and_(dst, keep), field))
    return True


def trans_EXTR(s: DisasContext, a) -> bool:
    if a.sf != a.n or (not a.sf and a.imms > 31):
        return False
    w = _w(a.sf)
    b = s.b
    lo = s.x(a.rm, a.sf)
    if a.imms == 0:
        s.set_x(a.rd, lo)
        return True
    hi = s.x(a.rn, a.sf)
    res = b.or_(b.shr(lo, a.imms, w), b.shl(hi, w - a.imms, w))
    s.set_x(a.rd, res)
    return True
