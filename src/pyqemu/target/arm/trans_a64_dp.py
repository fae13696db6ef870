"""A64 data processing: the immediate and register groups (integer).

Flag-setting instructions use the lazy flags of DisasContext. ADC(S)/SBC(S)
and CCMP/CCMN choose between two lazy states at run time (an ``if`` in the
IR) rather than computing NZCV: a carry-in of 1 turns n + m + 1 into the
subtraction n - ~m, whose flags are exactly those of the add with carry.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_a64_int as H
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


def logic(s: DisasContext, rd: int, n, m, sf: int, op: str, invert: bool, setflags: bool,
          rd_sp: bool) -> None:
    """rd = n OP m (OP and/or/xor, m inverted for BIC/ORN/EON); the shared core of the
    logical instructions. ANDS/BICS set N and Z from the result, clear C and V."""
    b = s.b
    w = _w(sf)
    if invert:
        r = {"and": b.andc, "or": b.orc, "xor": b.eqv}[op](n, m, w)
    else:
        r = {"and": b.and_, "or": b.or_, "xor": b.xor}[op](n, m, w)
    if setflags:
        s.flags_logic(r, sf)
    if rd_sp:
        s.set_xsp(rd, r)
    else:
        s.set_x(rd, r)


def _logic_imm(s: DisasContext, a, op: str, setflags: bool = False) -> bool:
    if not a.sf and a.n:
        return False
    bm = decode_bitmask(a.n, a.imms, a.immr, _w(a.sf))
    if bm is None:
        return False
    logic(s, a.rd, s.x(a.rn, a.sf), bm[0], a.sf, op, False, setflags, not setflags)
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


# === Data processing (register) ==============================================================

_SHIFT_OPS = ("shl", "shr", "sar", "rotr")  # LSL, LSR, ASR, ROR


def _shifted(s: DisasContext, rm: int, sf: int, shift: int, amount: int):
    """Rm shifted by a constant (the shifted-register operand)."""
    m = s.x(rm, sf)
    if amount == 0:
        return m
    return getattr(s.b, _SHIFT_OPS[shift])(m, amount, _w(sf))


def _extended(s: DisasContext, rm: int, sf: int, option: int, shift: int):
    """Rm extended by `option` (UXTB..SXTX) then shifted left (the extended-register operand)."""
    b = s.b
    w = _w(sf)
    bits = 8 << (option & 3)
    m = s.x(rm)
    if bits < w:
        m = b.ext(m, bits, bool(option & 4), w)
    elif w == 32:
        m = b.and_(m, C.M32)
    return b.shl(m, shift, w) if shift else m


def _select(s: DisasContext, cond: tuple, v1, v2, w: int):
    """v1 if `cond` (a test_cc tuple) holds else v2, as a `w`-bit value."""
    # movcond has one width, for its condition and for its result's label: a label
    # narrower than the values would let the optimiser drop a needed 32-bit mask
    if cond[3] < w:
        cond = ("ne", s.b.setcond(*cond), 0, w)
    return s.b.movcond(*cond[:3], v1, v2, cond[3])


# --- logical (shifted register) ---------------------------------------------------------

def _logic_reg(s: DisasContext, a, op: str, setflags: bool = False) -> bool:
    if not a.sf and a.imm >= 32:
        return False
    m = _shifted(s, a.rm, a.sf, a.shift, a.imm)
    logic(s, a.rd, s.x(a.rn, a.sf), m, a.sf, op, bool(a.n), setflags, False)
    return True


def trans_AND_r(s, a):
    return _logic_reg(s, a, "and")


def trans_ORR_r(s, a):
    return _logic_reg(s, a, "or")


def trans_EOR_r(s, a):
    return _logic_reg(s, a, "xor")


def trans_ANDS_r(s, a):
    return _logic_reg(s, a, "and", True)


# --- add/sub (shifted and extended register) ----------------------------------------------

def _addsub_shift(s: DisasContext, a, sub: bool, setflags: bool) -> bool:
    if a.shift == 3 or (not a.sf and a.imm >= 32):
        return False
    m = _shifted(s, a.rm, a.sf, a.shift, a.imm)
    addsub(s, a.rd, s.x(a.rn, a.sf), m, a.sf, sub, setflags, False)
    return True


def trans_ADD_r(s, a):
    return _addsub_shift(s, a, False, False)


def trans_ADDS_r(s, a):
    return _addsub_shift(s, a, False, True)


def trans_SUB_r(s, a):
    return _addsub_shift(s, a, True, False)


def trans_SUBS_r(s, a):
    return _addsub_shift(s, a, True, True)


def _addsub_ext(s: DisasContext, a, sub: bool, setflags: bool) -> bool:
    if a.imm > 4:
        return False
    m = _extended(s, a.rm, a.sf, a.option, a.imm)
    addsub(s, a.rd, s.xsp(a.rn, a.sf), m, a.sf, sub, setflags, not setflags)
    return True


def trans_ADD_ext(s, a):
    return _addsub_ext(s, a, False, False)


def trans_ADDS_ext(s, a):
    return _addsub_ext(s, a, False, True)


def trans_SUB_ext(s, a):
    return _addsub_ext(s, a, True, False)


def trans_SUBS_ext(s, a):
    return _addsub_ext(s, a, True, True)


# --- add/sub with carry -------------------------------------------------------------------

def _adc(s: DisasContext, a, sub: bool, setflags: bool) -> bool:
    """ADC/SBC: rd = rn + m + C with m = rm (ADC) or ~rm (SBC)."""
    b = s.b
    w = _w(a.sf)
    n = s.x(a.rn, a.sf)
    rm = s.x(a.rm, a.sf)
    inv = b.not_(rm, w)
    m, not_m = (inv, rm) if sub else (rm, inv)
    carry = b.setcond(*s.test_cc(2))  # CS
    r = b.add(b.add(n, m, w), carry, w)
    if setflags:
        b.if_("ne", carry, 0)
        s.flags_sub(n, not_m, a.sf)  # n + m + 1 == n - ~m, with the same NZCV
        b.else_()
        s.flags_add(n, m, a.sf)
        b.endif()
        s.cc = None
    s.set_x(a.rd, r)
    return True


def trans_ADC(s, a):
    return _adc(s, a, False, False)


def trans_ADCS(s, a):
    return _adc(s, a, False, True)


def trans_SBC(s, a):
    return _adc(s, a, True, False)


def trans_SBCS(s, a):
    return _adc(s, a, True, True)


# --- flag manipulation (FEAT_FlagM) -------------------------------------------------------

def trans_RMIF(s: DisasContext, a) -> bool:
    """Rotate Xn right by imm and copy its low 4 bits into the NZCV flags selected by mask."""
    b = s.b
    old = s.get_nzcv()
    bits = b.and_(b.shl(b.rotr(s.x(a.rn), a.imm, 64), 28, 64), a.mask << 28)
    s.flags_nzcv(b.or_(b.and_(old, ~(a.mask << 28) & C.M32), bits))
    return True


def trans_SETF(s: DisasContext, a) -> bool:
    """SETF8/SETF16: N, Z from the low 8/16 bits of Wn, V = bit 8/16 ^ bit 7/15; C kept."""
    b = s.b
    top = 7 + 8 * a.sz
    v = s.x(a.rn, 0)
    old_c = b.and_(s.get_nzcv(), C.C_BIT)
    n = b.and_(b.shl(v, 31 - top, 64), C.N_BIT)
    z = b.shl(b.setcond("tstz", v, (2 << top) - 1), 30, 64)
    vf = b.and_(b.shl(b.xor(v, b.shr(v, 1, 64), 64), 28 - top, 64), C.V_BIT)
    s.flags_nzcv(b.or_(b.or_(old_c, n, 64), b.or_(z, vf, 64), 64))
    return True


# --- conditional compare and select ----------------------------------------------------------

def trans_CCMP(s: DisasContext, a) -> bool:
    """CCMP/CCMN: flags of rn -/+ y if cond holds, else the immediate nzcv."""
    b = s.b
    n = s.x(a.rn, a.sf)
    m = a.y if a.imm else s.x(a.y, a.sf)
    setf = s.flags_sub if a.op else s.flags_add
    if a.cond >= 14:
        setf(n, m, a.sf)
        return True
    b.if_(*s.test_cc(a.cond))
    setf(n, m, a.sf)
    b.else_()
    s.flags_nzcv(a.nzcv << 28)
    b.endif()
    s.cc = None
    return True


def trans_CSEL(s: DisasContext, a) -> bool:
    """CSEL, CSINC, CSINV, CSNEG: rd = cond ? rn : f(rm)."""
    b = s.b
    w = _w(a.sf)
    n = s.x(a.rn, a.sf)
    if a.cond >= 14:
        s.set_x(a.rd, n)
        return True
    m = s.x(a.rm, a.sf)
    if a.inv and a.inc:
        m = b.neg(m, w)
    elif a.inv:
        m = b.not_(m, w)
    elif a.inc:
        m = b.add(m, 1, w)
    s.set_x(a.rd, _select(s, s.test_cc(a.cond), n, m, w))
    return True


# --- data-processing (2 source) ---------------------------------------------------------------

def _helper2(s: DisasContext, a, h, *extra) -> bool:
    w = _w(a.sf)
    s.set_x(a.rd, s.b.call(h, s.x(a.rn, a.sf), s.x(a.rm, a.sf), *extra, width=w))
    return True


def trans_UDIV(s, a):
    return _helper2(s, a, H.udiv)


def trans_SDIV(s, a):
    return _helper2(s, a, H.sdiv, _w(a.sf))


def _shiftv(s: DisasContext, a, op: str) -> bool:
    """LSLV/LSRV/ASRV/RORV: the amount is Rm modulo the register width."""
    w = _w(a.sf)
    amount = s.b.and_(s.x(a.rm, a.sf), w - 1, w)
    s.set_x(a.rd, getattr(s.b, op)(s.x(a.rn, a.sf), amount, w))
    return True


def trans_LSLV(s, a):
    return _shiftv(s, a, "shl")


def trans_LSRV(s, a):
    return _shiftv(s, a, "shr")


def trans_ASRV(s, a):
    return _shiftv(s, a, "sar")


def trans_RORV(s, a):
    return _shiftv(s, a, "rotr")


def trans_CRC32(s: DisasContext, a) -> bool:
    if a.sf != (a.sz == 3):
        return False
    nbytes = 1 << a.sz
    val = s.x(a.rm, a.sf)
    if nbytes < 4:
        val = s.b.and_(val, (1 << (8 * nbytes)) - 1)
    s.set_x(a.rd, s.b.call(H.crc32c if a.c else H.crc32, s.x(a.rn, 0), val, nbytes, width=32))
    return True


def _minmax(s: DisasContext, a, m) -> None:
    """SMAX/UMAX/SMIN/UMIN (FEAT_CSSC): op bit 0 = unsigned, bit 1 = min."""
    w = _w(a.sf)
    n = s.x(a.rn, a.sf)
    cond = ("ltu" if a.op & 1 else "lt") if a.op & 2 else ("gtu" if a.op & 1 else "gt")
    s.set_x(a.rd, s.b.movcond(cond, n, m, n, m, w))


def trans_MINMAX(s: DisasContext, a) -> bool:
    _minmax(s, a, s.x(a.rm, a.sf))
    return True


def trans_MINMAX_i(s: DisasContext, a) -> bool:
    imm = a.imm
    if not a.op & 1 and imm & 0x80:  # SMAX/SMIN take a signed immediate
        imm = (imm - 0x100) & _mask(a.sf)
    _minmax(s, a, imm)
    return True


# --- data-processing (1 source) ---------------------------------------------------------------

def _helper1(s: DisasContext, a, h, *extra) -> bool:
    s.set_x(a.rd, s.b.call(h, s.x(a.rn, a.sf), *extra, width=_w(a.sf)))
    return True


def trans_RBIT(s, a):
    return _helper1(s, a, H.rbit, _w(a.sf))


def trans_REV16(s, a):
    return _helper1(s, a, H.rev, _w(a.sf), 16)


def trans_REV32(s, a):
    """REV32 (64-bit) or REV (32-bit): bytes reversed in each word."""
    if not a.sf:
        return _helper1(s, a, H.rev_bytes, 4)
    return _helper1(s, a, H.rev, 64, 32)


def trans_REV64(s, a):
    return bool(a.sf) and _helper1(s, a, H.rev_bytes, 8)


def trans_CLZ(s, a):
    return _helper1(s, a, H.clz, _w(a.sf))


def trans_CLS(s: DisasContext, a) -> bool:
    """Leading sign bits (not counting the sign bit) = CLZ of n ^ (n >> 1) over w - 1 bits."""
    b = s.b
    w = _w(a.sf)
    n = s.x(a.rn, a.sf)
    t = b.and_(b.xor(n, b.shr(n, 1, w), w), (1 << (w - 1)) - 1, w)
    s.set_x(a.rd, b.call(H.clz, t, w - 1, width=w))
    return True


def trans_CTZ(s, a):
    return _helper1(s, a, H.ctz, _w(a.sf))


def trans_CNT(s, a):
    return _helper1(s, a, H.cnt)


def trans_ABS(s: DisasContext, a) -> bool:
    w = _w(a.sf)
    n = s.x(a.rn, a.sf)
    s.set_x(a.rd, s.b.movcond("lt", n, 0, s.b.neg(n, w), n, w))
    return True


# --- data-processing (3 source) ---------------------------------------------------------------

def _madd(s: DisasContext, a, sub: bool, ext: str | None = None) -> bool:
    """MADD/MSUB (ext None), SMADDL/SMSUBL (ext "s"), UMADDL/UMSUBL (ext "u")."""
    b = s.b
    w = _w(a.sf)
    if ext is None:
        n, m = s.x(a.rn, a.sf), s.x(a.rm, a.sf)
    else:
        signed = ext == "s"
        n = b.ext(s.x(a.rn), 32, signed, 64)
        m = b.ext(s.x(a.rm), 32, signed, 64)
    p = b.mul(n, m, w)
    acc = s.x(a.ra, a.sf)
    s.set_x(a.rd, b.sub(acc, p, w) if sub else b.add(acc, p, w))
    return True


def trans_MADD(s, a):
    return _madd(s, a, False)


def trans_MSUB(s, a):
    return _madd(s, a, True)


def trans_SMADDL(s, a):
    return _madd(s, a, False, "s")


def trans_SMSUBL(s, a):
    return _madd(s, a, True, "s")


def trans_UMADDL(s, a):
    return _madd(s, a, False, "u")


def trans_UMSUBL(s, a):
    return _madd(s, a, True, "u")


def _mulh(s: DisasContext, a, signed: bool) -> bool:
    """SMULH/UMULH: the high 64 bits of the 128-bit product."""
    b = s.b
    n, m = s.x(a.rn), s.x(a.rm)
    if signed:
        n, m = b.ext(n, 64, True, 128), b.ext(m, 64, True, 128)
    s.set_x(a.rd, b.shr(b.mul(n, m, 128), 64, 128))
    return True


def trans_SMULH(s, a):
    return _mulh(s, a, True)


def trans_UMULH(s, a):
    return _mulh(s, a, False)
