"""A64 loads and stores: single registers (all addressing forms), pairs,
literals, exclusives, load-acquire/store-release, LSE atomics.

Every instruction does its memory accesses first, then writes its
destination registers, then the base register writeback, so a fault leaves
the registers as before the instruction. Where the architecture leaves
register overlaps UNPREDICTABLE we do what QEMU does: a load with writeback
and Rt == Rn ends with the written-back address; a store stores Rt as it was
before the writeback; LDP with Rt == Rt2 ends with the first value (integer)
or the second (SIMD&FP).

Plain accesses may be unaligned; exclusives, ordered accesses and atomics
need natural alignment (SIGBUS). The exclusive monitor is two CPU globals
(address, value): store-exclusive succeeds iff the monitor holds the address
and memory still holds the value, checked and stored atomically by a helper.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_a64_atomic as H
from pyqemu.target.arm.translate import CPU, DisasContext

M64 = C.M64
STORE, LOAD, PREFETCH = 0, 1, 2


class Acc:
    """One register's access: kind, bytes, sign extension, SIMD&FP register file."""

    __slots__ = ("kind", "size", "signed", "w", "v")

    def __init__(self, kind: int, size: int, signed: bool = False, w: int = 64, v: bool = False) -> None:
        self.kind = kind
        self.size = size
        self.signed = signed
        self.w = w  # width a signed load extends to (32 for a W destination)
        self.v = v


def _acc(size: int, opc: int, v: int) -> Acc | None:
    """Decode size:opc:V of the single-register forms (None = unallocated)."""
    n = 1 << size
    if v:
        if opc & 2:  # Q registers are size 00, opc 1x
            return None if size else Acc(STORE if opc == 2 else LOAD, 16, v=True)
        return Acc(LOAD if opc else STORE, n, v=True)
    if opc == 0:
        return Acc(STORE, n)
    if opc == 1:
        return Acc(LOAD, n)
    if opc == 2:  # LDRSB/LDRSH/LDRSW to X; PRFM in the 64-bit slot
        return Acc(PREFETCH, 8) if size == 3 else Acc(LOAD, n, True, 64)
    return Acc(LOAD, n, True, 32) if size < 2 else None  # LDRSB/LDRSH to W


def _scale(size: int) -> int:
    return (size - 1).bit_length()


def _load(s: DisasContext, acc: Acc, addr, align: int = 0):
    return s.b.ld(addr, acc.size, acc.signed, align, acc.w if acc.signed else 0)


def _store_val(s: DisasContext, acc: Acc, rt: int):
    if acc.v:
        val = s.v(rt)
        # the back end masks 1/2/4-byte store values itself, not 8-byte ones
        return s.b.ext(val, 64, False, 64) if acc.size == 8 else val
    return s.x(rt)


def _set_rt(s: DisasContext, acc: Acc, rt: int, val) -> None:
    if acc.v:
        s.set_v(rt, val)  # a B/H/S/D load zeroes the rest of the vector register
    else:
        s.set_x(rt, val)


def _single(s: DisasContext, acc: Acc, rt: int, addr, rn: int = -1, wb=None, align: int = 0) -> bool:
    """Access [addr] for Rt, then write Rt, then the writeback Rn = wb."""
    if acc.kind == STORE:
        s.b.st(addr, _store_val(s, acc, rt), acc.size, align)
    elif acc.kind == LOAD:
        _set_rt(s, acc, rt, _load(s, acc, addr, align))
    if wb is not None:
        s.set_xsp(rn, wb)
    return True


def _base_plus(s: DisasContext, rn: int, off: int):
    base = s.xsp(rn)
    off &= M64
    return s.b.add(base, off) if off else base


# --- single register: immediate forms ---------------------------------------------------

def trans_LDST_uimm(s: DisasContext, a) -> bool:
    acc = _acc(a.size, a.opc, a.v)
    if acc is None:
        return False
    if acc.kind == PREFETCH:
        return True
    return _single(s, acc, a.rt, _base_plus(s, a.rn, a.imm << _scale(acc.size)))


def trans_LDST_unscaled(s: DisasContext, a) -> bool:
    acc = _acc(a.size, a.opc, a.v)
    if acc is None:
        return False
    if acc.kind == PREFETCH:  # PRFUM
        return True
    return _single(s, acc, a.rt, _base_plus(s, a.rn, a.imm))


def trans_LDST_unpriv(s: DisasContext, a) -> bool:
    """LDTR/STTR: at EL0 the same as the unscaled forms."""
    acc = _acc(a.size, a.opc, a.v)
    if acc is None or a.v or acc.kind == PREFETCH:
        return False
    if s.sys and s.el == 1:  # EL1: checked as EL0 accesses (no FEAT_UAO here)
        s.b.mmu_idx = 0
        ok = _single(s, acc, a.rt, _base_plus(s, a.rn, a.imm))
        s.b.mmu_idx = -1
        return ok
    return _single(s, acc, a.rt, _base_plus(s, a.rn, a.imm))


def trans_LDST_pre(s: DisasContext, a) -> bool:
    acc = _acc(a.size, a.opc, a.v)
    if acc is None or acc.kind == PREFETCH:
        return False
    addr = _base_plus(s, a.rn, a.imm)
    return _single(s, acc, a.rt, addr, a.rn, addr)


def trans_LDST_post(s: DisasContext, a) -> bool:
    acc = _acc(a.size, a.opc, a.v)
    if acc is None or acc.kind == PREFETCH:
        return False
    addr = s.xsp(a.rn)
    wb = _base_plus(s, a.rn, a.imm)  # computed now: Rt may be Rn
    return _single(s, acc, a.rt, addr, a.rn, wb)


# --- single register: register offset -------------------------------------------------

def trans_LDST_reg(s: DisasContext, a) -> bool:
    acc = _acc(a.size, a.opc, a.v)
    if acc is None or not a.opt & 2:  # option<1> == 0 is reserved
        return False
    if acc.kind == PREFETCH:
        return True
    b = s.b
    if a.opt == 2:  # UXTW
        m = s.x(a.rm, 0)
    elif a.opt == 6:  # SXTW
        m = b.ext(s.x(a.rm), 32, True, 64)
    else:  # LSL (UXTX), SXTX
        m = s.x(a.rm)
    if a.s:
        m = b.shl(m, _scale(acc.size))
    return _single(s, acc, a.rt, b.add(s.xsp(a.rn), m))


# --- literal ---------------------------------------------------------------------------

def trans_LDR_lit(s: DisasContext, a) -> bool:
    if a.v:
        if a.opc == 3:
            return False
        acc = Acc(LOAD, 4 << a.opc, v=True)
    elif a.opc == 3:
        return True  # PRFM (literal)
    else:
        acc = Acc(LOAD, (4, 8, 4)[a.opc], a.opc == 2)
    return _single(s, acc, a.rt, (s.pc + a.imm * 4) & M64)


# --- pairs -----------------------------------------------------------------------------

def trans_LDSTP(s: DisasContext, a) -> bool:
    if a.opc == 3:
        return False
    if a.v:
        acc = Acc(LOAD if a.l else STORE, 4 << a.opc, v=True)
    elif a.opc == 1:  # LDPSW; STGP (MTE) and LDNP/STNP with opc 01 are not implemented
        if not a.l or a.idx == 0:
            return False
        acc = Acc(LOAD, 4, True, 64)
    else:
        acc = Acc(LOAD if a.l else STORE, 8 if a.opc else 4)
    b = s.b
    off = a.imm * acc.size
    if a.idx == 1:  # post-index
        addr = s.xsp(a.rn)
        wb = _base_plus(s, a.rn, off)
    else:
        addr = _base_plus(s, a.rn, off)
        wb = addr if a.idx == 3 else None
    addr2 = b.add(addr, acc.size)
    if acc.kind == STORE:
        b.st(addr, _store_val(s, acc, a.rt), acc.size)
        b.st(addr2, _store_val(s, acc, a.rt2), acc.size)
    else:
        v1 = _load(s, acc, addr)
        v2 = _load(s, acc, addr2)
        if acc.v:
            s.set_v(a.rt, v1)
            s.set_v(a.rt2, v2)
        else:
            s.set_x(a.rt2, v2)
            s.set_x(a.rt, v1)
    if wb is not None:
        s.set_xsp(a.rn, wb)
    return True


# --- exclusives and ordered ------------------------------------------------------------

def _excl_addr(s: DisasContext):
    return s.g(C.REG_EXCL_ADDR)


def trans_LDXR(s: DisasContext, a) -> bool:
    n = 1 << a.size
    addr = s.xsp(a.rn)
    val = s.b.ld(addr, n, False, n)
    s.b.mov(_excl_addr(s), addr)  # before Rt: Rt may be Rn
    s.b.mov(s.g(C.REG_EXCL_VAL), val)
    s.set_x(a.rt, val)
    return True


def trans_STXR(s: DisasContext, a) -> bool:
    n = 1 << a.size
    st = s.b.call(H.stxr, CPU, s.xsp(a.rn), _excl_addr(s), s.g(C.REG_EXCL_VAL), s.x(a.rt), n)
    s.b.mov(_excl_addr(s), M64)
    s.set_x(a.rs, st)
    return True


def trans_LDXP(s: DisasContext, a) -> bool:
    b = s.b
    addr = s.xsp(a.rn)
    if a.sz:
        val = b.ld(addr, 16, False, 16)
        lo, hi = b.ext(val, 64, False, 64), b.shr(val, 64, 128)
    else:
        val = b.ld(addr, 8, False, 8)
        lo, hi = b.and_(val, C.M32), b.shr(val, 32)
    b.mov(_excl_addr(s), addr)
    b.mov(s.g(C.REG_EXCL_VAL), val)
    s.set_x(a.rt, lo)
    s.set_x(a.rt2, hi)
    return True


def _pair_val(s: DisasContext, r1: int, r2: int, sz: int):
    """Registers r1 (low half) and r2 as one 64-bit (sz 0) or 128-bit value."""
    b = s.b
    if sz:
        return b.or_(s.x(r1), b.shl(s.x(r2), 64, 128), 128)
    return b.or_(s.x(r1, 0), b.shl(s.x(r2), 32))


def trans_STXP(s: DisasContext, a) -> bool:
    val = _pair_val(s, a.rt, a.rt2, a.sz)
    st = s.b.call(H.stxr, CPU, s.xsp(a.rn), _excl_addr(s), s.g(C.REG_EXCL_VAL), val, 16 if a.sz else 8)
    s.b.mov(_excl_addr(s), M64)
    s.set_x(a.rs, st)
    return True


def trans_LDAR(s: DisasContext, a) -> bool:
    n = 1 << a.size
    s.set_x(a.rt, s.b.ld(s.xsp(a.rn), n, False, n))
    return True


def trans_STLR(s: DisasContext, a) -> bool:
    n = 1 << a.size
    s.b.st(s.xsp(a.rn), s.x(a.rt), n, n)
    return True


def trans_LDAPR_STLR_i(s: DisasContext, a) -> bool:
    """LDAPUR*/STLUR (RCpc, unscaled offset); aligned like the other ordered accesses."""
    acc = _acc(a.size, a.opc, 0)
    if acc is None or acc.kind == PREFETCH:
        return False
    return _single(s, acc, a.rt, _base_plus(s, a.rn, a.imm), align=acc.size)


# --- compare and swap, LSE atomics -------------------------------------------------------

def trans_CAS(s: DisasContext, a) -> bool:
    n = 1 << a.size
    old = s.b.call(H.cas, CPU, s.xsp(a.rn), s.x(a.rs), s.x(a.rt), n)
    s.set_x(a.rs, old)
    return True


def trans_CASP(s: DisasContext, a) -> bool:
    if (a.rs | a.rt) & 1:
        return False
    b = s.b
    w = 128 if a.sz else 64
    old = b.call(H.cas, CPU, s.xsp(a.rn), _pair_val(s, a.rs, a.rs + 1, a.sz),
                 _pair_val(s, a.rt, a.rt + 1, a.sz), 16 if a.sz else 8, width=w)
    half = 64 if a.sz else 32
    s.set_x(a.rs, b.ext(old, half, False, 64))
    s.set_x(a.rs + 1, b.shr(old, half, w))
    return True


def trans_ATOMIC(s: DisasContext, a) -> bool:
    n = 1 << a.size
    if a.o3:
        if a.opc == 4 and a.a and not a.r and a.rs == 31:  # LDAPR
            s.set_x(a.rt, s.b.ld(s.xsp(a.rn), n, False, n))
            return True
        if a.opc:
            return False
        fn = H.SWP
    else:
        fn = H.LD_OPS[a.opc]
    s.set_x(a.rt, s.b.call(fn, CPU, s.xsp(a.rn), s.x(a.rs), n))
    return True
