"""AArch32 VFP (VFPv3/VFPv4 and the ARMv8 AArch32 additions), A32 and T32.

Patterns: a32_vfp.decode, t32_vfp.decode, a32u_neon_0vfp.decode. The arithmetic
is the A64 one (:mod:`helper_fp`, through the helpers of :mod:`trans_a64_fp`):
FPSCR holds both what A64 splits into FPCR (AHP, DN, FZ, RMode at the same bit
positions) and FPSR (NZCV, QC and the cumulative exception bits at the same
positions), so the whole FPSCR is passed as both. Short vectors (FPSCR.Len,
Stride) are not implemented: every operation is scalar, as in ARMv8.

Register fields arrive in the D-register form (D:Vd); :func:`sreg` turns them
into the S number (Vd:D) for single precision. S<2n> is the low half of D<n>.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm.helper_a32_vfp import cvt_hp
from pyqemu.target.arm.trans_a64_fp import (
    H_ADD,
    H_CMP,
    H_CVT,
    H_DIV,
    H_FMA,
    H_FROMINT,
    H_MAXNM,
    H_MINNM,
    H_MUL,
    H_RINT,
    H_SQRT,
    H_SUB,
    H_TOINT,
    vfp_expand_imm,
)
from pyqemu.target.arm.translate32 import DisasContext32

W = 256  # width of helper results that carry flags above the value
M32 = C.M32
M64 = C.M64
SIGN = {2: 0x80000000, 3: 0x8000000000000000}
EMASK = {2: M32, 3: M64}
# FPSCR bits a VMSR can set: NZCV, QC, AHP, DN, FZ, RMode and the cumulative exception
# flags, and Len/Stride (kept, though short vectors are not implemented); no trapped
# exceptions, no FZ16.
FPSCR_WMASK = 0xFFF7009F
FPSCR_NZCV = 0xF0000000


def sreg(x5: int) -> int:
    """S-register number of a D-form register field D:Vd (Vd:D)."""
    return ((x5 & 15) << 1) | (x5 >> 4)


def read_s(s: DisasContext32, i: int):
    """The value of S<i> (32 bits, zero-extended to 64)."""
    d = s.d(i >> 1)
    if i & 1:
        return s.b.shr(d, 32, 64)
    return s.b.and_(d, M32, 64)


def write_s(s: DisasContext32, i: int, v) -> None:
    """S<i> = v (the low 32 bits of ``v``)."""
    b = s.b
    d = s.d(i >> 1)
    v = b.and_(v, M32, 64)
    if i & 1:
        s.set_d(i >> 1, b.or_(b.and_(d, M32, 64), b.shl(v, 32, 64), 64))
    else:
        s.set_d(i >> 1, b.or_(b.and_(d, M32 << 32, 64), v, 64))


def read_f(s: DisasContext32, x5: int, dp: int):
    """Operand register ``x5`` (D form) as a double (dp) or a single."""
    return s.d(x5) if dp else read_s(s, sreg(x5))


def write_f(s: DisasContext32, x5: int, dp: int, v) -> None:
    if dp:
        s.set_d(x5, s.b.and_(v, M64, 64))
    else:
        write_s(s, sreg(x5), v)


def fpscr(s: DisasContext32):
    return s.g(C.REG_FPSCR)


def fp_flags(s: DisasContext32, t, sh: int = 64) -> None:
    """FPSCR |= the exception flags above bit ``sh`` of helper result ``t``."""
    b = s.b
    g = fpscr(s)
    b.mov(g, b.or_(g, b.and_(b.shr(t, sh, W), 0x9F, 32), 32))


def fp_result(s: DisasContext32, x5: int, dp: int, t) -> None:
    """Write the value in ``t`` (a helper result) to the register and merge its flags."""
    write_f(s, x5, dp, s.b.and_(t, EMASK[3 if dp else 2], W))
    fp_flags(s, t)


def esz(dp: int) -> int:
    return 3 if dp else 2


def neg(s: DisasContext32, v, dp: int):
    return s.b.xor(v, SIGN[esz(dp)], 64)


def _call2(s: DisasContext32, h, x, y, dp: int):
    """A two-operand helper_fp kernel; returns the (value | flags) result."""
    return s.b.call(h, x, y, fpscr(s), esz(dp), fpscr(s), width=W)


def _val(s: DisasContext32, t, dp: int):
    """The value part of a helper result, with the flags merged into FPSCR."""
    fp_flags(s, t)
    return s.b.and_(t, EMASK[esz(dp)], W)


# --- three-register arithmetic ------------------------------------------------------------

def _arith(h):
    def trans(s: DisasContext32, a) -> bool:
        t = _call2(s, h, read_f(s, a.vn, a.dp), read_f(s, a.vm, a.dp), a.dp)
        fp_result(s, a.vd, a.dp, t)
        return True
    return trans


trans_VADD = _arith(H_ADD)
trans_VSUB = _arith(H_SUB)
trans_VMUL = _arith(H_MUL)
trans_VDIV = _arith(H_DIV)
trans_VMAXNM = _arith(H_MAXNM)
trans_VMINNM = _arith(H_MINNM)


def trans_VNMUL(s: DisasContext32, a) -> bool:
    p = _val(s, _call2(s, H_MUL, read_f(s, a.vn, a.dp), read_f(s, a.vm, a.dp), a.dp), a.dp)
    write_f(s, a.vd, a.dp, neg(s, p, a.dp))
    return True


def _mla(neg_prod: bool, neg_acc: bool):
    """VMLA/VMLS/VNMLA/VNMLS: d = (+-d) + (+-(n * m)), the product rounded first."""
    def trans(s: DisasContext32, a) -> bool:
        p = _val(s, _call2(s, H_MUL, read_f(s, a.vn, a.dp), read_f(s, a.vm, a.dp), a.dp), a.dp)
        if neg_prod:
            p = neg(s, p, a.dp)
        acc = read_f(s, a.vd, a.dp)
        if neg_acc:
            acc = neg(s, acc, a.dp)
        fp_result(s, a.vd, a.dp, _call2(s, H_ADD, acc, p, a.dp))
        return True
    return trans


trans_VMLA = _mla(False, False)
trans_VMLS = _mla(True, False)
trans_VNMLS = _mla(False, True)
trans_VNMLA = _mla(True, True)


def _fma(neg_n: bool, neg_d: bool):
    """VFMA/VFMS/VFNMA/VFNMS: d = (+-d) + (+-n) * m with one rounding."""
    def trans(s: DisasContext32, a) -> bool:
        n = read_f(s, a.vn, a.dp)
        if neg_n:
            n = neg(s, n, a.dp)
        d = read_f(s, a.vd, a.dp)
        if neg_d:
            d = neg(s, d, a.dp)
        t = s.b.call(H_FMA, d, n, read_f(s, a.vm, a.dp), fpscr(s), esz(a.dp), fpscr(s), width=W)
        fp_result(s, a.vd, a.dp, t)
        return True
    return trans


trans_VFMA = _fma(False, False)
trans_VFMS = _fma(True, False)
trans_VFNMA = _fma(True, True)
trans_VFNMS = _fma(False, True)


# --- two-register operations ----------------------------------------------------------------

def trans_VMOV_imm(s: DisasContext32, a) -> bool:
    write_f(s, a.vd, a.dp, vfp_expand_imm(a.imm, esz(a.dp)))
    return True


def trans_VMOV_reg(s: DisasContext32, a) -> bool:
    write_f(s, a.vd, a.dp, read_f(s, a.vm, a.dp))
    return True


def trans_VABS(s: DisasContext32, a) -> bool:
    write_f(s, a.vd, a.dp, s.b.andc(read_f(s, a.vm, a.dp), SIGN[esz(a.dp)], 64))
    return True


def trans_VNEG(s: DisasContext32, a) -> bool:
    write_f(s, a.vd, a.dp, neg(s, read_f(s, a.vm, a.dp), a.dp))
    return True


def trans_VSQRT(s: DisasContext32, a) -> bool:
    t = s.b.call(H_SQRT, read_f(s, a.vm, a.dp), fpscr(s), esz(a.dp), fpscr(s), width=W)
    fp_result(s, a.vd, a.dp, t)
    return True


def trans_VCMP(s: DisasContext32, a) -> bool:
    b = s.b
    if a.z and a.vm:
        return False  # the compare-with-zero form has M:Vm = 0 (QEMU UNDEFs otherwise)
    y = 0 if a.z else read_f(s, a.vm, a.dp)
    t = b.call(H_CMP, read_f(s, a.vd, a.dp), y, fpscr(s), esz(a.dp), bool(a.e), width=W)
    g = fpscr(s)
    nzcv = b.and_(t, FPSCR_NZCV, 32)
    fl = b.and_(b.shr(t, 32, W), 0x9F, 32)
    b.mov(g, b.or_(b.or_(b.andc(g, FPSCR_NZCV, 32), nzcv, 32), fl, 32))
    return True


def _rmode(s: DisasContext32):
    """FPSCR.RMode as a run-time value."""
    return s.b.and_(s.b.shr(fpscr(s), 22, 32), 3, 32)


def _rint(s: DisasContext32, a, rm, exact: bool) -> bool:
    t = s.b.call(H_RINT, read_f(s, a.vm, a.dp), fpscr(s), esz(a.dp), rm, exact, width=W)
    fp_result(s, a.vd, a.dp, t)
    return True


def trans_VRINTR(s: DisasContext32, a) -> bool:
    return _rint(s, a, _rmode(s), False)


def trans_VRINTZ(s: DisasContext32, a) -> bool:
    return _rint(s, a, F.RZ, False)


def trans_VRINTX(s: DisasContext32, a) -> bool:
    return _rint(s, a, _rmode(s), True)


RM_FIELD = (F.RA, F.RN, F.RP, F.RM)  # the rm field of VRINT{A,N,P,M} / VCVT{A,N,P,M}


def trans_VRINT_rm(s: DisasContext32, a) -> bool:
    return _rint(s, a, RM_FIELD[a.rm], False)


def trans_VCVT_sd(s: DisasContext32, a) -> bool:
    """VCVT.F64.F32 (dp = 0) and VCVT.F32.F64 (dp = 1)."""
    src = esz(a.dp)
    dst = 5 - src
    t = s.b.call(H_CVT, read_f(s, a.vm, a.dp), fpscr(s), src, dst, -1, width=W)
    fp_result(s, a.vd, 1 - a.dp, t)
    return True


def trans_VCVT_hp(s: DisasContext32, a) -> bool:
    """VCVTB/VCVTT: half precision in the bottom (t = 0) or top half of an S register
    (FPSCR.AHP selects the alternative half-precision format)."""
    b = s.b
    if a.op == 0:  # from half
        x = read_s(s, sreg(a.vm))
        if a.t:
            x = b.shr(x, 16, 64)
        t = b.call(cvt_hp, b.and_(x, 0xFFFF, 64), fpscr(s), 1, esz(a.dp), width=W)
        fp_result(s, a.vd, a.dp, t)
        return True
    t = b.call(cvt_hp, read_f(s, a.vm, a.dp), fpscr(s), esz(a.dp), 1, width=W)
    h = _val(s, t, 0)
    h = b.and_(h, 0xFFFF, 64)
    i = sreg(a.vd)
    old = read_s(s, i)
    if a.t:
        new = b.or_(b.and_(old, 0xFFFF, 64), b.shl(h, 16, 64), 64)
    else:
        new = b.or_(b.and_(old, 0xFFFF0000, 64), h, 64)
    write_s(s, i, new)
    return True


def trans_VCVT_from_int(s: DisasContext32, a) -> bool:
    """VCVT.F32/F64.S32/U32: the source is always an S register."""
    t = s.b.call(H_FROMINT, read_s(s, sreg(a.vm)), fpscr(s), esz(a.dp), bool(a.s), 32, width=W)
    fp_result(s, a.vd, a.dp, t)
    return True


def _to_int(s: DisasContext32, a, rm, signed: bool) -> bool:
    t = s.b.call(H_TOINT, read_f(s, a.vm, a.dp), fpscr(s), esz(a.dp), rm, signed, 32, width=W)
    fp_result(s, a.vd, 0, t)
    return True


def trans_VCVT_to_int(s: DisasContext32, a) -> bool:
    """VCVT (round to zero, rz = 1) and VCVTR (FPSCR rounding) to S32/U32 in an S register."""
    return _to_int(s, a, F.RZ if a.rz else _rmode(s), bool(a.s))


def trans_VCVT_rm(s: DisasContext32, a) -> bool:
    return _to_int(s, a, RM_FIELD[a.rm], bool(a.s))


def trans_VCVT_fix(s: DisasContext32, a) -> bool:
    """VCVT between floating point and fixed point, in place (op = 1: to fixed)."""
    b = s.b
    size = 32 if a.sx else 16
    fbits = size - ((a.imm4 << 1) | a.i)
    if fbits < 0:
        return False
    signed = not a.u
    x = read_f(s, a.vd, a.dp)
    e = esz(a.dp)
    if a.op:
        t = b.call(H_TOINT, x, fpscr(s), e, F.RZ, signed, size, fbits, width=W)
        v = _val(s, t, 1)
        v = b.and_(v, (1 << size) - 1, 64)
        if signed:
            v = b.ext(v, size, True, 64)
        write_f(s, a.vd, a.dp, v)
        return True
    t = b.call(H_FROMINT, b.and_(x, (1 << size) - 1, 64), fpscr(s), e, signed, size, fbits, width=W)
    fp_result(s, a.vd, a.dp, t)
    return True


def trans_VSEL(s: DisasContext32, a) -> bool:
    # The condition is a 32-bit comparison; the values are 64-bit (dp): select on its 0/1.
    c = s.b.setcond(*s.test_cc((0, 6, 10, 12)[a.cc]))
    v = s.b.movcond("ne", c, 0, read_f(s, a.vn, a.dp), read_f(s, a.vm, a.dp), 64)
    write_f(s, a.vd, a.dp, v)
    return True


# --- transfers with core registers ---------------------------------------------------------

def trans_VMOV_single(s: DisasContext32, a) -> bool:
    if a.rt == 15 or (s.thumb and a.rt == 13):
        return False
    i = sreg(a.vn)
    if a.l:
        s.set_reg(a.rt, s.b.and_(read_s(s, i), M32, 32))
    else:
        write_s(s, i, s.b.ext(s.reg(a.rt), 32, False, 64))
    return True


def trans_VMOV_64(s: DisasContext32, a) -> bool:
    """VMOV between two core registers and a D register (dp) or two S registers."""
    b = s.b
    if a.rt == 15 or a.rt2 == 15:  # Rt == Rt2 on a load is UNPREDICTABLE: Rt2 wins, as in QEMU
        return False
    if s.thumb and (a.rt == 13 or a.rt2 == 13):
        return False
    if a.dp:
        if a.l:
            d = s.tmp_copy(s.d(a.vm))
            s.set_reg(a.rt, b.and_(d, M32, 32))
            s.set_reg(a.rt2, b.and_(b.shr(d, 32, 64), M32, 32))
        else:
            lo = b.ext(s.reg(a.rt), 32, False, 64)
            hi = b.ext(s.reg(a.rt2), 32, False, 64)
            s.set_d(a.vm, b.or_(b.shl(hi, 32, 64), lo, 64))
        return True
    i = sreg(a.vm)
    if i == 31:
        return False
    if a.l:
        x = s.tmp_copy(read_s(s, i))
        y = s.tmp_copy(read_s(s, i + 1))
        s.set_reg(a.rt, b.and_(x, M32, 32))
        s.set_reg(a.rt2, b.and_(y, M32, 32))
    else:
        x = b.ext(s.reg(a.rt), 32, False, 64)
        y = b.ext(s.reg(a.rt2), 32, False, 64)
        write_s(s, i, x)
        write_s(s, i + 1, y)
    return True


def _scalar(opc1: int, opc2: int) -> tuple[int, int] | None:
    """(element size in bytes, index) of a VMOV scalar's opc1:opc2, None if reserved."""
    if opc1 & 2:
        return 1, ((opc1 & 1) << 2) | opc2
    if opc2 & 1:
        return 2, ((opc1 & 1) << 1) | (opc2 >> 1)
    if opc2 & 2:
        return None
    return 4, opc1 & 1


def trans_VMOV_to_scalar(s: DisasContext32, a) -> bool:
    b = s.b
    sc = _scalar(a.opc1, a.opc2)
    if sc is None or a.rt == 15 or (s.thumb and a.rt == 13):
        return False
    size, idx = sc
    sh = size * 8 * idx
    m = ((1 << (size * 8)) - 1) << sh
    v = b.shl(b.and_(b.ext(s.reg(a.rt), 32, False, 64), (1 << (size * 8)) - 1, 64), sh, 64)
    s.set_d(a.vn, b.or_(b.andc(s.d(a.vn), m, 64), v, 64))
    return True


def trans_VMOV_from_scalar(s: DisasContext32, a) -> bool:
    b = s.b
    sc = _scalar(a.opc1, a.opc2)
    if sc is None or a.rt == 15 or (s.thumb and a.rt == 13) or (sc[0] == 4 and a.u):
        return False
    size, idx = sc
    v = b.shr(s.d(a.vn), size * 8 * idx, 64)
    if size == 4:
        v = b.and_(v, M32, 32)
    else:
        v = b.ext(v, size * 8, not a.u, 32)
    s.set_reg(a.rt, v)
    return True


def dup_const(size: int, v):
    """The 64-bit pattern of constant ``v`` repeated in elements of ``size`` bytes."""
    bits = size * 8
    v &= (1 << bits) - 1
    r = 0
    for i in range(0, 64, bits):
        r |= v << i
    return r


def dup_value(s: DisasContext32, v, size: int):
    """The 64-bit pattern of IR value ``v`` (an element of ``size`` bytes) repeated."""
    b = s.b
    bits = size * 8
    v = b.and_(b.ext(v, 32, False, 64) if bits == 32 else v, (1 << bits) - 1, 64)
    return b.mul(v, dup_const(size, 1), 64)


def trans_VDUP_core(s: DisasContext32, a) -> bool:
    size = {(1, 0): 1, (0, 1): 2, (0, 0): 4}.get((a.b, a.e))
    if size is None or (a.q and a.vn & 1) or a.rt == 15 or (s.thumb and a.rt == 13):
        return False
    v = s.tmp_copy(dup_value(s, s.b.ext(s.reg(a.rt), 32, False, 64), size))
    s.set_d(a.vn, v)
    if a.q:
        s.set_d(a.vn + 1, v)
    return True


def trans_VMSR(s: DisasContext32, a) -> bool:
    if a.reg != 1 or a.rt == 15 or (s.thumb and a.rt == 13):
        return False  # only FPSCR is accessible at PL0
    s.b.mov(fpscr(s), s.b.and_(s.reg(a.rt), FPSCR_WMASK, 32))
    return True


def trans_VMRS(s: DisasContext32, a) -> bool:
    if a.reg != 1 or (s.thumb and a.rt == 13):
        return False
    if a.rt == 15:
        s.set_nzcv(fpscr(s))
    else:
        s.set_reg(a.rt, fpscr(s))
    return True


# --- loads and stores -------------------------------------------------------------------------

def _base(s: DisasContext32, rn: int):
    return s.reg_aligned_pc(rn)


def addr32(s: DisasContext32, base, off: int):
    """``base + off`` as a 32-bit address (wrapping), exact for ld/st."""
    if not off:
        return base
    return s.b.ext(s.b.add(base, off & M32, 32), 32, False, 64)


def trans_VLDR_VSTR(s: DisasContext32, a) -> bool:
    """VLDR/VSTR (word-aligned addresses: a misaligned one is an alignment fault)."""
    b = s.b
    off = a.imm * 4 if a.u else -a.imm * 4
    addr = addr32(s, _base(s, a.rn), off)
    if a.l:
        if a.dp:
            s.set_d(a.vd, b.ld(addr, 8, align=4))
        else:
            write_s(s, sreg(a.vd), b.ext(b.ld(addr, 4, align=4), 32, False, 64))
    elif a.dp:
        b.st(addr, s.d(a.vd), 8, align=4)
    else:
        b.st(addr, b.and_(read_s(s, sreg(a.vd)), M32, 32), 4, align=4)
    return True


def trans_VLDM_VSTM(s: DisasContext32, a) -> bool:
    b = s.b
    n = a.imm >> 1 if a.dp else a.imm
    first = a.vd if a.dp else sreg(a.vd)
    if n == 0 or first + n > 32 or (a.dp and n > 16):
        return False
    if a.rn == 15 and (a.w or s.thumb):
        return False
    base = s.tmp_copy(_base(s, a.rn))
    start = base if a.u else addr32(s, base, -a.imm * 4)
    step = 8 if a.dp else 4
    if a.l:
        vals = []
        for k in range(n):
            addr = addr32(s, start, k * step)
            vals.append(b.ld(addr, step, align=4))
        for k, v in enumerate(vals):
            if a.dp:
                s.set_d(first + k, v)
            else:
                write_s(s, first + k, b.ext(v, 32, False, 64))
    else:
        for k in range(n):
            addr = addr32(s, start, k * step)
            if a.dp:
                b.st(addr, s.d(first + k), 8, align=4)
            else:
                b.st(addr, b.and_(read_s(s, first + k), M32, 32), 4, align=4)
    if a.w:
        s.set_reg(a.rn, b.add(base, a.imm * 4, 32) if a.u else start)
    return True
