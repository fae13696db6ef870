"""AArch32 Advanced SIMD helpers: lane-wise integer kernels on 64-bit D-register values.

A kernel takes whole D-register values (Python ints) and the element size
``size`` (0: 8 bits, 1: 16, 2: 32, 3: 64) and returns the 64-bit result; the
saturating ones add ``1 << 64`` when a lane saturated (the caller sets FPSCR.QC).
``u`` selects unsigned lanes.
"""
from __future__ import annotations

from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm.helper_a32_vfp import cvt_hp as _cvt_hp_helper
from pyqemu.target.arm.translate32 import helper

QC_BIT = 1 << 64


def _split(x: int, bits: int) -> list[int]:
    m = (1 << bits) - 1
    return [(x >> i) & m for i in range(0, 64, bits)]


def _join(vals, bits: int) -> int:
    m = (1 << bits) - 1
    r = 0
    for k, v in enumerate(vals):
        r |= (v & m) << (k * bits)
    return r


def _sx(v: int, bits: int) -> int:
    return v - ((v >> (bits - 1)) << bits)


def _sat(v: int, bits: int, u: int) -> tuple[int, int]:
    lo, hi = (0, (1 << bits) - 1) if u else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if v < lo:
        return lo, 1
    if v > hi:
        return hi, 1
    return v, 0


def _shift(v: int, sh: int, rnd: bool) -> int:
    """``v`` shifted left by ``sh`` (right when negative), rounding a right shift if ``rnd``."""
    if sh >= 0:
        return v << sh
    n = -sh
    if rnd:
        return (v + (1 << (n - 1))) >> n
    return v >> n


def _lane2(fn):
    """Wrap ``fn(x, y, bits, u) -> (value, sat)`` (x, y already signed or unsigned)."""
    def kern(a: int, b: int, size: int, u: int) -> int:
        bits = 8 << size
        xs, ys = _split(a, bits), _split(b, bits)
        if not u:
            xs = [_sx(x, bits) for x in xs]
            ys = [_sx(y, bits) for y in ys]
        out = []
        q = 0
        for x, y in zip(xs, ys, strict=True):
            v, sat = fn(x, y, bits, u)
            out.append(v)
            q |= sat
        return _join(out, bits) | (QC_BIT if q else 0)
    return kern


def _shl_kern(sat: bool, rnd: bool):
    def fn(x, y, bits, u):
        sh = _sx(y & 0xFF, 8)
        v = _shift(x, sh, rnd)
        if sat:
            return _sat(v, bits, u)
        return v, 0
    return fn


def _ones(bits: int) -> int:
    return (1 << bits) - 1


def _qdmulh(rnd: bool):
    def fn(x, y, bits, u):
        v = 2 * x * y + ((1 << (bits - 1)) if rnd else 0)
        return _sat(v >> bits, bits, 0)
    return fn


def _pmul8(x: int, y: int) -> int:
    r = 0
    for i in range(8):
        if y >> i & 1:
            r ^= x << i
    return r


KERNELS = {
    "hadd": lambda x, y, bits, u: ((x + y) >> 1, 0),
    "rhadd": lambda x, y, bits, u: ((x + y + 1) >> 1, 0),
    "hsub": lambda x, y, bits, u: ((x - y) >> 1, 0),
    "qadd": lambda x, y, bits, u: _sat(x + y, bits, u),
    "qsub": lambda x, y, bits, u: _sat(x - y, bits, u),
    "cgt": lambda x, y, bits, u: (_ones(bits) if x > y else 0, 0),
    "cge": lambda x, y, bits, u: (_ones(bits) if x >= y else 0, 0),
    "shl": _shl_kern(False, False),
    "qshl": _shl_kern(True, False),
    "rshl": _shl_kern(False, True),
    "qrshl": _shl_kern(True, True),
    "max": lambda x, y, bits, u: (max(x, y), 0),
    "min": lambda x, y, bits, u: (min(x, y), 0),
    "abd": lambda x, y, bits, u: (abs(x - y), 0),
    "tst": lambda x, y, bits, u: (_ones(bits) if x & y else 0, 0),
    "ceq": lambda x, y, bits, u: (_ones(bits) if x == y else 0, 0),
    "mul": lambda x, y, bits, u: (x * y, 0),
    "pmul": lambda x, y, bits, u: (_pmul8(x, y), 0),
    "qdmulh": _qdmulh(False),
    "qrdmulh": _qdmulh(True),
}
_K = {name: _lane2(fn) for name, fn in KERNELS.items()}
KIDX = {name: i for i, name in enumerate(KERNELS)}
_KL = [_K[name] for name in KERNELS]


@helper(pure=True)
def neon3(op: int, a: int, b: int, size: int, u: int) -> int:
    """Three-same integer operation ``op`` (an index in KERNELS) on D values ``a``, ``b``."""
    return _KL[op](a, b, size, u)


@helper(pure=True)
def neon_qrdmlah(d: int, n: int, m: int, size: int, sub: int) -> int:
    """VQRDMLAH/VQRDMLSH (ARMv8.1): d + (or -) the rounded doubled high half of n * m,
    saturated (QC in bit 64)."""
    bits = 8 << size
    out = []
    q = 0
    for x, y, z in zip(_split(d, bits), _split(n, bits), _split(m, bits), strict=True):
        p = 2 * _sx(y, bits) * _sx(z, bits)
        v = (_sx(x, bits) << bits) + (-p if sub else p) + (1 << (bits - 1))
        v, f = _sat(v >> bits, bits, 0)
        out.append(v)
        q |= f
    return _join(out, bits) | (QC_BIT if q else 0)


@helper(pure=True)
def neon_pair(op: int, a: int, b: int, size: int, u: int) -> int:
    """VPADD/VPMAX/VPMIN (op 0/1/2): pairs of ``a`` give the low half, pairs of ``b`` the high."""
    bits = 8 << size
    xs = _split(a, bits) + _split(b, bits)
    if not u and op:
        xs = [_sx(x, bits) for x in xs]
    fn = (lambda p, q: p + q, max, min)[op]
    return _join([fn(xs[i], xs[i + 1]) for i in range(0, len(xs), 2)], bits)


@helper(pure=True)
def neon_cnt(a: int, size: int) -> int:
    return _join([bin(x).count("1") for x in _split(a, 8)], 8)


@helper(pure=True)
def neon_clz(a: int, size: int) -> int:
    bits = 8 << size
    return _join([bits - x.bit_length() for x in _split(a, bits)], bits)


@helper(pure=True)
def neon_cls(a: int, size: int) -> int:
    bits = 8 << size
    out = []
    for x in _split(a, bits):
        v = x ^ (_ones(bits) if x >> (bits - 1) else 0)
        out.append(bits - v.bit_length() - 1)
    return _join(out, bits)


@helper(pure=True)
def neon_misc(op: int, a: int, size: int) -> int:
    """One-operand lane operations: 0 VABS, 1 VNEG, 2 VQABS, 3 VQNEG,
    4..8 compare with zero (GT, GE, EQ, LE, LT); signed lanes."""
    bits = 8 << size
    out = []
    q = 0
    for x in _split(a, bits):
        x = _sx(x, bits)
        if op == 0:
            v = abs(x)
        elif op == 1:
            v = -x
        elif op in (2, 3):
            v, sat = _sat(abs(x) if op == 2 else -x, bits, 0)
            q |= sat
        else:
            c = (x > 0, x >= 0, x == 0, x <= 0, x < 0)[op - 4]
            v = _ones(bits) if c else 0
        out.append(v)
    return _join(out, bits) | (QC_BIT if q else 0)


@helper(pure=True)
def neon_shift_imm(a: int, size: int, sh: int, u: int, rnd: int) -> int:
    """Lane shift by a constant (left when ``sh`` > 0), optionally rounding; 64-bit lanes too."""
    bits = 8 << size
    out = []
    for x in _split(a, bits):
        if not u:
            x = _sx(x, bits)
        out.append(_shift(x, sh, bool(rnd)))
    return _join(out, bits)


@helper(pure=True)
def neon_qshl_imm(a: int, size: int, sh: int, src_u: int, dst_u: int) -> int:
    """VQSHL/VQSHLU by a constant: saturating left shift."""
    bits = 8 << size
    out = []
    q = 0
    for x in _split(a, bits):
        if not src_u:
            x = _sx(x, bits)
        v, sat = _sat(x << sh, bits, dst_u)
        out.append(v)
        q |= sat
    return _join(out, bits) | (QC_BIT if q else 0)


@helper(pure=True)
def neon_narrow(lo: int, hi: int, size: int, sh: int, rnd: int, src_u: int, dst_u: int, sat: int) -> int:
    """Narrow the 2*``size`` lanes of Q value ``hi:lo`` (shifted right by ``sh``, rounded,
    saturated to a signed/unsigned ``size`` lane when ``sat``) into one D value."""
    bits = 8 << size
    src = _split(lo, 2 * bits) + _split(hi, 2 * bits)
    out = []
    q = 0
    for x in src:
        if not src_u:
            x = _sx(x, 2 * bits)
        v = _shift(x, -sh, bool(rnd)) if sh else x
        if sat:
            v, f = _sat(v, bits, dst_u)
            q |= f
        out.append(v)
    return _join(out, bits) | (QC_BIT if q else 0)


@helper(pure=True)
def neon_widen(a: int, size: int, u: int, sh: int) -> int:
    """Widen the ``size`` lanes of D value ``a`` to 2*``size`` (shifted left by ``sh``):
    a 128-bit result (high D in bits 127..64)."""
    bits = 8 << size
    out = []
    for x in _split(a, bits):
        if not u:
            x = _sx(x, bits)
        out.append(x << sh)
    m = (1 << (2 * bits)) - 1
    r = 0
    for k, v in enumerate(out):
        r |= (v & m) << (k * 2 * bits)
    return r


@helper(pure=True)
def neon_long(op: int, a: int, b: int, size: int, u: int) -> int:
    """Long operations on the ``size`` lanes of D values ``a``, ``b`` into 2*size lanes
    (128-bit result): 0 add, 1 sub, 2 abd, 3 mul, 4 polynomial mul, 5 saturating doubling mul
    (QC in bit 128)."""
    bits = 8 << size
    xs, ys = _split(a, bits), _split(b, bits)
    if not u:
        xs = [_sx(x, bits) for x in xs]
        ys = [_sx(y, bits) for y in ys]
    out = []
    q = 0
    for x, y in zip(xs, ys, strict=True):
        if op == 0:
            v = x + y
        elif op == 1:
            v = x - y
        elif op == 2:
            v = abs(x - y)
        elif op == 3:
            v = x * y
        elif op == 4:
            v = _pmul8(x, y)
        else:
            v, f = _sat(2 * x * y, 2 * bits, 0)
            q |= f
        out.append(v)
    m = (1 << (2 * bits)) - 1
    r = 0
    for k, v in enumerate(out):
        r |= (v & m) << (k * 2 * bits)
    return r | (q << 128)


@helper(pure=True)
def neon_qacc(a: int, b: int, size: int, sub: int) -> int:
    """Saturating signed add (or subtract) of ``size`` lanes (the VQDMLAL/VQDMLSL accumulation)."""
    bits = 8 << size
    out = []
    q = 0
    for x, y in zip(_split(a, bits), _split(b, bits), strict=True):
        x, y = _sx(x, bits), _sx(y, bits)
        v, f = _sat(x - y if sub else x + y, bits, 0)
        out.append(v)
        q |= f
    return _join(out, bits) | (QC_BIT if q else 0)


@helper(pure=True)
def neon_pairwise_long(a: int, size: int, u: int) -> int:
    """VPADDL: adjacent ``size`` lanes added into 2*size lanes (64-bit result)."""
    bits = 8 << size
    xs = _split(a, bits)
    if not u:
        xs = [_sx(x, bits) for x in xs]
    return _join([xs[i] + xs[i + 1] for i in range(0, len(xs), 2)], 2 * bits)


@helper(pure=True)
def neon_add(a: int, b: int, size: int) -> int:
    """Lane-wise add (modulo): used for accumulations of 2*size results."""
    bits = 8 << size
    return _join([x + y for x, y in zip(_split(a, bits), _split(b, bits), strict=True)], bits)


@helper(pure=True)
def neon_sub(a: int, b: int, size: int) -> int:
    bits = 8 << size
    return _join([x - y for x, y in zip(_split(a, bits), _split(b, bits), strict=True)], bits)


@helper(pure=True)
def neon_tbl(idx: int, table: int, nbytes: int, dflt: int) -> int:
    """VTBL/VTBX: bytes of ``table`` (``nbytes`` long) indexed by the bytes of ``idx``;
    an out-of-range index gives the byte of ``dflt`` (0 for VTBL, Vd for VTBX)."""
    r = 0
    for k in range(8):
        i = (idx >> (8 * k)) & 0xFF
        v = (table >> (8 * i)) & 0xFF if i < nbytes else (dflt >> (8 * k)) & 0xFF
        r |= v << (8 * k)
    return r


@helper(pure=True)
def neon_permute(op: int, d: int, m: int, size: int, q: int) -> int:
    """VTRN (0), VUZP (1), VZIP (2) of Vd and Vm (``q``: Q registers as 128-bit values);
    returns new_d | new_m << (64 or 128)."""
    width = 128 if q else 64
    bits = 8 << size
    n = width // bits
    xs = [(d >> (i * bits)) & _ones(bits) for i in range(n)]
    ys = [(m >> (i * bits)) & _ones(bits) for i in range(n)]
    if op == 0:
        nd, nm = xs[:], ys[:]
        for i in range(0, n, 2):
            nd[i + 1] = ys[i]
            nm[i] = xs[i + 1]
    elif op == 1:
        both = xs + ys
        nd, nm = both[0::2], both[1::2]
    else:
        z = []
        for i in range(n):
            z += [xs[i], ys[i]]
        nd, nm = z[:n], z[n:]
    rd = rm = 0
    for i in range(n):
        rd |= nd[i] << (i * bits)
        rm |= nm[i] << (i * bits)
    return rd | (rm << width)


@helper(pure=True)
def neon_rev(a: int, size: int, group: int) -> int:
    """VREV16/32/64: reverse ``size`` lanes within groups of ``group`` bytes."""
    bits = 8 << size
    per = group * 8 // bits
    xs = _split(a, bits)
    out = []
    for g in range(0, len(xs), per):
        out += xs[g:g + per][::-1]
    return _join(out, bits)


# --- floating point (single precision lanes, the "standard FPSCR value": RN, FZ, DN) ----------

STD_FPSCR = F.DN | F.FZ
_cvt_hp = _cvt_hp_helper.func


def _fmla(sub: bool):
    def k(d, n, m, fpcr, esz, fpsr=0):
        p = F.mul(n, m, fpcr, esz)
        if sub:
            p ^= 0x80000000
        r = F.add(d, p & 0xFFFFFFFF, fpcr, esz)
        return r | ((p >> 64) << 64)
    return k


def _cmp(op: str):
    return lambda a, b, fpcr, esz, fpsr=0: F.cmp_mask(a, b, fpcr, esz, op)


def _is_zero_or_denormal(x: int) -> bool:
    return not x & 0x7F800000


def _is_inf(x: int) -> bool:
    return x & 0x7FFFFFFF == 0x7F800000


def _step(three: bool):
    """VRECPS (2 - a * b) and VRSQRTS ((3 - a * b) / 2): unlike A64's FRECPS/FRSQRTS these
    round the product first (FPRecipStep/FPRSqrtStep); infinity times zero gives 2 or 1.5."""
    def k(a, b, fpcr, esz, fpsr=0):
        if (_is_inf(a) and _is_zero_or_denormal(b)) or (_is_inf(b) and _is_zero_or_denormal(a)):
            fl = 0 if (a & 0x7FFFFFFF == 0 or b & 0x7FFFFFFF == 0) else F.IDC
            return (0x3FC00000 if three else 0x40000000) | fl << 64
        p = F.mul(a, b, fpcr, esz)
        r = F.sub(0x40400000 if three else 0x40000000, p & 0xFFFFFFFF, fpcr, esz)
        fl = (p | r) >> 64
        if three:
            r = F.div(r & 0xFFFFFFFF, 0x40000000, fpcr, esz)
            fl |= r >> 64
        return (r & 0xFFFFFFFF) | fl << 64
    return k


FKERN2 = [F.add, F.sub, F.mul, F.abd, F.fmax, F.fmin, F.fmaxnm, F.fminnm, _step(False), _step(True),
          _cmp("eq"), _cmp("ge"), _cmp("gt"), _cmp("age"), _cmp("agt")]
FIDX = {name: i for i, name in enumerate(
    ["add", "sub", "mul", "abd", "max", "min", "maxnm", "minnm", "recps", "rsqrts",
     "ceq", "cge", "cgt", "acge", "acgt"])}


@helper(pure=True)
def nfp2(op: int, a: int, b: int) -> int:
    """Two-operand float lanes of D values: result | FPSCR flags << 64."""
    r = F.vmap2(FKERN2[op], a, b, STD_FPSCR, 2, 8)
    return (r & 0xFFFFFFFFFFFFFFFF) | ((r >> 128) << 64)


@helper(pure=True)
def nfp_pair(op: int, a: int, b: int) -> int:
    """VPADD/VPMAX/VPMIN.F32 (op: an FKERN2 index)."""
    k = FKERN2[op]
    lo = k(a & 0xFFFFFFFF, a >> 32, STD_FPSCR, 2)
    hi = k(b & 0xFFFFFFFF, b >> 32, STD_FPSCR, 2)
    return (lo & 0xFFFFFFFF) | (hi & 0xFFFFFFFF) << 32 | ((lo >> 64) | (hi >> 64)) << 64


@helper(pure=True)
def nfp_mla(d: int, n: int, m: int, sub: int, fused: int) -> int:
    """VMLA/VMLS.F32 (two roundings) or VFMA/VFMS (fused) on D values."""
    out = fl = 0
    for sh in (0, 32):
        x, y, z = (d >> sh) & 0xFFFFFFFF, (n >> sh) & 0xFFFFFFFF, (m >> sh) & 0xFFFFFFFF
        if fused:
            r = F.muladd(x, y ^ (0x80000000 if sub else 0), z, STD_FPSCR, 2)
        else:
            r = _fmla(bool(sub))(x, y, z, STD_FPSCR, 2)
        out |= (r & 0xFFFFFFFF) << sh
        fl |= r >> 64
    return out | fl << 64


def _f1(op: int, x: int) -> int:
    if op == 0:
        return F.recpe(x, STD_FPSCR, 2)
    if op == 1:
        return F.rsqrte(x, STD_FPSCR, 2)
    if op == 2:
        return F.from_int(x, STD_FPSCR, 2, True, 32)
    if op == 3:
        return F.from_int(x, STD_FPSCR, 2, False, 32)
    if op == 4:
        return F.to_int(x, STD_FPSCR, 2, F.RZ, True, 32)
    if op == 5:
        return F.to_int(x, STD_FPSCR, 2, F.RZ, False, 32)
    return F.cmp_mask(x, 0, STD_FPSCR, 2, ("gt", "ge", "eq", "le", "lt")[op - 6]) if op < 9 else \
        _cmp_rev(x, ("le", "lt")[op - 9])


def _cmp_rev(x: int, op: str) -> int:
    # x <= 0 is 0 >= x; x < 0 is 0 > x (NaNs give false and signal as the ARM ARM's FPCompareGE/GT)
    return F.cmp_mask(0, x, STD_FPSCR, 2, "ge" if op == "le" else "gt")


@helper(pure=True)
def nfp1(op: int, a: int) -> int:
    """One-operand float lanes: 0 VRECPE, 1 VRSQRTE, 2/3 VCVT.F32.S32/U32, 4/5 VCVT.S32/U32.F32,
    6..10 compare with zero (GT, GE, EQ, LE, LT)."""
    out = fl = 0
    for sh in (0, 32):
        r = _f1(op, (a >> sh) & 0xFFFFFFFF)
        out |= (r & 0xFFFFFFFF) << sh
        fl |= r >> 64
    return out | fl << 64


@helper(pure=True)
def nfp_fix(a: int, op: int, u: int, fbits: int) -> int:
    """VCVT between F32 and 32-bit fixed point (op = 1: to fixed, rounding to zero)."""
    out = fl = 0
    for sh in (0, 32):
        x = (a >> sh) & 0xFFFFFFFF
        if op:
            r = F.to_int(x, STD_FPSCR, 2, F.RZ, not u, 32, fbits)
        else:
            r = F.from_int(x, STD_FPSCR, 2, not u, 32, fbits)
        out |= (r & 0xFFFFFFFF) << sh
        fl |= r >> 64
    return out | fl << 64


@helper(pure=True)
def nfp_rint(a: int, rm: int, exact: int) -> int:
    """VRINT{N,X,A,Z,M,P} (Advanced SIMD): F32 lanes rounded to integral values."""
    out = fl = 0
    for sh in (0, 32):
        r = F.round_int((a >> sh) & 0xFFFFFFFF, STD_FPSCR, 2, rm, bool(exact))
        out |= (r & 0xFFFFFFFF) << sh
        fl |= r >> 64
    return out | fl << 64


@helper(pure=True)
def nfp_cvt_rm(a: int, rm: int, u: int) -> int:
    """VCVT{A,N,P,M} (Advanced SIMD): F32 lanes to S32/U32 with the given rounding."""
    out = fl = 0
    for sh in (0, 32):
        r = F.to_int((a >> sh) & 0xFFFFFFFF, STD_FPSCR, 2, rm, not u, 32)
        out |= (r & 0xFFFFFFFF) << sh
        fl |= r >> 64
    return out | fl << 64


@helper(pure=True)
def nfp_to_f16(lo: int, hi: int, ahp: int) -> int:
    """VCVT.F16.F32: the four F32 lanes of hi:lo narrowed to F16 lanes of one D value
    (``ahp``: FPSCR.AHP, the only FPSCR bit these use besides the standard value)."""
    out = fl = 0
    for k, x in enumerate((lo & 0xFFFFFFFF, lo >> 32, hi & 0xFFFFFFFF, hi >> 32)):
        r = _cvt_hp(x, STD_FPSCR | ahp, 2, 1)
        out |= (r & 0xFFFF) << (16 * k)
        fl |= r >> 64
    return out | fl << 64


@helper(pure=True)
def nfp_from_f16(a: int, ahp: int) -> int:
    """VCVT.F32.F16: the four F16 lanes of ``a`` widened to F32 (128-bit result, flags above)."""
    out = fl = 0
    for k in range(4):
        r = _cvt_hp((a >> (16 * k)) & 0xFFFF, STD_FPSCR | ahp, 1, 2)
        out |= (r & 0xFFFFFFFF) << (32 * k)
        fl |= r >> 64
    return out | fl << 128


def _u_estimate(x: int, rsqrt: bool) -> int:
    """UnsignedRecipEstimate / UnsignedRSqrtEstimate of one U32 lane."""
    if rsqrt:
        if x < 0x40000000:
            return 0xFFFFFFFF
        est = F._rsqrt_estimate((x >> 23) & 0x1FF)
    else:
        if x < 0x80000000:
            return 0xFFFFFFFF
        est = F._recip_estimate((x >> 23) & 0x1FF)
    return ((est & 0x1FF) << 23) & 0xFFFFFFFF


@helper(pure=True)
def neon_u_estimate(a: int, rsqrt: int) -> int:
    """VRECPE.U32 / VRSQRTE.U32."""
    return _u_estimate(a & 0xFFFFFFFF, bool(rsqrt)) | _u_estimate(a >> 32, bool(rsqrt)) << 32
