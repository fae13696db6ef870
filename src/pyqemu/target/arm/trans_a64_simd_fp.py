"""A64 Advanced SIMD floating point: vector and scalar (SIMD-form) FP
arithmetic, compares, conversions, rounding, estimates, reductions and
by-element forms.

Lane-wise work goes to :mod:`helper_fp` kernels (``F.vmap2``/``F.vmap1`` apply
a scalar kernel to each lane; ``F.varith`` computes FADD/FSUB/FMUL/FDIV on all
lanes at once when it can). Results carry FPSR flags above bit 128 (vector) or
64 (scalar), merged into FPSR by the generated code.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm import helper_simd as S
from pyqemu.target.arm.trans_a64_fp import (
    EMASK,
    H_FMA,
    H_FROMINT,
    H_TOINT,
    SIGN,
    W,
    fp_result,
    fpcr,
    fpsr,
    fpsr_or,
)
from pyqemu.target.arm.trans_a64_simd import (
    M64,
    by_elem_operand,
    dup_elem,
    elem,
    half,
    nb,
    set_flags_result,
    simd_helper,
    write_narrow,
)
from pyqemu.target.arm.translate import DisasContext
from pyqemu.tcg.ir import Helper

# ==== floating point three same (vector and scalar) ========================================

def _vfh(kern, name: str) -> Helper:
    return simd_helper(lambda x, y, c, e, n, fs: F.vmap2(kern, x, y, c, e, n, fs), "vf_" + name)


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
_VARITH = ("add", "sub", "mul", "div")  # these have whole-vector fast paths (F.varith)
HV = {k: _vfh(v, k) for k, v in _FK.items() if k not in _VARITH}
for _i, _k in enumerate(_VARITH):
    HV[_k] = simd_helper(lambda x, y, c, e, n, fs, _op=_i: F.varith(_op, x, y, c, e, n, fs), "vf_" + _k)
HP = {k: simd_helper(_vpair(_FK[k]), "vp_" + k) for k in ("add", "max", "min", "maxnm", "minnm")}
H_VFMA = simd_helper(_vfma, "vfma")
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
        set_flags_result(s, a.rd, t)
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
        set_flags_result(s, a.rd, t)
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


H_FCVTN = simd_helper(_fcvtn, "fcvtn")
H_FCVTL = simd_helper(_fcvtl, "fcvtl")
H_VRINT = simd_helper(lambda x, c, e, n, rm, ex: F.vmap1(F.round_int, x, c, e, n, rm, ex), "vrint")
H_VTOINT = simd_helper(lambda x, c, e, n, rm, sg, fb: F.vmap1(F.to_int, x, c, e, n, rm, sg, 8 << e, fb),
                       "vtoint")
H_VFROMINT = simd_helper(lambda x, c, e, n, sg, fb: F.vmap1(
    lambda v, c2, e2: F.from_int(v, c2, e2, sg, 8 << e2, fb), x, c, e, n), "vfromint")
H_VSQRT = simd_helper(lambda x, c, e, n: F.vmap1(F.sqrt, x, c, e, n), "vsqrt")
H_VRECPE = simd_helper(lambda x, c, e, n: F.vmap1(F.recpe, x, c, e, n), "vrecpe")
H_VRSQRTE = simd_helper(lambda x, c, e, n: F.vmap1(F.rsqrte, x, c, e, n), "vrsqrte")
H_VCMP0 = {op: simd_helper(lambda x, c, e, n, _op=op: F.vmap1(
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
    write_narrow(s, a.rd, a.q, s.b.and_(t, M64, W))
    fpsr_or(s, t, 128)
    return True


def trans_FCVTL_v(s: DisasContext, a) -> bool:
    t = s.b.call(H_FCVTL, half(s, a.rn, a.q), fpcr(s), 1 + (a.size & 1), width=W)
    set_flags_result(s, a.rd, t)
    return True


def _vrint(rm0, ex0, rm1=None, ex1=False):
    def trans(s: DisasContext, a) -> bool:
        esz = _fesz(s, a)
        if esz is None or (a.u and rm1 is None):
            return False
        rm, ex = (rm1, ex1) if a.u else (rm0, ex0)
        t = s.b.call(H_VRINT, s.v(a.rn), fpcr(s), esz, nb(a.q), rm, ex, width=W)
        set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FRINTNA_v = _vrint(F.RN, False, F.RA, False)
trans_FRINTMX_v = _vrint(F.RM, False, -1, True)
trans_FRINTP_v = _vrint(F.RP, False)
trans_FRINTZI_v = _vrint(F.RZ, False, -1, False)


def _vtoint(rm: int, scalar: bool = False):
    def trans(s: DisasContext, a) -> bool:
        if scalar:
            esz = 2 + (a.size & 1)
            t = s.b.call(H_TOINT, s.v(a.rn), fpcr(s), esz, rm, not a.u, 8 << esz, 0, width=W)
            fp_result(s, a.rd, t, esz)
            return True
        else:
            esz = _fesz(s, a)
            if esz is None:
                return False
            n = nb(a.q)
        t = s.b.call(H_VTOINT, s.v(a.rn), fpcr(s), esz, n, rm, not a.u, 0, width=W)
        set_flags_result(s, a.rd, t)
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
    set_flags_result(s, a.rd, t)
    return True


def trans_CVTF_s(s: DisasContext, a) -> bool:
    esz = 2 + (a.size & 1)
    t = s.b.call(H_FROMINT, s.v(a.rn), fpcr(s), esz, not a.u, 8 << esz, 0, -1, width=W)
    fp_result(s, a.rd, t, esz)
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
        set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FSQRT_v = _vf1(H_VSQRT)
trans_FRECPE_v = _vf1(H_VRECPE)
trans_FRSQRTE_v = _vf1(H_VRSQRTE)
trans_FRECPE_s = _vf1(H_VRECPE, True)
trans_FRSQRTE_s = _vf1(H_VRSQRTE, True)
trans_FRECPX_s = _vf1(simd_helper(lambda x, c, e, n: F.vmap1(F.recpx, x, c, e, n), "vrecpx"), True)


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
    set_flags_result(s, a.rd, t, C.M32)
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
    h = simd_helper(_freduce(kern), "fred_" + name)

    def trans(s: DisasContext, a) -> bool:
        if not a.q or a.size & 1:
            return False
        t = s.b.call(h, s.v(a.rn), fpcr(s), width=W)
        set_flags_result(s, a.rd, t, C.M32)
        return True
    return trans


trans_FMAXNMV_v = _fred(F.fmaxnm, "maxnm")
trans_FMINNMV_v = _fred(F.fminnm, "minnm")
trans_FMAXV_v = _fred(F.fmax, "max")
trans_FMINV_v = _fred(F.fmin, "min")



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
    if scalar:
        if to_fp:
            t = s.b.call(H_FROMINT, s.v(a.rn), fpcr(s), esz, not a.u, 8 << esz, fbits, -1, width=W)
        else:
            t = s.b.call(H_TOINT, s.v(a.rn), fpcr(s), esz, F.RZ, not a.u, 8 << esz, fbits, width=W)
        fp_result(s, a.rd, t, esz)
        return True
    n = nb(a.q)
    if to_fp:
        t = s.b.call(H_VFROMINT, s.v(a.rn), fpcr(s), esz, n, not a.u, fbits, width=W)
    else:
        t = s.b.call(H_VTOINT, s.v(a.rn), fpcr(s), esz, n, F.RZ, not a.u, fbits, width=W)
    set_flags_result(s, a.rd, t)
    return True


def trans_CVTF_fix_v(s, a):
    return _cvt_fix(s, a, False, True)


def trans_FCVTZ_fix_v(s, a):
    return _cvt_fix(s, a, False, False)


def trans_CVTF_fix_s(s, a):
    return _cvt_fix(s, a, True, True)


def trans_FCVTZ_fix_s(s, a):
    return _cvt_fix(s, a, True, False)



def _idx_fp(kind: str):
    def trans(s: DisasContext, a) -> bool:
        d = by_elem_operand(a, True)
        if d is None:
            return False
        esz, idx, rm = d
        if esz == 3 and not a.q:
            return False
        m = dup_elem(s, rm, idx, esz)
        if kind == "mul":
            t = s.b.call(HV["mulx" if a.u else "mul"], s.v(a.rn), m, fpcr(s), esz, nb(a.q), fpsr(s), width=W)
        else:
            n = s.v(a.rn)
            if kind == "mls":
                n = _negate_lanes(s, n, esz, 16)
            t = s.b.call(H_VFMA, s.v(a.rd), n, m, fpcr(s), esz, nb(a.q), fpsr(s), width=W)
        set_flags_result(s, a.rd, t)
        return True
    return trans


trans_FMUL_idx_v = _idx_fp("mul")
trans_FMLA_idx_v = _idx_fp("mla")
trans_FMLS_idx_v = _idx_fp("mls")


def _idx_fp_s(kind: str):
    def trans(s: DisasContext, a) -> bool:
        d = by_elem_operand(a, True)
        if d is None:
            return False
        esz, idx, rm = d
        b = s.b
        m = elem(s, rm, idx, esz)
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
