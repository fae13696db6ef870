"""The AArch64 system-register table (MRS/MSR/SYS) as data, and its runtime state.

One :class:`SysReg` per encoding ``(op0, op1, CRn, CRm, op2)``: a name, a kind
that tells the translator what code to emit, who may access it (lowest EL,
EL0 rights, a runtime *gate* such as SCTLR_EL1.UCT), the reset value, where it
is stored, and the side effects of a write. :class:`SysRegTable` is built once
per CPU model (ID registers become constants) and answers ``lookup(key)`` at
translate time. :class:`SysRegFile` is one vCPU's storage and implements the
reads and writes that need code (hooks).

Kinds, and what the translator emits for MRS / MSR / SYS:

* ``CONST``   read-only constant (ID registers, RAZ): inline ``desc.value``.
* ``STORE``   plain storage: ``file.values[desc.slot]`` (write ANDed with ``write_mask``).
* ``HOOK``    call ``file.read(desc, el)`` / ``file.write(desc, value)``.
* ``CPUREG``  lives in ``ARMCPU.regs[desc.cpu_reg]`` (TPIDR_EL0, TPIDRRO_EL0, FPCR, FPSR),
  the user-mode fast path.
* ``PSTATE``  a PSTATE field or a stack-pointer bank (NZCV, DAIF, SPSel, CurrentEL,
  PAN, UAO, SP_EL0, SP_EL1): :func:`pstate_read` / :func:`pstate_write`.
* ``OP``      a SYS instruction: ``desc.op`` says which helper (TLBI, AT, DC ZVA) or NOP.

Access: :func:`static_check` says at translate time whether the access is
allowed or UNDEFINED (EC 0x00), or that it depends on runtime state
(``desc.gate``), in which case the translator emits a call to
``file.check(desc, el, is_read, pstate)``, which may also answer TRAP (EC 0x18)
or TRAP_FP (EC 0x07). After a write whose ``desc.effects`` has FX_END_TB the
translator ends the TB; the runtime effects returned by ``file.write`` (FX_*)
tell the CPU to flush its TLB, drop cached MMU registers, rebuild the
translation flags or re-check interrupts.

Encodings are from the Arm ARM (DDI 0487) D17 register descriptions and match
binutils' names (tests/unit/test_cpregs.py assembles every name and compares).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Protocol

from pyqemu.target.arm import cpu as C
from pyqemu.target.arm.cpu_models import ID_REG_KEYS, CpuModel
from pyqemu.target.arm.exceptions import (
    PSTATE_DAIF,
    PSTATE_NZCV,
    PSTATE_PAN,
    PSTATE_SP,
    PSTATE_UAO,
)
from pyqemu.target.arm.mmu import Access as MMUAccess
from pyqemu.target.arm.mmu import AccessType

Key = tuple[int, int, int, int, int]
M64 = 0xFFFFFFFFFFFFFFFF


class Kind(IntEnum):
    CONST = 0
    STORE = 1
    HOOK = 2
    CPUREG = 3
    PSTATE = 4
    OP = 5


class Op(IntEnum):
    """What a SYS-instruction entry does."""
    NOP = 0      # cache maintenance QEMU treats as a no-op (caches are coherent; SMC is tracked by page)
    TLBI = 1     # TLB invalidate: tlbi_request(desc, value) tells what to flush
    AT = 2       # address translation into PAR_EL1: at_access(desc) gives the mmu.Access
    DC_ZVA = 3   # zero a DCZID-sized block (a store for permissions and faults)


class Check(IntEnum):
    """Outcome of an access check."""
    OK = 0
    UNDEF = 1     # EC 0x00 (syn_uncategorized), taken to EL1 (or the current EL if higher)
    TRAP = 2      # EC 0x18 (syn_sysreg_trap) to EL1
    TRAP_FP = 3   # EC 0x07 (syn_fp_access) to EL1


class Gate(IntEnum):
    """Runtime access controls (all but FP apply to EL0 only)."""
    UCT = 1        # SCTLR_EL1.UCT: CTR_EL0
    DZE = 2        # SCTLR_EL1.DZE: DC ZVA
    UCI = 3        # SCTLR_EL1.UCI: DC CVAU/CVAC/CVAP/CIVAC, IC IVAU
    UMA = 4        # SCTLR_EL1.UMA: DAIF (MRS/MSR and MSR DAIFSet/DAIFClr)
    CNT_FRQ = 5    # CNTKCTL_EL1.EL0PCTEN | EL0VCTEN: CNTFRQ_EL0
    CNT_PCT = 6    # CNTKCTL_EL1.EL0PCTEN: CNTPCT_EL0
    CNT_VCT = 7    # CNTKCTL_EL1.EL0VCTEN: CNTVCT_EL0
    CNT_PT = 8     # CNTKCTL_EL1.EL0PTEN: CNTP_*
    CNT_VT = 9     # CNTKCTL_EL1.EL0VTEN: CNTV_*
    PMU = 10       # PMUSERENR_EL0.EN
    PMU_SW = 11    # PMUSERENR_EL0.EN|SW: PMSWINC
    PMU_CR = 12    # PMUSERENR_EL0.EN|CR (reads): PMCCNTR
    PMU_ER = 13    # PMUSERENR_EL0.EN|ER (reads): event counters, PMSELR
    FP = 15        # CPACR_EL1.FPEN (EL0 and EL1): FPCR, FPSR
    SPSEL = 16     # SP_EL0 is UNDEFINED while PSTATE.SPSel selects it


# Runtime effects of a write (also the static union in SysReg.effects).
FX_END_TB = 1 << 0      # translation flags may change: rebuild them, end the TB
FX_TLB_FLUSH = 1 << 1   # flush this vCPU's soft TLB (all MMU indexes)
FX_IRQ = 1 << 2         # an interrupt line or mask may have changed: re-check
FX_DEBUG = 1 << 3       # breakpoints/watchpoints changed
FX_MMU = 1 << 4         # a register the table walk reads changed (SCTLR, TCR, TTBRx, MAIR):
                        # drop cached mmu.MMURegs even when no TLB flush is needed
FX_ASID = 1 << 5        # a TTBR's ASID field changed: the TLB switches to the current ASID's entries

# SCTLR_EL1 bits (Arm ARM D17.2.118)
SCTLR_UMA = 1 << 9
SCTLR_DZE = 1 << 14
SCTLR_UCT = 1 << 15
SCTLR_nTWI = 1 << 16
SCTLR_nTWE = 1 << 18
SCTLR_UCI = 1 << 26

# Access rights
R, W, RW = 1, 2, 3


@dataclass(frozen=True, slots=True)
class SysReg:
    """One system register or SYS instruction (see the module docstring for kinds)."""
    name: str
    key: Key
    kind: Kind
    access: int = RW          # rights at min_el and above (R, W, RW)
    min_el: int = 1
    el0: int = 0              # rights at EL0 (0 = UNDEFINED at EL0)
    gate: Gate | None = None
    reset: int = 0
    value: int = 0            # CONST value
    field: str = ""           # storage name (STORE/HOOK); registers may share one
    slot: int = -1            # index into SysRegFile.values, set by the table
    write_mask: int = M64
    effects: int = 0
    hook: str = ""            # HOOK: read/write behaviour name
    cpu_reg: int = -1         # CPUREG: index into ARMCPU.regs
    op: Op = Op.NOP
    arg: object = None        # OP/HOOK detail (TLBI scope, AT kind, timer register, ...)


def _k(s: str) -> Key:
    a = tuple(int(x) for x in s.split(","))
    assert len(a) == 5
    return a  # type: ignore[return-value]


# ---------------------------------------------------------------- the table ---------------

def _reg(name: str, key: str, kind: Kind = Kind.STORE, **kw: object) -> SysReg:
    if kind in (Kind.STORE, Kind.HOOK) and "field" not in kw:
        kw["field"] = name
    return SysReg(name, _k(key), kind, **kw)  # type: ignore[arg-type]


def _const(name: str, key: str, value: int, el0: int = 0, gate: Gate | None = None) -> SysReg:
    return SysReg(name, _k(key), Kind.CONST, access=R, value=value, el0=el0, gate=gate)


def _hook(name: str, key: str, hook: str, **kw: object) -> SysReg:
    return _reg(name, key, Kind.HOOK, hook=hook, **kw)


def _op(name: str, key: str, op: Op = Op.NOP, **kw: object) -> SysReg:
    return SysReg(name, _k(key), Kind.OP, access=W, op=op, **kw)  # type: ignore[arg-type]


TIMER_REGS = ("CNTP_TVAL", "CNTP_CTL", "CNTP_CVAL", "CNTV_TVAL", "CNTV_CTL", "CNTV_CVAL")


def _base_regs(model: CpuModel) -> list[SysReg]:
    ctl = FX_END_TB | FX_TLB_FLUSH | FX_MMU
    regs = [
        # Identification (ID space constants come from the model, see _id_regs)
        _const("MIDR_EL1", "3,0,0,0,0", model.midr),
        _hook("MPIDR_EL1", "3,0,0,0,5", "ro", access=R),
        _const("REVIDR_EL1", "3,0,0,0,6", model.revidr),
        _hook("CCSIDR_EL1", "3,1,0,0,0", "ccsidr", access=R),
        _const("CLIDR_EL1", "3,1,0,0,1", model.clidr),
        _const("AIDR_EL1", "3,1,0,0,7", 0),
        _reg("CSSELR_EL1", "3,2,0,0,0", write_mask=0xF),
        _const("CTR_EL0", "3,3,0,0,1", model.ctr, el0=R, gate=Gate.UCT),
        _hook("DCZID_EL0", "3,3,0,0,7", "dczid", access=R, el0=R),
        _const("RVBAR_EL1", "3,0,12,0,1", 0),
        # System control
        _reg("SCTLR_EL1", "3,0,1,0,0", reset=model.reset_sctlr, effects=ctl),
        _reg("ACTLR_EL1", "3,0,1,0,1"),
        _reg("CPACR_EL1", "3,0,1,0,2", write_mask=0x00300000, effects=FX_END_TB),
        # Translation
        _hook("TTBR0_EL1", "3,0,2,0,0", "ttbr", effects=FX_ASID | FX_MMU),
        _hook("TTBR1_EL1", "3,0,2,0,1", "ttbr", effects=FX_ASID | FX_MMU),
        _reg("TCR_EL1", "3,0,2,0,2", effects=ctl),
        _reg("MAIR_EL1", "3,0,10,2,0", effects=FX_MMU),
        _reg("AMAIR_EL1", "3,0,10,3,0"),
        _reg("CONTEXTIDR_EL1", "3,0,13,0,1", write_mask=0xFFFFFFFF),
        _reg("PAR_EL1", "3,0,7,4,0"),
        # Exception handling
        _reg("SPSR_EL1", "3,0,4,0,0", write_mask=0xFFFFFFFF),
        _reg("ELR_EL1", "3,0,4,0,1"),
        _reg("ESR_EL1", "3,0,5,2,0", write_mask=0xFFFFFFFF),
        _reg("AFSR0_EL1", "3,0,5,1,0"),
        _reg("AFSR1_EL1", "3,0,5,1,1"),
        _reg("FAR_EL1", "3,0,6,0,0"),
        # Bits [10:0] are RES0, but QEMU masks only [4:0] (ARMv7 compatibility); so do we.
        _reg("VBAR_EL1", "3,0,12,0,0", write_mask=~0x1F & M64),
        _hook("ISR_EL1", "3,0,12,1,0", "isr", access=R),
        _reg("TPIDR_EL1", "3,0,13,0,4"),
        # User-mode CPU state (the translator's existing fast path)
        SysReg("TPIDR_EL0", _k("3,3,13,0,2"), Kind.CPUREG, el0=RW, cpu_reg=C.REG_TPIDR),
        SysReg("TPIDRRO_EL0", _k("3,3,13,0,3"), Kind.CPUREG, el0=R, cpu_reg=C.REG_TPIDRRO),
        SysReg("FPCR", _k("3,3,4,4,0"), Kind.CPUREG, el0=RW, gate=Gate.FP, cpu_reg=C.REG_FPCR,
               write_mask=0x07FF9F00),
        SysReg("FPSR", _k("3,3,4,4,1"), Kind.CPUREG, el0=RW, gate=Gate.FP, cpu_reg=C.REG_FPSR,
               write_mask=0xF800009F),
        # PSTATE and stack pointers (C5.2)
        SysReg("NZCV", _k("3,3,4,2,0"), Kind.PSTATE, el0=RW),
        SysReg("DAIF", _k("3,3,4,2,1"), Kind.PSTATE, el0=RW, gate=Gate.UMA, effects=FX_END_TB | FX_IRQ),
        SysReg("SPSel", _k("3,0,4,2,0"), Kind.PSTATE, effects=FX_END_TB),
        SysReg("CurrentEL", _k("3,0,4,2,2"), Kind.PSTATE, access=R),
        SysReg("SP_EL0", _k("3,0,4,1,0"), Kind.PSTATE, gate=Gate.SPSEL),
        SysReg("SP_EL1", _k("3,4,4,1,0"), Kind.PSTATE, min_el=2),
        # Generic timer: the board's timer answers through GenericTimer hooks
        _reg("CNTFRQ_EL0", "3,3,14,0,0", reset=62_500_000, el0=R, gate=Gate.CNT_FRQ,
             write_mask=0xFFFFFFFF),
        _hook("CNTPCT_EL0", "3,3,14,0,1", "timer", access=R, el0=R, gate=Gate.CNT_PCT, arg="CNTPCT"),
        _hook("CNTVCT_EL0", "3,3,14,0,2", "timer", access=R, el0=R, gate=Gate.CNT_VCT, arg="CNTVCT"),
        _reg("CNTKCTL_EL1", "3,0,14,1,0", write_mask=0x3FF),
    ]
    for i, reg in enumerate(TIMER_REGS):
        crm, op2 = 2 + i // 3, i % 3
        gate = Gate.CNT_PT if reg.startswith("CNTP") else Gate.CNT_VT
        regs.append(_hook(f"{reg}_EL0", f"3,3,14,{crm},{op2}", "timer", el0=RW, gate=gate, arg=reg,
                          effects=FX_IRQ))
    regs += _pmu_regs(model) + _debug_regs(model) + _sys_ops(model)
    for name, (key, reset) in model.impdef.items():
        regs.append(SysReg(name, key, Kind.STORE, reset=reset, field=name))
    return regs


def _pmu_regs(model: CpuModel) -> list[SysReg]:
    """PMUv3 (Arm ARM D11). Counters hold values but do not count (enough for Linux's probe)."""
    regs = [
        _hook("PMCR_EL0", "3,3,9,12,0", "pmcr", el0=RW, gate=Gate.PMU, reset=model.pmcr & 0xFF),
        _hook("PMCNTENSET_EL0", "3,3,9,12,1", "setclr", el0=RW, gate=Gate.PMU, field="pmcnten", arg=1),
        _hook("PMCNTENCLR_EL0", "3,3,9,12,2", "setclr", el0=RW, gate=Gate.PMU, field="pmcnten", arg=0),
        _hook("PMOVSCLR_EL0", "3,3,9,12,3", "setclr", el0=RW, gate=Gate.PMU, field="pmovs", arg=0),
        _op("PMSWINC_EL0", "3,3,9,12,4", el0=W, gate=Gate.PMU_SW),
        _reg("PMSELR_EL0", "3,3,9,12,5", el0=RW, gate=Gate.PMU_ER, write_mask=0x1F),
        _const("PMCEID0_EL0", "3,3,9,12,6", model.pmceid0, el0=R, gate=Gate.PMU),
        _const("PMCEID1_EL0", "3,3,9,12,7", model.pmceid1, el0=R, gate=Gate.PMU),
        _reg("PMCCNTR_EL0", "3,3,9,13,0", el0=RW, gate=Gate.PMU_CR),
        _hook("PMXEVTYPER_EL0", "3,3,9,13,1", "pmxev", el0=RW, gate=Gate.PMU, field="", arg="PMEVTYPER"),
        _hook("PMXEVCNTR_EL0", "3,3,9,13,2", "pmxev", el0=RW, gate=Gate.PMU_ER, field="", arg="PMEVCNTR"),
        _reg("PMUSERENR_EL0", "3,3,9,14,0", el0=R, write_mask=0xF),
        _hook("PMINTENSET_EL1", "3,0,9,14,1", "setclr", field="pminten", arg=1),
        _hook("PMINTENCLR_EL1", "3,0,9,14,2", "setclr", field="pminten", arg=0),
        _hook("PMOVSSET_EL0", "3,3,9,14,3", "setclr", el0=RW, gate=Gate.PMU, field="pmovs", arg=1),
        _reg("PMCCFILTR_EL0", "3,3,14,15,7", el0=RW, gate=Gate.PMU, write_mask=0xFC000000),
    ]
    for n in range(model.pmu_counters):
        crm, op2 = n >> 3, n & 7
        regs.append(_reg(f"PMEVCNTR{n}_EL0", f"3,3,14,{8 + crm},{op2}", el0=RW, gate=Gate.PMU_ER,
                         write_mask=0xFFFFFFFF))
        regs.append(_reg(f"PMEVTYPER{n}_EL0", f"3,3,14,{12 + crm},{op2}", el0=RW, gate=Gate.PMU,
                         write_mask=0xFE00FFFF))
    return regs


def _debug_regs(model: CpuModel) -> list[SysReg]:
    """Self-hosted debug registers (Arm ARM D2, D17.3): storage, OS lock, DCC as RAZ/WI."""
    regs = [
        _reg("OSDTRRX_EL1", "2,0,0,0,2", write_mask=0xFFFFFFFF),
        _reg("MDCCINT_EL1", "2,0,0,2,0", write_mask=0xFFFFFFFF),
        _reg("MDSCR_EL1", "2,0,0,2,2", write_mask=0xFFFFFFFF, effects=FX_END_TB | FX_DEBUG),
        _reg("OSDTRTX_EL1", "2,0,0,3,2", write_mask=0xFFFFFFFF),
        _reg("OSECCR_EL1", "2,0,0,6,2", write_mask=0xFFFFFFFF),
        _const("MDRAR_EL1", "2,0,1,0,0", 0),
        _hook("OSLAR_EL1", "2,0,1,0,4", "oslar", access=W, field="OSLSR_EL1"),
        _reg("OSLSR_EL1", "2,0,1,1,4", access=R, reset=0xA),  # OSLM=0b10, OS lock locked at reset
        _reg("OSDLR_EL1", "2,0,1,3,4", write_mask=1),
        _reg("DBGPRCR_EL1", "2,0,1,4,4", write_mask=1),
        _hook("DBGCLAIMSET_EL1", "2,0,7,8,6", "claim", arg=1, field="dbgclaim"),
        _hook("DBGCLAIMCLR_EL1", "2,0,7,9,6", "claim", arg=0, field="dbgclaim"),
        _const("DBGAUTHSTATUS_EL1", "2,0,7,14,6", 0),
        # The debug comms channel: RAZ/WI. MDSCR_EL1.TDCC should trap EL0 accesses, but QEMU 7.2
        # does not implement that trap (tested), and neither do we.
        _const("MDCCSR_EL0", "2,3,0,1,0", 0, el0=R),
        _hook("DBGDTR_EL0", "2,3,0,4,0", "razwi", el0=RW, field=""),
        _hook("DBGDTRRX_EL0", "2,3,0,5,0", "razwi", access=R, el0=R, field=""),
    ]
    # DBGDTRTX_EL0 shares DBGDTRRX's encoding (write direction); see SysRegTable.lookup_write.
    brps = model.id_field("ID_AA64DFR0_EL1", 12) + 1
    wrps = model.id_field("ID_AA64DFR0_EL1", 20) + 1
    fx = FX_DEBUG
    for n in range(brps):
        regs.append(_reg(f"DBGBVR{n}_EL1", f"2,0,0,{n},4", effects=fx))
        regs.append(_reg(f"DBGBCR{n}_EL1", f"2,0,0,{n},5", write_mask=0xFFFFFFFF, effects=fx))
    for n in range(wrps):
        regs.append(_reg(f"DBGWVR{n}_EL1", f"2,0,0,{n},6", effects=fx))
        regs.append(_reg(f"DBGWCR{n}_EL1", f"2,0,0,{n},7", write_mask=0xFFFFFFFF, effects=fx))
    return regs


@dataclass(frozen=True)
class TlbiScope:
    """What a TLBI instruction invalidates (Arm ARM D8.13 / C5.5)."""
    by_asid: bool        # only entries of the ASID in the operand
    by_va: bool          # only entries for the page in the operand
    all_asids: bool      # for VA ops: every ASID (VAA*)
    last_level: bool     # only leaf entries (VAL*) - a hint; flushing more is allowed
    broadcast: bool      # Inner Shareable: every vCPU, not just this one


@dataclass(frozen=True)
class TlbiRequest:
    scope: TlbiScope
    asid: int | None
    va: int | None       # page address (sign-extended from bit 55), or None


def _sys_ops(model: CpuModel) -> list[SysReg]:
    ops = [
        # Instruction cache: QEMU invalidates translations by page tracking, so these are no-ops.
        _op("IC IALLUIS", "1,0,7,1,0"),
        _op("IC IALLU", "1,0,7,5,0"),
        _op("IC IVAU", "1,3,7,5,1", el0=W, gate=Gate.UCI),
        # Data cache
        _op("DC IVAC", "1,0,7,6,1"),
        _op("DC ISW", "1,0,7,6,2"),
        _op("DC CSW", "1,0,7,10,2"),
        _op("DC CISW", "1,0,7,14,2"),
        _op("DC ZVA", "1,3,7,4,1", Op.DC_ZVA, el0=W, gate=Gate.DZE),
        _op("DC CVAC", "1,3,7,10,1", el0=W, gate=Gate.UCI),
        _op("DC CVAU", "1,3,7,11,1", el0=W, gate=Gate.UCI),
        _op("DC CIVAC", "1,3,7,14,1", el0=W, gate=Gate.UCI),
    ]
    if model.id_field("ID_AA64ISAR1_EL1", 0) >= 1:  # FEAT_DPB
        ops.append(_op("DC CVAP", "1,3,7,12,1", el0=W, gate=Gate.UCI))
    # Address translation: (CRm, op2) -> (access type, checked as EL0, PAN applies)
    at = {"S1E1R": (8, 0, AccessType.READ, False, False), "S1E1W": (8, 1, AccessType.WRITE, False, False),
          "S1E0R": (8, 2, AccessType.READ, True, False), "S1E0W": (8, 3, AccessType.WRITE, True, False)}
    if model.id_field("ID_AA64MMFR1_EL1", 20) >= 2:  # FEAT_PAN2
        at["S1E1RP"] = (9, 0, AccessType.READ, False, True)
        at["S1E1WP"] = (9, 1, AccessType.WRITE, False, True)
    for name, (crm, op2, typ, unpriv, pan) in at.items():
        ops.append(_op(f"AT {name}", f"1,0,7,{crm},{op2}", Op.AT,
                       arg=MMUAccess(typ, unpriv=unpriv, at=True, pan_check=pan)))
    # TLB maintenance: CRm 3 = Inner Shareable, 7 = this PE; op2 selects the scope.
    scopes = {0: ("VMALLE1", False, False, False, False), 1: ("VAE1", False, True, False, False),
              2: ("ASIDE1", True, False, False, False), 3: ("VAAE1", False, True, True, False),
              5: ("VALE1", False, True, False, True), 7: ("VAALE1", False, True, True, True)}
    for crm, suffix in ((3, "IS"), (7, "")):
        for op2, (name, by_asid, by_va, all_asids, last) in scopes.items():
            scope = TlbiScope(by_asid or (by_va and not all_asids), by_va, all_asids, last, crm == 3)
            ops.append(_op(f"TLBI {name}{suffix}", f"1,0,8,{crm},{op2}", Op.TLBI, arg=scope,
                           effects=FX_TLB_FLUSH))
    return ops


def _el2_regs() -> list[SysReg]:
    """EL2 registers (only with virtualization=on): storage, no behaviour beyond flushes."""
    ctl = FX_END_TB | FX_TLB_FLUSH
    spec = [("HCR_EL2", "3,4,1,1,0", ctl), ("SCTLR_EL2", "3,4,1,0,0", ctl), ("ACTLR_EL2", "3,4,1,0,1", 0),
            ("MDCR_EL2", "3,4,1,1,1", FX_END_TB), ("CPTR_EL2", "3,4,1,1,2", FX_END_TB),
            ("HSTR_EL2", "3,4,1,1,3", 0), ("HACR_EL2", "3,4,1,1,7", 0),
            ("TTBR0_EL2", "3,4,2,0,0", FX_TLB_FLUSH), ("TCR_EL2", "3,4,2,0,2", ctl),
            ("VTTBR_EL2", "3,4,2,1,0", FX_TLB_FLUSH), ("VTCR_EL2", "3,4,2,1,2", ctl),
            ("SPSR_EL2", "3,4,4,0,0", 0), ("ELR_EL2", "3,4,4,0,1", 0),
            ("ESR_EL2", "3,4,5,2,0", 0), ("FAR_EL2", "3,4,6,0,0", 0), ("HPFAR_EL2", "3,4,6,0,4", 0),
            ("AFSR0_EL2", "3,4,5,1,0", 0), ("AFSR1_EL2", "3,4,5,1,1", 0),
            ("MAIR_EL2", "3,4,10,2,0", 0), ("AMAIR_EL2", "3,4,10,3,0", 0),
            ("VBAR_EL2", "3,4,12,0,0", 0), ("TPIDR_EL2", "3,4,13,0,2", 0),
            ("VPIDR_EL2", "3,4,0,0,0", 0), ("VMPIDR_EL2", "3,4,0,0,5", 0),
            ("CNTHCTL_EL2", "3,4,14,1,0", FX_END_TB), ("CNTVOFF_EL2", "3,4,14,0,3", FX_IRQ)]
    return [_reg(n, k, min_el=2, effects=fx) for n, k, fx in spec]


def _el3_regs() -> list[SysReg]:
    """EL3 registers (only with secure=on)."""
    ctl = FX_END_TB | FX_TLB_FLUSH
    spec = [("SCR_EL3", "3,6,1,1,0", ctl), ("SCTLR_EL3", "3,6,1,0,0", ctl), ("ACTLR_EL3", "3,6,1,0,1", 0),
            ("CPTR_EL3", "3,6,1,1,2", FX_END_TB), ("MDCR_EL3", "3,6,1,3,1", FX_END_TB),
            ("TTBR0_EL3", "3,6,2,0,0", FX_TLB_FLUSH), ("TCR_EL3", "3,6,2,0,2", ctl),
            ("SPSR_EL3", "3,6,4,0,0", 0), ("ELR_EL3", "3,6,4,0,1", 0), ("SP_EL2", "3,6,4,1,0", 0),
            ("ESR_EL3", "3,6,5,2,0", 0), ("FAR_EL3", "3,6,6,0,0", 0),
            ("AFSR0_EL3", "3,6,5,1,0", 0), ("AFSR1_EL3", "3,6,5,1,1", 0),
            ("MAIR_EL3", "3,6,10,2,0", 0), ("AMAIR_EL3", "3,6,10,3,0", 0),
            ("VBAR_EL3", "3,6,12,0,0", 0), ("RVBAR_EL3", "3,6,12,0,1", 0), ("TPIDR_EL3", "3,6,13,0,2", 0)]
    return [_reg(n, k, min_el=3, effects=fx) for n, k, fx in spec]


def _id_regs(model: CpuModel) -> list[SysReg]:
    # Named ID-space registers; the unnamed encodings are RAZ via SysRegTable.lookup.
    return [_const(name, ",".join(map(str, key)), model.id_reg(name)) for name, key in ID_REG_KEYS.items()]


def gicv3_regs(pribits: int = 5) -> list[SysReg]:
    """The GICv3 CPU interface (Arm IHI 0069 12.2), only on boards with a GICv3: HOOKs into the
    interface object the board attaches (``SysRegFile.gic``). AP0R<n>/AP1R<n> beyond what
    ``pribits`` needs do not exist (UNDEFINED), as QEMU."""
    rw, ro, wo = {}, {"access": R}, {"access": W}
    spec = [("ICC_PMR_EL1", "3,0,4,6,0", rw), ("ICC_IAR0_EL1", "3,0,12,8,0", ro),
            ("ICC_EOIR0_EL1", "3,0,12,8,1", wo), ("ICC_HPPIR0_EL1", "3,0,12,8,2", ro),
            ("ICC_BPR0_EL1", "3,0,12,8,3", rw), ("ICC_DIR_EL1", "3,0,12,11,1", wo),
            ("ICC_RPR_EL1", "3,0,12,11,3", ro), ("ICC_SGI1R_EL1", "3,0,12,11,5", wo),
            ("ICC_ASGI1R_EL1", "3,0,12,11,6", wo), ("ICC_SGI0R_EL1", "3,0,12,11,7", wo),
            ("ICC_IAR1_EL1", "3,0,12,12,0", ro), ("ICC_EOIR1_EL1", "3,0,12,12,1", wo),
            ("ICC_HPPIR1_EL1", "3,0,12,12,2", ro), ("ICC_BPR1_EL1", "3,0,12,12,3", rw),
            ("ICC_CTLR_EL1", "3,0,12,12,4", rw), ("ICC_SRE_EL1", "3,0,12,12,5", rw),
            ("ICC_IGRPEN0_EL1", "3,0,12,12,6", rw), ("ICC_IGRPEN1_EL1", "3,0,12,12,7", rw)]
    naprs = 1 << (min(pribits, 7) - 5) if pribits >= 5 else 1
    for n in range(naprs):
        spec.append((f"ICC_AP0R{n}_EL1", f"3,0,12,8,{4 + n}", rw))
        spec.append((f"ICC_AP1R{n}_EL1", f"3,0,12,9,{n}", rw))
    return [_hook(name, key, "gicv3", field="", arg=name, effects=FX_IRQ, **kw)  # type: ignore[arg-type]
            for name, key, kw in spec]


def is_id_space(key: Key) -> bool:
    """op0=3, op1=0, CRn=0, CRm=1..7: the ID register space, RAZ where unallocated (D17.2)."""
    return key[0] == 3 and key[1] == 0 and key[2] == 0 and 1 <= key[3] <= 7


class SysRegTable:
    """Every system register and SYS instruction of one CPU model, by encoding and name."""

    def __init__(self, model: CpuModel, *, el2: bool = False, el3: bool = False, gicv3: bool = False):
        self.model = model
        self.el2, self.el3 = el2, el3
        self.gicv3 = gicv3
        regs = _id_regs(model) + _base_regs(model)
        if gicv3:  # ID_AA64PFR0_EL1.GIC = 1: the GICv3 system-register interface is there (as QEMU)
            regs = [replace(r, value=r.value | 1 << 24) if r.name == "ID_AA64PFR0_EL1" else r for r in regs]
            regs += gicv3_regs()
        if model.has_pan:
            regs.append(SysReg("PAN", _k("3,0,4,2,3"), Kind.PSTATE, effects=FX_END_TB))
        if model.has_uao:
            regs.append(SysReg("UAO", _k("3,0,4,2,4"), Kind.PSTATE, effects=FX_END_TB))
        if el2:
            regs += _el2_regs()
        if el3:
            regs += _el3_regs()
        fields: dict[str, int] = {}
        self.by_key: dict[Key, SysReg] = {}
        self.by_name: dict[str, SysReg] = {}
        for r in regs:
            if r.field:
                slot = fields.setdefault(r.field, len(fields))
                r = replace(r, slot=slot)
            if r.key in self.by_key:
                raise ValueError(f"{r.name} and {self.by_key[r.key].name} share encoding {r.key}")
            self.by_key[r.key] = r
            self.by_name[r.name] = r
        self.fields: tuple[str, ...] = tuple(fields)
        self._raz: dict[Key, SysReg] = {}  # unallocated ID-space encodings, made on first use
        # DBGDTRTX_EL0 is the write view of DBGDTRRX_EL0's encoding.
        self._write_alias = {_k("2,3,0,5,0"): _hook("DBGDTRTX_EL0", "2,3,0,5,0", "razwi", access=W, el0=W,
                                                    field="")}
        # Run-time helpers look descriptors up by a packed encoding (see trans_a64_system):
        # (packed << 1 | is_read) -> descriptor, filled on first use.
        self.packed_cache: dict[int, SysReg | None] = {}

    def lookup(self, key: Key, is_read: bool = True) -> SysReg | None:
        """The descriptor for MRS (`is_read`) / MSR or SYS at `key`; None means UNDEFINED."""
        if not is_read and key in self._write_alias:
            return self._write_alias[key]
        r = self.by_key.get(key)
        if r is None and is_id_space(key):
            r = self._raz.get(key)
            if r is None:
                op0, op1, crn, crm, op2 = key
                r = self._raz[key] = SysReg(f"S{op0}_{op1}_C{crn}_C{crm}_{op2}", key, Kind.CONST, access=R)
        return r

    def __iter__(self):
        return iter(self.by_key.values())

    def __len__(self) -> int:
        return len(self.by_key)


# ---------------------------------------------------------------- access checks ----------

def fp_trapped(cpacr: int, el: int) -> bool:
    """CPACR_EL1.FPEN traps FP/SIMD at `el` (EC 0x07): 0b01 traps EL0, 0bx0 traps EL0 and EL1."""
    fpen = (cpacr >> 20) & 3
    return fpen != 3 and (fpen != 1 or el == 0)


def wfx_trapped(sctlr: int, el: int, is_wfe: bool) -> bool:
    """WFI at EL0 traps to EL1 (EC 0x01) when SCTLR_EL1.nTWI is 0.

    The architecture traps WFE the same way on nTWE, but QEMU 7.2 implements WFE
    as a yield that never traps (helper_wfe), so nTWE is ignored here too (tested).
    """
    return not is_wfe and el == 0 and not sctlr & SCTLR_nTWI


def static_check(desc: SysReg, el: int, is_read: bool) -> Check | None:
    """The access check as far as the translator can do it: None means "ask at run time"
    (``SysRegFile.check``) because a gate depends on register state."""
    rights = desc.el0 if el == 0 else (desc.access if el >= desc.min_el else 0)
    if not rights & (R if is_read else W):
        return Check.UNDEF
    if desc.gate is None or (el != 0 and desc.gate not in (Gate.FP, Gate.SPSEL)):
        return Check.OK
    return None


# EL0 gates: (which control register, the bits of which any one opens the gate; for PMU_CR and
# PMU_ER the extra bit only opens reads).
_EL0_GATES: dict[Gate, tuple[str, int]] = {
    Gate.UCT: ("sctlr", SCTLR_UCT), Gate.DZE: ("sctlr", SCTLR_DZE), Gate.UCI: ("sctlr", SCTLR_UCI),
    Gate.UMA: ("sctlr", SCTLR_UMA),
    Gate.CNT_FRQ: ("cntkctl", 3), Gate.CNT_PCT: ("cntkctl", 1), Gate.CNT_VCT: ("cntkctl", 2),
    Gate.CNT_PT: ("cntkctl", 1 << 9), Gate.CNT_VT: ("cntkctl", 1 << 8),
    Gate.PMU: ("pmuserenr", 1), Gate.PMU_SW: ("pmuserenr", 3),
    Gate.PMU_CR: ("pmuserenr", 1 | 4), Gate.PMU_ER: ("pmuserenr", 1 | 8),
}


def gate_check(gate: Gate, el: int, is_read: bool, *, sctlr: int = 0, cntkctl: int = 0,
               pmuserenr: int = 0, cpacr: int = 0, pstate: int = 0) -> Check:
    """Evaluate a runtime gate (the rules QEMU's accessfns implement)."""
    if gate == Gate.FP:
        return Check.TRAP_FP if fp_trapped(cpacr, el) else Check.OK
    if gate == Gate.SPSEL:
        return Check.OK if pstate & PSTATE_SP else Check.UNDEF
    if el != 0:
        return Check.OK
    src, bits = _EL0_GATES[gate]
    if not is_read and gate in (Gate.PMU_CR, Gate.PMU_ER):
        bits = 1  # CR/ER only allow reads
    value = sctlr if src == "sctlr" else cntkctl if src == "cntkctl" else pmuserenr
    return Check.OK if value & bits else Check.TRAP


# ---------------------------------------------------------------- PSTATE registers -------

def pstate_read(desc: SysReg, pstate: int) -> int:
    """MRS of a PSTATE-kind register (SP_EL0/SP_EL1 are the CPU's stack banks, not here)."""
    name = desc.name
    if name == "NZCV":
        return pstate & PSTATE_NZCV
    if name == "DAIF":
        return pstate & PSTATE_DAIF
    if name == "SPSel":
        return pstate & PSTATE_SP
    if name == "CurrentEL":
        return pstate & 0xC
    if name == "PAN":
        return pstate & PSTATE_PAN
    if name == "UAO":
        return pstate & PSTATE_UAO
    raise ValueError(f"{name} is not a PSTATE field")


_PSTATE_MASK = {"NZCV": PSTATE_NZCV, "DAIF": PSTATE_DAIF, "SPSel": PSTATE_SP, "PAN": PSTATE_PAN,
                "UAO": PSTATE_UAO}


def pstate_write(desc: SysReg, pstate: int, value: int) -> int:
    """MSR to a PSTATE-kind register: the new PSTATE."""
    mask = _PSTATE_MASK.get(desc.name)
    if mask is None:
        raise ValueError(f"{desc.name} is not a writable PSTATE field")
    return (pstate & ~mask) | (value & mask)


# MSR (immediate) PSTATE fields by (op1, op2) (C5.2, C6.2.230): name, lowest EL, gate.
MSR_IMM_FIELDS: Mapping[tuple[int, int], tuple[str, int, Gate | None]] = {
    (0, 5): ("SPSel", 1, None), (3, 6): ("DAIFSet", 0, Gate.UMA), (3, 7): ("DAIFClr", 0, Gate.UMA),
    (0, 4): ("PAN", 1, None), (0, 3): ("UAO", 1, None),
}


def msr_imm(field: str, imm4: int, pstate: int) -> int:
    """MSR <pstatefield>, #imm: the new PSTATE (DAIFSet/DAIFClr take D,A,I,F in imm[3:0])."""
    if field == "DAIFSet":
        return pstate | ((imm4 & 0xF) << 6)
    if field == "DAIFClr":
        return pstate & ~((imm4 & 0xF) << 6)
    bit = {"SPSel": PSTATE_SP, "PAN": PSTATE_PAN, "UAO": PSTATE_UAO}[field]
    return (pstate | bit) if imm4 & 1 else (pstate & ~bit)


# ---------------------------------------------------------------- SYS helpers ------------

def tlbi_request(desc: SysReg, value: int, tcr: int = 0) -> TlbiRequest:
    """Decode a TLBI operand: ASID in [63:48] (16 bits if TCR_EL1.AS else 8), VA[55:12] in [43:0]."""
    scope = desc.arg
    assert isinstance(scope, TlbiScope), desc.name
    asid = (value >> 48) & (0xFFFF if tcr & (1 << 36) else 0xFF) if scope.by_asid else None
    va = None
    if scope.by_va:
        va = (value & ((1 << 44) - 1)) << 12
        if va >> 55 & 1:
            va |= 0xFF00000000000000
    return TlbiRequest(scope, asid, va)


def at_access(desc: SysReg) -> MMUAccess:
    """The mmu.Access an AT instruction translates with (the result goes to PAR_EL1)."""
    assert isinstance(desc.arg, MMUAccess), desc.name
    return desc.arg


def dc_zva_size(model: CpuModel) -> int:
    """Bytes zeroed by DC ZVA (DCZID_EL0.BS words of 4 bytes)."""
    return 4 << model.dczid


# ---------------------------------------------------------------- runtime state ----------

class GenericTimer(Protocol):
    """What the board's generic timer provides for CNT* registers of one vCPU.

    `reg` is one of CNTPCT, CNTVCT, CNTP_CTL, CNTP_CVAL, CNTP_TVAL, CNTV_CTL,
    CNTV_CVAL, CNTV_TVAL. Writes may change the timer's IRQ output.
    """

    def read(self, reg: str) -> int: ...

    def write(self, reg: str, value: int) -> None: ...


class GICv3CPUInterface(Protocol):
    """What a GICv3 CPU interface provides for the ICC_* registers of one vCPU (by name)."""

    def read(self, name: str) -> int: ...

    def write(self, name: str, value: int) -> None: ...


class SysRegFile:
    """One vCPU's system registers: storage for STORE/HOOK registers and the hooks.

    `timer`: the generic timer (None: counters read 0, timer registers are plain
    storage). `isr`: returns ISR_EL1 (A/I/F pending bits 8/7/6) from the interrupt
    lines. `num_cpus` feeds L2CTLR_EL1 on the Cortex-A57.
    """

    def __init__(self, table: SysRegTable, *, mpidr: int = 0x80000000, timer: GenericTimer | None = None,
                 isr: Callable[[], int] | None = None, num_cpus: int = 1, cbar: int = 0):
        self.table = table
        self.model = table.model
        self.timer = timer
        self.isr = isr
        self.gic: GICv3CPUInterface | None = None   # the board's GICv3 CPU interface (gicv3 tables)
        self._resets: dict[str, int] = {}
        for d in table:  # registers sharing a field: the one with a reset value gives it
            if d.field and (d.reset or d.field not in self._resets):
                self._resets[d.field] = d.reset
        self._resets["MPIDR_EL1"] = mpidr
        if "L2CTLR_EL1" in self._resets:
            self._resets["L2CTLR_EL1"] = (num_cpus - 1) << 24
        if "CBAR_EL1" in self._resets:
            self._resets["CBAR_EL1"] = cbar
        self.values: list[int] = [0] * len(table.fields)
        gate_regs = ("SCTLR_EL1", "CNTKCTL_EL1", "PMUSERENR_EL0", "CPACR_EL1")
        self._gate_slots = tuple(self.slot(n) for n in gate_regs)
        self._timer_store: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        for i, f in enumerate(self.table.fields):
            self.values[i] = self._resets.get(f, 0)
        self._timer_store.clear()

    # -- by name (monitor, gdbstub, migration, tests)
    def slot(self, name: str) -> int:
        return self.table.by_name[name].slot

    def __getitem__(self, name: str) -> int:
        return self.values[self.slot(name)]

    def __setitem__(self, name: str, value: int) -> None:
        self.values[self.slot(name)] = value & M64

    def state(self) -> dict[str, int]:
        """Saved state: every storage field by name (migration and snapshots)."""
        return dict(zip(self.table.fields, self.values, strict=True))

    def load_state(self, state: Mapping[str, int]) -> None:
        unknown = set(state) - set(self.table.fields)
        if unknown:
            raise ValueError(f"unknown system registers in saved state: {', '.join(sorted(unknown))}")
        for name, value in state.items():
            self.values[self.table.fields.index(name)] = value & M64

    # -- access checks
    def check(self, desc: SysReg, el: int, is_read: bool, pstate: int = 0, cpacr: int | None = None) -> Check:
        res = static_check(desc, el, is_read)
        if res is not None:
            return res
        assert desc.gate is not None
        v, (sctlr, cntkctl, pmuserenr, cpacr_slot) = self.values, self._gate_slots
        return gate_check(desc.gate, el, is_read, sctlr=v[sctlr], cntkctl=v[cntkctl],
                          pmuserenr=v[pmuserenr], cpacr=v[cpacr_slot] if cpacr is None else cpacr,
                          pstate=pstate)

    # -- reads and writes of STORE/HOOK/CONST registers
    def read(self, desc: SysReg, el: int = 1) -> int:
        if desc.kind == Kind.CONST:
            return desc.value
        if desc.kind == Kind.STORE:
            return self.values[desc.slot]
        if desc.kind != Kind.HOOK:
            raise ValueError(f"{desc.name} is not held by the system register file")
        return _READ_HOOKS[desc.hook](self, desc, el)

    def write(self, desc: SysReg, value: int) -> int:
        """Write `value`; returns the FX_* effects the CPU must act on."""
        value &= M64
        if desc.kind == Kind.STORE:
            self.values[desc.slot] = value & desc.write_mask
            return desc.effects
        if desc.kind != Kind.HOOK:
            raise ValueError(f"{desc.name} is not writable in the system register file")
        return _WRITE_HOOKS[desc.hook](self, desc, value)


# Hooks: read(file, desc, el) -> value; write(file, desc, value) -> effects.
def _r_slot(f: SysRegFile, d: SysReg, el: int) -> int:
    return f.values[d.slot]


def _r_ccsidr(f: SysRegFile, d: SysReg, el: int) -> int:
    sel = f["CSSELR_EL1"]
    return f.model.ccsidr[sel] if sel < len(f.model.ccsidr) else 0


def _r_dczid(f: SysRegFile, d: SysReg, el: int) -> int:
    # DZP (bit 4): DC ZVA is prohibited at EL0 while SCTLR_EL1.DZE is 0.
    dzp = el == 0 and not f["SCTLR_EL1"] & SCTLR_DZE
    return f.model.dczid | (0x10 if dzp else 0)


def _r_isr(f: SysRegFile, d: SysReg, el: int) -> int:
    return f.isr() & 0x1C0 if f.isr else 0


def _w_ttbr(f: SysRegFile, d: SysReg, value: int) -> int:
    old = f.values[d.slot]
    f.values[d.slot] = value
    # A new ASID field: the soft TLB switches address space (its entries are ASID-tagged).
    # Same ASID: cached TLB entries may stay (software must TLBI), but the next walk uses the new base.
    return FX_MMU | (FX_ASID if (old ^ value) >> 48 else 0)


def _r_timer(f: SysRegFile, d: SysReg, el: int) -> int:
    reg = str(d.arg)
    if f.timer is not None:
        return f.timer.read(reg) & M64
    return f._timer_store.get(reg, 0)


def _w_timer(f: SysRegFile, d: SysReg, value: int) -> int:
    reg = str(d.arg)
    if f.timer is not None:
        f.timer.write(reg, value)
    else:
        f._timer_store[reg] = value
    return FX_IRQ


def _counter_mask(f: SysRegFile) -> int:
    return (1 << 31) | ((1 << f.model.pmu_counters) - 1)


def _r_pmcr(f: SysRegFile, d: SysReg, el: int) -> int:
    return (f.model.pmcr & ~0xFF) | f.values[d.slot]


def _w_pmcr(f: SysRegFile, d: SysReg, value: int) -> int:
    if value & 2:  # P: reset the event counters
        for n in range(f.model.pmu_counters):
            f[f"PMEVCNTR{n}_EL0"] = 0
    if value & 4:  # C: reset the cycle counter
        f["PMCCNTR_EL0"] = 0
    f.values[d.slot] = value & 0x79  # E, D, X, DP, LC are writable; P and C read as 0
    return 0


def _r_setclr(f: SysRegFile, d: SysReg, el: int) -> int:
    return f.values[d.slot]


def _w_setclr(f: SysRegFile, d: SysReg, value: int) -> int:
    bits = value & _counter_mask(f)
    f.values[d.slot] = (f.values[d.slot] | bits) if d.arg else (f.values[d.slot] & ~bits)
    return 0


def _pmxev_target(f: SysRegFile, d: SysReg) -> SysReg | None:
    sel = f["PMSELR_EL0"] & 0x1F
    if sel == 31 and d.arg == "PMEVTYPER":
        return f.table.by_name["PMCCFILTR_EL0"]
    return f.table.by_name.get(f"{d.arg}{sel}_EL0")


def _r_pmxev(f: SysRegFile, d: SysReg, el: int) -> int:
    t = _pmxev_target(f, d)
    return f.values[t.slot] if t else 0  # an unimplemented counter: RAZ/WI (as QEMU)


def _w_pmxev(f: SysRegFile, d: SysReg, value: int) -> int:
    t = _pmxev_target(f, d)
    if t:
        f.values[t.slot] = value & t.write_mask
    return 0


def _w_oslar(f: SysRegFile, d: SysReg, value: int) -> int:
    # OSLAR_EL1.OSLK (bit 0) sets OSLSR_EL1.OSLK (bit 1).
    f.values[d.slot] = (f.values[d.slot] & ~2) | ((value & 1) << 1)
    return FX_DEBUG


def _r_claim(f: SysRegFile, d: SysReg, el: int) -> int:
    return 0xFF if d.arg else f.values[d.slot]  # CLAIMSET reads the implemented claim bits


def _w_claim(f: SysRegFile, d: SysReg, value: int) -> int:
    f.values[d.slot] = (f.values[d.slot] | (value & 0xFF)) if d.arg else (f.values[d.slot] & ~value)
    return 0


def _r_gicv3(f: SysRegFile, d: SysReg, el: int) -> int:
    return f.gic.read(str(d.arg)) & M64 if f.gic is not None else 0


def _w_gicv3(f: SysRegFile, d: SysReg, value: int) -> int:
    if f.gic is not None:
        f.gic.write(str(d.arg), value)
    return FX_IRQ


def _no_write(f: SysRegFile, d: SysReg, value: int) -> int:
    raise ValueError(f"{d.name} is read-only")


_READ_HOOKS: dict[str, Callable[[SysRegFile, SysReg, int], int]] = {
    "ro": _r_slot, "ccsidr": _r_ccsidr, "dczid": _r_dczid, "isr": _r_isr, "ttbr": _r_slot,
    "timer": _r_timer, "pmcr": _r_pmcr, "setclr": _r_setclr, "pmxev": _r_pmxev,
    "claim": _r_claim, "razwi": lambda f, d, el: 0, "oslar": lambda f, d, el: 0, "gicv3": _r_gicv3,
}
_WRITE_HOOKS: dict[str, Callable[[SysRegFile, SysReg, int], int]] = {
    "ro": _no_write, "ccsidr": _no_write, "dczid": _no_write, "isr": _no_write, "ttbr": _w_ttbr,
    "timer": _w_timer, "pmcr": _w_pmcr, "setclr": _w_setclr, "pmxev": _w_pmxev,
    "claim": _w_claim, "razwi": lambda f, d, v: 0, "oslar": _w_oslar, "gicv3": _w_gicv3,
}


def build_table(model: CpuModel, *, el2: bool = False, el3: bool = False, gicv3: bool = False) -> SysRegTable:
    """The table for `model` (cache it: one per model, EL and GIC configuration)."""
    return SysRegTable(model, el2=el2, el3=el3, gicv3=gicv3)
