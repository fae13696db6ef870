"""AArch32 Advanced SIMD: two registers miscellaneous, three registers of different lengths,
two registers and a scalar, VEXT, VTBL/VTBX, VDUP (scalar); A32 and T32.

Patterns: the size == 11 group of a32u_neon_dp.decode / t32_neon_dp.decode.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_a32_neon as H
from pyqemu.target.arm import helper_fp as F
from pyqemu.target.arm.trans_a32_neon import _even, _fpflags, _hi, _lo, _qc, swar_add, swar_sub
from pyqemu.target.arm.trans_a32_vfp import dup_const, dup_value, fpscr
from pyqemu.target.arm.translate32 import DisasContext32

M64 = C.M64


def _per_half(s: DisasContext32, a, fn) -> bool:
    if not _even(a.q, a.vd, a.vm):
        return False
    vals = [fn(i) for i in range(1 + a.q)]
    for i, v in enumerate(vals):
        s.set_d(a.vd + i, v)
    return True


def _q128(s: DisasContext32, reg: int):
    """Q<reg/2> as a 128-bit value."""
    b = s.b
    return b.or_(b.ext(s.d(reg), 64, False, 128), b.shl(b.ext(s.d(reg + 1), 64, False, 128), 64, 128), 128)


# --- two registers miscellaneous ----------------------------------------------------------------

def trans_VMISC0_n(s: DisasContext32, a) -> bool:
    b = s.b
    op, size = a.op, a.size
    if op <= 2:  # VREV64/32/16
        group = 8 >> op
        if (1 << size) >= group:
            return False
        return _per_half(s, a, lambda i: b.call(H.neon_rev, s.d(a.vm + i), size, group, width=64))
    if op in (4, 5, 12, 13):  # VPADDL, VPADAL
        if size == 3:
            return False
        u = op & 1

        def pl(i):
            t = b.call(H.neon_pairwise_long, s.d(a.vm + i), size, u, width=64)
            if op >= 12:
                t = swar_add(s, s.d(a.vd + i), t, size + 1)
            return t
        return _per_half(s, a, pl)
    if size == 3:
        return False
    if op == 8:
        return _per_half(s, a, lambda i: b.call(H.neon_cls, s.d(a.vm + i), size, width=64))
    if op == 9:
        return _per_half(s, a, lambda i: b.call(H.neon_clz, s.d(a.vm + i), size, width=64))
    if op == 10 and size == 0:
        return _per_half(s, a, lambda i: b.call(H.neon_cnt, s.d(a.vm + i), size, width=64))
    if op == 11 and size == 0:
        return _per_half(s, a, lambda i: b.not_(s.d(a.vm + i), 64))
    if op in (14, 15):  # VQABS, VQNEG

        def qa(i):
            t = b.call(H.neon_misc, op - 12, s.d(a.vm + i), size, width=128)
            _qc(s, t)
            return _lo(s, t)
        return _per_half(s, a, qa)
    return False


def trans_VMISC1_n(s: DisasContext32, a) -> bool:
    b = s.b
    fl, op = a.op >> 3, a.op & 7
    if op == 5 or a.size == 3:
        return False
    if fl:
        if a.size != 2:
            return False
        if op == 6:
            return _per_half(s, a, lambda i: b.andc(s.d(a.vm + i), dup_const(4, 0x80000000), 64))
        if op == 7:
            return _per_half(s, a, lambda i: b.xor(s.d(a.vm + i), dup_const(4, 0x80000000), 64))

        def fc(i):
            t = b.call(H.nfp1, 6 + op, s.d(a.vm + i), width=128)
            _fpflags(s, t)
            return _lo(s, t)
        return _per_half(s, a, fc)
    kop = {0: 4, 1: 5, 2: 6, 3: 7, 4: 8, 6: 0, 7: 1}[op]
    return _per_half(s, a, lambda i: _lo(s, b.call(H.neon_misc, kop, s.d(a.vm + i), a.size, width=128)))


def trans_VMISC2_n(s: DisasContext32, a) -> bool:
    b = s.b
    op4 = a.op
    if op4 == 0:  # VSWP
        if a.size or not _even(a.q, a.vd, a.vm):
            return False
        for i in range(1 + a.q):
            x = s.tmp_copy(s.d(a.vd + i))
            y = s.tmp_copy(s.d(a.vm + i))
            s.set_d(a.vd + i, y)
            s.set_d(a.vm + i, x)
        return True
    if op4 in (1, 2, 3):  # VTRN, VUZP, VZIP
        if a.size == 3 or not _even(a.q, a.vd, a.vm):
            return False
        if op4 != 1 and not a.q and a.size == 2:
            return False
        if a.q:
            d = _q128(s, a.vd)
            m = _q128(s, a.vm)
            t = b.call(H.neon_permute, op4 - 1, d, m, a.size, 1, width=256)
            parts = [b.and_(b.shr(t, 64 * k, 256), M64, 256) for k in range(4)]
            s.set_d(a.vd, parts[0])
            s.set_d(a.vd + 1, parts[1])
            s.set_d(a.vm, parts[2])
            s.set_d(a.vm + 1, parts[3])
        else:
            t = b.call(H.neon_permute, op4 - 1, s.d(a.vd), s.d(a.vm), a.size, 0, width=128)
            lo, hi = _lo(s, t), _hi(s, t)
            s.set_d(a.vd, lo)
            s.set_d(a.vm, hi)
        return True
    if op4 in (4, 5):  # VMOVN, VQMOVUN, VQMOVN
        if a.size == 3 or a.vm & 1:
            return False
        sel = (op4 & 1) << 1 | a.q
        src_u, dst_u, sat = {0: (1, 1, 0), 1: (0, 1, 1), 2: (0, 0, 1), 3: (1, 1, 1)}[sel]
        t = b.call(H.neon_narrow, s.d(a.vm), s.d(a.vm + 1), a.size, 0, 0, src_u, dst_u, sat, width=128)
        if sat:
            _qc(s, t)
        s.set_d(a.vd, _lo(s, t))
        return True
    if op4 >= 8:
        return _v8_misc2(s, a)
    if op4 == 6 and not a.q:  # VSHLL by the element size
        if a.size == 3 or a.vd & 1:
            return False
        t = b.call(H.neon_widen, s.d(a.vm), a.size, 1, 8 << a.size, width=128)
        s.set_d(a.vd, _lo(s, t))
        s.set_d(a.vd + 1, _hi(s, t))
        return True
    return False


def _ahp(s: DisasContext32):
    return s.b.and_(fpscr(s), 1 << 26, 32)


RINT_RM = {8: F.RN, 9: -1, 10: F.RA, 11: F.RZ, 13: F.RM, 15: F.RP}  # op4 of VRINT{N,X,A,Z,M,P}


def _v8_misc2(s: DisasContext32, a) -> bool:
    """A = 10, op4 >= 8: VRINT* and VCVT between F16 and F32."""
    b = s.b
    op4 = a.op
    if op4 in (12, 14):  # VCVT.F16.F32 (Dd, Qm) / VCVT.F32.F16 (Qd, Dm)
        if a.q or a.size != 1:
            return False
        if op4 == 12:
            if a.vm & 1:
                return False
            t = b.call(H.nfp_to_f16, s.d(a.vm), s.d(a.vm + 1), _ahp(s), width=128)
            _fpflags(s, t)
            s.set_d(a.vd, _lo(s, t))
        else:
            if a.vd & 1:
                return False
            t = b.call(H.nfp_from_f16, s.d(a.vm), _ahp(s), width=256)
            _fpflags(s, t, 128)
            s.set_d(a.vd, _lo(s, t))
            s.set_d(a.vd + 1, _hi(s, t))
        return True
    if a.size != 2 or op4 not in RINT_RM:
        return False
    rm = RINT_RM[op4]
    exact = int(rm < 0)

    def one(i):
        t = b.call(H.nfp_rint, s.d(a.vm + i), F.RN if exact else rm, exact, width=128)
        _fpflags(s, t)
        return _lo(s, t)
    return _per_half(s, a, one)


CVT_RM = (F.RA, F.RN, F.RP, F.RM)


def trans_VMISC3_n(s: DisasContext32, a) -> bool:
    b = s.b
    op4 = a.op
    if a.size != 2:
        return False
    if op4 < 8:  # VCVT{A,N,P,M}: op4 = 0:RM:op

        def cv(i):
            t = b.call(H.nfp_cvt_rm, s.d(a.vm + i), CVT_RM[op4 >> 1], op4 & 1, width=128)
            _fpflags(s, t)
            return _lo(s, t)
        return _per_half(s, a, cv)
    if op4 & 0b1100 == 0b1000 and not op4 & 0b0010:  # VRECPE/VRSQRTE.U32
        return _per_half(s, a, lambda i: b.call(H.neon_u_estimate, s.d(a.vm + i), op4 & 1, width=64))
    if op4 & 0b1100 == 0b1000:  # VRECPE/VRSQRTE.F32 (F is op4 bit 1)
        kop = op4 & 1
    elif op4 & 0b1100 == 0b1100:  # VCVT: 00 f32.s32, 01 f32.u32, 10 s32.f32, 11 u32.f32
        kop = 2 + (op4 & 3)
    else:
        return False

    def one(i):
        t = b.call(H.nfp1, kop, s.d(a.vm + i), width=128)
        _fpflags(s, t)
        return _lo(s, t)
    return _per_half(s, a, one)


# --- VEXT, VTBL/VTBX, VDUP (scalar) ---------------------------------------------------------------

def trans_VEXT_n(s: DisasContext32, a) -> bool:
    b = s.b
    if not _even(a.q, a.vd, a.vn, a.vm) or (not a.q and a.imm4 >= 8):
        return False
    if not a.q:
        if a.imm4 == 0:
            s.set_d(a.vd, s.d(a.vn))
            return True
        sh = 8 * a.imm4
        s.set_d(a.vd, b.or_(b.shr(s.d(a.vn), sh, 64), b.shl(s.d(a.vm), 64 - sh, 64), 64))
        return True
    regs = [s.d(a.vn), s.d(a.vn + 1), s.d(a.vm), s.d(a.vm + 1)]
    cat = b.ext(regs[0], 64, False, 256)
    for k in range(1, 4):
        cat = b.or_(cat, b.shl(b.ext(regs[k], 64, False, 256), 64 * k, 256), 256)
    t = b.shr(cat, 8 * a.imm4, 256)
    lo = b.and_(t, M64, 256)
    hi = b.and_(b.shr(t, 64, 256), M64, 256)
    s.set_d(a.vd, lo)
    s.set_d(a.vd + 1, hi)
    return True


def trans_VTBL_n(s: DisasContext32, a) -> bool:
    b = s.b
    n = a.len + 1
    if a.vn + n > 32:
        return False
    table = b.ext(s.d(a.vn), 64, False, 256)
    for k in range(1, n):
        table = b.or_(table, b.shl(b.ext(s.d(a.vn + k), 64, False, 256), 64 * k, 256), 256)
    dflt = s.d(a.vd) if a.op else 0
    s.set_d(a.vd, b.call(H.neon_tbl, s.d(a.vm), table, 8 * n, dflt, width=64))
    return True


def trans_VDUP_scalar_n(s: DisasContext32, a) -> bool:
    b = s.b
    imm = a.imm4
    if imm & 1:
        size, idx = 1, imm >> 1
    elif imm & 2:
        size, idx = 2, imm >> 2
    elif imm & 4:
        size, idx = 4, imm >> 3
    else:
        return False
    if a.q and a.vd & 1:
        return False
    v = b.and_(b.shr(s.d(a.vm), 8 * size * idx, 64), (1 << (8 * size)) - 1, 64)
    v = s.tmp_copy(b.mul(v, dup_const(size, 1), 64))
    for i in range(1 + a.q):
        s.set_d(a.vd + i, v)
    return True


# --- three registers of different lengths -----------------------------------------------------------

def _long(s: DisasContext32, op: int, x, y, size: int, u: int):
    """(lo, hi, full result) of a long operation on D values x, y."""
    t = s.b.call(H.neon_long, op, x, y, size, u, width=256)
    return _lo(s, t), _hi(s, t), t


def _acc_long(s: DisasContext32, a, lo, hi, sub: bool) -> None:
    f = swar_sub if sub else swar_add
    s.set_d(a.vd, f(s, s.d(a.vd), lo, a.size + 1))
    s.set_d(a.vd + 1, f(s, s.d(a.vd + 1), hi, a.size + 1))


def _qacc_long(s: DisasContext32, a, lo, hi, sub: int) -> None:
    b = s.b
    t0 = b.call(H.neon_qacc, s.d(a.vd), lo, a.size + 1, sub, width=128)
    t1 = b.call(H.neon_qacc, s.d(a.vd + 1), hi, a.size + 1, sub, width=128)
    _qc(s, t0)
    _qc(s, t1)
    s.set_d(a.vd, _lo(s, t0))
    s.set_d(a.vd + 1, _lo(s, t1))


def trans_V3DIFF_n(s: DisasContext32, a) -> bool:
    b = s.b
    op, size = a.op, a.size
    if size == 3 or op == 15:
        return False
    if op in (4, 6):  # VADDHN/VRADDHN, VSUBHN/VRSUBHN: Q, Q -> D
        if a.vn & 1 or a.vm & 1:
            return False
        f = swar_add if op == 4 else swar_sub
        wide = [f(s, s.d(a.vn + i), s.d(a.vm + i), size + 1) for i in range(2)]
        rsh = 8 << size
        t = b.call(H.neon_narrow, wide[0], wide[1], size, rsh, a.u, 1, 1, 0, width=128)
        s.set_d(a.vd, _lo(s, t))
        return True
    if a.vd & 1:
        return False
    if op in (1, 3):  # VADDW/VSUBW: Q, D -> Q
        if a.vn & 1:
            return False
        t = b.call(H.neon_widen, s.d(a.vm), size, a.u, 0, width=128)
        f = swar_add if op == 1 else swar_sub
        r0 = f(s, s.d(a.vn), _lo(s, t), size + 1)
        r1 = f(s, s.d(a.vn + 1), _hi(s, t), size + 1)
        s.set_d(a.vd, r0)
        s.set_d(a.vd + 1, r1)
        return True
    x, y = s.d(a.vn), s.d(a.vm)
    if op in (0, 2):  # VADDL, VSUBL
        lo, hi, _ = _long(s, 0 if op == 0 else 1, x, y, size, a.u)
        s.set_d(a.vd, lo)
        s.set_d(a.vd + 1, hi)
        return True
    if op in (5, 7):  # VABAL, VABDL
        lo, hi, _ = _long(s, 2, x, y, size, a.u)
        if op == 5:
            _acc_long(s, a, lo, hi, False)
        else:
            s.set_d(a.vd, lo)
            s.set_d(a.vd + 1, hi)
        return True
    if op in (8, 10, 12):  # VMLAL, VMLSL, VMULL
        lo, hi, _ = _long(s, 3, x, y, size, a.u)
        if op == 12:
            s.set_d(a.vd, lo)
            s.set_d(a.vd + 1, hi)
        else:
            _acc_long(s, a, lo, hi, op == 10)
        return True
    if op == 14:  # VMULL.P8
        if a.u or size != 0:
            return False
        lo, hi, _ = _long(s, 4, x, y, size, 1)
        s.set_d(a.vd, lo)
        s.set_d(a.vd + 1, hi)
        return True
    # 9 VQDMLAL, 11 VQDMLSL, 13 VQDMULL
    if a.u or size == 0:
        return False
    lo, hi, t = _long(s, 5, x, y, size, 0)
    _qc(s, t, 128)
    if op == 13:
        s.set_d(a.vd, lo)
        s.set_d(a.vd + 1, hi)
    else:
        _qacc_long(s, a, lo, hi, op == 11)
    return True


# --- two registers and a scalar ---------------------------------------------------------------------

def _scalar(s: DisasContext32, vm: int, size: int):
    """The scalar Dm[x] of a by-scalar operation, replicated across a D value."""
    if size == 1:
        reg, idx = vm & 7, (vm >> 3) & 3
    else:
        reg, idx = vm & 15, vm >> 4
    v = s.b.and_(s.b.shr(s.d(reg), (8 << size) * idx, 64), (1 << (8 << size)) - 1, 64)
    return s.tmp_copy(dup_value(s, v, 1 << size))


def trans_VSCALAR_n(s: DisasContext32, a) -> bool:
    b = s.b
    op, size = a.op, a.size
    if size not in (1, 2):
        return False
    if op in (1, 5, 9) and size != 2:
        return False
    sc = _scalar(s, a.vm, size)
    q = a.u  # bit 24: Q for the non-long forms, U for the long integer ones
    if op in (0, 4, 8, 1, 5, 9, 12, 13, 14, 15):
        if q and (a.vd & 1 or a.vn & 1):
            return False
        vals = []
        for i in range(1 + q):
            n = s.d(a.vn + i)
            if op in (0, 4, 8):
                t = _lo(s, b.call(H.neon3, H.KIDX["mul"], n, sc, size, 1, width=128))
                if op == 0:
                    t = swar_add(s, s.d(a.vd + i), t, size)
                elif op == 4:
                    t = swar_sub(s, s.d(a.vd + i), t, size)
            elif op == 9:
                r = b.call(H.nfp2, H.FIDX["mul"], n, sc, width=128)
                _fpflags(s, r)
                t = _lo(s, r)
            elif op in (1, 5):
                r = b.call(H.nfp_mla, s.d(a.vd + i), n, sc, op == 5, 0, width=128)
                _fpflags(s, r)
                t = _lo(s, r)
            elif op >= 14:  # VQRDMLAH, VQRDMLSH (ARMv8.1)
                r = b.call(H.neon_qrdmlah, s.d(a.vd + i), n, sc, size, op - 14, width=128)
                _qc(s, r)
                t = _lo(s, r)
            else:
                r = b.call(H.neon3, H.KIDX["qrdmulh" if op == 13 else "qdmulh"], n, sc, size, 0, width=128)
                _qc(s, r)
                t = _lo(s, r)
            vals.append(t)
        for i, t in enumerate(vals):
            s.set_d(a.vd + i, t)
        return True
    if a.vd & 1:
        return False
    x = s.d(a.vn)
    if op in (2, 6, 10):  # VMLAL, VMLSL, VMULL (scalar)
        lo, hi, _ = _long(s, 3, x, sc, size, a.u)
        if op == 10:
            s.set_d(a.vd, lo)
            s.set_d(a.vd + 1, hi)
        else:
            _acc_long(s, a, lo, hi, op == 6)
        return True
    if op in (3, 7, 11):  # VQDMLAL, VQDMLSL, VQDMULL (scalar)
        if a.u:
            return False
        lo, hi, t = _long(s, 5, x, sc, size, 0)
        _qc(s, t, 128)
        if op == 11:
            s.set_d(a.vd, lo)
            s.set_d(a.vd + 1, hi)
        else:
            _qacc_long(s, a, lo, hi, op == 7)
        return True
    return False
