"""AArch32 miscellaneous instructions: exception generation (SVC, UDF, BKPT), the
coprocessor 15 registers user mode can reach (MRC/MCR/MRRC), barriers, preload
hints, CLREX and the T32 hints other than the named ones.

User mode (PL0) sees TPIDRURW (c13, c0, 2: read/write), TPIDRURO (c13, c0, 3:
read-only) and the ARMv6 CP15 barrier operations (c7, c5, 4 ISB; c7, c10, 4
DSB; c7, c10, 5 DMB); every other CP15 access is UNDEFINED at PL0 (SIGILL).
That includes the generic timer (CNTFRQ, CNTVCT, CNTPCT): Linux may let PL0
read CNTVCT, but qemu-arm 7.2 (CNTKCTL = 0 in user mode) raises SIGILL, and
pyqemu follows qemu-arm.
"""
from __future__ import annotations

from pyqemu.target.arm import cpu32 as C
from pyqemu.target.arm import helper_a32_ldst as H
from pyqemu.target.arm.translate32 import CPU, DisasContext32

M64 = C.M64


def trans_SVC(s: DisasContext32, a) -> bool:
    s.svc()
    return True


def trans_UDF(s: DisasContext32, a) -> bool:
    s.undef()
    return True


def trans_BKPT(s: DisasContext32, a) -> bool:
    """BKPT: SIGTRAP. An A32 BKPT with a condition (UNPREDICTABLE) traps only when the
    condition holds, as in qemu-arm; a T16 BKPT traps whatever its IT condition."""
    s.b.raise_(H.bkpt, CPU, a.imm)
    s.is_jmp = True
    return True


# --- barriers, hints --------------------------------------------------------------------

def _isb(s: DisasContext32) -> None:
    """ISB ends the block with a lookup, so code written before it is seen at once (inside
    an IT block: after the IT block)."""
    s.end_block_lookup()


def trans_ISB(s: DisasContext32, a) -> bool:
    _isb(s)
    return True


def _nop(s: DisasContext32, a) -> bool:
    """DSB/DMB/SB (one thread runs at a time; memory is coherent), preload hints."""
    return True


trans_DSB = trans_DMB = trans_SB = _nop
trans_PLD = trans_PLI = trans_PLD_r = trans_PLI_r = _nop
trans_HINT_t32 = _nop  # unnamed hints and CPS (a NOP at PL0)


def trans_CLREX(s: DisasContext32, a) -> bool:
    s.b.mov(s.g(C.REG_EXCL_ADDR), M64)
    return True


# --- coprocessor 15 -----------------------------------------------------------------------

TPIDRURW = (0, 13, 0, 2)
TPIDRURO = (0, 13, 0, 3)
CP15_ISB = (0, 7, 5, 4)
CP15_DSB = (0, 7, 10, 4)
CP15_DMB = (0, 7, 10, 5)


def _key(a) -> tuple[int, int, int, int]:
    return (a.opc1, a.crn, a.crm, a.opc2)


def trans_MRC(s: DisasContext32, a) -> bool:
    key = _key(a)
    if a.rt == 15 or a.rt == 13 and s.thumb:
        return False
    if key == TPIDRURW:
        val = s.g(C.REG_TPIDRURW)
    elif key == TPIDRURO:
        val = s.g(C.REG_TPIDRURO)
    else:
        return s.unimp(f"MRC p15, {a.opc1}, c{a.crn}, c{a.crm}, {a.opc2}")
    s.set_reg(a.rt, val)
    return True


def trans_MCR(s: DisasContext32, a) -> bool:
    key = _key(a)
    if a.rt == 15 or a.rt == 13 and s.thumb:
        return False
    if key == TPIDRURW:
        s.b.mov(s.g(C.REG_TPIDRURW), s.reg(a.rt))
    elif key in (CP15_DSB, CP15_DMB):
        pass
    elif key == CP15_ISB:
        _isb(s)
    else:
        return s.unimp(f"MCR p15, {a.opc1}, c{a.crn}, c{a.crm}, {a.opc2}")
    return True


def trans_MRRC(s: DisasContext32, a) -> bool:
    return s.unimp(f"MRRC p15, {a.opc1}, c{a.crm}")


def trans_MCRR(s: DisasContext32, a) -> bool:
    return s.unimp(f"MCRR p15, {a.opc1}, c{a.crm}")


# --- PSTATE -------------------------------------------------------------------------------

trans_CPS = _nop  # CPS at PL0 changes nothing (as QEMU)


def trans_SETEND(s: DisasContext32, a) -> bool:
    """SETEND LE is a NOP; big-endian data (SETEND BE) is not supported."""
    if a.e:
        return s.unimp("SETEND BE (big-endian data accesses)")
    return True
