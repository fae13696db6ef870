"""A64 system instructions as a user-mode (EL0) program sees them."""
from __future__ import annotations

import time

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import trans_a64_system as sysmode
from pyqemu.target.arm.translate import CPU, DisasContext, helper
from pyqemu.util import log

# (op0, op1, CRn, CRm, op2) -> name, for the registers EL0 may use.
NZCV = (3, 3, 4, 2, 0)
DAIF = (3, 3, 4, 2, 1)
FPCR = (3, 3, 4, 4, 0)
FPSR = (3, 3, 4, 4, 1)
TPIDR_EL0 = (3, 3, 13, 0, 2)
TPIDRRO_EL0 = (3, 3, 13, 0, 3)
CNTFRQ_EL0 = (3, 3, 14, 0, 0)
CNTVCT_EL0 = (3, 3, 14, 0, 2)
CNTVCTSS_EL0 = (3, 3, 14, 0, 6)
DCZID_EL0 = (3, 3, 0, 0, 7)
CTR_EL0 = (3, 3, 0, 0, 1)
MIDR_EL1 = (3, 0, 0, 0, 0)
MPIDR_EL1 = (3, 0, 0, 0, 5)
REVIDR_EL1 = (3, 0, 0, 0, 6)

# ID registers that Linux emulates for EL0 (HWCAP_CPUID): sanitised values of
# what pyqemu implements (keep in step with the HWCAPs in linux_user/elfload.py).
ID_REGS = {
    (3, 0, 0, 4, 0): 0x0000000000000011,  # ID_AA64PFR0_EL1: EL0/EL1 AArch64, FP, AdvSIMD
    (3, 0, 0, 4, 1): 0,                   # ID_AA64PFR1_EL1
    (3, 0, 0, 4, 4): 0,                   # ID_AA64ZFR0_EL1
    (3, 0, 0, 5, 0): 0x0000000000000006,  # ID_AA64DFR0_EL1 (debug v8)
    (3, 0, 0, 5, 1): 0,
    (3, 0, 0, 6, 0): 0x0020000000210000,  # ID_AA64ISAR0_EL1: CRC32, Atomic, TS=2 (FlagM2)
    (3, 0, 0, 6, 1): 0x0000001000200000,  # ID_AA64ISAR1_EL1: LRCPC=2, SB
    (3, 0, 0, 6, 2): 0,
    (3, 0, 0, 7, 0): 0x0000000000000000,  # ID_AA64MMFR0_EL1 (sanitised for EL0)
    (3, 0, 0, 7, 1): 0,
    (3, 0, 0, 7, 2): 0,
}

_T0 = time.monotonic_ns()


@helper(pure=True)
def nzcv_read(op, a, b):
    return C.nzcv_from(op, a, b)


@helper()
def read_cntvct(cpu):
    return (time.monotonic_ns() - _T0) * cpu.cntfrq // 1_000_000_000


@helper()
def dc_zva(cpu, addr):
    cpu.dc_zva(addr & ~63)


def trans_HINT(s: DisasContext, a) -> bool:
    if s.sys:
        return sysmode.hint(s, a.crm, a.op2)
    return True  # NOP, YIELD, WFE, WFI, SEV, BTI, PAC hints: no-ops at EL0 here


def trans_CLREX(s: DisasContext, a) -> bool:
    s.b.mov(s.g(C.REG_EXCL_ADDR), C.M64)
    return True


def trans_DSB_DMB(s: DisasContext, a) -> bool:
    # DSB/DMB/SB: one thread runs at a time, memory is coherent. ISB ends the block with a
    # lookup (as QEMU ends the TB): code rewritten before it (a JIT: store, IC IVAU, ISB) is
    # retranslated, even by a region that was looping over it.
    if a.op == 2:
        s.jump(s.pc + 4)
    return True


@helper(pure=True)
def xaflag(nzcv):
    z, c = nzcv & C.Z_BIT, nzcv & C.C_BIT
    return ((C.N_BIT if not c and not z else 0) | (C.Z_BIT if z and c else 0)
            | (C.C_BIT if c or z else 0) | (C.V_BIT if not c and z else 0))


@helper(pure=True)
def axflag(nzcv):
    z, c, v = nzcv & C.Z_BIT, nzcv & C.C_BIT, nzcv & C.V_BIT
    return (C.Z_BIT if z or v else 0) | (C.C_BIT if c and not v else 0)


def trans_MSR_i(s: DisasContext, a) -> bool:
    if a.rt != 31:
        return False
    if a.op1 == 0 and a.crm == 0 and a.op2 in (0, 1, 2):  # CFINV, XAFLAG, AXFLAG (FEAT_FlagM/M2)
        nzcv = s.get_nzcv()
        if a.op2 == 0:
            s.flags_nzcv(s.b.xor(nzcv, C.C_BIT))
        else:
            s.flags_nzcv(s.b.call(xaflag if a.op2 == 1 else axflag, nzcv))
        return True
    if s.sys:
        return sysmode.msr_pstate(s, a.op1, a.op2, a.crm)
    log.unimp(f"pyqemu: MSR (immediate) op1={a.op1} op2={a.op2} at {s.pc:#x}")
    s.undef()
    return True


def trans_SYS(s: DisasContext, a) -> bool:
    if s.sys:
        return sysmode.sys(s, a)
    key = (a.op1, a.crn, a.crm, a.op2)
    if a.l == 0 and key == (3, 7, 4, 1):  # DC ZVA
        s.b.call_void(dc_zva, CPU, s.x(a.rt))
        return True
    if a.l == 0 and a.op1 == 3 and a.crn == 7:
        return True  # DC CVAU/CIVAC/CVAC/CVAP, IC IVAU: caches are coherent here
    log.unimp(f"pyqemu: SYS op1={a.op1} CRn={a.crn} CRm={a.crm} op2={a.op2} at {s.pc:#x}")
    s.undef()
    return True


def _const_sysreg(s: DisasContext, key: tuple) -> int | None:
    cpu = s.cpu
    if key == MIDR_EL1:
        return cpu.midr
    if key == MPIDR_EL1:
        return cpu.mpidr
    if key == REVIDR_EL1:
        return 0
    if key == CTR_EL0:
        return cpu.ctr
    if key == DCZID_EL0:
        return cpu.dczid
    if key == CNTFRQ_EL0:
        return cpu.cntfrq
    return ID_REGS.get(key)


def trans_MSR_MRS(s: DisasContext, a) -> bool:
    key = (2 + a.o0, a.op1, a.crn, a.crm, a.op2)
    b = s.b
    if s.sys:
        return sysmode.mrs_msr(s, a, lambda: s.set_x(a.rt, b.and_(s.get_nzcv(), 0xF0000000)),
                               lambda: s.flags_nzcv(b.and_(s.x(a.rt), 0xF0000000)))
    if a.l:  # MRS
        if key == NZCV:
            s.set_x(a.rt, b.and_(s.get_nzcv(), 0xF0000000))
        elif key == TPIDR_EL0:
            s.set_x(a.rt, s.g(C.REG_TPIDR))
        elif key == TPIDRRO_EL0:
            s.set_x(a.rt, s.g(C.REG_TPIDRRO))
        elif key == FPCR:
            s.set_x(a.rt, s.g(C.REG_FPCR))
        elif key == FPSR:
            s.set_x(a.rt, s.g(C.REG_FPSR))
        elif key in (CNTVCT_EL0, CNTVCTSS_EL0):
            s.set_x(a.rt, b.call(read_cntvct, CPU))
        elif key == DAIF:
            s.set_x(a.rt, 0)
        else:
            v = _const_sysreg(s, key)
            if v is None:
                log.unimp(f"pyqemu: MRS of unknown system register {key} at {s.pc:#x}")
                s.undef()
                return True
            s.set_x(a.rt, v)
        return True
    val = s.x(a.rt)
    if key == NZCV:
        s.flags_nzcv(b.and_(val, 0xF0000000))
    elif key == TPIDR_EL0:
        s.b.mov(s.g(C.REG_TPIDR), val)
    elif key == FPCR:
        s.b.mov(s.g(C.REG_FPCR), b.and_(val, 0x07FF9F00))
    elif key == FPSR:
        s.b.mov(s.g(C.REG_FPSR), b.and_(val, 0xF800009F))
    else:
        log.unimp(f"pyqemu: MSR to system register {key} at {s.pc:#x}")
        s.undef()
    return True
