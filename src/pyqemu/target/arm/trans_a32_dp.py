"""AArch32 data processing (A32, T32 and T16 encodings share these trans_ functions).

Covers DP immediate / register / register-shifted register (AND...MVN, ORN), MOVW/MOVT,
the multiplies (MUL/MLA/MLS, long multiplies, halfword multiplies), SDIV/UDIV, CLZ,
REV/REV16/REVSH/RBIT, extends, bitfields, MRS/MSR (APSR), hints and Thumb IT.
The media group (saturation, parallel add/sub, SEL, USAD8, pack, dual multiplies)
is in trans_a32_dp_media.py.

Common ops are inline IR; helpers only for CLZ, RBIT and division.
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_a64_int as H64
from pyqemu.target.arm.translate32 import (
    CF,
    GLOBALS,
    NF,
    SHIFT_ASR,
    SHIFT_LSL,
    SHIFT_LSR,
    ZF,
    DisasContext32,
)

M32 = C.M32
M64 = C.M64
QF = GLOBALS[C.REG_QF]
GE = GLOBALS[C.REG_GE]


# --- decoder field functions ---------------------------------------------------------------

def ex_dp_times_2(s: DisasContext32, x: int) -> int:
    return x * 2


def ex_dp_times_4(s: DisasContext32, x: int) -> int:
    return x * 4


def ex_dp_t32_expandimm_imm(s: DisasContext32, x: int) -> int:
    """ThumbExpandImm of i:imm3:imm8, before its rotation (see ex_dp_t32_expandimm_rot)."""
    imm = x & 0xFF
    kind = (x >> 8) & 0xF
    if kind == 0:
        return imm
    if kind == 1:
        return imm * 0x00010001
    if kind == 2:
        return imm * 0x01000100
    if kind == 3:
        return imm * 0x01010101
    return (x & 0x7F) | 0x80


def ex_dp_t32_expandimm_rot(s: DisasContext32, x: int) -> int:
    """The rotation of ThumbExpandImm (0 for the replicated-byte forms)."""
    return (x >> 7) & 0x1F if x & 0xC00 else 0


def ex_dp_t16_setflags(s: DisasContext32, x: int) -> int:
    """16-bit Thumb data processing sets the flags only outside an IT block."""
    return 0 if s.in_it else 1


# T32 parallel add/sub: hw1 op1 -> the A32 op2 code (5: unallocated).
_T32_PAROP = {0b001: 0, 0b010: 1, 0b110: 2, 0b101: 3, 0b000: 4, 0b100: 7}


def ex_dp_t32_parop(s: DisasContext32, x: int) -> int:
    return _T32_PAROP.get(x, 5)


def ex_dp_t32_park(s: DisasContext32, x: int) -> int:
    """T32 U:op2 (hw2 bits 6..4) -> the A32 op1 code (1 S, 2 Q, 3 SH, 5 U, 6 UQ, 7 UH)."""
    op2 = x & 3
    if op2 == 3:
        return 0
    return (x & 4) | (op2 + 1)


def ror32(x: int, n: int) -> int:
    n &= 31
    return ((x >> n) | (x << (32 - n))) & M32 if n else x


# --- operand 2 -------------------------------------------------------------------------------

def _op2_shi(s: DisasContext32, a, carry: bool):
    return s.shift_imm(s.reg(a.rm), a.shty, a.shim, carry)


def _shift_reg_carry(s: DisasContext32, val, shty: int, rs):
    """``val`` shifted by the bottom byte of ``rs``, with the shifter's carry out, inline
    (C unchanged for a zero amount): ``(result, carry)``."""
    b = s.b
    val = s.tmp_copy(val)
    amt = b.and_(rs, 0xFF, 32)
    if shty == SHIFT_LSL:
        t = b.shl(val, amt, 64)
        r = b.and_(t, M32, 64)
        c = b.and_(b.shr(t, 32, 64), 1, 64)
    elif shty == SHIFT_LSR:
        r = b.shr(val, amt, 32)
        c = b.and_(b.shr(b.shl(val, 1, 64), amt, 64), 1, 64)
    elif shty == SHIFT_ASR:
        sv = b.ext(val, 32, True, 64)
        r = b.and_(b.sar(sv, amt, 64), M32, 64)
        c = b.and_(b.sar(b.shl(sv, 1, 64), amt, 64), 1, 64)
    else:
        r = b.rotr(val, b.and_(amt, 31, 32), 32)
        c = b.shr(r, 31, 32)
    return r, b.movcond("eq", amt, 0, CF, c, 32)


def _op2_shr(s: DisasContext32, a, carry: bool):
    if carry:
        return _shift_reg_carry(s, s.reg(a.rm), a.shty, s.reg(a.rs))
    return s.shift_reg(s.reg(a.rm), a.shty, s.reg(a.rs), False)


def _op2_imm(s: DisasContext32, a, carry: bool):
    imm = ror32(a.imm, a.rot)
    return imm, (imm >> 31 if carry and a.rot else None)


# --- the sixteen (+ORN) data-processing operations -----------------------------------------

_LOGIC: dict[str, Callable] = {
    "AND": lambda b, n, v: b.and_(n, v, 32),
    "EOR": lambda b, n, v: b.xor(n, v, 32),
    "ORR": lambda b, n, v: b.or_(n, v, 32),
    "ORN": lambda b, n, v: b.orc(n, v, 32),
    "BIC": lambda b, n, v: b.andc(n, v, 32),
    "MOV": lambda b, n, v: v,
    "MVN": lambda b, n, v: b.xor(v, M32, 32),
    "TST": lambda b, n, v: b.and_(n, v, 32),
    "TEQ": lambda b, n, v: b.xor(n, v, 32),
}
_ARITH = ("ADD", "ADC", "SUB", "SBC", "RSB", "RSC", "CMP", "CMN")
_NO_RD = ("TST", "TEQ", "CMP", "CMN")
_NO_RN = ("MOV", "MVN")


def _arith(s: DisasContext32, op: str, n, v, sf: bool):
    b = s.b
    if op in ("RSB", "RSC"):
        n, v = v, n
        op = "SUB" if op == "RSB" else "SBC"
    if op == "CMP":
        op = "SUB"
    elif op == "CMN":
        op = "ADD"
    if op == "ADD":
        return s.add_flags(n, v) if sf else b.add(n, v, 32)
    if op == "ADC":
        return s.add_flags(n, v, CF) if sf else b.add(b.add(n, v, 32), CF, 32)
    if op == "SUB":
        return s.sub_flags(n, v) if sf else b.sub(n, v, 32)
    # SBC: n + NOT(v) + C
    return s.sbc_flags(n, v) if sf else b.add(b.add(n, b.xor(v, M32, 32), 32), CF, 32)


def _mk_dp(op: str, op2fn: Callable, imm: bool) -> Callable:
    logic = _LOGIC.get(op)
    writes = op not in _NO_RD
    reads_rn = op not in _NO_RN

    def trans(s: DisasContext32, a) -> bool:
        sf = bool(a.s)
        if sf and writes and a.rd == 15:
            # ALUExceptionReturn: UNPREDICTABLE in User mode; QEMU chooses UNDEF.
            return False
        if logic is not None:
            v, c = op2fn(s, a, sf)
            n = s.reg(a.rn) if reads_rn else 0
            r = logic(s.b, n, v)
            if sf:
                s.flags_logic(r, c)
        else:
            v, _ = op2fn(s, a, False)
            # Immediate forms read PC word-aligned (Thumb ADR / ADD rd, pc, #imm).
            n = s.reg_aligned_pc(a.rn) if imm else s.reg(a.rn)
            r = _arith(s, op, n, v, sf)
        if writes:
            s.set_reg(a.rd, r)
        return True

    trans.__name__ = f"trans_{op}"
    return trans


for _op in list(_LOGIC) + list(_ARITH):
    globals()[f"trans_{_op}_rrri"] = _mk_dp(_op, _op2_shi, False)
    globals()[f"trans_{_op}_rrrr"] = _mk_dp(_op, _op2_shr, False)
    globals()[f"trans_{_op}_rri"] = _mk_dp(_op, _op2_imm, True)
del _op


def trans_MOVW(s: DisasContext32, a) -> bool:
    s.set_reg(a.rd, a.imm)
    return True


def trans_MOVT(s: DisasContext32, a) -> bool:
    b = s.b
    s.set_reg(a.rd, b.or_(b.and_(s.reg(a.rd), 0xFFFF, 32), a.imm << 16, 32))
    return True


# --- multiplies ------------------------------------------------------------------------------

def trans_MLA(s: DisasContext32, a) -> bool:
    """MUL / MLA (Ra = 15: MUL)."""
    b = s.b
    r = b.mul(s.reg(a.rn), s.reg(a.rm), 32)
    if a.ra != 15:
        r = b.add(r, s.reg(a.ra), 32)
    if a.s:
        s.set_nz(r)
    s.set_reg(a.rd, r)
    return True


def trans_MLS(s: DisasContext32, a) -> bool:
    b = s.b
    s.set_reg(a.rd, b.sub(s.reg(a.ra), b.mul(s.reg(a.rn), s.reg(a.rm), 32), 32))
    return True


def _acc64(s: DisasContext32, a):
    b = s.b
    return b.or_(b.shl(s.reg(a.rdhi), 32, 64), s.reg(a.rdlo), 64)


def _store64(s: DisasContext32, a, p, sf: bool = False) -> None:
    b = s.b
    lo = b.and_(p, M32, 64)
    hi = b.shr(p, 32, 64)
    if sf:
        b.mov(NF, hi)
        b.mov(ZF, b.or_(lo, hi, 32))
    s.set_reg(a.rdlo, lo)
    s.set_reg(a.rdhi, hi)


def _long(s: DisasContext32, a, signed: bool, acc: bool) -> bool:
    b = s.b
    n, m = s.reg(a.rn), s.reg(a.rm)
    if signed:
        n = b.ext(n, 32, True, 64)
        m = b.ext(m, 32, True, 64)
    p = b.mul(n, m, 64)
    if acc:
        p = b.add(p, _acc64(s, a), 64)
    _store64(s, a, p, bool(a.s))
    return True


def trans_UMULL(s: DisasContext32, a) -> bool:
    return _long(s, a, False, False)


def trans_SMULL(s: DisasContext32, a) -> bool:
    return _long(s, a, True, False)


def trans_UMLAL(s: DisasContext32, a) -> bool:
    return _long(s, a, False, True)


def trans_SMLAL(s: DisasContext32, a) -> bool:
    return _long(s, a, True, True)


def trans_UMAAL(s: DisasContext32, a) -> bool:
    b = s.b
    p = b.mul(s.reg(a.rn), s.reg(a.rm), 64)
    p = b.add(b.add(p, s.reg(a.rdlo), 64), s.reg(a.rdhi), 64)
    _store64(s, a, p)
    return True


def _half(s: DisasContext32, v, top: int):
    """The top or bottom halfword of ``v`` sign-extended to 32 bits."""
    return s.b.sar(v, 16, 32) if top else s.b.ext(v, 16, True, 32)


def _add_q(s: DisasContext32, p, acc):
    """``p + acc`` (32-bit), setting Q on signed overflow."""
    b = s.b
    p = s.tmp_copy(p)
    acc = s.tmp_copy(acc)
    r = b.add(p, acc, 32)
    ovf = b.shr(b.and_(b.xor(p, r, 32), b.xor(acc, r, 32), 32), 31, 32)
    b.mov(QF, b.or_(QF, ovf, 32))
    return r


def trans_SMLAxy(s: DisasContext32, a) -> bool:
    """SMLA<x><y> (Ra = 15: SMUL<x><y>)."""
    b = s.b
    p = b.mul(_half(s, s.reg(a.rn), a.nt), _half(s, s.reg(a.rm), a.mt), 32)
    if a.ra != 15:
        p = _add_q(s, p, s.reg(a.ra))
    s.set_reg(a.rd, p)
    return True


def trans_SMLAWy(s: DisasContext32, a) -> bool:
    """SMLAW<y> (Ra = 15: SMULW<y>): (Rn * Rm.half) >> 16."""
    b = s.b
    n = b.ext(s.reg(a.rn), 32, True, 64)
    m = b.ext(_half(s, s.reg(a.rm), a.mt), 32, True, 64)
    p = b.and_(b.sar(b.mul(n, m, 64), 16, 64), M32, 32)
    if a.ra != 15:
        p = _add_q(s, p, s.reg(a.ra))
    s.set_reg(a.rd, p)
    return True


def trans_SMLALxy(s: DisasContext32, a) -> bool:
    b = s.b
    p = b.mul(_half(s, s.reg(a.rn), a.nt), _half(s, s.reg(a.rm), a.mt), 32)
    p = b.add(b.ext(p, 32, True, 64), _acc64(s, a), 64)
    _store64(s, a, p)
    return True


def trans_SDIV(s: DisasContext32, a) -> bool:
    s.set_reg(a.rd, s.b.call(H64.sdiv, s.reg(a.rn), s.reg(a.rm), 32, width=32))
    return True


def trans_UDIV(s: DisasContext32, a) -> bool:
    s.set_reg(a.rd, s.b.call(H64.udiv, s.reg(a.rn), s.reg(a.rm), width=32))
    return True


def trans_CRC32(s: DisasContext32, a) -> bool:
    """CRC32{C}B/H/W: Rd = CRC of the low 1/2/4 bytes of Rm, accumulated onto Rn (no
    initial or final inversion, bit-reflected), as the A64 instructions."""
    if a.sz == 3:
        return False
    nbytes = 1 << a.sz
    val = s.reg(a.rm)
    if nbytes < 4:
        val = s.b.and_(val, (1 << (8 * nbytes)) - 1)
    fn = H64.crc32c if a.c else H64.crc32
    s.set_reg(a.rd, s.b.call(fn, s.reg(a.rn), val, nbytes, width=32))
    return True


# --- bit operations --------------------------------------------------------------------------

def trans_CLZ(s: DisasContext32, a) -> bool:
    s.set_reg(a.rd, s.b.call(H64.clz, s.reg(a.rm), 32, width=32))
    return True


def trans_RBIT(s: DisasContext32, a) -> bool:
    s.set_reg(a.rd, s.b.call(H64.rbit, s.reg(a.rm), 32, width=32))
    return True


def trans_REV(s: DisasContext32, a) -> bool:
    b = s.b
    m = s.tmp_copy(s.reg(a.rm))
    lo = b.or_(b.shl(b.and_(m, 0xFF, 32), 24, 32), b.shl(b.and_(m, 0xFF00, 32), 8, 32), 32)
    hi = b.or_(b.and_(b.shr(m, 8, 32), 0xFF00, 32), b.shr(m, 24, 32), 32)
    s.set_reg(a.rd, b.or_(lo, hi, 32))
    return True


def trans_REV16(s: DisasContext32, a) -> bool:
    b = s.b
    m = s.tmp_copy(s.reg(a.rm))
    r = b.or_(b.shl(b.and_(m, 0x00FF00FF, 32), 8, 32), b.and_(b.shr(m, 8, 32), 0x00FF00FF, 32), 32)
    s.set_reg(a.rd, r)
    return True


def trans_REVSH(s: DisasContext32, a) -> bool:
    b = s.b
    m = s.tmp_copy(s.reg(a.rm))
    r = b.or_(b.shl(b.and_(m, 0xFF, 32), 8, 32), b.and_(b.shr(m, 8, 32), 0xFF, 32), 32)
    s.set_reg(a.rd, b.ext(r, 16, True, 32))
    return True


def _rotated(s: DisasContext32, a):
    m = s.reg(a.rm)
    return s.b.rotr(m, a.rot * 8, 32) if a.rot else m


def _extend(s: DisasContext32, a, bits: int, signed: bool) -> bool:
    b = s.b
    v = _rotated(s, a)
    v = b.ext(v, bits, True, 32) if signed else b.and_(v, (1 << bits) - 1, 32)
    if a.rn != 15:
        v = b.add(s.reg(a.rn), v, 32)
    s.set_reg(a.rd, v)
    return True


def trans_SXTAB(s: DisasContext32, a) -> bool:
    """SXTAB (Rn = 15: SXTB)."""
    return _extend(s, a, 8, True)


def trans_UXTAB(s: DisasContext32, a) -> bool:
    return _extend(s, a, 8, False)


def trans_SXTAH(s: DisasContext32, a) -> bool:
    return _extend(s, a, 16, True)


def trans_UXTAH(s: DisasContext32, a) -> bool:
    return _extend(s, a, 16, False)


def trans_UBFX(s: DisasContext32, a) -> bool:
    width = a.widthm1 + 1
    if a.lsb + width > 32:
        return False
    b = s.b
    v = s.reg(a.rn)
    if a.lsb:
        v = b.shr(v, a.lsb, 32)
    s.set_reg(a.rd, b.and_(v, (1 << width) - 1, 32) if width < 32 else v)
    return True


def trans_SBFX(s: DisasContext32, a) -> bool:
    width = a.widthm1 + 1
    if a.lsb + width > 32:
        return False
    b = s.b
    v = s.reg(a.rn)
    up = 32 - a.lsb - width
    if up:
        v = b.shl(v, up, 32)
    if width < 32:
        v = b.sar(v, 32 - width, 32)
    s.set_reg(a.rd, v)
    return True


def trans_BFI(s: DisasContext32, a) -> bool:
    """BFI (Rn = 15: BFC)."""
    if a.msb < a.lsb:
        return False
    b = s.b
    mask = ((1 << (a.msb - a.lsb + 1)) - 1) << a.lsb
    d = b.andc(s.reg(a.rd), mask, 32)
    if a.rn != 15:
        d = b.or_(d, b.and_(b.shl(s.reg(a.rn), a.lsb, 32), mask, 32), 32)
    s.set_reg(a.rd, d)
    return True


# --- status registers, hints, IT ---------------------------------------------------------------

def trans_MRS(s: DisasContext32, a) -> bool:
    """MRS Rd, APSR (CPSR as User mode reads it: NZCVQ, GE, mode USR)."""
    if a.r:
        return False  # SPSR: UNPREDICTABLE in User mode
    b = s.b
    v = b.or_(s.get_nzcv(), b.shl(QF, 27, 32), 32)
    v = b.or_(v, b.shl(GE, C.CPSR_GE_SHIFT, 32), 32)
    s.set_reg(a.rd, b.or_(v, C.MODE_USR, 32))
    return True


def _msr(s: DisasContext32, val, mask: int) -> None:
    b = s.b
    val = s.tmp_copy(val)
    if mask & 8:  # f: N, Z, C, V, Q
        s.set_nzcv(val)
        b.mov(QF, b.and_(b.shr(val, 27, 32), 1, 32))
    if mask & 4:  # s: GE
        b.mov(GE, b.and_(b.shr(val, C.CPSR_GE_SHIFT, 32), 0xF, 32))
    # x and c (the rest of the CPSR) are not writable from User mode: ignored.


def trans_MSR_reg(s: DisasContext32, a) -> bool:
    if a.r or not a.mask:
        return False
    _msr(s, s.reg(a.rn), a.mask)
    return True


def trans_MSR_imm(s: DisasContext32, a) -> bool:
    if a.r or not a.mask:
        return False
    _msr(s, ror32(a.imm, a.rot), a.mask)
    return True


def trans_NOP(s: DisasContext32, a) -> bool:
    return True


trans_YIELD = trans_WFE = trans_WFI = trans_SEV = trans_SEVL = trans_NOP


def trans_IT(s: DisasContext32, a) -> bool:
    """IT: ITSTATE = firstcond:mask; the driver applies and advances it."""
    s.itstate = a.cond_mask & 0xFF
    return True
