"""AArch32 loads and stores (A32, T32, T16): single registers with every addressing
form, dual, multiple (incl. PUSH/POP), exclusives, load-acquire/store-release, SWP.

Order inside an instruction (precise faults, and QEMU's choices where the
architecture leaves overlaps UNPREDICTABLE): every memory access first, then
the registers. A single load writes the base back before the loaded register
(so Rt wins when Rt == Rn); LDRD writes Rt, Rt2, then the base; a store
stores the registers as they were before the writeback. A load to the PC is
an interworking branch (LoadWritePC), done last.

Alignment (SCTLR.A = 0, as Linux runs user code): LDR/STR/LDRH/STRH may be
unaligned; LDRD/STRD and LDM/STM need word alignment, exclusives,
acquire/release and SWP natural alignment (else SIGBUS), as in QEMU 7.2.

The exclusive monitor is two CPU globals (address, value); as in QEMU, a
store-exclusive succeeds iff it names the monitored address and memory still
holds the loaded value (the access sizes are not compared), checked and
stored atomically by :func:`helper_a32_ldst.strex`. Every store-exclusive,
and CLREX, opens the monitor.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_a32_ldst as H
from pyqemu.target.arm.translate32 import CPU, DisasContext32

M64 = C.M64

# --- addressing ---------------------------------------------------------------------------


def _t32(s: DisasContext32) -> bool:
    return s.thumb and s.insn_len == 4


def _addr_pre(s: DisasContext32, a, ofs):
    """The address the access uses: Rn +/- offset when pre-indexed (P=1), else Rn.
    Rn = PC reads as Align(PC, 4) (literal forms)."""
    base = s.reg_aligned_pc(a.rn)
    if not a.p:
        return base
    if isinstance(ofs, int) and ofs == 0:
        return base
    return s.b.add(base, ofs, 32) if a.u else s.b.sub(base, ofs, 32)


def _addr_post(s: DisasContext32, a, addr, ofs) -> None:
    """Base register writeback: post-indexed (P=0) always, pre-indexed if W=1."""
    if not a.p:
        s.b.mov(s.g(a.rn), s.b.add(addr, ofs, 32) if a.u else s.b.sub(addr, ofs, 32))
    elif a.w:
        s.b.mov(s.g(a.rn), addr)


def _wback(a) -> bool:
    return not a.p or bool(a.w)


def _rr_offset(s: DisasContext32, a):
    return s.shift_imm(s.reg(a.rm), a.shtype, a.shimm)[0]


# --- single register ----------------------------------------------------------------------

def _load(s: DisasContext32, a, ofs, size: int, signed: bool = False) -> bool:
    if _wback(a) and a.rn == 15:
        return False  # UNPREDICTABLE: UNDEF
    if a.rt == 15 and size < 4 and _t32(s):
        return True  # PLD/PLDW/PLI and the unallocated memory hints: NOPs
    b = s.b
    addr = _addr_pre(s, a, ofs)
    val = b.ld(addr, size, signed, w=32)
    _addr_post(s, a, addr, ofs)
    s.set_reg_load(a.rt, val)
    return True


def _store(s: DisasContext32, a, ofs, size: int) -> bool:
    if _wback(a) and a.rn == 15:
        return False
    if a.rn == 15 and s.thumb:
        return False
    b = s.b
    addr = _addr_pre(s, a, ofs)
    b.st(addr, s.reg(a.rt), size)
    _addr_post(s, a, addr, ofs)
    return True


def trans_LDR_ri(s: DisasContext32, a) -> bool:
    return _load(s, a, a.imm, 4)


def trans_LDRB_ri(s: DisasContext32, a) -> bool:
    return _load(s, a, a.imm, 1)


def trans_LDRH_ri(s: DisasContext32, a) -> bool:
    return _load(s, a, a.imm, 2)


def trans_LDRSB_ri(s: DisasContext32, a) -> bool:
    return _load(s, a, a.imm, 1, True)


def trans_LDRSH_ri(s: DisasContext32, a) -> bool:
    return _load(s, a, a.imm, 2, True)


def trans_STR_ri(s: DisasContext32, a) -> bool:
    return _store(s, a, a.imm, 4)


def trans_STRB_ri(s: DisasContext32, a) -> bool:
    return _store(s, a, a.imm, 1)


def trans_STRH_ri(s: DisasContext32, a) -> bool:
    return _store(s, a, a.imm, 2)


def _rr_ok(s: DisasContext32, a) -> bool:
    return a.rm != 15 and not (s.thumb and a.rn == 15)


def trans_LDR_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _load(s, a, _rr_offset(s, a), 4)


def trans_LDRB_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _load(s, a, _rr_offset(s, a), 1)


def trans_LDRH_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _load(s, a, _rr_offset(s, a), 2)


def trans_LDRSB_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _load(s, a, _rr_offset(s, a), 1, True)


def trans_LDRSH_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _load(s, a, _rr_offset(s, a), 2, True)


def trans_STR_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _store(s, a, _rr_offset(s, a), 4)


def trans_STRB_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _store(s, a, _rr_offset(s, a), 1)


def trans_STRH_rr(s: DisasContext32, a) -> bool:
    return _rr_ok(s, a) and _store(s, a, _rr_offset(s, a), 2)


# --- dual -------------------------------------------------------------------------------

def _dual_ok(s: DisasContext32, a) -> bool:
    if _wback(a) and a.rn == 15:
        return False
    if s.thumb:
        return a.rt not in (13, 15) and a.rt2 not in (13, 15)
    return not a.rt & 1 and a.rt != 14  # A32: an even Rt, Rt2 = Rt + 1


def _ldrd(s: DisasContext32, a, ofs) -> bool:
    if not _dual_ok(s, a):
        return False
    b = s.b
    addr = _addr_pre(s, a, ofs)
    val = b.ld(addr, 8, align=4)
    b.mov(s.g(a.rt), b.and_(val, C.M32, 64))
    b.mov(s.g(a.rt2), b.shr(val, 32, 64))
    _addr_post(s, a, addr, ofs)
    return True


def _strd(s: DisasContext32, a, ofs) -> bool:
    if not _dual_ok(s, a) or (s.thumb and a.rn == 15):
        return False
    b = s.b
    addr = _addr_pre(s, a, ofs)
    val = b.or_(s.reg(a.rt), b.shl(s.reg(a.rt2), 32, 64), 64)
    b.st(addr, val, 8, align=4)
    _addr_post(s, a, addr, ofs)
    return True


def trans_LDRD_ri(s: DisasContext32, a) -> bool:
    return _ldrd(s, a, a.imm)


def trans_STRD_ri(s: DisasContext32, a) -> bool:
    return _strd(s, a, a.imm)


def trans_LDRD_rr(s: DisasContext32, a) -> bool:
    return a.rm != 15 and _ldrd(s, a, s.reg(a.rm))


def trans_STRD_rr(s: DisasContext32, a) -> bool:
    return a.rm != 15 and _strd(s, a, s.reg(a.rm))


# --- multiple -----------------------------------------------------------------------------

def _block(s: DisasContext32, a, load: bool) -> bool:
    """LDM/STM IA/IB/DA/DB (p: before, u: increment), optional writeback."""
    regs = [i for i in range(16) if a.list >> i & 1]
    n = len(regs)
    if n == 0 or a.rn == 15 or a.s:
        return False
    b = s.b
    base = s.reg(a.rn)
    if a.u:
        start = b.add(base, 4, 32) if a.p else base
    else:
        start = b.sub(base, 4 * n - (0 if a.p else 4), 32)
    vals = []
    for i, r in enumerate(regs):
        addr = b.add(start, 4 * i, 32) if i else start
        align = 0 if i else 4  # the first word's check covers the others (start + 4i)
        if load:
            vals.append(b.ld(addr, 4, align=align))
        else:
            b.st(addr, s.reg(r), 4, align=align)
    if a.w:
        b.mov(s.g(a.rn), b.add(base, 4 * n, 32) if a.u else b.sub(base, 4 * n, 32))
    if load:
        for r, v in zip(regs, vals, strict=True):
            if r != 15:
                b.mov(s.g(r), v)
        if regs[-1] == 15:
            s.set_reg_load(15, vals[-1])
    return True


def trans_STM(s: DisasContext32, a) -> bool:
    return _block(s, a, False)


def trans_STM_t32(s: DisasContext32, a) -> bool:
    if a.w and a.list >> a.rn & 1:
        return False  # UNPREDICTABLE: UNDEF (as QEMU)
    return _block(s, a, False)


def trans_LDM_a32(s: DisasContext32, a) -> bool:
    if a.w and a.list >> a.rn & 1:
        return False  # UNPREDICTABLE from ARMv7: UNDEF (as QEMU)
    return _block(s, a, True)


trans_LDM_t32 = trans_LDM_a32


def trans_LDM_t16(s: DisasContext32, a) -> bool:
    """LDMIA Rn(!): writeback iff Rn is not loaded; POP."""
    if a.rn != 13:
        a.w = 0 if a.list >> a.rn & 1 else 1
    return _block(s, a, True)


# --- exclusives, acquire/release ------------------------------------------------------------

def _excl_ok(s: DisasContext32, a, dual: bool, load: bool) -> bool:
    """The encodings QEMU accepts (it UNDEFs the UNPREDICTABLE ones): no PC, and for the
    doubleword forms an even Rt in A32, Rt != Rt2 for LDREXD (STREXD may store one
    register twice)."""
    if a.rn == 15 or a.rt == 15:
        return False
    if dual:
        if a.rt2 == 15 or (load and a.rt == a.rt2):
            return False
        if not s.thumb and a.rt & 1:
            return False
    return True


def _ldrex(s: DisasContext32, a, size: int) -> bool:
    dual = size == 8
    if not _excl_ok(s, a, dual, True):
        return False
    b = s.b
    addr = b.add(s.reg(a.rn), a.imm, 32) if a.imm else s.tmp_copy(s.reg(a.rn))
    val = b.ld(addr, size, align=size)
    b.mov(s.g(C.REG_EXCL_ADDR), addr)
    b.mov(s.g(C.REG_EXCL_VAL), val)
    if dual:
        b.mov(s.g(a.rt), b.and_(val, C.M32, 64))
        b.mov(s.g(a.rt2), b.shr(val, 32, 64))
    else:
        b.mov(s.g(a.rt), val)
    return True


def _strex(s: DisasContext32, a, size: int) -> bool:
    dual = size == 8
    if not _excl_ok(s, a, dual, False) or a.rd == 15 or a.rd in (a.rn, a.rt) or dual and a.rd == a.rt2:
        return False
    b = s.b
    addr = b.add(s.reg(a.rn), a.imm, 32) if a.imm else s.reg(a.rn)
    if dual:
        val = b.or_(s.reg(a.rt), b.shl(s.reg(a.rt2), 32, 64), 64)
    else:
        val = s.reg(a.rt)
    st = b.call(H.strex, CPU, addr, s.g(C.REG_EXCL_ADDR), s.g(C.REG_EXCL_VAL), val, size, width=32)
    b.mov(s.g(C.REG_EXCL_ADDR), M64)
    b.mov(s.g(a.rd), st)
    return True


def trans_LDREX(s: DisasContext32, a) -> bool:
    return _ldrex(s, a, 4)


def trans_LDREXB(s: DisasContext32, a) -> bool:
    return _ldrex(s, a, 1)


def trans_LDREXH(s: DisasContext32, a) -> bool:
    return _ldrex(s, a, 2)


def trans_LDREXD(s: DisasContext32, a) -> bool:
    return _ldrex(s, a, 8)


def trans_STREX(s: DisasContext32, a) -> bool:
    return _strex(s, a, 4)


def trans_STREXB(s: DisasContext32, a) -> bool:
    return _strex(s, a, 1)


def trans_STREXH(s: DisasContext32, a) -> bool:
    return _strex(s, a, 2)


def trans_STREXD(s: DisasContext32, a) -> bool:
    return _strex(s, a, 8)


# The acquire/release exclusives order memory like the plain ones here (one thread
# runs at a time).
trans_LDAEX, trans_LDAEXB, trans_LDAEXH, trans_LDAEXD = trans_LDREX, trans_LDREXB, trans_LDREXH, trans_LDREXD
trans_STLEX, trans_STLEXB, trans_STLEXH, trans_STLEXD = trans_STREX, trans_STREXB, trans_STREXH, trans_STREXD


def _lda(s: DisasContext32, a, size: int) -> bool:
    if a.rn == 15 or a.rt == 15:
        return False
    s.b.mov(s.g(a.rt), s.b.ld(s.reg(a.rn), size, align=size, w=32))
    return True


def _stl(s: DisasContext32, a, size: int) -> bool:
    if a.rn == 15 or a.rt == 15:
        return False
    s.b.st(s.reg(a.rn), s.reg(a.rt), size, align=size)
    return True


def trans_LDA(s: DisasContext32, a) -> bool:
    return _lda(s, a, 4)


def trans_LDAB(s: DisasContext32, a) -> bool:
    return _lda(s, a, 1)


def trans_LDAH(s: DisasContext32, a) -> bool:
    return _lda(s, a, 2)


def trans_STL(s: DisasContext32, a) -> bool:
    return _stl(s, a, 4)


def trans_STLB(s: DisasContext32, a) -> bool:
    return _stl(s, a, 1)


def trans_STLH(s: DisasContext32, a) -> bool:
    return _stl(s, a, 2)


# --- SWP ----------------------------------------------------------------------------------

def _swp(s: DisasContext32, a, size: int) -> bool:
    if 15 in (a.rn, a.rt, a.rt2) or a.rn in (a.rt, a.rt2):
        return False
    old = s.b.call(H.swp, CPU, s.reg(a.rn), s.reg(a.rt2), size, width=32)
    s.b.mov(s.g(a.rt), old)
    return True


def trans_SWP(s: DisasContext32, a) -> bool:
    return _swp(s, a, 4)


def trans_SWPB(s: DisasContext32, a) -> bool:
    return _swp(s, a, 1)
