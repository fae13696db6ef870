"""A64 Advanced SIMD, integer side: vector and scalar integer operations,
moves and immediates, permutes, table lookups, and the structure
loads/stores (LD1-LD4, ST1-ST4, LD1R-LD4R). The floating-point side of
Advanced SIMD is in trans_a64_simd_fp.py, scalar FP in trans_a64_fp.py.

Vector registers are 128-bit ints. Bitwise operations, moves, immediates,
DUP/INS/UMOV, EXT, add/sub and the common shifts are inline IR (SWAR on the
whole register); lane-wise work goes to :mod:`helper_simd` helpers
parameterised by element size (``esz``: log2 of the element's byte size) and
operand width in bytes. A 64-bit (Q=0) result zeroes the upper half of the
destination. Helpers that may set FPSR bits (QC saturation) return them
above bit 128. Unimplemented: the crypto extensions, FP16 vector arithmetic,
dot products, complex-number and BF16 instructions (they raise SIGILL).
"""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_simd as S
from pyqemu.target.arm.trans_a64_fp import (
    EMASK,
    W,
    fpsr_or,
    vfp_expand_imm,
)
from pyqemu.target.arm.translate import DisasContext
from pyqemu.tcg.ir import Helper

M64 = C.M64
M128 = (1 << 128) - 1


def simd_helper(fn, name: str) -> Helper:
    return Helper(fn, "h_simd_" + name, pure=True)


def nb(q: int) -> int:
    return 16 if q else 8


def qmask(q: int) -> int:
    return M128 if q else M64


def _bad_size(a) -> bool:
    """size 3 with Q=0 (.1D) is reserved for most vector operations."""
    return a.size == 3 and not a.q


def set_flags_result(s: DisasContext, rd: int, t, mask: int = M128) -> None:
    s.set_v(rd, s.b.and_(t, mask, W))
    fpsr_or(s, t, 128)


def half(s: DisasContext, rn: int, part: int):
    """The low (part 0) or high (part 1) 64 bits of Vn."""
    v = s.v(rn)
    return s.b.shr(v, 64, 128) if part else s.b.and_(v, M64, 128)


def write_narrow(s: DisasContext, rd: int, q: int, val) -> None:
    """A 64-bit narrowed result: the low half of Vd (Q=0, upper zeroed) or its
    high half (the "2" variants, Q=1, low half kept)."""
    b = s.b
    if q:
        s.set_v(rd, b.or_(b.and_(s.v(rd), M64, 128), b.shl(val, 64, 128), 128))
    else:
        s.set_v(rd, val)


def elem(s: DisasContext, rn: int, idx: int, esz: int):
    """Element idx of Vn (zero-extended)."""
    w = 8 << esz
    v = s.v(rn)
    if idx:
        v = s.b.shr(v, idx * w, 128)
    return s.b.and_(v, (1 << w) - 1, 128)


# ==== bitwise ===========================================================================

def _logic(op):
    def trans(s: DisasContext, a) -> bool:
        b = s.b
        r = op(b, s.v(a.rd), s.v(a.rn), s.v(a.rm))
        s.set_v(a.rd, b.and_(r, qmask(a.q), 128) if not a.q else r)
        return True
    return trans


trans_AND_v = _logic(lambda b, d, n, m: b.and_(n, m, 128))
trans_BIC_v = _logic(lambda b, d, n, m: b.andc(n, m, 128))
trans_ORR_v = _logic(lambda b, d, n, m: b.or_(n, m, 128))
trans_ORN_v = _logic(lambda b, d, n, m: b.orc(n, m, 128))
trans_EOR_v = _logic(lambda b, d, n, m: b.xor(n, m, 128))
trans_BSL_v = _logic(lambda b, d, n, m: b.xor(m, b.and_(b.xor(m, n, 128), d, 128), 128))
trans_BIT_v = _logic(lambda b, d, n, m: b.xor(d, b.and_(b.xor(d, n, 128), m, 128), 128))
trans_BIF_v = _logic(lambda b, d, n, m: b.xor(d, b.andc(b.xor(d, n, 128), m, 128), 128))


def trans_NOT_v(s: DisasContext, a) -> bool:
    s.set_v(a.rd, s.b.xor(s.v(a.rn), qmask(a.q), 128) if a.q else
            s.b.xor(s.b.and_(s.v(a.rn), M64, 128), M64, 128))
    return True


# ==== integer three same ====================================================================

H_CMEQ = simd_helper(S.cmeq, "cmeq")
H_CMTST = simd_helper(S.cmtst, "cmtst")
H_CMHI = simd_helper(S.cmhi, "cmhi")
H_CMHS = simd_helper(S.cmhs, "cmhs")
H_CMGT = simd_helper(S.cmgt, "cmgt")
H_CMGE = simd_helper(S.cmge, "cmge")
H_HADD = simd_helper(S.hadd, "hadd")
H_RHADD = simd_helper(S.rhadd, "rhadd")
H_HSUB = simd_helper(S.hsub, "hsub")
H_QADD = simd_helper(S.qadd, "qadd")
H_QSUB = simd_helper(S.qsub, "qsub")
H_MAX = simd_helper(S.vmax, "max")
H_MIN = simd_helper(S.vmin, "min")
H_ABD = simd_helper(S.abd, "abd")
H_ABA = simd_helper(S.aba, "aba")
H_MUL = simd_helper(S.mul, "mul")
H_MLA = simd_helper(S.mla, "mla")
H_MLS = simd_helper(S.mls, "mls")
H_PMUL = simd_helper(S.pmul, "pmul")
H_SHLREG = simd_helper(S.shl_reg, "shl_reg")
H_QDMULH = simd_helper(S.qdmulh, "qdmulh")
H_ADDP = simd_helper(S.addp, "addp")
H_MAXP = simd_helper(S.maxp, "maxp")
H_MINP = simd_helper(S.minp, "minp")


def _v3(h: Helper, *extra, acc: bool = False, flags: bool = False, sizes: tuple = (0, 1, 2)):
    """A lane-wise three-same op through helper h(n, m, esz, nbytes, *extra)
    (with Vd first when `acc`)."""
    def trans(s: DisasContext, a) -> bool:
        if a.size not in sizes or _bad_size(a):
            return False
        args = ([s.v(a.rd)] if acc else []) + [s.v(a.rn), s.v(a.rm), a.size, nb(a.q), *extra]
        t = s.b.call(h, *args, width=W if flags else 128)
        if flags:
            set_flags_result(s, a.rd, t)
        else:
            s.set_v(a.rd, t)
        return True
    return trans


_ALL = (0, 1, 2, 3)
trans_SHADD_v = _v3(H_HADD, True)
trans_UHADD_v = _v3(H_HADD, False)
trans_SRHADD_v = _v3(H_RHADD, True)
trans_URHADD_v = _v3(H_RHADD, False)
trans_SHSUB_v = _v3(H_HSUB, True)
trans_UHSUB_v = _v3(H_HSUB, False)
trans_SQADD_v = _v3(H_QADD, True, flags=True, sizes=_ALL)
trans_UQADD_v = _v3(H_QADD, False, flags=True, sizes=_ALL)
trans_SQSUB_v = _v3(H_QSUB, True, flags=True, sizes=_ALL)
trans_UQSUB_v = _v3(H_QSUB, False, flags=True, sizes=_ALL)
trans_SMAX_v = _v3(H_MAX, True)
trans_UMAX_v = _v3(H_MAX, False)
trans_SMIN_v = _v3(H_MIN, True)
trans_UMIN_v = _v3(H_MIN, False)
trans_SABD_v = _v3(H_ABD, True)
trans_UABD_v = _v3(H_ABD, False)
trans_SABA_v = _v3(H_ABA, True, acc=True)
trans_UABA_v = _v3(H_ABA, False, acc=True)
trans_MUL_v = _v3(H_MUL)
trans_MLA_v = _v3(H_MLA, acc=True)
trans_MLS_v = _v3(H_MLS, acc=True)
trans_PMUL_v = _v3(H_PMUL, sizes=(0,))
trans_SSHL_v = _v3(H_SHLREG, True, False, False, sizes=_ALL)
trans_USHL_v = _v3(H_SHLREG, False, False, False, sizes=_ALL)
trans_SRSHL_v = _v3(H_SHLREG, True, True, False, sizes=_ALL)
trans_URSHL_v = _v3(H_SHLREG, False, True, False, sizes=_ALL)
trans_SQSHL_v = _v3(H_SHLREG, True, False, True, flags=True, sizes=_ALL)
trans_UQSHL_v = _v3(H_SHLREG, False, False, True, flags=True, sizes=_ALL)
trans_SQRSHL_v = _v3(H_SHLREG, True, True, True, flags=True, sizes=_ALL)
trans_UQRSHL_v = _v3(H_SHLREG, False, True, True, flags=True, sizes=_ALL)
trans_SQDMULH_v = _v3(H_QDMULH, False, flags=True, sizes=(1, 2))
trans_SQRDMULH_v = _v3(H_QDMULH, True, flags=True, sizes=(1, 2))
trans_ADDP_v = _v3(H_ADDP, sizes=_ALL)
trans_SMAXP_v = _v3(H_MAXP, True)
trans_UMAXP_v = _v3(H_MAXP, False)
trans_SMINP_v = _v3(H_MINP, True)
trans_UMINP_v = _v3(H_MINP, False)


def _cmp(h: Helper, scalar: bool = False):
    """Compares: h(n, m, H, esz) with H the lanes' top bits (which also masks Q)."""
    def trans(s: DisasContext, a) -> bool:
        if scalar:
            if a.size != 3:
                return False
            hb = 1 << 63
        else:
            if _bad_size(a):
                return False
            hb = S.hi_bits(a.size, nb(a.q))
        s.set_v(a.rd, s.b.call(h, s.v(a.rn), s.v(a.rm), hb, a.size, width=128))
        return True
    return trans


trans_CMEQ_v = _cmp(H_CMEQ)
trans_CMTST_v = _cmp(H_CMTST)
trans_CMHI_v = _cmp(H_CMHI)
trans_CMHS_v = _cmp(H_CMHS)
trans_CMGT_v = _cmp(H_CMGT)
trans_CMGE_v = _cmp(H_CMGE)
trans_CMEQ_s = _cmp(H_CMEQ, True)
trans_CMTST_s = _cmp(H_CMTST, True)
trans_CMHI_s = _cmp(H_CMHI, True)
trans_CMHS_s = _cmp(H_CMHS, True)
trans_CMGT_s = _cmp(H_CMGT, True)
trans_CMGE_s = _cmp(H_CMGE, True)


def _addsub_v(s: DisasContext, rd: int, n, m, esz: int, nbytes: int, sub: bool) -> None:
    """Lane-wise add/sub as SWAR on the whole register (no per-lane work)."""
    b = s.b
    mask = S.NMASK[nbytes]
    H = S.hi_bits(esz, nbytes)
    L = mask ^ H
    if sub:
        r = b.xor(b.sub(b.or_(n, H, 128), b.and_(m, L, 128), 128),
                  b.and_(b.xor(b.xor(n, m, 128), H, 128), H, 128), 128)
        r = b.and_(r, mask, 128)
    else:
        r = b.xor(b.add(b.and_(n, L, 128), b.and_(m, L, 128), 128), b.and_(b.xor(n, m, 128), H, 128), 128)
    s.set_v(rd, r)


def trans_ADD_v(s: DisasContext, a) -> bool:
    if _bad_size(a):
        return False
    _addsub_v(s, a.rd, s.v(a.rn), s.v(a.rm), a.size, nb(a.q), False)
    return True


def trans_SUB_v(s: DisasContext, a) -> bool:
    if _bad_size(a):
        return False
    _addsub_v(s, a.rd, s.v(a.rn), s.v(a.rm), a.size, nb(a.q), True)
    return True


def trans_ADD_s(s: DisasContext, a) -> bool:
    if a.size != 3:
        return False
    s.set_v(a.rd, s.b.add(s.v(a.rn), s.v(a.rm), 64))
    return True


def trans_SUB_s(s: DisasContext, a) -> bool:
    if a.size != 3:
        return False
    s.set_v(a.rd, s.b.sub(s.v(a.rn), s.v(a.rm), 64))
    return True


def _s3(h: Helper, *extra, flags: bool = False, sizes: tuple = _ALL):
    """Scalar forms of lane-wise helpers: one lane of the element size."""
    def trans(s: DisasContext, a) -> bool:
        if a.size not in sizes:
            return False
        t = s.b.call(h, s.v(a.rn), s.v(a.rm), a.size, 1 << a.size, *extra, width=W if flags else 128)
        if flags:
            set_flags_result(s, a.rd, t)
        else:
            s.set_v(a.rd, t)
        return True
    return trans


trans_SQADD_s = _s3(H_QADD, True, flags=True)
trans_UQADD_s = _s3(H_QADD, False, flags=True)
trans_SQSUB_s = _s3(H_QSUB, True, flags=True)
trans_UQSUB_s = _s3(H_QSUB, False, flags=True)
trans_SSHL_s = _s3(H_SHLREG, True, False, False, sizes=(3,))
trans_USHL_s = _s3(H_SHLREG, False, False, False, sizes=(3,))
trans_SRSHL_s = _s3(H_SHLREG, True, True, False, sizes=(3,))
trans_URSHL_s = _s3(H_SHLREG, False, True, False, sizes=(3,))
trans_SQSHL_s = _s3(H_SHLREG, True, False, True, flags=True)
trans_UQSHL_s = _s3(H_SHLREG, False, False, True, flags=True)
trans_SQRSHL_s = _s3(H_SHLREG, True, True, True, flags=True)
trans_UQRSHL_s = _s3(H_SHLREG, False, True, True, flags=True)
trans_SQDMULH_s = _s3(H_QDMULH, False, flags=True, sizes=(1, 2))
trans_SQRDMULH_s = _s3(H_QDMULH, True, flags=True, sizes=(1, 2))


# ==== three different ========================================================================

H_ADDL = simd_helper(S.addl, "addl")
H_SUBL = simd_helper(S.subl, "subl")
H_ABDL = simd_helper(S.abdl, "abdl")
H_MULL = simd_helper(S.mull, "mull")
H_ADDW = simd_helper(S.addw, "addw")
H_SUBW = simd_helper(S.subw, "subw")
H_ADDHN = simd_helper(S.addhn, "addhn")
H_QDMULL = simd_helper(S.qdmull, "qdmull")
H_QDMLAL = simd_helper(S.qdmlal, "qdmlal")
H_VADD = simd_helper(S.vadd, "vadd")
H_VSUB = simd_helper(S.vsub, "vsub")


def _long(h: Helper, acc: int = 0, wide: bool = False):
    """Long ops: Vd(2*esize) = f(half(Vn), half(Vm)); acc=+1/-1 accumulates into Vd."""
    def trans(s: DisasContext, a) -> bool:
        if a.size == 3:
            return False
        b = s.b
        n = s.v(a.rn) if wide else half(s, a.rn, a.q)
        r = b.call(h, n, half(s, a.rm, a.q), a.size, not a.u, width=128)
        if acc:
            H = S.hi_bits(a.size + 1, 16)
            r = b.call(H_VADD if acc > 0 else H_VSUB, s.v(a.rd), r, H, M128, width=128)
        s.set_v(a.rd, r)
        return True
    return trans


trans_ADDL_v = _long(H_ADDL)
trans_SUBL_v = _long(H_SUBL)
trans_ADDW_v = _long(H_ADDW, wide=True)
trans_SUBW_v = _long(H_SUBW, wide=True)
trans_ABDL_v = _long(H_ABDL)
trans_ABAL_v = _long(H_ABDL, acc=1)
trans_MULL_v = _long(H_MULL)
trans_MLAL_v = _long(H_MULL, acc=1)
trans_MLSL_v = _long(H_MULL, acc=-1)


def _hn(sub: bool):
    def trans(s: DisasContext, a) -> bool:
        if a.size == 3:
            return False
        r = s.b.call(H_ADDHN, s.v(a.rn), s.v(a.rm), a.size, sub, bool(a.u), width=128)
        write_narrow(s, a.rd, a.q, r)
        return True
    return trans


trans_ADDHN_v = _hn(False)
trans_SUBHN_v = _hn(True)


def _qdml(op: int, scalar: bool = False):
    """SQDMULL (op 0), SQDMLAL (+1), SQDMLSL (-1), vector or scalar."""
    def trans(s: DisasContext, a) -> bool:
        if a.size not in (1, 2):
            return False
        b = s.b
        if scalar:
            n = b.and_(s.v(a.rn), EMASK[a.size], 128)
            m = b.and_(s.v(a.rm), EMASK[a.size], 128)
        else:
            n, m = half(s, a.rn, a.q), half(s, a.rm, a.q)
        if op:
            d = b.and_(s.v(a.rd), EMASK[a.size + 1], 128) if scalar else s.v(a.rd)
            t = b.call(H_QDMLAL, d, n, m, a.size, op < 0, width=W)
        else:
            t = b.call(H_QDMULL, n, m, a.size, width=W)
        set_flags_result(s, a.rd, t, EMASK[a.size + 1] if scalar else M128)
        return True
    return trans


trans_SQDMULL_v = _qdml(0)
trans_SQDMLAL_v = _qdml(1)
trans_SQDMLSL_v = _qdml(-1)
trans_SQDMULL_s = _qdml(0, True)
trans_SQDMLAL_s = _qdml(1, True)
trans_SQDMLSL_s = _qdml(-1, True)


# ==== two-register miscellaneous ================================================================

H_REV = simd_helper(S.rev, "rev")
H_ADDLP = simd_helper(S.addlp, "addlp")
H_ADALP = simd_helper(S.adalp, "adalp")
H_SQADDACC = simd_helper(S.sqaddacc, "sqaddacc")
H_CLS = simd_helper(S.cls, "cls")
H_CLZ = simd_helper(S.clz, "clz")
H_CNT = simd_helper(S.cnt, "cnt")
H_RBIT = simd_helper(S.rbit, "rbit")
H_QABSNEG = simd_helper(S.qabsneg, "qabsneg")
H_ABSNEG = simd_helper(S.absneg, "absneg")
H_CMP0 = {op: simd_helper(getattr(S, f"cm{op}0"), f"cm{op}0") for op in ("gt", "ge", "le", "lt")}
H_XTN = simd_helper(S.xtn, "xtn")
H_QXTN = simd_helper(S.qxtn, "qxtn")
H_SHLL = simd_helper(S.shll, "shll")


def trans_REV_v(s: DisasContext, a) -> bool:
    cont = {(0, 0): 8, (1, 0): 4, (0, 1): 2}.get((a.u, a.o))
    if cont is None or (1 << a.size) >= cont:
        return False
    s.set_v(a.rd, s.b.call(H_REV, s.v(a.rn), a.size, nb(a.q), cont, width=128))
    return True


def _misc(h: Helper, *extra, sizes=(0, 1, 2, 3), acc: bool = False, flags: bool = False, u_arg: bool = False):
    def trans(s: DisasContext, a) -> bool:
        if a.size not in sizes or _bad_size(a):
            return False
        args = ([s.v(a.rd)] if acc else []) + [s.v(a.rn), a.size, nb(a.q), *extra]
        if u_arg:
            args.append(bool(a.u))
        t = s.b.call(h, *args, width=W if flags else 128)
        if flags:
            set_flags_result(s, a.rd, t)
        else:
            s.set_v(a.rd, t)
        return True
    return trans


def trans_ADDLP_v(s: DisasContext, a) -> bool:
    if a.size == 3:
        return False
    s.set_v(a.rd, s.b.call(H_ADDLP, s.v(a.rn), a.size, nb(a.q), not a.u, width=128))
    return True


def trans_ADALP_v(s: DisasContext, a) -> bool:
    if a.size == 3:
        return False
    s.set_v(a.rd, s.b.call(H_ADALP, s.v(a.rd), s.v(a.rn), a.size, nb(a.q), not a.u, width=128))
    return True


trans_SQADDACC_v = _misc(H_SQADDACC, acc=True, flags=True, u_arg=True)
trans_CLS_v = _misc(H_CLS, sizes=(0, 1, 2))
trans_CLZ_v = _misc(H_CLZ, sizes=(0, 1, 2))
trans_SQABSNEG_v = _misc(H_QABSNEG, flags=True, u_arg=True)
trans_ABSNEG_v = _misc(H_ABSNEG, u_arg=True)


def trans_CNT_v(s: DisasContext, a) -> bool:
    if a.size:
        return False
    s.set_v(a.rd, s.b.call(H_CNT, s.v(a.rn), nb(a.q), width=128))
    return True


def trans_RBIT_v(s: DisasContext, a) -> bool:
    s.set_v(a.rd, s.b.call(H_RBIT, s.v(a.rn), nb(a.q), width=128))
    return True


def _cmp0(op0: str, op1: str | None, scalar: bool = False):
    def trans(s: DisasContext, a) -> bool:
        op = op1 if getattr(a, "u", 0) else op0
        if scalar:
            if a.size != 3:
                return False
            n = 8
        else:
            if _bad_size(a):
                return False
            n = nb(a.q)
        hb = S.hi_bits(a.size, n)
        if op == "eq":
            s.set_v(a.rd, s.b.call(H_CMEQ, s.v(a.rn), 0, hb, a.size, width=128))
        else:
            s.set_v(a.rd, s.b.call(H_CMP0[op], s.v(a.rn), hb, a.size, width=128))
        return True
    return trans


trans_CMGTGE0_v = _cmp0("gt", "ge")
trans_CMEQLE0_v = _cmp0("eq", "le")
trans_CMLT0_v = _cmp0("lt", None)
trans_CMGTGE0_s = _cmp0("gt", "ge", True)
trans_CMEQLE0_s = _cmp0("eq", "le", True)
trans_CMLT0_s = _cmp0("lt", None, True)


def trans_ABSNEG_s(s: DisasContext, a) -> bool:
    if a.size != 3:
        return False
    s.set_v(a.rd, s.b.call(H_ABSNEG, s.v(a.rn), 3, 8, bool(a.u), width=128))
    return True


def trans_SQABSNEG_s(s: DisasContext, a) -> bool:
    t = s.b.call(H_QABSNEG, s.v(a.rn), a.size, 1 << a.size, bool(a.u), width=W)
    set_flags_result(s, a.rd, t)
    return True


def trans_SQADDACC_s(s: DisasContext, a) -> bool:
    t = s.b.call(H_SQADDACC, s.v(a.rd), s.v(a.rn), a.size, 1 << a.size, bool(a.u), width=W)
    set_flags_result(s, a.rd, t)
    return True


def trans_XTN_v(s: DisasContext, a) -> bool:
    if a.size == 3:
        return False
    write_narrow(s, a.rd, a.q, s.b.call(H_XTN, s.v(a.rn), a.size, width=128))
    return True


def _qxtn_v(s: DisasContext, a, signed_in: bool, signed_out: bool) -> bool:
    if a.size == 3:
        return False
    t = s.b.call(H_QXTN, s.v(a.rn), a.size, signed_in, signed_out, width=W)
    write_narrow(s, a.rd, a.q, s.b.and_(t, M64, W))
    fpsr_or(s, t, 128)
    return True


def trans_SQXTUN_v(s: DisasContext, a) -> bool:
    return _qxtn_v(s, a, True, False)


def trans_QXTN_v(s: DisasContext, a) -> bool:
    return _qxtn_v(s, a, not a.u, not a.u)


def _qxtn_s(s: DisasContext, a, signed_in: bool, signed_out: bool) -> bool:
    if a.size == 3:
        return False
    b = s.b
    n = b.and_(s.v(a.rn), EMASK[a.size + 1], 128)
    t = b.call(H_QXTN, n, a.size, signed_in, signed_out, width=W)
    set_flags_result(s, a.rd, t, EMASK[a.size])
    return True


def trans_SQXTUN_s(s: DisasContext, a) -> bool:
    return _qxtn_s(s, a, True, False)


def trans_QXTN_s(s: DisasContext, a) -> bool:
    return _qxtn_s(s, a, not a.u, not a.u)


def trans_SHLL_v(s: DisasContext, a) -> bool:
    if a.size == 3:
        return False
    s.set_v(a.rd, s.b.call(H_SHLL, half(s, a.rn, a.q), 8 << a.size, a.size, False, width=128))
    return True


# ==== across lanes ======================================================================

H_ADDV = simd_helper(S.addv, "addv")
H_ADDLV = simd_helper(S.addlv, "addlv")
H_MAXV = simd_helper(S.maxv, "maxv")
H_MINV = simd_helper(S.minv, "minv")


def _across_ok(a) -> bool:
    return a.size < 2 or (a.size == 2 and a.q)


def trans_ADDV_v(s: DisasContext, a) -> bool:
    if not _across_ok(a):
        return False
    s.set_v(a.rd, s.b.call(H_ADDV, s.v(a.rn), a.size, nb(a.q), width=128))
    return True


def trans_ADDLV_v(s: DisasContext, a) -> bool:
    if not _across_ok(a):
        return False
    s.set_v(a.rd, s.b.call(H_ADDLV, s.v(a.rn), a.size, nb(a.q), not a.u, width=128))
    return True


def trans_MAXV_v(s: DisasContext, a) -> bool:
    if not _across_ok(a):
        return False
    s.set_v(a.rd, s.b.call(H_MAXV, s.v(a.rn), a.size, nb(a.q), not a.u, width=128))
    return True


def trans_MINV_v(s: DisasContext, a) -> bool:
    if not _across_ok(a):
        return False
    s.set_v(a.rd, s.b.call(H_MINV, s.v(a.rn), a.size, nb(a.q), not a.u, width=128))
    return True


# ==== scalar pairwise ==================================================================

def trans_ADDP_s(s: DisasContext, a) -> bool:
    if a.size != 3:
        return False
    b = s.b
    v = s.v(a.rn)
    s.set_v(a.rd, b.add(v, b.shr(v, 64, 128), 64))
    return True


# ==== copy ==================================================================================

def _imm5(imm5: int) -> tuple[int, int] | None:
    """(esz, index) from imm5, or None if reserved."""
    if imm5 & 0xF == 0:
        return None
    esz = (imm5 & -imm5).bit_length() - 1
    return esz, imm5 >> (esz + 1)


def trans_DUP_elem(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None or (d[0] == 3 and not a.q):
        return False
    esz, idx = d
    e = elem(s, a.rn, idx, esz)
    s.set_v(a.rd, s.b.mul(e, S.rep(1, esz, nb(a.q)), 128))
    return True


def trans_DUP_gen(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None or (d[0] == 3 and not a.q):
        return False
    esz = d[0]
    b = s.b
    x = s.x(a.rn)
    e = b.and_(x, EMASK[esz], 64) if esz < 3 else x
    s.set_v(a.rd, b.mul(e, S.rep(1, esz, nb(a.q)), 128))
    return True


def _insert(s: DisasContext, rd: int, idx: int, esz: int, val) -> None:
    b = s.b
    w = 8 << esz
    pos = idx * w
    keep = M128 ^ (((1 << w) - 1) << pos)
    s.set_v(rd, b.or_(b.and_(s.v(rd), keep, 128), b.shl(val, pos, 128), 128))


def trans_INS_gen(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None:
        return False
    esz, idx = d
    x = s.x(a.rn)
    _insert(s, a.rd, idx, esz, s.b.and_(x, EMASK[esz], 64) if esz < 3 else x)
    return True


def trans_INS_elem(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None:
        return False
    esz, idx = d
    e = elem(s, a.rn, a.imm4 >> esz, esz)
    _insert(s, a.rd, idx, esz, e)
    return True


def trans_UMOV(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None or (d[0] == 3) != bool(a.q):
        return False
    esz, idx = d
    s.set_x(a.rd, elem(s, a.rn, idx, esz))
    return True


def trans_SMOV(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None or d[0] == 3 or (d[0] == 2 and not a.q):
        return False
    esz, idx = d
    w = 64 if a.q else 32
    s.set_x(a.rd, s.b.ext(elem(s, a.rn, idx, esz), 8 << esz, True, w))
    return True


def trans_DUP_elem_s(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None:
        return False
    esz, idx = d
    s.set_v(a.rd, elem(s, a.rn, idx, esz))
    return True


# ==== modified immediate ===============================================================

def adv_simd_expand_imm(op: int, cmode: int, imm8: int) -> int:
    """AdvSIMDExpandImm: the 64-bit immediate."""
    c = cmode >> 1
    if c == 0:
        return imm8 * 0x0000000100000001
    if c == 1:
        return (imm8 << 8) * 0x0000000100000001
    if c == 2:
        return (imm8 << 16) * 0x0000000100000001
    if c == 3:
        return (imm8 << 24) * 0x0000000100000001
    if c == 4:
        return imm8 * 0x0001000100010001
    if c == 5:
        return (imm8 << 8) * 0x0001000100010001
    if c == 6:
        v = (imm8 << 8) | 0xFF if not cmode & 1 else (imm8 << 16) | 0xFFFF
        return v * 0x0000000100000001
    if not cmode & 1:
        if not op:
            return imm8 * 0x0101010101010101
        return sum(0xFF << (8 * i) for i in range(8) if imm8 >> i & 1)
    if not op:
        return vfp_expand_imm(imm8, 2) * 0x0000000100000001
    return vfp_expand_imm(imm8, 3)


def trans_MOVI_v(s: DisasContext, a) -> bool:
    op, cmode = a.op, a.cmode
    if a.o2:
        if op or cmode != 0xF:
            return False
        imm = vfp_expand_imm(a.imm, 1) * 0x0001000100010001  # FMOV .8H/.4H
    else:
        if op and cmode == 0xF and not a.q:
            return False
        imm = adv_simd_expand_imm(op, cmode, a.imm)
    full = imm | (imm << 64) if a.q else imm
    mask = qmask(a.q)
    b = s.b
    is_logic = cmode < 12 and cmode & 1  # ORR/BIC (immediate)
    if is_logic:
        d = s.v(a.rd)
        r = b.and_(d, mask ^ full, 128) if op else b.or_(b.and_(d, mask, 128), full, 128)
        s.set_v(a.rd, r)
    elif op and cmode != 0xE and cmode != 0xF:  # MVNI
        s.set_v(a.rd, full ^ mask)
    else:
        s.set_v(a.rd, full)
    return True


# ==== shifts by immediate ===============================================================

H_SSHR = simd_helper(S.sshr, "sshr")
H_SHR_IMM = simd_helper(S.shr_imm, "shr_imm")
H_SRA_IMM = simd_helper(S.sra_imm, "sra_imm")
H_SRI = simd_helper(S.sri, "sri")
H_SLI = simd_helper(S.sli, "sli")
H_QSHL_IMM = simd_helper(S.qshl_imm, "qshl_imm")
H_SHRN = simd_helper(S.shrn, "shrn")
H_QSHRN = simd_helper(S.qshrn, "qshrn")


def _shift_esz(a, scalar: bool) -> tuple[int, int, int] | None:
    """(esz, element width, immh:immb) or None if reserved."""
    if a.immh == 0:
        return None
    esz = a.immh.bit_length() - 1
    if scalar:
        pass
    elif esz == 3 and not a.q:
        return None
    return esz, 8 << esz, (a.immh << 3) | a.immb


def _shr_common(s: DisasContext, a, scalar: bool, kind: str) -> bool:
    """SSHR/USHR/SRSHR/URSHR/SSRA/USRA/SRSRA/URSRA/SRI (vector or scalar D)."""
    d = _shift_esz(a, scalar)
    if d is None or (scalar and d[0] != 3):
        return False
    esz, w, immhb = d
    sh = 2 * w - immhb
    n = 8 if scalar else nb(a.q)
    b = s.b
    signed = not a.u
    v = s.v(a.rn)
    if kind == "shr":
        if signed:
            r = b.call(H_SSHR, v, min(sh, w - 1), esz, n, width=128)
        else:
            r = b.and_(b.shr(v, sh, 128), S.rep((1 << (w - sh)) - 1, esz, n), 128)
    elif kind == "rshr":
        r = b.call(H_SHR_IMM, v, sh, esz, n, signed, True, width=128)
    elif kind in ("sra", "rsra"):
        r = b.call(H_SRA_IMM, s.v(a.rd), v, sh, esz, n, signed, kind == "rsra", width=128)
    else:  # sri
        r = b.call(H_SRI, s.v(a.rd), v, sh, esz, n, width=128)
    s.set_v(a.rd, r)
    return True


def trans_SSHR_v(s, a):
    return _shr_common(s, a, False, "shr")


def trans_SRSHR_v(s, a):
    return _shr_common(s, a, False, "rshr")


def trans_SSRA_v(s, a):
    return _shr_common(s, a, False, "sra")


def trans_SRSRA_v(s, a):
    return _shr_common(s, a, False, "rsra")


def trans_SRI_v(s, a):
    return _shr_common(s, a, False, "sri")


def trans_SSHR_s(s, a):
    return _shr_common(s, a, True, "shr")


def trans_SRSHR_s(s, a):
    return _shr_common(s, a, True, "rshr")


def trans_SSRA_s(s, a):
    return _shr_common(s, a, True, "sra")


def trans_SRSRA_s(s, a):
    return _shr_common(s, a, True, "rsra")


def trans_SRI_s(s, a):
    return _shr_common(s, a, True, "sri")


def _shl_common(s: DisasContext, a, scalar: bool) -> bool:
    """SHL (u=0) / SLI (u=1)."""
    d = _shift_esz(a, scalar)
    if d is None or (scalar and d[0] != 3):
        return False
    esz, w, immhb = d
    sh = immhb - w
    n = 8 if scalar else nb(a.q)
    b = s.b
    if a.u:
        r = b.call(H_SLI, s.v(a.rd), s.v(a.rn), sh, esz, n, width=128)
    else:
        r = b.and_(b.shl(s.v(a.rn), sh, 128), S.rep(((1 << w) - 1) << sh & ((1 << w) - 1), esz, n), 128)
    s.set_v(a.rd, r)
    return True


def trans_SHL_v(s, a):
    return _shl_common(s, a, False)


def trans_SHL_s(s, a):
    return _shl_common(s, a, True)


def _qshl_imm(s: DisasContext, a, scalar: bool, signed_in: bool, signed_out: bool) -> bool:
    d = _shift_esz(a, scalar)
    if d is None:
        return False
    esz, w, immhb = d
    n = (1 << esz) if scalar else nb(a.q)
    t = s.b.call(H_QSHL_IMM, s.v(a.rn), immhb - w, esz, n, signed_in, signed_out, width=W)
    set_flags_result(s, a.rd, t)
    return True


def trans_SQSHLU_v(s, a):
    return _qshl_imm(s, a, False, True, False)


def trans_QSHL_i_v(s, a):
    return _qshl_imm(s, a, False, not a.u, not a.u)


def trans_SQSHLU_s(s, a):
    return _qshl_imm(s, a, True, True, False)


def trans_QSHL_i_s(s, a):
    return _qshl_imm(s, a, True, not a.u, not a.u)


def _narrow_shift(s: DisasContext, a, scalar: bool, rnd: bool, sat: tuple | None) -> bool:
    """SHRN/RSHRN and the saturating SQSHRN/UQSHRN/SQSHRUN (+ rounding)."""
    if a.immh == 0 or a.immh & 8:
        return False
    esz = a.immh.bit_length() - 1
    w = 8 << esz
    sh = 2 * w - ((a.immh << 3) | a.immb)
    b = s.b
    v = s.v(a.rn)
    if scalar:
        v = b.and_(v, EMASK[esz + 1], 128)
    if sat is None:
        write_narrow(s, a.rd, a.q, b.call(H_SHRN, v, sh, esz, rnd, width=128))
        return True
    t = b.call(H_QSHRN, v, sh, esz, rnd, sat[0], sat[1], width=W)
    if scalar:
        set_flags_result(s, a.rd, t, EMASK[esz])
    else:
        write_narrow(s, a.rd, a.q, b.and_(t, M64, W))
        fpsr_or(s, t, 128)
    return True


def trans_SHRN_v(s, a):
    return _narrow_shift(s, a, False, False, None)


def trans_RSHRN_v(s, a):
    return _narrow_shift(s, a, False, True, None)


def trans_SQSHRUN_v(s, a):
    return _narrow_shift(s, a, False, False, (True, False))


def trans_SQRSHRUN_v(s, a):
    return _narrow_shift(s, a, False, True, (True, False))


def trans_QSHRN_v(s, a):
    return _narrow_shift(s, a, False, False, (not a.u, not a.u))


def trans_QRSHRN_v(s, a):
    return _narrow_shift(s, a, False, True, (not a.u, not a.u))


def trans_SQSHRUN_s(s, a):
    return _narrow_shift(s, a, True, False, (True, False))


def trans_SQRSHRUN_s(s, a):
    return _narrow_shift(s, a, True, True, (True, False))


def trans_QSHRN_s(s, a):
    return _narrow_shift(s, a, True, False, (not a.u, not a.u))


def trans_QRSHRN_s(s, a):
    return _narrow_shift(s, a, True, True, (not a.u, not a.u))


def trans_SHLL_i_v(s: DisasContext, a) -> bool:
    """SSHLL/USHLL (and their aliases SXTL/UXTL)."""
    if a.immh == 0 or a.immh & 8:
        return False
    esz = a.immh.bit_length() - 1
    sh = ((a.immh << 3) | a.immb) - (8 << esz)
    s.set_v(a.rd, s.b.call(H_SHLL, half(s, a.rn, a.q), sh, esz, not a.u, width=128))
    return True


# ==== permutes, extract, table lookup ======================================================

H_PERM = simd_helper(S.zip_uzp_trn, "perm")
H_TBL = simd_helper(S.tbl, "tbl")


def trans_ZIPUZPTRN(s: DisasContext, a) -> bool:
    if a.op in (0, 4) or _bad_size(a):
        return False
    s.set_v(a.rd, s.b.call(H_PERM, s.v(a.rn), s.v(a.rm), a.size, nb(a.q), a.op, width=128))
    return True


def trans_EXT_v(s: DisasContext, a) -> bool:
    if not a.q and a.imm & 8:
        return False
    b = s.b
    n, m = s.v(a.rn), s.v(a.rm)
    nbytes = nb(a.q)
    if a.imm == 0:
        s.set_v(a.rd, b.and_(n, qmask(a.q), 128) if not a.q else n)
        return True
    if not a.q:
        n = b.and_(n, M64, 128)
    lo = b.shr(n, 8 * a.imm, 128)
    hi = b.shl(m, 8 * (nbytes - a.imm), 128)
    s.set_v(a.rd, b.and_(b.or_(lo, hi, 128), qmask(a.q), 128))
    return True


def trans_TBL_v(s: DisasContext, a) -> bool:
    b = s.b
    nregs = a.len + 1
    table = s.v(a.rn)
    for i in range(1, nregs):
        table = b.or_(table, b.shl(s.v((a.rn + i) % 32), 128 * i, 128 * nregs), 128 * nregs)
    dflt = s.v(a.rd) if a.x else 0
    s.set_v(a.rd, b.call(H_TBL, table, nregs, s.v(a.rm), dflt, nb(a.q), width=128))
    return True


# ==== indexed element ======================================================================

def by_elem_operand(a, fp: bool) -> tuple[int, int, int] | None:
    """(esz, index, Rm) of a by-element operand, or None if reserved."""
    if fp:
        if a.size & 1:  # double
            if a.l:
                return None
            return 3, a.h, (a.m << 4) | a.rm
        return 2, (a.h << 1) | a.l, (a.m << 4) | a.rm
    if a.size == 1:
        return 1, (a.h << 2) | (a.l << 1) | a.m, a.rm
    if a.size == 2:
        return 2, (a.h << 1) | a.l, (a.m << 4) | a.rm
    return None


def dup_elem(s: DisasContext, rm: int, idx: int, esz: int, nbytes: int = 16):
    return s.b.mul(elem(s, rm, idx, esz), S.rep(1, esz, nbytes), 128)


def _idx_int(h: Helper, acc: bool = False, flags: bool = False, extra: tuple = ()):
    def trans(s: DisasContext, a) -> bool:
        d = by_elem_operand(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        m = dup_elem(s, rm, idx, esz)
        args = ([s.v(a.rd)] if acc else []) + [s.v(a.rn), m, esz, nb(a.q), *extra]
        t = s.b.call(h, *args, width=W if flags else 128)
        if flags:
            set_flags_result(s, a.rd, t)
        else:
            s.set_v(a.rd, t)
        return True
    return trans


trans_MUL_idx_v = _idx_int(H_MUL)
trans_MLA_idx_v = _idx_int(H_MLA, acc=True)
trans_MLS_idx_v = _idx_int(H_MLS, acc=True)
trans_SQDMULH_idx_v = _idx_int(H_QDMULH, flags=True, extra=(False,))
trans_SQRDMULH_idx_v = _idx_int(H_QDMULH, flags=True, extra=(True,))


def _idx_long(h: Helper, acc: int = 0):
    def trans(s: DisasContext, a) -> bool:
        d = by_elem_operand(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        m = b.and_(dup_elem(s, rm, idx, esz), M64, 128)
        r = b.call(h, half(s, a.rn, a.q), m, esz, not a.u, width=128)
        if acc:
            H = S.hi_bits(esz + 1, 16)
            r = b.call(H_VADD if acc > 0 else H_VSUB, s.v(a.rd), r, H, M128, width=128)
        s.set_v(a.rd, r)
        return True
    return trans


trans_MULL_idx_v = _idx_long(H_MULL)
trans_MLAL_idx_v = _idx_long(H_MULL, 1)
trans_MLSL_idx_v = _idx_long(H_MULL, -1)


def _idx_qdml(op: int):
    def trans(s: DisasContext, a) -> bool:
        d = by_elem_operand(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        m = b.and_(dup_elem(s, rm, idx, esz), M64, 128)
        n = half(s, a.rn, a.q)
        if op:
            t = b.call(H_QDMLAL, s.v(a.rd), n, m, esz, op < 0, width=W)
        else:
            t = b.call(H_QDMULL, n, m, esz, width=W)
        set_flags_result(s, a.rd, t)
        return True
    return trans


trans_SQDMULL_idx_v = _idx_qdml(0)
trans_SQDMLAL_idx_v = _idx_qdml(1)
trans_SQDMLSL_idx_v = _idx_qdml(-1)


def _idx_q_s(op: int, rnd: bool = False):
    """Scalar SQDMULH/SQRDMULH (op 2), SQDMULL (0), SQDMLAL (+1), SQDMLSL (-1) by element."""
    def trans(s: DisasContext, a) -> bool:
        d = by_elem_operand(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        n = b.and_(s.v(a.rn), EMASK[esz], 128)
        m = elem(s, rm, idx, esz)
        if op == 2:
            t = b.call(H_QDMULH, n, m, esz, 1 << esz, rnd, width=W)
            set_flags_result(s, a.rd, t, EMASK[esz])
            return True
        if op:
            t = b.call(H_QDMLAL, b.and_(s.v(a.rd), EMASK[esz + 1], 128), n, m, esz, op < 0, width=W)
        else:
            t = b.call(H_QDMULL, n, m, esz, width=W)
        set_flags_result(s, a.rd, t, EMASK[esz + 1])
        return True
    return trans


trans_SQDMULH_idx_s = _idx_q_s(2)
trans_SQRDMULH_idx_s = _idx_q_s(2, True)
trans_SQDMULL_idx_s = _idx_q_s(0)
trans_SQDMLAL_idx_s = _idx_q_s(1)
trans_SQDMLSL_idx_s = _idx_q_s(-1)


# ==== structure loads and stores ===========================================================

H_DEINTERLEAVE = simd_helper(S.deinterleave, "deinterleave")
H_INTERLEAVE = simd_helper(S.interleave, "interleave")

# opcode -> (registers, elements per structure)
_MULT = {0b0000: (4, 4), 0b0010: (4, 1), 0b0100: (3, 3), 0b0110: (3, 1), 0b0111: (1, 1),
         0b1000: (2, 2), 0b1010: (2, 1)}


def _post_index(s: DisasContext, a, base, nbytes: int) -> None:
    if not a.p:
        return
    inc = nbytes if a.rm == 31 else s.x(a.rm)
    s.set_xsp(a.rn, s.b.add(base, inc, 64))


def trans_LDST_mult(s: DisasContext, a) -> bool:
    d = _MULT.get(a.opc)
    if d is None:
        return False
    nregs, selem = d
    if a.size == 3 and not a.q and selem > 1:
        return False
    b = s.b
    rb = nb(a.q)
    total = nregs * rb
    base = s.tmp_copy(s.xsp(a.rn))
    regs = [(a.rt + i) % 32 for i in range(nregs)]
    if a.l:
        vals = [b.ld(b.add(base, i * rb, 64) if i else base, rb) for i in range(nregs)]
        if selem > 1:
            data = vals[0]
            for i in range(1, nregs):
                data = b.or_(data, b.shl(vals[i], 8 * rb * i, 8 * total), 8 * total)
            t = b.call(H_DEINTERLEAVE, data, selem, a.size, rb, width=128 * selem)
            vals = [b.and_(b.shr(t, 128 * i, 128 * selem), M128, 128 * selem) if i else b.and_(t, M128, 512)
                    for i in range(selem)]
        _post_index(s, a, base, total)
        for r, v in zip(regs, vals, strict=True):
            s.set_v(r, v)
        return True
    if selem > 1:
        regs_val = s.v(regs[0])
        for i in range(1, nregs):
            regs_val = b.or_(regs_val, b.shl(s.v(regs[i]), 128 * i, 128 * nregs), 128 * nregs)
        data = b.call(H_INTERLEAVE, regs_val, selem, a.size, rb, width=8 * total)
        for i in range(nregs):
            chunk = b.and_(b.shr(data, 8 * rb * i, 8 * total), S.NMASK[rb], 8 * total) if i else \
                b.and_(data, S.NMASK[rb], 8 * total)
            b.st(b.add(base, i * rb, 64) if i else base, chunk, rb)
    else:
        for i, r in enumerate(regs):
            v = s.v(r) if a.q else b.and_(s.v(r), M64, 128)
            b.st(b.add(base, i * rb, 64) if i else base, v, rb)
    _post_index(s, a, base, total)
    return True


trans_LDST_mult_p = trans_LDST_mult


def trans_LDST_sing(s: DisasContext, a) -> bool:
    scale = a.opc >> 1
    selem = (((a.opc & 1) << 1) | a.r) + 1
    b = s.b
    if scale == 3:  # load and replicate
        if not a.l or a.s:
            return False
        esz = a.size
        idx = None
    else:
        esz = scale
        if scale == 0:
            idx = (a.q << 3) | (a.s << 2) | a.size
        elif scale == 1:
            if a.size & 1:
                return False
            idx = (a.q << 2) | (a.s << 1) | (a.size >> 1)
        else:
            if a.size & 2 or (a.size & 1 and a.s):
                return False
            if a.size & 1:
                esz, idx = 3, a.q
            else:
                idx = (a.q << 1) | a.s
    eb = 1 << esz
    base = s.tmp_copy(s.xsp(a.rn))
    regs = [(a.rt + i) % 32 for i in range(selem)]
    if a.l:
        vals = [b.ld(b.add(base, i * eb, 64) if i else base, eb) for i in range(selem)]
        _post_index(s, a, base, selem * eb)
        for r, v in zip(regs, vals, strict=True):
            if idx is None:
                s.set_v(r, b.mul(v, S.rep(1, esz, nb(a.q)), 128))
            else:
                _insert(s, r, idx, esz, v)
        return True
    for i, r in enumerate(regs):
        b.st(b.add(base, i * eb, 64) if i else base, elem(s, r, idx, esz), eb)
    _post_index(s, a, base, selem * eb)
    return True


trans_LDST_sing_p = trans_LDST_sing


# ==== known, unimplemented groups ===========================================================

_UNIMP = {1: "AES", 2: "SHA", 3: "FP16 vector arithmetic", 4: "dot product/complex (SIMD three same extra)"}


def _unimp(s: DisasContext, a) -> bool:
    return s.unimp(_UNIMP[a.what])


trans_UNIMP_aes = trans_UNIMP_sha3reg = trans_UNIMP_sha2reg = _unimp
trans_UNIMP_fp16vec = trans_UNIMP_fp16misc = trans_UNIMP_simdext = _unimp
