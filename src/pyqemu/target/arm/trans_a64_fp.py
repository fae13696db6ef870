"""A64 scalar floating point: arithmetic, compares, selects, conversions.

Semantics live in :mod:`helper_fp` (bit patterns in, ``bits | flags << 64``
out); this module decodes operand sizes and emits the calls. Moves, absolute
value, negation and selects are inline IR. A scalar write zeroes the rest of
the vector register.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm.translate import DisasContext
from pyqemu.tcg.ir import Helper

W = 256  # IR width of helper results carrying FPSR flags above the value
ESZ = {0: 2, 1: 3, 3: 1}  # ftype -> log2 of the element size in bytes
EMASK = {0: 0xFF, 1: 0xFFFF, 2: C.M32, 3: C.M64}
SIGN = {1: 0x8000, 2: 0x80000000, 3: 0x8000000000000000}
M128 = (1 << 128) - 1


def fph(fn, name: str) -> Helper:
    """A helper_fp function as an IR helper (pure: no side effects)."""
    return Helper(fn, "h_fp_" + name, pure=True)


H_ADD = fph(F.add, "add")
H_SUB = fph(F.sub, "sub")
H_MUL = fph(F.mul, "mul")
H_DIV = fph(F.div, "div")
H_MAX = fph(F.fmax, "max")
H_MIN = fph(F.fmin, "min")
H_MAXNM = fph(F.fmaxnm, "maxnm")
H_MINNM = fph(F.fminnm, "minnm")
H_NMUL = fph(F.nmul, "nmul")
H_SQRT = fph(F.sqrt, "sqrt")
H_FMA = fph(F.muladd, "fma")
H_CMP = fph(F.fcmp, "cmp")
H_CVT = fph(F.convert, "cvt")
H_RINT = fph(F.round_int, "rint")
H_TOINT = fph(F.to_int, "toint")
H_FROMINT = fph(F.from_int, "fromint")


def fpcr(s: DisasContext):
    return s.g(C.REG_FPCR)


def fpsr(s: DisasContext):
    """FPSR as a helper argument: FP helpers skip their inexact test once IXC is set."""
    return s.g(C.REG_FPSR)


def fpsr_or(s: DisasContext, t, sh: int) -> None:
    """FPSR |= the flag bits above bit `sh` of helper result `t`."""
    b = s.b
    g = s.g(C.REG_FPSR)
    b.mov(g, b.or_(g, b.shr(t, sh, W), 64))


def fp_result(s: DisasContext, rd: int, t, esz: int, sh: int = 64) -> None:
    """Write the element in the low bits of `t` to Vd (upper bits zeroed) and merge its flags."""
    s.set_v(rd, s.b.and_(t, EMASK[esz], W))
    fpsr_or(s, t, sh)


def vfp_expand_imm(imm8: int, esz: int) -> int:
    """VFPExpandImm: the 8-bit FP immediate as a half/single/double bit pattern."""
    ebits = {1: 5, 2: 8, 3: 11}[esz]
    fbits = (8 << esz) - ebits - 1
    sign = imm8 >> 7
    b6 = (imm8 >> 6) & 1
    exp = ((b6 ^ 1) << (ebits - 1)) | ((((1 << (ebits - 3)) - 1) if b6 else 0) << 2) | ((imm8 >> 4) & 3)
    frac = (imm8 & 0xF) << (fbits - 4)
    return (sign << (8 << esz) - 1) | (exp << fbits) | frac


# --- data-processing (2 source) --------------------------------------------------------

def _fp2(h: Helper):
    def trans(s: DisasContext, a) -> bool:
        esz = ESZ.get(a.ft)
        if esz is None:
            return False
        t = s.b.call(h, s.v(a.rn), s.v(a.rm), fpcr(s), esz, fpsr(s), width=W)
        fp_result(s, a.rd, t, esz)
        return True
    return trans


trans_FADD_s = _fp2(H_ADD)
trans_FSUB_s = _fp2(H_SUB)
trans_FMUL_s = _fp2(H_MUL)
trans_FDIV_s = _fp2(H_DIV)
trans_FMAX_s = _fp2(H_MAX)
trans_FMIN_s = _fp2(H_MIN)
trans_FMAXNM_s = _fp2(H_MAXNM)
trans_FMINNM_s = _fp2(H_MINNM)
trans_FNMUL_s = _fp2(H_NMUL)


# --- data-processing (1 source) --------------------------------------------------------

def trans_FMOV_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    s.set_v(a.rd, s.b.and_(s.v(a.rn), EMASK[esz], 128))
    return True


def trans_FABS_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    s.set_v(a.rd, s.b.and_(s.v(a.rn), EMASK[esz] ^ SIGN[esz], 128))
    return True


def trans_FNEG_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    b = s.b
    s.set_v(a.rd, b.xor(b.and_(s.v(a.rn), EMASK[esz], 128), SIGN[esz], 128))
    return True


def trans_FSQRT_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    t = s.b.call(H_SQRT, s.v(a.rn), fpcr(s), esz, fpsr(s), width=W)
    fp_result(s, a.rd, t, esz)
    return True


def trans_FCVT_s(s: DisasContext, a) -> bool:
    src, dst = ESZ.get(a.ft), ESZ.get(a.to)
    if src is None or dst is None or src == dst:
        return False
    t = s.b.call(H_CVT, s.v(a.rn), fpcr(s), src, dst, -1, width=W)
    fp_result(s, a.rd, t, dst)
    return True


# FRINT<x>: opcode<2:0> -> (rounding mode, -1 = FPCR; exact = FRINTX)
_FRINT = {0: (F.RN, False), 1: (F.RP, False), 2: (F.RM, False), 3: (F.RZ, False),
          4: (F.RA, False), 6: (-1, True), 7: (-1, False)}


def trans_FRINT_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None or a.rm not in _FRINT:
        return False
    rm, exact = _FRINT[a.rm]
    t = s.b.call(H_RINT, s.v(a.rn), fpcr(s), esz, rm, exact, width=W)
    fp_result(s, a.rd, t, esz)
    return True


# --- data-processing (3 source) --------------------------------------------------------

def trans_FMADD_s(s: DisasContext, a) -> bool:
    """FMADD/FMSUB/FNMADD/FNMSUB: the operand negations come first (ARM pseudocode)."""
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    b = s.b
    n, m, ra = s.v(a.rn), s.v(a.rm), s.v(a.ra)
    if a.o1:
        ra = b.xor(ra, SIGN[esz], 128)
    if a.o0 != a.o1:
        n = b.xor(n, SIGN[esz], 128)
    t = b.call(H_FMA, ra, n, m, fpcr(s), esz, fpsr(s), width=W)
    fp_result(s, a.rd, t, esz)
    return True


# --- compares, selects, immediates --------------------------------------------------------

def trans_FCMP_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    m = 0 if a.z else s.v(a.rm)
    t = s.b.call(H_CMP, s.v(a.rn), m, fpcr(s), esz, bool(a.e), width=W)
    s.flags_nzcv(s.b.and_(t, 0xF0000000, W))
    fpsr_or(s, t, 32)
    return True


def trans_FCCMP_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    b = s.b
    cond = s.test_cc(a.cond)
    res = s.block.new_temp(64)
    b.if_(*cond)
    t = b.call(H_CMP, s.v(a.rn), s.v(a.rm), fpcr(s), esz, bool(a.e), width=W)
    b.mov(res, b.and_(t, 0xF0000000, W))
    fpsr_or(s, t, 32)
    b.else_()
    b.mov(res, a.nzcv << 28)
    b.endif()
    s.flags_nzcv(res)
    return True


def trans_FCSEL_s(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    b = s.b
    mask = EMASK[esz]
    n = b.and_(s.v(a.rn), mask, 128)
    m = b.and_(s.v(a.rm), mask, 128)
    c = s.test_cc(a.cond)
    s.set_v(a.rd, b.movcond(c[0], c[1], c[2], n, m, c[3]))
    return True


def trans_FMOV_si(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    s.set_v(a.rd, vfp_expand_imm(a.imm, esz))
    return True


# --- conversions ------------------------------------------------------------------------

_RMODES = (F.RN, F.RP, F.RM, F.RZ, F.RA)


def trans_FCVT_toint(s: DisasContext, a) -> bool:
    """FCVT{N,P,M,Z,A}{S,U} to a general register."""
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    bits = 64 if a.sf else 32
    t = s.b.call(H_TOINT, s.v(a.rn), fpcr(s), esz, _RMODES[a.rmode], not a.u, bits, 0, width=W)
    s.set_x(a.rd, s.b.and_(t, C.M64 if a.sf else C.M32, W))
    fpsr_or(s, t, 64)
    return True


trans_FCVTA_toint = trans_FCVT_toint


def trans_CVTF_int(s: DisasContext, a) -> bool:
    """SCVTF/UCVTF from a general register."""
    esz = ESZ.get(a.ft)
    if esz is None:
        return False
    bits = 64 if a.sf else 32
    t = s.b.call(H_FROMINT, s.x(a.rn, a.sf), fpcr(s), esz, not a.u, bits, 0, -1, width=W)
    fp_result(s, a.rd, t, esz)
    return True


def trans_FCVTZ_fix(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None or (not a.sf and a.scale < 32):
        return False
    bits = 64 if a.sf else 32
    t = s.b.call(H_TOINT, s.v(a.rn), fpcr(s), esz, F.RZ, not a.u, bits, 64 - a.scale, width=W)
    s.set_x(a.rd, s.b.and_(t, C.M64 if a.sf else C.M32, W))
    fpsr_or(s, t, 64)
    return True


def trans_CVTF_fix(s: DisasContext, a) -> bool:
    esz = ESZ.get(a.ft)
    if esz is None or (not a.sf and a.scale < 32):
        return False
    bits = 64 if a.sf else 32
    t = s.b.call(H_FROMINT, s.x(a.rn, a.sf), fpcr(s), esz, not a.u, bits, 64 - a.scale, -1, width=W)
    fp_result(s, a.rd, t, esz)
    return True


def trans_FMOV_gen(s: DisasContext, a) -> bool:
    """FMOV between a general register and (part of) a vector register."""
    b = s.b
    if a.rmode == 1:  # the top half: FMOV Xd, Vn.D[1] / FMOV Vd.D[1], Xn
        if not (a.sf and a.ft == 2):
            return False
        if a.u:
            v = s.v(a.rd)
            s.set_v(a.rd, b.or_(b.and_(v, C.M64, 128), b.shl(s.x(a.rn), 64, 128), 128))
        else:
            s.set_x(a.rd, b.shr(s.v(a.rn), 64, 128))
        return True
    if a.rmode != 0:
        return False
    if a.ft == 3:  # half precision, either register width
        esz = 1
    elif a.ft == a.sf:  # S <-> W, D <-> X
        esz = 2 + a.sf
    else:
        return False
    if a.u:  # general -> vector
        s.set_v(a.rd, b.and_(s.x(a.rn), EMASK[esz], 64))
    else:
        s.set_x(a.rd, b.and_(s.v(a.rn), EMASK[esz], 128))
    return True
