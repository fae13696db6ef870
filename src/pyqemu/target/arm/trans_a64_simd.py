"""A64 Advanced SIMD: vector and scalar integer/FP operations, permutes, and
the structure loads/stores (LD1-LD4, ST1-ST4, LD1R-LD4R).

Vector registers are 128-bit ints. Bitwise operations, moves, immediates,
DUP/INS/UMOV, EXT, add/sub and the common shifts are inline IR (SWAR on the
whole register); lane-wise work goes to :mod:`helper_simd` (integer) and
:mod:`helper_fp` (floating point) helpers parameterised by element size
(``esz``: log2 of the element's byte size) and operand width in bytes. A
64-bit (Q=0) result zeroes the upper half of the destination. Helpers that
may set FPSR bits (FP exceptions, QC saturation) return them above bit 128.
Unimplemented: the crypto extensions, FP16 vector arithmetic, dot products,
complex-number and BF16 instructions (they raise SIGILL).
"""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm import helper_simd as S
from pyqemu.target.arm.trans_a64_fp import EMASK, H_FMA, SIGN, W, fpcr, fpsr, fpsr_or, vfp_expand_imm
from pyqemu.target.arm.translate import DisasContext
from pyqemu.tcg.ir import Helper

M64 = C.M64
M128 = (1 << 128) - 1


def _h(fn, name: str) -> Helper:
    return Helper(fn, "h_simd_" + name, pure=True)


def nb(q: int) -> int:
    return 16 if q else 8


def qmask(q: int) -> int:
    return M128 if q else M64


def _bad_size(a) -> bool:
    """size 3 with Q=0 (.1D) is reserved for most vector operations."""
    return a.size == 3 and not a.q


def _set_flags_result(s: DisasContext, rd: int, t, mask: int = M128) -> None:
    s.set_v(rd, s.b.and_(t, mask, W))
    fpsr_or(s, t, 128)


def _half(s: DisasContext, rn: int, part: int):
    """The low (part 0) or high (part 1) 64 bits of Vn."""
    v = s.v(rn)
    return s.b.shr(v, 64, 128) if part else s.b.and_(v, M64, 128)


def _write_narrow(s: DisasContext, rd: int, q: int, val) -> None:
    """A 64-bit narrowed result: the low half of Vd (Q=0, upper zeroed) or its
    high half (the "2" variants, Q=1, low half kept)."""
    b = s.b
    if q:
        s.set_v(rd, b.or_(b.and_(s.v(rd), M64, 128), b.shl(val, 64, 128), 128))
    else:
        s.set_v(rd, val)


def _elem(s: DisasContext, rn: int, idx: int, esz: int):
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

H_CMEQ = _h(S.cmeq, "cmeq")
H_CMTST = _h(S.cmtst, "cmtst")
H_CMHI = _h(S.cmhi, "cmhi")
H_CMHS = _h(S.cmhs, "cmhs")
H_CMGT = _h(S.cmgt, "cmgt")
H_CMGE = _h(S.cmge, "cmge")
H_HADD = _h(S.hadd, "hadd")
H_RHADD = _h(S.rhadd, "rhadd")
H_HSUB = _h(S.hsub, "hsub")
H_QADD = _h(S.qadd, "qadd")
H_QSUB = _h(S.qsub, "qsub")
H_MAX = _h(S.vmax, "max")
H_MIN = _h(S.vmin, "min")
H_ABD = _h(S.abd, "abd")
H_ABA = _h(S.aba, "aba")
H_MUL = _h(S.mul, "mul")
H_MLA = _h(S.mla, "mla")
H_MLS = _h(S.mls, "mls")
H_PMUL = _h(S.pmul, "pmul")
H_SHLREG = _h(S.shl_reg, "shl_reg")
H_QDMULH = _h(S.qdmulh, "qdmulh")
H_ADDP = _h(S.addp, "addp")
H_MAXP = _h(S.maxp, "maxp")
H_MINP = _h(S.minp, "minp")


def _v3(h: Helper, *extra, acc: bool = False, flags: bool = False, sizes: tuple = (0, 1, 2)):
    """A lane-wise three-same op through helper h(n, m, esz, nbytes, *extra)
    (with Vd first when `acc`)."""
    def trans(s: DisasContext, a) -> bool:
        if a.size not in sizes or _bad_size(a):
            return False
        args = ([s.v(a.rd)] if acc else []) + [s.v(a.rn), s.v(a.rm), a.size, nb(a.q), *extra]
        t = s.b.call(h, *args, width=W if flags else 128)
        if flags:
            _set_flags_result(s, a.rd, t)
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
            _set_flags_result(s, a.rd, t)
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


# ==== floating point three same (vector and scalar) ========================================

def _vfh(kern, name: str) -> Helper:
    return _h(lambda x, y, c, e, n, fs: F.vmap2(kern, x, y, c, e, n, fs), "vf_" + name)


def _cmpk(op: str):
    return lambda x, y, c, e, fs=0: F.cmp_mask(x, y, c, e, op)


def _vfma(d: int, x: int, y: int, c: int, esz: int, nbytes: int, fs: int) -> int:
    w = 8 << esz
    m = (1 << w) - 1
    r = fl = 0
    for sh in range(0, nbytes * 8, w):
        t = F.muladd((d >> sh) & m, (x >> sh) & m, (y >> sh) & m, c, esz, fs)
        r |= (t & m) << sh
        fl |= t >> 64
    return r | fl << 128


def _vpair(kern):
    """Pairwise FP op over the concatenation of the two operands' lanes."""
    def h(x: int, y: int, c: int, esz: int, nbytes: int, fs: int) -> int:
        w = 8 << esz
        m = (1 << w) - 1
        n = nbytes * 8 // w
        lanes = [(x >> (i * w)) & m for i in range(n)] + [(y >> (i * w)) & m for i in range(n)]
        r = fl = 0
        for i in range(n):
            t = kern(lanes[2 * i], lanes[2 * i + 1], c, esz, fs)
            r |= (t & m) << (i * w)
            fl |= t >> 64
        return r | fl << 128
    return h


_FK = {"add": F.add, "sub": F.sub, "mul": F.mul, "div": F.div, "max": F.fmax, "min": F.fmin,
       "maxnm": F.fmaxnm, "minnm": F.fminnm, "mulx": F.mulx, "abd": F.abd, "recps": F.recps,
       "rsqrts": F.rsqrts, "cmeq": _cmpk("eq"), "cmge": _cmpk("ge"), "cmgt": _cmpk("gt"),
       "acge": _cmpk("age"), "acgt": _cmpk("agt")}
HV = {k: _vfh(v, k) for k, v in _FK.items()}
HP = {k: _h(_vpair(_FK[k]), "vp_" + k) for k in ("add", "max", "min", "maxnm", "minnm")}
H_VFMA = _h(_vfma, "vfma")
HS = {k: Helper(v, "h_fps_" + k, pure=True) for k, v in _FK.items()}


def _negate_lanes(s: DisasContext, v, esz: int, nbytes: int):
    return s.b.xor(v, S.rep(SIGN[esz], esz, nbytes), 128)


def _vf3(name: str, pair: bool = False):
    def trans(s: DisasContext, a) -> bool:
        esz = 2 + (a.size & 1)
        if esz == 3 and not a.q:
            return False
        h = HP[name] if pair else HV[name]
        t = s.b.call(h, s.v(a.rn), s.v(a.rm), fpcr(s), esz, nb(a.q), fpsr(s), width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


for _n in ("add", "sub", "mul", "div", "max", "min", "maxnm", "minnm", "mulx", "abd", "recps", "rsqrts",
           "cmeq", "cmge", "cmgt", "acge", "acgt"):
    globals()[f"trans_F{_n.upper()}_v"] = _vf3(_n)
for _n in ("add", "max", "min", "maxnm", "minnm"):
    globals()[f"trans_F{_n.upper()}P_v"] = _vf3(_n, pair=True)


def _fmla_v(neg: bool):
    def trans(s: DisasContext, a) -> bool:
        esz = 2 + (a.size & 1)
        if esz == 3 and not a.q:
            return False
        n = s.v(a.rn)
        if neg:
            n = _negate_lanes(s, n, esz, 16)
        t = s.b.call(H_VFMA, s.v(a.rd), n, s.v(a.rm), fpcr(s), esz, nb(a.q), fpsr(s), width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FMLA_v = _fmla_v(False)
trans_FMLS_v = _fmla_v(True)


def _sf3(name: str):
    """Scalar (SIMD) FP three-same: one element of S or D size."""
    def trans(s: DisasContext, a) -> bool:
        esz = 2 + (a.size & 1)
        t = s.b.call(HS[name], s.v(a.rn), s.v(a.rm), fpcr(s), esz, fpsr(s), width=W)
        s.set_v(a.rd, s.b.and_(t, EMASK[esz], W))
        fpsr_or(s, t, 64)
        return True
    return trans


for _n in ("mulx", "cmeq", "recps", "rsqrts", "cmge", "acge", "abd", "cmgt", "acgt"):
    globals()[f"trans_F{_n.upper()}_s"] = _sf3(_n)


# ==== three different ========================================================================

H_ADDL = _h(S.addl, "addl")
H_SUBL = _h(S.subl, "subl")
H_ABDL = _h(S.abdl, "abdl")
H_MULL = _h(S.mull, "mull")
H_ADDW = _h(S.addw, "addw")
H_SUBW = _h(S.subw, "subw")
H_ADDHN = _h(S.addhn, "addhn")
H_QDMULL = _h(S.qdmull, "qdmull")
H_QDMLAL = _h(S.qdmlal, "qdmlal")
H_VADD = _h(S.vadd, "vadd")
H_VSUB = _h(S.vsub, "vsub")


def _long(h: Helper, acc: int = 0, wide: bool = False):
    """Long ops: Vd(2*esize) = f(half(Vn), half(Vm)); acc=+1/-1 accumulates into Vd."""
    def trans(s: DisasContext, a) -> bool:
        if a.size == 3:
            return False
        b = s.b
        n = s.v(a.rn) if wide else _half(s, a.rn, a.q)
        r = b.call(h, n, _half(s, a.rm, a.q), a.size, not a.u, width=128)
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
        _write_narrow(s, a.rd, a.q, r)
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
            n, m = _half(s, a.rn, a.q), _half(s, a.rm, a.q)
        if op:
            d = b.and_(s.v(a.rd), EMASK[a.size + 1], 128) if scalar else s.v(a.rd)
            t = b.call(H_QDMLAL, d, n, m, a.size, op < 0, width=W)
        else:
            t = b.call(H_QDMULL, n, m, a.size, width=W)
        _set_flags_result(s, a.rd, t, EMASK[a.size + 1] if scalar else M128)
        return True
    return trans


trans_SQDMULL_v = _qdml(0)
trans_SQDMLAL_v = _qdml(1)
trans_SQDMLSL_v = _qdml(-1)
trans_SQDMULL_s = _qdml(0, True)
trans_SQDMLAL_s = _qdml(1, True)
trans_SQDMLSL_s = _qdml(-1, True)


# ==== two-register miscellaneous ================================================================

H_REV = _h(S.rev, "rev")
H_ADDLP = _h(S.addlp, "addlp")
H_ADALP = _h(S.adalp, "adalp")
H_SQADDACC = _h(S.sqaddacc, "sqaddacc")
H_CLS = _h(S.cls, "cls")
H_CLZ = _h(S.clz, "clz")
H_CNT = _h(S.cnt, "cnt")
H_RBIT = _h(S.rbit, "rbit")
H_QABSNEG = _h(S.qabsneg, "qabsneg")
H_ABSNEG = _h(S.absneg, "absneg")
H_CMP0 = {op: _h(lambda x, esz, n, _op=op: S.cmp0(x, esz, n, _op), "cmp0_" + op)
          for op in ("gt", "ge", "eq", "le", "lt")}
H_XTN = _h(S.xtn, "xtn")
H_QXTN = _h(S.qxtn, "qxtn")
H_SHLL = _h(S.shll, "shll")


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
            _set_flags_result(s, a.rd, t)
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
        s.set_v(a.rd, s.b.call(H_CMP0[op], s.v(a.rn), a.size, n, width=128))
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
    _set_flags_result(s, a.rd, t)
    return True


def trans_SQADDACC_s(s: DisasContext, a) -> bool:
    t = s.b.call(H_SQADDACC, s.v(a.rd), s.v(a.rn), a.size, 1 << a.size, bool(a.u), width=W)
    _set_flags_result(s, a.rd, t)
    return True


def trans_XTN_v(s: DisasContext, a) -> bool:
    if a.size == 3:
        return False
    _write_narrow(s, a.rd, a.q, s.b.call(H_XTN, s.v(a.rn), a.size, width=128))
    return True


def _qxtn_v(s: DisasContext, a, signed_in: bool, signed_out: bool) -> bool:
    if a.size == 3:
        return False
    t = s.b.call(H_QXTN, s.v(a.rn), a.size, signed_in, signed_out, width=W)
    _write_narrow(s, a.rd, a.q, s.b.and_(t, M64, W))
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
    _set_flags_result(s, a.rd, t, EMASK[a.size])
    return True


def trans_SQXTUN_s(s: DisasContext, a) -> bool:
    return _qxtn_s(s, a, True, False)


def trans_QXTN_s(s: DisasContext, a) -> bool:
    return _qxtn_s(s, a, not a.u, not a.u)


def trans_SHLL_v(s: DisasContext, a) -> bool:
    if a.size == 3:
        return False
    s.set_v(a.rd, s.b.call(H_SHLL, _half(s, a.rn, a.q), 8 << a.size, a.size, False, width=128))
    return True


# --- floating point misc (vector) ---

def _fcvtn(x: int, c: int, esz_from: int, rm: int) -> int:
    """FCVTN/FCVTXN: narrow the lanes of a 128-bit value to 64 bits."""
    w = 8 << esz_from
    m = (1 << w) - 1
    r = fl = 0
    for i in range(128 // w):
        t = F.convert((x >> (i * w)) & m, c, esz_from, esz_from - 1, rm)
        r |= (t & (m >> (w // 2))) << (i * w // 2)
        fl |= t >> 64
    return r | fl << 128


def _fcvtl(x: int, c: int, esz_from: int) -> int:
    w = 8 << esz_from
    m = (1 << w) - 1
    r = fl = 0
    for i in range(64 // w):
        t = F.convert((x >> (i * w)) & m, c, esz_from, esz_from + 1)
        r |= (t & ((1 << (2 * w)) - 1)) << (i * 2 * w)
        fl |= t >> 64
    return r | fl << 128


H_FCVTN = _h(_fcvtn, "fcvtn")
H_FCVTL = _h(_fcvtl, "fcvtl")
H_VRINT = _h(lambda x, c, e, n, rm, ex: F.vmap1(F.round_int, x, c, e, n, rm, ex), "vrint")
H_VTOINT = _h(lambda x, c, e, n, rm, sg, fb: F.vmap1(F.to_int, x, c, e, n, rm, sg, 8 << e, fb), "vtoint")
H_VFROMINT = _h(lambda x, c, e, n, sg, fb: F.vmap1(
    lambda v, c2, e2: F.from_int(v, c2, e2, sg, 8 << e2, fb), x, c, e, n), "vfromint")
H_VSQRT = _h(lambda x, c, e, n: F.vmap1(F.sqrt, x, c, e, n), "vsqrt")
H_VRECPE = _h(lambda x, c, e, n: F.vmap1(F.recpe, x, c, e, n), "vrecpe")
H_VRSQRTE = _h(lambda x, c, e, n: F.vmap1(F.rsqrte, x, c, e, n), "vrsqrte")
H_VCMP0 = {op: _h(lambda x, c, e, n, _op=op: F.vmap1(
    lambda v, c2, e2: (F.cmp_mask(0, v, c2, e2, _op[1:]) if _op[0] == "r" else F.cmp_mask(v, 0, c2, e2, _op)),
    x, c, e, n), "vcmp0_" + op) for op in ("gt", "ge", "eq", "rge", "rgt")}


def _fesz(s: DisasContext, a) -> int | None:
    esz = 2 + (a.size & 1)
    if esz == 3 and not a.q:
        return None
    return esz


def trans_FCVTN_v(s: DisasContext, a) -> bool:
    if a.u and not a.size & 1:
        return False
    rm = F.RO if a.u else -1
    t = s.b.call(H_FCVTN, s.v(a.rn), fpcr(s), 2 + (a.size & 1), rm, width=W)
    _write_narrow(s, a.rd, a.q, s.b.and_(t, M64, W))
    fpsr_or(s, t, 128)
    return True


def trans_FCVTL_v(s: DisasContext, a) -> bool:
    t = s.b.call(H_FCVTL, _half(s, a.rn, a.q), fpcr(s), 1 + (a.size & 1), width=W)
    _set_flags_result(s, a.rd, t)
    return True


def _vrint(rm0, ex0, rm1=None, ex1=False):
    def trans(s: DisasContext, a) -> bool:
        esz = _fesz(s, a)
        if esz is None or (a.u and rm1 is None):
            return False
        rm, ex = (rm1, ex1) if a.u else (rm0, ex0)
        t = s.b.call(H_VRINT, s.v(a.rn), fpcr(s), esz, nb(a.q), rm, ex, width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FRINTNA_v = _vrint(F.RN, False, F.RA, False)
trans_FRINTMX_v = _vrint(F.RM, False, -1, True)
trans_FRINTP_v = _vrint(F.RP, False)
trans_FRINTZI_v = _vrint(F.RZ, False, -1, False)


def _vtoint(rm: int, scalar: bool = False):
    def trans(s: DisasContext, a) -> bool:
        if scalar:
            esz, n = 2 + (a.size & 1), 4 << (a.size & 1)
        else:
            esz = _fesz(s, a)
            if esz is None:
                return False
            n = nb(a.q)
        t = s.b.call(H_VTOINT, s.v(a.rn), fpcr(s), esz, n, rm, not a.u, 0, width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FCVTN_i_v = _vtoint(F.RN)
trans_FCVTM_i_v = _vtoint(F.RM)
trans_FCVTA_i_v = _vtoint(F.RA)
trans_FCVTP_i_v = _vtoint(F.RP)
trans_FCVTZ_i_v = _vtoint(F.RZ)
trans_FCVTN_i_s = _vtoint(F.RN, True)
trans_FCVTM_i_s = _vtoint(F.RM, True)
trans_FCVTA_i_s = _vtoint(F.RA, True)
trans_FCVTP_i_s = _vtoint(F.RP, True)
trans_FCVTZ_i_s = _vtoint(F.RZ, True)


def trans_CVTF_v(s: DisasContext, a) -> bool:
    esz = _fesz(s, a)
    if esz is None:
        return False
    t = s.b.call(H_VFROMINT, s.v(a.rn), fpcr(s), esz, nb(a.q), not a.u, 0, width=W)
    _set_flags_result(s, a.rd, t)
    return True


def trans_CVTF_s(s: DisasContext, a) -> bool:
    esz = 2 + (a.size & 1)
    t = s.b.call(H_VFROMINT, s.v(a.rn), fpcr(s), esz, 1 << esz, not a.u, 0, width=W)
    _set_flags_result(s, a.rd, t)
    return True


def _vf1(h: Helper, scalar: bool = False):
    def trans(s: DisasContext, a) -> bool:
        if scalar:
            esz = 2 + (a.size & 1)
            n = 1 << esz
        else:
            esz = _fesz(s, a)
            if esz is None:
                return False
            n = nb(a.q)
        t = s.b.call(h, s.v(a.rn), fpcr(s), esz, n, width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FSQRT_v = _vf1(H_VSQRT)
trans_FRECPE_v = _vf1(H_VRECPE)
trans_FRSQRTE_v = _vf1(H_VRSQRTE)
trans_FRECPE_s = _vf1(H_VRECPE, True)
trans_FRSQRTE_s = _vf1(H_VRSQRTE, True)
trans_FRECPX_s = _vf1(_h(lambda x, c, e, n: F.vmap1(F.recpx, x, c, e, n), "vrecpx"), True)


def _fcmp0(op0: str, op1: str | None, scalar: bool = False):
    def trans(s: DisasContext, a) -> bool:
        op = op1 if getattr(a, "u", 0) else op0
        if op is None:
            return False
        return _vf1(H_VCMP0[op], scalar)(s, a)
    return trans


trans_FCMGTGE0_v = _fcmp0("gt", "ge")
trans_FCMEQLE0_v = _fcmp0("eq", "rge")
trans_FCMLT0_v = _fcmp0("rgt", None)
trans_FCMGTGE0_s = _fcmp0("gt", "ge", True)
trans_FCMEQLE0_s = _fcmp0("eq", "rge", True)
trans_FCMLT0_s = _fcmp0("rgt", None, True)


def trans_FABSNEG_v(s: DisasContext, a) -> bool:
    esz = _fesz(s, a)
    if esz is None:
        return False
    b = s.b
    n = nb(a.q)
    signs = S.rep(SIGN[esz], esz, n)
    if a.u:
        r = b.xor(b.and_(s.v(a.rn), S.NMASK[n], 128), signs, 128)
    else:
        r = b.and_(s.v(a.rn), S.NMASK[n] ^ signs, 128)
    s.set_v(a.rd, r)
    return True


def trans_FCVTXN_s(s: DisasContext, a) -> bool:
    if not a.size & 1:
        return False
    t = s.b.call(H_FCVTN, s.b.and_(s.v(a.rn), M64, 128), fpcr(s), 3, F.RO, width=W)
    _set_flags_result(s, a.rd, t, C.M32)
    return True


# ==== across lanes ======================================================================

H_ADDV = _h(S.addv, "addv")
H_ADDLV = _h(S.addlv, "addlv")
H_MAXV = _h(S.maxv, "maxv")
H_MINV = _h(S.minv, "minv")


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


def _freduce(kern):
    """FMAXV & co: the ARM Reduce() tree over 4 single-precision lanes."""
    def h(x: int, c: int) -> int:
        m = C.M32
        e = [(x >> (32 * i)) & m for i in range(4)]
        t0 = kern(e[0], e[1], c, 2)
        t1 = kern(e[2], e[3], c, 2)
        t = kern(t0 & m, t1 & m, c, 2)
        return (t & m) | ((t0 | t1 | t) >> 64) << 128
    return h


def _fred(kern, name: str):
    h = _h(_freduce(kern), "fred_" + name)

    def trans(s: DisasContext, a) -> bool:
        if not a.q or a.size & 1:
            return False
        t = s.b.call(h, s.v(a.rn), fpcr(s), width=W)
        _set_flags_result(s, a.rd, t, C.M32)
        return True
    return trans


trans_FMAXNMV_v = _fred(F.fmaxnm, "maxnm")
trans_FMINNMV_v = _fred(F.fminnm, "minnm")
trans_FMAXV_v = _fred(F.fmax, "max")
trans_FMINV_v = _fred(F.fmin, "min")


# ==== scalar pairwise ==================================================================

def trans_ADDP_s(s: DisasContext, a) -> bool:
    if a.size != 3:
        return False
    b = s.b
    v = s.v(a.rn)
    s.set_v(a.rd, b.add(v, b.shr(v, 64, 128), 64))
    return True


def _fpair_s(name: str):
    def trans(s: DisasContext, a) -> bool:
        esz = 2 + (a.size & 1)
        b = s.b
        v = s.v(a.rn)
        t = b.call(HS[name], v, b.shr(v, 8 << esz, 128), fpcr(s), esz, fpsr(s), width=W)
        s.set_v(a.rd, b.and_(t, EMASK[esz], W))
        fpsr_or(s, t, 64)
        return True
    return trans


trans_FADDP_s = _fpair_s("add")
trans_FMAXP_s = _fpair_s("max")
trans_FMINP_s = _fpair_s("min")
trans_FMAXNMP_s = _fpair_s("maxnm")
trans_FMINNMP_s = _fpair_s("minnm")


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
    e = _elem(s, a.rn, idx, esz)
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
    e = _elem(s, a.rn, a.imm4 >> esz, esz)
    _insert(s, a.rd, idx, esz, e)
    return True


def trans_UMOV(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None or (d[0] == 3) != bool(a.q):
        return False
    esz, idx = d
    s.set_x(a.rd, _elem(s, a.rn, idx, esz))
    return True


def trans_SMOV(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None or d[0] == 3 or (d[0] == 2 and not a.q):
        return False
    esz, idx = d
    w = 64 if a.q else 32
    s.set_x(a.rd, s.b.ext(_elem(s, a.rn, idx, esz), 8 << esz, True, w))
    return True


def trans_DUP_elem_s(s: DisasContext, a) -> bool:
    d = _imm5(a.imm5)
    if d is None:
        return False
    esz, idx = d
    s.set_v(a.rd, _elem(s, a.rn, idx, esz))
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

H_SSHR = _h(S.sshr, "sshr")
H_SHR_IMM = _h(S.shr_imm, "shr_imm")
H_SRA_IMM = _h(S.sra_imm, "sra_imm")
H_SRI = _h(S.sri, "sri")
H_SLI = _h(S.sli, "sli")
H_QSHL_IMM = _h(S.qshl_imm, "qshl_imm")
H_SHRN = _h(S.shrn, "shrn")
H_QSHRN = _h(S.qshrn, "qshrn")


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
    _set_flags_result(s, a.rd, t)
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
        _write_narrow(s, a.rd, a.q, b.call(H_SHRN, v, sh, esz, rnd, width=128))
        return True
    t = b.call(H_QSHRN, v, sh, esz, rnd, sat[0], sat[1], width=W)
    if scalar:
        _set_flags_result(s, a.rd, t, EMASK[esz])
    else:
        _write_narrow(s, a.rd, a.q, b.and_(t, M64, W))
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
    s.set_v(a.rd, s.b.call(H_SHLL, _half(s, a.rn, a.q), sh, esz, not a.u, width=128))
    return True


def _fix_esz(a, scalar: bool) -> tuple[int, int] | None:
    """(esz, fraction bits) of the fixed-point conversions; FP16 is not implemented."""
    if a.immh < 4:
        return None
    esz = 3 if a.immh & 8 else 2
    if esz == 3 and not scalar and not a.q:
        return None
    return esz, (16 << esz) - ((a.immh << 3) | a.immb)


def _cvt_fix(s: DisasContext, a, scalar: bool, to_fp: bool) -> bool:
    d = _fix_esz(a, scalar)
    if d is None:
        return False
    esz, fbits = d
    n = (1 << esz) if scalar else nb(a.q)
    if to_fp:
        t = s.b.call(H_VFROMINT, s.v(a.rn), fpcr(s), esz, n, not a.u, fbits, width=W)
    else:
        t = s.b.call(H_VTOINT, s.v(a.rn), fpcr(s), esz, n, F.RZ, not a.u, fbits, width=W)
    _set_flags_result(s, a.rd, t)
    return True


def trans_CVTF_fix_v(s, a):
    return _cvt_fix(s, a, False, True)


def trans_FCVTZ_fix_v(s, a):
    return _cvt_fix(s, a, False, False)


def trans_CVTF_fix_s(s, a):
    return _cvt_fix(s, a, True, True)


def trans_FCVTZ_fix_s(s, a):
    return _cvt_fix(s, a, True, False)


# ==== permutes, extract, table lookup ======================================================

H_PERM = _h(S.zip_uzp_trn, "perm")
H_TBL = _h(S.tbl, "tbl")


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

def _idx(a, fp: bool) -> tuple[int, int, int] | None:
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


def _dup_elem(s: DisasContext, rm: int, idx: int, esz: int, nbytes: int = 16):
    return s.b.mul(_elem(s, rm, idx, esz), S.rep(1, esz, nbytes), 128)


def _idx_int(h: Helper, acc: bool = False, flags: bool = False, extra: tuple = ()):
    def trans(s: DisasContext, a) -> bool:
        d = _idx(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        m = _dup_elem(s, rm, idx, esz)
        args = ([s.v(a.rd)] if acc else []) + [s.v(a.rn), m, esz, nb(a.q), *extra]
        t = s.b.call(h, *args, width=W if flags else 128)
        if flags:
            _set_flags_result(s, a.rd, t)
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
        d = _idx(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        m = b.and_(_dup_elem(s, rm, idx, esz), M64, 128)
        r = b.call(h, _half(s, a.rn, a.q), m, esz, not a.u, width=128)
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
        d = _idx(a, False)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        m = b.and_(_dup_elem(s, rm, idx, esz), M64, 128)
        n = _half(s, a.rn, a.q)
        if op:
            t = b.call(H_QDMLAL, s.v(a.rd), n, m, esz, op < 0, width=W)
        else:
            t = b.call(H_QDMULL, n, m, esz, width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


trans_SQDMULL_idx_v = _idx_qdml(0)
trans_SQDMLAL_idx_v = _idx_qdml(1)
trans_SQDMLSL_idx_v = _idx_qdml(-1)


def _idx_fp(kind: str):
    def trans(s: DisasContext, a) -> bool:
        d = _idx(a, True)
        if d is None:
            return False
        esz, idx, rm = d
        if esz == 3 and not a.q:
            return False
        m = _dup_elem(s, rm, idx, esz)
        if kind == "mul":
            t = s.b.call(HV["mulx" if a.u else "mul"], s.v(a.rn), m, fpcr(s), esz, nb(a.q), fpsr(s), width=W)
        else:
            n = s.v(a.rn)
            if kind == "mls":
                n = _negate_lanes(s, n, esz, 16)
            t = s.b.call(H_VFMA, s.v(a.rd), n, m, fpcr(s), esz, nb(a.q), fpsr(s), width=W)
        _set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FMUL_idx_v = _idx_fp("mul")
trans_FMLA_idx_v = _idx_fp("mla")
trans_FMLS_idx_v = _idx_fp("mls")


def _idx_fp_s(kind: str):
    def trans(s: DisasContext, a) -> bool:
        d = _idx(a, True)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        m = _elem(s, rm, idx, esz)
        if kind in ("mul", "mulx"):
            t = b.call(HS[kind], s.v(a.rn), m, fpcr(s), esz, fpsr(s), width=W)
        else:
            n = s.v(a.rn)
            if kind == "mls":
                n = b.xor(n, SIGN[esz], 128)
            t = b.call(H_FMA, s.v(a.rd), n, m, fpcr(s), esz, fpsr(s), width=W)
        s.set_v(a.rd, b.and_(t, EMASK[esz], W))
        fpsr_or(s, t, 64)
        return True
    return trans


trans_FMUL_idx_s = _idx_fp_s("mul")
trans_FMULX_idx_s = _idx_fp_s("mulx")
trans_FMLA_idx_s = _idx_fp_s("mla")
trans_FMLS_idx_s = _idx_fp_s("mls")


# ==== structure loads and stores ===========================================================

H_DEINTERLEAVE = _h(S.deinterleave, "deinterleave")
H_INTERLEAVE = _h(S.interleave, "interleave")

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
        b.st(b.add(base, i * eb, 64) if i else base, _elem(s, r, idx, esz), eb)
    _post_index(s, a, base, selem * eb)
    return True


trans_LDST_sing_p = trans_LDST_sing
