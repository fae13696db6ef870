"""AArch32 Advanced SIMD data processing (NEON), A32 and T32.

Patterns: a32u_neon_dp.decode, t32_neon_dp.decode. A Q register is handled as
its two D halves (D<2n>, D<2n+1>): element-wise operations run once per half,
which is safe because Q operands are even-numbered D pairs (an odd one is
UNDEFINED). Logic, add/sub, moves and shifts by whole registers are inline IR;
other lane operations call the kernels of :mod:`helper_a32_neon`. Float
operations use the "standard FPSCR value" (round to nearest, flush-to-zero,
default NaN) and accumulate their exception flags in FPSCR; saturating
operations set FPSCR.QC.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_a32_neon as H
from pyqemu.target.arm.trans_a32_vfp import dup_const, fpscr, vfp_expand_imm
from pyqemu.target.arm.translate32 import DisasContext32

M64 = C.M64
QC = 1 << 27
HIGH = {0: dup_const(1, 0x80), 1: dup_const(2, 0x8000), 2: dup_const(4, 0x80000000), 3: 1 << 63}


def _even(q: int, *regs: int) -> bool:
    """Q forms need even register numbers."""
    return not q or not any(r & 1 for r in regs)


def _qc(s: DisasContext32, t, sh: int = 64) -> None:
    """FPSCR.QC |= bit ``sh`` of helper result ``t``."""
    b = s.b
    g = fpscr(s)
    b.mov(g, b.or_(g, b.shl(b.and_(b.shr(t, sh, 256), 1, 32), 27, 32), 32))


def _fpflags(s: DisasContext32, t, sh: int = 64) -> None:
    b = s.b
    g = fpscr(s)
    b.mov(g, b.or_(g, b.and_(b.shr(t, sh, 256), 0x9F, 32), 32))


def _lo(s: DisasContext32, t):
    return s.b.and_(t, M64, 256)


def _hi(s: DisasContext32, t):
    return s.b.and_(s.b.shr(t, 64, 256), M64, 256)


def swar_add(s: DisasContext32, x, y, size: int):
    b = s.b
    if size == 3:
        return b.add(x, y, 64)
    h = HIGH[size]
    r = b.add(b.andc(x, h, 64), b.andc(y, h, 64), 64)
    return b.xor(r, b.and_(b.xor(x, y, 64), h, 64), 64)


def swar_sub(s: DisasContext32, x, y, size: int):
    b = s.b
    if size == 3:
        return b.sub(x, y, 64)
    h = HIGH[size]
    r = b.sub(b.or_(x, h, 64), b.andc(y, h, 64), 64)
    return b.xor(r, b.and_(b.eqv(x, y, 64), h, 64), 64)


# --- three registers of the same length ---------------------------------------------------------

def _each(s: DisasContext32, a, fn) -> bool:
    """Run ``fn(i)`` -> new value of D<vd+i> for each D half; values are computed first."""
    if not _even(a.q, a.vd, a.vn, a.vm):
        return False
    for i in range(1 + a.q):
        s.set_d(a.vd + i, fn(i))
    return True


def _kern(name: str, sizes=(0, 1, 2, 3), sat: bool = False, force_u: int | None = None):
    op = H.KIDX[name]

    def trans(s: DisasContext32, a) -> bool:
        if a.size not in sizes:
            return False
        u = a.u if force_u is None else force_u

        def one(i):
            t = s.b.call(H.neon3, op, s.d(a.vn + i), s.d(a.vm + i), a.size, u, width=128)
            if sat:
                _qc(s, t)
            return _lo(s, t)
        return _each(s, a, one)
    return trans


trans_VHADD_n = _kern("hadd", (0, 1, 2))
trans_VRHADD_n = _kern("rhadd", (0, 1, 2))
trans_VHSUB_n = _kern("hsub", (0, 1, 2))
trans_VQADD_n = _kern("qadd", sat=True)
trans_VQSUB_n = _kern("qsub", sat=True)
trans_VCGT_n = _kern("cgt", (0, 1, 2))
trans_VCGE_n = _kern("cge", (0, 1, 2))
trans_VMAX_n = _kern("max", (0, 1, 2))
trans_VMIN_n = _kern("min", (0, 1, 2))
trans_VABD_n = _kern("abd", (0, 1, 2))


def _swap_nm(fn):
    """VSHL/VQSHL/VRSHL/VQRSHL (register) shift Vm by Vn: the kernels take (value, shift)."""
    def trans(s: DisasContext32, a) -> bool:
        a.vn, a.vm = a.vm, a.vn
        return fn(s, a)
    return trans


trans_VSHL_n = _swap_nm(_kern("shl"))
trans_VQSHL_n = _swap_nm(_kern("qshl", sat=True))
trans_VRSHL_n = _swap_nm(_kern("rshl"))
trans_VQRSHL_n = _swap_nm(_kern("qrshl", sat=True))


def trans_VQDMULH_n(s: DisasContext32, a) -> bool:
    if a.size not in (1, 2):
        return False
    return _kern("qrdmulh" if a.u else "qdmulh", sat=True, force_u=0)(s, a)


def swar_nonzero(s: DisasContext32, x, size: int):
    """All-ones in each ``size`` lane of ``x`` that is not zero, zeros elsewhere."""
    b = s.b
    h = HIGH[size]
    low = h ^ M64
    t = b.or_(b.add(b.and_(x, low, 64), low, 64), x, 64)
    bits = 8 << size
    return b.mul(b.shr(b.and_(t, h, 64), bits - 1, 64), (1 << bits) - 1, 64)


def _qrdml(sub: int):
    def trans(s: DisasContext32, a) -> bool:
        if a.size not in (1, 2):
            return False

        def one(i):
            t = s.b.call(H.neon_qrdmlah, s.d(a.vd + i), s.d(a.vn + i), s.d(a.vm + i), a.size, sub, width=128)
            _qc(s, t)
            return _lo(s, t)
        return _each(s, a, one)
    return trans


trans_VQRDMLAH_n = _qrdml(0)
trans_VQRDMLSH_n = _qrdml(1)


def trans_VTSTCEQ_n(s: DisasContext32, a) -> bool:
    """VTST (U = 0) and VCEQ (U = 1), inline (memchr and strlen loops use them)."""
    if a.size == 3:
        return False
    b = s.b
    if a.u:
        return _each(s, a, lambda i: b.xor(swar_nonzero(s, b.xor(s.d(a.vn + i), s.d(a.vm + i), 64), a.size),
                                           M64, 64))
    return _each(s, a, lambda i: swar_nonzero(s, b.and_(s.d(a.vn + i), s.d(a.vm + i), 64), a.size))


def trans_VMUL_n(s: DisasContext32, a) -> bool:
    if a.size == 3 or (a.u and a.size != 0):
        return False
    return _kern("pmul" if a.u else "mul", force_u=1)(s, a)


def trans_VABA_n(s: DisasContext32, a) -> bool:
    if a.size == 3:
        return False
    op = H.KIDX["abd"]

    def one(i):
        t = s.b.call(H.neon3, op, s.d(a.vn + i), s.d(a.vm + i), a.size, a.u, width=128)
        return swar_add(s, s.d(a.vd + i), _lo(s, t), a.size)
    return _each(s, a, one)


def trans_VMLAS_n(s: DisasContext32, a) -> bool:
    if a.size == 3:
        return False
    op = H.KIDX["mul"]

    def one(i):
        t = _lo(s, s.b.call(H.neon3, op, s.d(a.vn + i), s.d(a.vm + i), a.size, 1, width=128))
        return (swar_sub if a.u else swar_add)(s, s.d(a.vd + i), t, a.size)
    return _each(s, a, one)


def trans_VADDSUB_n(s: DisasContext32, a) -> bool:
    f = swar_sub if a.u else swar_add
    return _each(s, a, lambda i: f(s, s.d(a.vn + i), s.d(a.vm + i), a.size))


def trans_VLOGIC_n(s: DisasContext32, a) -> bool:
    b = s.b

    def one(i):
        n, m, d = s.d(a.vn + i), s.d(a.vm + i), s.d(a.vd + i)
        op = a.u << 2 | a.size
        if op == 0:
            return b.and_(n, m, 64)
        if op == 1:
            return b.andc(n, m, 64)
        if op == 2:
            return b.or_(n, m, 64)
        if op == 3:
            return b.orc(n, m, 64)
        if op == 4:
            return b.xor(n, m, 64)
        if op == 5:  # VBSL: d selects n (1) or m (0)
            return b.xor(m, b.and_(b.xor(n, m, 64), d, 64), 64)
        if op == 6:  # VBIT: insert n where m is 1
            return b.xor(d, b.and_(b.xor(n, d, 64), m, 64), 64)
        return b.xor(d, b.andc(b.xor(n, d, 64), m, 64), 64)  # VBIF: insert n where m is 0
    return _each(s, a, one)


def _pair(op: int):
    def trans(s: DisasContext32, a) -> bool:
        if a.q or a.size == 3:
            return False
        u = 0 if op == 0 else a.u
        s.set_d(a.vd, s.b.call(H.neon_pair, op, s.d(a.vn), s.d(a.vm), a.size, u, width=64))
        return True
    return trans


trans_VPADD_n = _pair(0)
trans_VPMAX_n = _pair(1)
trans_VPMIN_n = _pair(2)


# --- floating point, three registers --------------------------------------------------------------

def _f3(s: DisasContext32, a, name: str) -> bool:
    if a.size & 1:
        return False  # half precision
    op = H.FIDX[name]

    def one(i):
        t = s.b.call(H.nfp2, op, s.d(a.vn + i), s.d(a.vm + i), width=128)
        _fpflags(s, t)
        return _lo(s, t)
    return _each(s, a, one)


def trans_VFADDSUB_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "sub" if a.size & 2 else "add")


def trans_VFABD_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "abd")


def trans_VFMUL_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "mul")


def trans_VFCEQ_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "ceq")


def trans_VFCGE_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "cgt" if a.size & 2 else "cge")


def trans_VFACGE_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "acgt" if a.size & 2 else "acge")


def trans_VFMAXMIN_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "min" if a.size & 2 else "max")


def trans_VFMAXNM_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "minnm" if a.size & 2 else "maxnm")


def trans_VFRECPS_n(s: DisasContext32, a) -> bool:
    return _f3(s, a, "rsqrts" if a.size & 2 else "recps")


def _fpair(s: DisasContext32, a, name: str) -> bool:
    if a.size & 1 or a.q:
        return False
    t = s.b.call(H.nfp_pair, H.FIDX[name], s.d(a.vn), s.d(a.vm), width=128)
    _fpflags(s, t)
    s.set_d(a.vd, _lo(s, t))
    return True


def trans_VFPADD_n(s: DisasContext32, a) -> bool:
    return _fpair(s, a, "add")


def trans_VFPMAXMIN_n(s: DisasContext32, a) -> bool:
    return _fpair(s, a, "min" if a.size & 2 else "max")


def _fmla(s: DisasContext32, a, fused: int) -> bool:
    if a.size & 1:
        return False
    sub = a.size >> 1

    def one(i):
        t = s.b.call(H.nfp_mla, s.d(a.vd + i), s.d(a.vn + i), s.d(a.vm + i), sub, fused, width=128)
        _fpflags(s, t)
        return _lo(s, t)
    return _each(s, a, one)


def trans_VFMLAS_n(s: DisasContext32, a) -> bool:
    return _fmla(s, a, 0)


def trans_VFMA_n(s: DisasContext32, a) -> bool:
    return _fmla(s, a, 1)


# --- one register and a modified immediate -------------------------------------------------------

def expand_imm(op: int, cmode: int, imm: int) -> int | None:
    """AdvSIMDExpandImm: the 64-bit constant (None when reserved)."""
    c = cmode >> 1
    if c < 4:
        return dup_const(4, imm << (8 * c))
    if c < 6:
        return dup_const(2, imm << (8 * (c - 4)))
    if cmode == 12:
        return dup_const(4, (imm << 8) | 0xFF)
    if cmode == 13:
        return dup_const(4, (imm << 16) | 0xFFFF)
    if cmode == 14:
        if not op:
            return dup_const(1, imm)
        return sum(0xFF << (8 * i) for i in range(8) if imm >> i & 1)
    if op:
        return None
    return dup_const(4, vfp_expand_imm(imm, 2))


def trans_VMOVI_n(s: DisasContext32, a) -> bool:
    b = s.b
    v = expand_imm(a.op, a.cmode, a.imm)
    if v is None or (a.q and a.vd & 1):
        return False
    orr_bic = a.cmode < 12 and a.cmode & 1
    for i in range(1 + a.q):
        if orr_bic:
            r = b.andc(s.d(a.vd + i), v, 64) if a.op else b.or_(s.d(a.vd + i), v, 64)
        elif a.op and a.cmode != 14:
            r = v ^ M64  # VMVN
        else:
            r = v
        s.set_d(a.vd + i, r)
    return True


# --- two registers and a shift amount --------------------------------------------------------------

def shift_info(l: int, imm6: int) -> tuple[int, int, int] | None:
    """(size, left shift, right shift) encoded by L:imm6; None for the immediate space."""
    if l:
        return 3, imm6, 64 - imm6
    for size, lo in ((2, 32), (1, 16), (0, 8)):
        if imm6 >= lo:
            return size, imm6 - lo, 2 * lo - imm6
    return None


def _lane_mask(size: int, m: int) -> int:
    return dup_const(1 << size, m) if size < 3 else m & M64


def trans_VSHR_n(s: DisasContext32, a) -> bool:
    """VSHR (op 0), VSRA (1), VRSHR (2), VRSRA (3)."""
    info = shift_info(a.l, a.imm6)
    if info is None:
        return False
    size, _, rsh = info
    rnd = a.op >> 1

    def one(i):
        t = s.b.call(H.neon_shift_imm, s.d(a.vm + i), size, -rsh, a.u, rnd, width=64)
        if a.op & 1:
            return swar_add(s, s.d(a.vd + i), t, size)
        return t
    if not _even(a.q, a.vd, a.vm):
        return False
    for i in range(1 + a.q):
        s.set_d(a.vd + i, one(i))
    return True


def trans_VSRI_n(s: DisasContext32, a) -> bool:
    info = shift_info(a.l, a.imm6)
    if info is None or not _even(a.q, a.vd, a.vm):
        return False
    size, _, rsh = info
    bits = 8 << size
    keep = _lane_mask(size, ((1 << bits) - 1) >> rsh)
    b = s.b
    for i in range(1 + a.q):
        t = b.call(H.neon_shift_imm, s.d(a.vm + i), size, -rsh, 1, 0, width=64)
        s.set_d(a.vd + i, b.or_(b.andc(s.d(a.vd + i), keep, 64), b.and_(t, keep, 64), 64))
    return True


def trans_VSHL_i_n(s: DisasContext32, a) -> bool:
    """VSHL #imm (U = 0) and VSLI (U = 1)."""
    info = shift_info(a.l, a.imm6)
    if info is None or not _even(a.q, a.vd, a.vm):
        return False
    size, lsh, _ = info
    bits = 8 << size
    b = s.b
    lanes = _lane_mask(size, (((1 << bits) - 1) << lsh) & ((1 << bits) - 1))
    for i in range(1 + a.q):
        t = b.and_(b.shl(s.d(a.vm + i), lsh, 64), lanes, 64)
        if a.u:
            t = b.or_(b.andc(s.d(a.vd + i), lanes, 64), t, 64)
        s.set_d(a.vd + i, t)
    return True


def trans_VQSHL_i_n(s: DisasContext32, a) -> bool:
    """VQSHLU (op 0, U = 1) and VQSHL #imm (op 1)."""
    info = shift_info(a.l, a.imm6)
    if info is None or (a.op == 0 and not a.u) or not _even(a.q, a.vd, a.vm):
        return False
    size, lsh, _ = info
    src_u = a.u if a.op else 0
    for i in range(1 + a.q):
        t = s.b.call(H.neon_qshl_imm, s.d(a.vm + i), size, lsh, src_u, a.u, width=128)
        _qc(s, t)
        s.set_d(a.vd + i, _lo(s, t))
    return True


def trans_VSHRN_n(s: DisasContext32, a) -> bool:
    """Narrowing shifts: op 0: VSHRN/VRSHRN (U = 0), VQSHRUN/VQRSHRUN (U = 1);
    op 1: VQSHRN/VQRSHRN (signed or unsigned). a.q is the rounding bit."""
    info = shift_info(0, a.imm6)
    if info is None or a.vm & 1:
        return False
    size, _, rsh = info
    if a.op == 0 and not a.u:
        src_u, dst_u, sat = 1, 1, 0
    elif a.op == 0:
        src_u, dst_u, sat = 0, 1, 1
    else:
        src_u, dst_u, sat = a.u, a.u, 1
    t = s.b.call(H.neon_narrow, s.d(a.vm), s.d(a.vm + 1), size, rsh, a.q, src_u, dst_u, sat, width=128)
    if sat:
        _qc(s, t)
    s.set_d(a.vd, _lo(s, t))
    return True


def trans_VSHLL_n(s: DisasContext32, a) -> bool:
    """VSHLL by less than the element size, and VMOVL (shift 0)."""
    info = shift_info(0, a.imm6)
    if info is None or a.vd & 1:
        return False
    size, lsh, _ = info
    t = s.b.call(H.neon_widen, s.d(a.vm), size, a.u, lsh, width=128)
    s.set_d(a.vd, _lo(s, t))
    s.set_d(a.vd + 1, _hi(s, t))
    return True


def trans_VCVT_fix_n(s: DisasContext32, a) -> bool:
    if a.imm6 < 32 or not _even(a.q, a.vd, a.vm):
        return False
    fbits = 64 - a.imm6
    for i in range(1 + a.q):
        t = s.b.call(H.nfp_fix, s.d(a.vm + i), a.op, a.u, fbits, width=128)
        _fpflags(s, t)
        s.set_d(a.vd + i, _lo(s, t))
    return True
