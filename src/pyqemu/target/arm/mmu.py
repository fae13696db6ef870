"""VMSAv8-64 stage-1 address translation for the EL1&0 regime, as a pure function.

``translate(va, access, regs, read_desc)`` walks the translation tables through
the `read_desc` callback (64-bit little-endian loads of guest-physical
addresses) and returns a :class:`Translation` or a :class:`Fault`. It keeps
no state: the soft TLB (accel/tcg) caches results per MMU index and is flushed
on TLBI and on writes to the translation registers (cpregs signals those).

Follows the Arm ARM (DDI 0487) D8 "The AArch64 Virtual Memory System
Architecture": D8.1 address ranges and TxSZ, D8.2 granules and levels
(table D8-13 etc.), D8.3 descriptor formats, D8.4 memory access control
(AP, PXN/UXN, WXN, PAN, hierarchical APTable/XNTable), D8.5 access flag,
and the fault priorities of D8.14 (translation, address size, access flag,
permission). Where the architecture allows choices, QEMU 7.2's choices are
made (TxSZ clamped to [16, 39], reserved TGx encodings use the 4KB granule,
address-size faults on a descriptor are reported at that descriptor's level).

Not implemented: FEAT_LPA/LPA2 (52-bit), hardware AF/dirty update (TCR.HA/HD
are ignored, so AF=0 always faults), the contiguous hint (harmless to ignore),
stage 2 and the EL2/EL3 regimes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from pyqemu.target.arm.exceptions import (
    FSC_ACCESS_FLAG,
    FSC_ADDRESS_SIZE,
    FSC_PERMISSION,
    FSC_SYNC_EXTERNAL_WALK,
    FSC_TRANSLATION,
    syn_data_abort,
    syn_insn_abort,
)

M64 = 0xFFFFFFFFFFFFFFFF

# SCTLR_EL1 bits used here (Arm ARM D17.2.118)
SCTLR_M = 1 << 0
SCTLR_WXN = 1 << 19
SCTLR_EE = 1 << 25

# TCR_EL1 fields (Arm ARM D17.2.131)
TCR_EPD0 = 1 << 7
TCR_EPD1 = 1 << 23
TCR_A1 = 1 << 22
TCR_AS = 1 << 36
TCR_TBI0 = 1 << 37
TCR_TBI1 = 1 << 38
TCR_TBID0 = 1 << 51
TCR_TBID1 = 1 << 52

# Output address sizes by TCR.IPS / ID_AA64MMFR0.PARange (0b110 = 52 bits needs FEAT_LPA).
PA_BITS_BY_RANGE = (32, 36, 40, 42, 44, 48, 52)

PROT_R, PROT_W, PROT_X = 1, 2, 4


class AccessType(IntEnum):
    READ = 0
    WRITE = 1
    EXEC = 2


@dataclass(frozen=True)
class Access:
    """What is being translated.

    `unpriv`: an LDTR/STTR-family access at EL1 (checked as EL0 unless PSTATE.UAO),
    or AT S1E0R/W (checked as EL0 always).
    `pan_check`: for AT instructions, whether PAN applies (AT S1E1RP/WP do,
    AT S1E1R/W do not). For loads and stores PAN always applies at EL1.
    `at`: an address-translation instruction (results go to PAR_EL1, not an exception).
    """
    type: AccessType = AccessType.READ
    unpriv: bool = False
    at: bool = False
    pan_check: bool = True


READ = Access(AccessType.READ)
WRITE = Access(AccessType.WRITE)
EXEC = Access(AccessType.EXEC)


@dataclass(frozen=True)
class MMURegs:
    """The registers and PSTATE bits the EL1&0 regime's stage 1 reads."""
    sctlr: int = 0
    tcr: int = 0
    ttbr0: int = 0
    ttbr1: int = 0
    mair: int = 0
    el: int = 1            # current exception level (0 or 1)
    pan: bool = False      # PSTATE.PAN
    uao: bool = False      # PSTATE.UAO: LDTR/STTR at EL1 behave as ordinary accesses
    pa_bits: int = 48      # the CPU's PARange (ID_AA64MMFR0_EL1), caps TCR.IPS


class FaultType(IntEnum):
    ADDRESS_SIZE = FSC_ADDRESS_SIZE
    TRANSLATION = FSC_TRANSLATION
    ACCESS_FLAG = FSC_ACCESS_FLAG
    PERMISSION = FSC_PERMISSION
    EXTERNAL_WALK = FSC_SYNC_EXTERNAL_WALK  # the table read itself failed (no memory there)


class Fault(NamedTuple):
    """A stage-1 fault: the FSC for DFSC/IFSC is ``type + level``."""
    type: FaultType
    level: int
    va: int
    access: Access
    s1ptw: bool = False  # only stage-2 faults on a stage-1 walk set it; never here

    @property
    def fsc(self) -> int:
        return int(self.type) + self.level

    @property
    def wnr(self) -> bool:
        return self.access.type == AccessType.WRITE

    def esr(self, same_el: bool) -> int:
        """ESR_EL1 for the abort (instruction abort for fetches, data abort otherwise)."""
        if self.access.type == AccessType.EXEC:
            return syn_insn_abort(same_el, self.fsc, self.s1ptw)
        return syn_data_abort(same_el, self.fsc, self.wnr, s1ptw=self.s1ptw)


class Translation(NamedTuple):
    """A successful translation of one page or block.

    `pa` is the address for `va`; the mapping covers `size` bytes from
    ``va & -size`` to ``pa & -size``. `prot` is what the translating context may do
    (PROT_R/W/X: EL0 for EL0 and unprivileged accesses, EL1 with PAN applied);
    `prot_el0`/`prot_el1` are the permissions without PAN, so a TLB can fill
    entries for other MMU indexes. `asid` is None for global (nG=0) entries.
    """
    va: int
    pa: int
    size: int
    level: int
    prot: int
    prot_el0: int
    prot_el1: int
    attr_index: int
    attrs: int         # the MAIR_EL1 byte for attr_index (0x00 = Device-nGnRnE, 0xff = WB normal)
    shareability: int  # descriptor SH[1:0]: 0 non-, 2 outer, 3 inner shareable
    asid: int | None
    ns: bool = False

    @property
    def page_va(self) -> int:
        return self.va & ~(self.size - 1)

    @property
    def page_pa(self) -> int:
        return self.pa & ~(self.size - 1)


_TG0_BITS = (12, 16, 14, 12)  # TG0: 00 4K, 01 64K, 10 16K; 11 reserved (4K, as QEMU)
_TG1_BITS = (12, 14, 12, 16)  # TG1: 01 16K, 10 4K, 11 64K; 00 reserved


def _params(regs: MMURegs, upper: bool, is_exec: bool) -> tuple[int, int, int, bool, bool]:
    """(TxSZ, granule bits, TTBR, EPDx, TBI applies) for the VA range."""
    tcr = regs.tcr
    if upper:
        tsz = (tcr >> 16) & 0x3F
        gbits = _TG1_BITS[(tcr >> 30) & 3]
        ttbr, epd = regs.ttbr1, bool(tcr & TCR_EPD1)
        tbi, tbid = bool(tcr & TCR_TBI1), bool(tcr & TCR_TBID1)
    else:
        tsz = tcr & 0x3F
        gbits = _TG0_BITS[(tcr >> 14) & 3]
        ttbr, epd = regs.ttbr0, bool(tcr & TCR_EPD0)
        tbi, tbid = bool(tcr & TCR_TBI0), bool(tcr & TCR_TBID0)
    # TxSZ outside [16, 39] is CONSTRAINED UNPREDICTABLE; QEMU clamps, and so do we.
    tsz = min(max(tsz, 16), 39)
    return tsz, gbits, ttbr, epd, tbi and not (tbid and is_exec)


def asid_of(regs: MMURegs) -> int:
    """The current ASID: from TTBR1 if TCR.A1 else TTBR0; 16 bits if TCR.AS else 8."""
    ttbr = regs.ttbr1 if regs.tcr & TCR_A1 else regs.ttbr0
    return (ttbr >> 48) & (0xFFFF if regs.tcr & TCR_AS else 0xFF)


def output_bits(regs: MMURegs) -> int:
    """Effective output address size: TCR.IPS capped by the CPU's PARange."""
    ips = (regs.tcr >> 32) & 7
    return min(PA_BITS_BY_RANGE[min(ips, 5)], regs.pa_bits, 48)


def _ap_prot(ap: int) -> tuple[int, int]:
    """(EL1, EL0) read/write permissions from AP[2:1] (Arm ARM table D8-45)."""
    el1 = PROT_R if ap & 2 else PROT_R | PROT_W
    el0 = (PROT_R if ap & 2 else PROT_R | PROT_W) if ap & 1 else 0
    return el1, el0


def _translate_off(va: int, access: Access, regs: MMURegs) -> Translation | Fault:
    # MMU off: flat mapping; Device-nGnRnE data, Normal instruction fetches.
    top = 55 if _params(regs, bool(va >> 55 & 1), access.type == AccessType.EXEC)[4] else 63
    pa = va & ((1 << (top + 1)) - 1)
    if pa >> regs.pa_bits:
        return Fault(FaultType.ADDRESS_SIZE, 0, va, access)
    rwx = PROT_R | PROT_W | PROT_X
    return Translation(va=va, pa=pa, size=1 << 12, level=3, prot=rwx, prot_el0=rwx, prot_el1=rwx,
                       attr_index=0, attrs=0x00 if access.type != AccessType.EXEC else 0x44,
                       shareability=2, asid=None)


def translate(va: int, access: Access, regs: MMURegs,
              read_desc: Callable[[int], int | None]) -> Translation | Fault:
    """Translate `va` for `access` in the EL1&0 regime (stage 1 only).

    `read_desc(pa)` returns the 64-bit descriptor at guest-physical `pa`
    (little-endian; the walk byte-swaps when SCTLR_EL1.EE is set), or None when
    no memory answers there (a synchronous external abort on the walk).
    """
    va &= M64
    if not regs.sctlr & SCTLR_M:
        return _translate_off(va, access, regs)
    is_exec = access.type == AccessType.EXEC
    upper = bool(va >> 55 & 1)
    tsz, gbits, ttbr, epd, tbi = _params(regs, upper, is_exec)
    # Address range check (D8.1.6): bits [top:inputsize] must all equal bit 55.
    top = 55 if tbi else 63
    inputsize = 64 - tsz
    ones = (1 << (top + 1 - inputsize)) - 1
    if (va >> inputsize) & ones != (ones if upper else 0) or epd:
        return Fault(FaultType.TRANSLATION, 0, va, access)
    oa_bits = output_bits(regs)
    stride = gbits - 3
    levels = -(-(inputsize - gbits) // stride)  # ceil
    level = 4 - levels
    # TTBR BADDR[47:1]; bits above the output size give an address size fault at level 0.
    base = ttbr & ((1 << 48) - 1) & ~1
    if base >> oa_bits:
        return Fault(FaultType.ADDRESS_SIZE, 0, va, access)
    ee = bool(regs.sctlr & SCTLR_EE)
    addr_mask = ((1 << 48) - 1) & ~((1 << gbits) - 1)
    ap_table = 0       # accumulated APTable: bit 0 = no EL0, bit 1 = no write
    pxn_table = uxn_table = False
    table = base
    while True:
        shift = gbits + stride * (3 - level)
        bits = min(stride, inputsize - shift)
        index = (va >> shift) & ((1 << bits) - 1)
        daddr = (table | (index << 3)) & ~7  # OR as QEMU does: a misaligned TTBR merges
        desc = read_desc(daddr)
        if desc is None:
            return Fault(FaultType.EXTERNAL_WALK, level, va, access)
        if ee:
            desc = int.from_bytes(desc.to_bytes(8, "little"), "big")
        kind = desc & 3
        if not desc & 1 or (level == 3 and kind == 1):
            return Fault(FaultType.TRANSLATION, level, va, access)
        out = desc & addr_mask
        if kind == 3 and level < 3:  # table descriptor
            if out >> oa_bits:
                return Fault(FaultType.ADDRESS_SIZE, level, va, access)
            ap_table |= (desc >> 61) & 3
            pxn_table |= bool(desc >> 59 & 1)
            uxn_table |= bool(desc >> 60 & 1)
            table = out
            level += 1
            continue
        if kind == 1:  # block: level 1 only with the 4K granule, level 2 with all (no LPA/LPA2)
            if level == 0 or (level == 1 and gbits != 12):
                return Fault(FaultType.TRANSLATION, level, va, access)
        break
    size = 1 << shift
    out &= ~(size - 1)
    if out >> oa_bits:
        return Fault(FaultType.ADDRESS_SIZE, level, va, access)
    if not desc >> 10 & 1:  # AF: no hardware update, so the OS takes the fault
        return Fault(FaultType.ACCESS_FLAG, level, va, access)
    ap = (desc >> 6) & 3
    ap |= (ap_table & 2)          # APTable[1]: read-only at subsequent levels
    if ap_table & 1:              # APTable[0]: no EL0 access at subsequent levels
        ap &= ~1
    el1, el0 = _ap_prot(ap)
    pxn = bool(desc >> 53 & 1) or pxn_table
    uxn = bool(desc >> 54 & 1) or uxn_table
    wxn = bool(regs.sctlr & SCTLR_WXN)
    # EL1 never executes memory that EL0 can write (D8.4.2); WXN removes exec from writable pages.
    if not (uxn or (wxn and el0 & PROT_W)):
        el0 |= PROT_X
    if not (pxn or el0 & PROT_W or (wxn and el1 & PROT_W)):
        el1 |= PROT_X
    # The context the access is checked in.
    as_el0 = regs.el == 0 or (access.unpriv and (access.at or not regs.uao))
    if as_el0:
        prot = el0
    else:
        prot = el1
        pan_applies = regs.pan and (not access.at or access.pan_check)
        if pan_applies and el0 & (PROT_R | PROT_W):
            prot &= PROT_X  # PAN blocks data accesses to EL0-accessible pages, not fetches
    need = (PROT_R, PROT_W, PROT_X)[access.type]
    if not prot & need:
        return Fault(FaultType.PERMISSION, level, va, access)
    attr_index = (desc >> 2) & 7
    ng = bool(desc >> 11 & 1)
    return Translation(va=va, pa=out | (va & (size - 1)), size=size, level=level, prot=prot,
                       prot_el0=el0, prot_el1=el1, attr_index=attr_index,
                       attrs=(regs.mair >> (8 * attr_index)) & 0xFF,
                       shareability=(desc >> 8) & 3, asid=asid_of(regs) if ng else None,
                       ns=bool(desc >> 5 & 1))


def par_el1(result: Translation | Fault) -> int:
    """PAR_EL1 after an AT instruction (Arm ARM D17.2.103).

    Success: ATTR[63:56] (MAIR byte), PA[47:12], bit 11 RES1, NS[9], SH[8:7], F[0]=0.
    Fault: bit 11 RES1, S[9] (stage 2; 0 here), PTW[8], FST[6:1] (the FSC), F[0]=1.
    NS is UNKNOWN for a Non-secure regime; QEMU reports 1 there, and so do we.
    """
    if isinstance(result, Fault):
        return (1 << 11) | (int(result.s1ptw) << 8) | (result.fsc << 1) | 1
    sh = result.shareability
    if result.attrs >> 4 == 0 or result.attrs in (0x40, 0x44):
        # Device and Normal Non-cacheable memory report Outer Shareable (PAREncodeShareability);
        # QEMU 7.2 reported the descriptor's SH here, QEMU 8.0 and later do this.
        sh = 2
    return (result.attrs << 56) | (result.pa & 0xFFFFFFFFF000) | (1 << 11) | (1 << 9) | (sh << 7)
