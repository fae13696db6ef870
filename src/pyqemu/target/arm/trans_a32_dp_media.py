"""AArch32 media-style data processing (A32 and T32 share these trans_ functions):
saturating arithmetic (QADD..QDSUB, SSAT/USAT, SSAT16/USAT16), parallel add/sub,
SEL, USAD8/USADA8, PKHBT/PKHTB, SXTB16/UXTB16 (+accumulate) and the dual and
most-significant-word multiplies (SMUAD..SMLSLD, SMMUL/SMMLA/SMMLS).
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_a32_int as HI
from pyqemu.target.arm.translate32 import GLOBALS, DisasContext32

M32 = C.M32
QF = GLOBALS[C.REG_QF]
GE = GLOBALS[C.REG_GE]


def _with_q(s: DisasContext32, t):
    """Split a helper's ``result | Q << 32``: OR Q into the sticky flag, return the result."""
    b = s.b
    t = s.tmp_copy(t)
    b.mov(QF, b.or_(QF, b.shr(t, 32, 64), 32))
    return b.and_(t, M32, 64)


def _q(s: DisasContext32, a, op: int) -> bool:
    t = s.b.call(HI.qaddsub, s.reg(a.rm), s.reg(a.rn), op)
    s.set_reg(a.rd, _with_q(s, t))
    return True


def trans_QADD(s: DisasContext32, a) -> bool:
    return _q(s, a, 0)


def trans_QSUB(s: DisasContext32, a) -> bool:
    return _q(s, a, 1)


def trans_QDADD(s: DisasContext32, a) -> bool:
    return _q(s, a, 2)


def trans_QDSUB(s: DisasContext32, a) -> bool:
    return _q(s, a, 3)


def _sat_operand(s: DisasContext32, a):
    b = s.b
    n = s.reg(a.rn)
    if a.sh:
        return b.sar(n, min(a.imm or 32, 31), 32)
    return b.shl(n, a.imm, 32) if a.imm else n


def trans_SSAT(s: DisasContext32, a) -> bool:
    t = s.b.call(HI.ssat, _sat_operand(s, a), a.satimm + 1)
    s.set_reg(a.rd, _with_q(s, t))
    return True


def trans_USAT(s: DisasContext32, a) -> bool:
    t = s.b.call(HI.usat, _sat_operand(s, a), a.satimm)
    s.set_reg(a.rd, _with_q(s, t))
    return True


def trans_SSAT16(s: DisasContext32, a) -> bool:
    t = s.b.call(HI.sat16, s.reg(a.rn), a.satimm + 1, 0)
    s.set_reg(a.rd, _with_q(s, t))
    return True


def trans_USAT16(s: DisasContext32, a) -> bool:
    t = s.b.call(HI.sat16, s.reg(a.rn), a.satimm, 1)
    s.set_reg(a.rd, _with_q(s, t))
    return True


def trans_PAR(s: DisasContext32, a) -> bool:
    """Parallel add/sub: ``a.op`` and ``a.kind`` use the A32 op2/op1 codes."""
    if a.op in (5, 6) or a.kind & 3 == 0:
        return False
    b = s.b
    t = s.tmp_copy(b.call(HI.parallel, s.reg(a.rn), s.reg(a.rm), a.op, a.kind))
    if a.kind & 3 == 1:
        b.mov(GE, b.shr(t, 32, 64))
    s.set_reg(a.rd, b.and_(t, M32, 64))
    return True


def trans_SEL(s: DisasContext32, a) -> bool:
    s.set_reg(a.rd, s.b.call(HI.sel, s.reg(a.rn), s.reg(a.rm), GE, width=32))
    return True


def trans_USADA8(s: DisasContext32, a) -> bool:
    """USADA8 (Ra = 15: USAD8)."""
    acc = 0 if a.ra == 15 else s.reg(a.ra)
    s.set_reg(a.rd, s.b.call(HI.usad8, s.reg(a.rn), s.reg(a.rm), acc, width=32))
    return True


def trans_PKH(s: DisasContext32, a) -> bool:
    b = s.b
    n, m = s.reg(a.rn), s.reg(a.rm)
    if a.tb:  # PKHTB: top from Rn, bottom from Rm ASR #imm (0 means 32)
        lo = b.and_(b.sar(m, min(a.imm or 32, 31), 32), 0xFFFF, 32)
        r = b.or_(b.and_(n, 0xFFFF0000, 32), lo, 32)
    else:  # PKHBT: bottom from Rn, top from Rm LSL #imm
        hi = b.and_(b.shl(m, a.imm, 32) if a.imm else m, 0xFFFF0000, 32)
        r = b.or_(b.and_(n, 0xFFFF, 32), hi, 32)
    s.set_reg(a.rd, r)
    return True


def _xtb16(s: DisasContext32, a, signed: int) -> bool:
    b = s.b
    m = s.reg(a.rm)
    if a.rot:
        m = b.rotr(m, a.rot * 8, 32)
    if not signed and a.rn == 15:
        s.set_reg(a.rd, b.and_(m, 0x00FF00FF, 32))
        return True
    n = 0 if a.rn == 15 else s.reg(a.rn)
    s.set_reg(a.rd, b.call(HI.xtb16, m, n, signed, int(a.rn != 15), width=32))
    return True


def trans_SXTAB16(s: DisasContext32, a) -> bool:
    """SXTAB16 (Rn = 15: SXTB16)."""
    return _xtb16(s, a, 1)


def trans_UXTAB16(s: DisasContext32, a) -> bool:
    return _xtb16(s, a, 0)


def _dual(s: DisasContext32, a, sub: int) -> bool:
    acc = 0 if a.ra == 15 else s.reg(a.ra)
    t = s.b.call(HI.smlad, s.reg(a.rn), s.reg(a.rm), acc, a.m, sub)
    s.set_reg(a.rd, _with_q(s, t))
    return True


def trans_SMLAD(s: DisasContext32, a) -> bool:
    """SMLAD/SMLADX (Ra = 15: SMUAD/SMUADX)."""
    return _dual(s, a, 0)


def trans_SMLSD(s: DisasContext32, a) -> bool:
    """SMLSD/SMLSDX (Ra = 15: SMUSD/SMUSDX)."""
    return _dual(s, a, 1)


def _dual_long(s: DisasContext32, a, sub: int) -> bool:
    b = s.b
    acc = b.or_(b.shl(s.reg(a.rdhi), 32, 64), s.reg(a.rdlo), 64)
    p = s.tmp_copy(b.call(HI.smlald, s.reg(a.rn), s.reg(a.rm), acc, a.m, sub))
    lo = b.and_(p, M32, 64)
    hi = b.shr(p, 32, 64)
    s.set_reg(a.rdlo, lo)
    s.set_reg(a.rdhi, hi)
    return True


def trans_SMLALD(s: DisasContext32, a) -> bool:
    return _dual_long(s, a, 0)


def trans_SMLSLD(s: DisasContext32, a) -> bool:
    return _dual_long(s, a, 1)


def _smm(s: DisasContext32, a, sub: bool) -> bool:
    b = s.b
    p = b.mul(b.ext(s.reg(a.rn), 32, True, 64), b.ext(s.reg(a.rm), 32, True, 64), 64)
    if a.ra != 15:
        acc = b.shl(s.reg(a.ra), 32, 64)
        p = b.sub(acc, p, 64) if sub else b.add(acc, p, 64)
    elif sub:
        p = b.neg(p, 64)
    if a.m:  # round
        p = b.add(p, 0x80000000, 64)
    s.set_reg(a.rd, b.shr(p, 32, 64))
    return True


def trans_SMMLA(s: DisasContext32, a) -> bool:
    """SMMLA/SMMLAR (Ra = 15: SMMUL/SMMULR)."""
    return _smm(s, a, False)


def trans_SMMLS(s: DisasContext32, a) -> bool:
    return _smm(s, a, True)
