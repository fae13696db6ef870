"""AArch64 exception entry and return, PSTATE/SPSR, and ESR_ELx syndromes.

Pure functions: they compute what the CPU must do and leave the doing to the
caller (the CPU loop), so the rules can be tested without a translator.

References are to the Arm Architecture Reference Manual for A-profile
(DDI 0487, "Arm ARM"): D1.3 exception entry, D1.4 vector table, D1.10 and
D1.11 exception return / illegal exception return, C5.2 PSTATE special
registers, D17.2.37 ESR_EL1 (EC values and ISS encodings). The syndrome
builders produce the same values as QEMU 7.2's ``target/arm/syndrome.h``.

PSTATE is held as an int in the SPSR_ELx layout for AArch64 (D17.2.122):

    31 N  30 Z  29 C  28 V  25 TCO  24 DIT  23 UAO  22 PAN  21 SS  20 IL
    12 SSBS  11:10 BTYPE  9 D  8 A  7 I  6 F  4 nRW  3:0 M (EL << 2 | SPSel)

so that saving it into SPSR_ELx on exception entry is a plain copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# ---- PSTATE / SPSR bits (Arm ARM D17.2.122 SPSR_EL1, AArch64 format) ----
PSTATE_N, PSTATE_Z, PSTATE_C, PSTATE_V = 1 << 31, 1 << 30, 1 << 29, 1 << 28
PSTATE_NZCV = 0xF0000000
PSTATE_TCO = 1 << 25
PSTATE_DIT = 1 << 24
PSTATE_UAO = 1 << 23
PSTATE_PAN = 1 << 22
PSTATE_SS = 1 << 21
PSTATE_IL = 1 << 20
PSTATE_SSBS = 1 << 12
PSTATE_BTYPE = 3 << 10
PSTATE_D, PSTATE_A, PSTATE_I, PSTATE_F = 1 << 9, 1 << 8, 1 << 7, 1 << 6
PSTATE_DAIF = PSTATE_D | PSTATE_A | PSTATE_I | PSTATE_F
PSTATE_nRW = 1 << 4
PSTATE_M = 0xF
PSTATE_SP = 1 << 0  # M[0]: SPSel (0 = SP_EL0 "t", 1 = SP_ELx "h")
# The bits an AArch64 SPSR can hold; the rest are RES0.
SPSR_MASK = (PSTATE_NZCV | PSTATE_TCO | PSTATE_DIT | PSTATE_UAO | PSTATE_PAN | PSTATE_SS
             | PSTATE_IL | PSTATE_SSBS | PSTATE_BTYPE | PSTATE_DAIF | PSTATE_nRW | PSTATE_M)

# Reset state of a `virt` CPU (specs/virt-aarch64.md §5): EL1h, DAIF masked.
PSTATE_RESET_EL1 = PSTATE_DAIF | (1 << 2) | PSTATE_SP  # 0x3c5


def pstate_el(pstate: int) -> int:
    """Current exception level (PSTATE.EL, SPSR.M[3:2])."""
    return (pstate >> 2) & 3


def pstate_spsel(pstate: int) -> int:
    return pstate & PSTATE_SP


def make_pstate(el: int, spsel: int = 1, daif: int = PSTATE_DAIF, nzcv: int = 0) -> int:
    """A PSTATE value for AArch64 state at `el` (`spsel` ignored at EL0, which only has SP_EL0)."""
    return (nzcv & PSTATE_NZCV) | (daif & PSTATE_DAIF) | (el << 2) | (spsel if el else 0)


def sp_bank(pstate: int) -> int:
    """Which SP_ELn the stack pointer register selects: 0 with SPSel=0 or at EL0, else the EL."""
    el = pstate_el(pstate)
    return el if el and pstate & PSTATE_SP else 0


def mode_name(pstate: int) -> str:
    """QEMU's name for the mode in ``-d int`` and ``info registers``: EL0t, EL1h, ..."""
    if pstate & PSTATE_nRW:
        return "AArch32"
    return f"EL{pstate_el(pstate)}{'h' if pstate & PSTATE_SP else 't'}"


# ---- Exception classes (Arm ARM D17.2.37, ESR_EL1.EC) ----
class EC(IntEnum):
    UNCATEGORIZED = 0x00
    WFX_TRAP = 0x01
    FP_ACCESS = 0x07           # SVE/SIMD/FP access trapped by CPACR/CPTR
    BTI = 0x0D
    ILLEGAL_STATE = 0x0E
    SVC = 0x15                 # SVC from AArch64
    HVC = 0x16
    SMC = 0x17
    SYSREG_TRAP = 0x18         # MSR, MRS or SYS from AArch64
    SVE_ACCESS = 0x19
    INSN_ABORT_LOWER = 0x20
    INSN_ABORT_SAME = 0x21
    PC_ALIGNMENT = 0x22
    DATA_ABORT_LOWER = 0x24
    DATA_ABORT_SAME = 0x25
    SP_ALIGNMENT = 0x26
    FP_EXC = 0x2C              # trapped floating-point exception from AArch64
    SERROR = 0x2F
    BREAKPOINT_LOWER = 0x30
    BREAKPOINT_SAME = 0x31
    SOFTWARE_STEP_LOWER = 0x32
    SOFTWARE_STEP_SAME = 0x33
    WATCHPOINT_LOWER = 0x34
    WATCHPOINT_SAME = 0x35
    BRK = 0x3C                 # BRK from AArch64


ESR_EC_SHIFT = 26
ESR_IL = 1 << 25  # instruction length: 1 = 32-bit instruction (always for A64)


def _esr(ec: int, iss: int = 0, il: bool = True) -> int:
    return (ec << ESR_EC_SHIFT) | (ESR_IL if il else 0) | (iss & 0x1FFFFFF)


def esr_ec(esr: int) -> int:
    return (esr >> ESR_EC_SHIFT) & 0x3F


# Fault status codes for DFSC/IFSC, long-descriptor / VMSAv8-64 format
# (Arm ARM D17.2.37, ISS encoding for a Data Abort, DFSC).
FSC_ADDRESS_SIZE = 0x00       # + level (0..3)
FSC_TRANSLATION = 0x04        # + level (0..3)
FSC_ACCESS_FLAG = 0x08        # + level (1..3; level 0 only with FEAT_LPA2)
FSC_PERMISSION = 0x0C         # + level (1..3)
FSC_SYNC_EXTERNAL = 0x10      # not on a table walk
FSC_SYNC_EXTERNAL_WALK = 0x14  # + level (0..3)
FSC_ALIGNMENT = 0x21
FSC_DEBUG = 0x22              # debug event (breakpoint, step, watchpoint)
FSC_TLB_CONFLICT = 0x30


# ---- Syndrome builders (ISS layouts from D17.2.37; same values as QEMU's syn_*) ----
def syn_uncategorized() -> int:
    """EC 0x00: UNDEFINED instruction, e.g. EL0 ``mrs x0, midr_el1`` (ISS 0, IL 1)."""
    return _esr(EC.UNCATEGORIZED)


def syn_wfx(is_wfe: bool, cv: int = 1, cond: int = 0xE) -> int:
    """EC 0x01: WFI/WFE trapped (SCTLR_EL1.nTWI/nTWE). ISS: CV[24], COND[23:20], TI[1:0].

    From AArch64, CV is 1 and COND is 0b1110 (QEMU: syn_wfx(1, 0xe, ti, false)).
    """
    return _esr(EC.WFX_TRAP, (cv << 24) | (cond << 20) | (1 if is_wfe else 0))


def syn_fp_access() -> int:
    """EC 0x07: FP/SIMD access trapped by CPACR_EL1.FPEN. CV=1, COND=0xE as QEMU reports."""
    return _esr(EC.FP_ACCESS, (1 << 24) | (0xE << 20))


def syn_illegal_state() -> int:
    """EC 0x0E: instruction executed with PSTATE.IL set."""
    return _esr(EC.ILLEGAL_STATE)


def syn_svc(imm16: int) -> int:
    """EC 0x15: SVC #imm16 (ISS[15:0] = imm16)."""
    return _esr(EC.SVC, imm16 & 0xFFFF)


def syn_hvc(imm16: int) -> int:
    """EC 0x16: HVC #imm16."""
    return _esr(EC.HVC, imm16 & 0xFFFF)


def syn_smc(imm16: int) -> int:
    """EC 0x17: SMC #imm16 (from AArch64 the ISS holds imm16)."""
    return _esr(EC.SMC, imm16 & 0xFFFF)


def syn_sysreg_trap(op0: int, op1: int, crn: int, crm: int, op2: int, rt: int, is_read: bool) -> int:
    """EC 0x18: MSR/MRS/SYS trapped. ISS: Op0[21:20] Op2[19:17] Op1[16:14] CRn[13:10]
    Rt[9:5] CRm[4:1] Direction[0] (1 = read, MRS)."""
    iss = ((op0 & 3) << 20) | ((op2 & 7) << 17) | ((op1 & 7) << 14) | ((crn & 15) << 10) \
        | ((rt & 31) << 5) | ((crm & 15) << 1) | (1 if is_read else 0)
    return _esr(EC.SYSREG_TRAP, iss)


def syn_insn_abort(same_el: bool, fsc: int, s1ptw: bool = False, ea: bool = False) -> int:
    """EC 0x20 (from a lower EL) / 0x21 (same EL). ISS: EA[9] S1PTW[7] IFSC[5:0]."""
    ec = EC.INSN_ABORT_SAME if same_el else EC.INSN_ABORT_LOWER
    return _esr(ec, (int(ea) << 9) | (int(s1ptw) << 7) | (fsc & 0x3F))


def syn_pc_alignment() -> int:
    """EC 0x22: misaligned PC on instruction fetch (FAR holds the PC)."""
    return _esr(EC.PC_ALIGNMENT)


def syn_data_abort(same_el: bool, fsc: int, wnr: bool, s1ptw: bool = False, cm: bool = False,
                   ea: bool = False, fnv: bool = False) -> int:
    """EC 0x24 (lower EL) / 0x25 (same EL) without instruction syndrome (ISV=0).

    ISS: FnV[10] EA[9] CM[8] S1PTW[7] WnR[6] DFSC[5:0]. This is what QEMU 7.2
    reports for every abort taken to EL1 (it only keeps ISV for stage-2 aborts to EL2).
    """
    ec = EC.DATA_ABORT_SAME if same_el else EC.DATA_ABORT_LOWER
    iss = (int(fnv) << 10) | (int(ea) << 9) | (int(cm) << 8) | (int(s1ptw) << 7) \
        | (int(wnr) << 6) | (fsc & 0x3F)
    return _esr(ec, iss)


def syn_data_abort_iss(same_el: bool, fsc: int, wnr: bool, *, size_log2: int, sign_extend: bool,
                       rt: int, sixty_four: bool, acq_rel: bool = False, s1ptw: bool = False,
                       ea: bool = False, cm: bool = False) -> int:
    """EC 0x24/0x25 with a valid instruction syndrome (ISV=1): ISV[24] SAS[23:22] SSE[21]
    SRT[20:16] SF[15] AR[14], then the fields of :func:`syn_data_abort`."""
    base = syn_data_abort(same_el, fsc, wnr, s1ptw=s1ptw, cm=cm, ea=ea)
    iss = (1 << 24) | ((size_log2 & 3) << 22) | (int(sign_extend) << 21) | ((rt & 31) << 16) \
        | (int(sixty_four) << 15) | (int(acq_rel) << 14)
    return base | iss


def syn_sp_alignment() -> int:
    """EC 0x26: SP alignment fault (SCTLR_ELx.SA)."""
    return _esr(EC.SP_ALIGNMENT)


def syn_serror(iss: int = 0) -> int:
    """EC 0x2F: SError interrupt (IL is 1 for SErrors)."""
    return _esr(EC.SERROR, iss)


def syn_breakpoint(same_el: bool) -> int:
    """EC 0x30/0x31: hardware breakpoint. ISS: IFSC = 0x22 (debug exception)."""
    return _esr(EC.BREAKPOINT_SAME if same_el else EC.BREAKPOINT_LOWER, FSC_DEBUG)


def syn_software_step(same_el: bool, isv: bool, ex: bool) -> int:
    """EC 0x32/0x33: software step. ISS: ISV[24] EX[6] IFSC[5:0]=0x22."""
    ec = EC.SOFTWARE_STEP_SAME if same_el else EC.SOFTWARE_STEP_LOWER
    return _esr(ec, (int(isv) << 24) | (int(ex) << 6) | FSC_DEBUG)


def syn_watchpoint(same_el: bool, wnr: bool, cm: bool = False) -> int:
    """EC 0x34/0x35: watchpoint. ISS: CM[8] WnR[6] DFSC[5:0]=0x22."""
    ec = EC.WATCHPOINT_SAME if same_el else EC.WATCHPOINT_LOWER
    return _esr(ec, (int(cm) << 8) | (int(wnr) << 6) | FSC_DEBUG)


def syn_brk(imm16: int) -> int:
    """EC 0x3C: BRK #imm16 (ISS[15:0] = imm16)."""
    return _esr(EC.BRK, imm16 & 0xFFFF)


# ---- Exception entry (Arm ARM D1.3, AArch64.TakeException) ----
class ExcType(IntEnum):
    """The four exception types; the value is the index of the vector within a group (x 0x80)."""
    SYNC = 0
    IRQ = 1
    FIQ = 2
    SERROR = 3


# Vector table groups (Arm ARM D1.4, table D1-7): offsets from VBAR_ELx.
VECTOR_CURRENT_SP0 = 0x000
VECTOR_CURRENT_SPX = 0x200
VECTOR_LOWER_A64 = 0x400
VECTOR_LOWER_A32 = 0x600

# SCTLR_EL1 bits the entry/return rules read.
SCTLR_SPAN = 1 << 23  # 0: PSTATE.PAN is set on exception entry to EL1 (FEAT_PAN)
SCTLR_DSSBS = 1 << 44  # value of PSTATE.SSBS on exception entry (FEAT_SSBS)

# HCR_EL2 / SCR_EL3 routing bits (only when EL2 / EL3 exist).
HCR_FMO, HCR_IMO, HCR_AMO, HCR_TGE = 1 << 3, 1 << 4, 1 << 5, 1 << 27
SCR_FIQ, SCR_IRQ, SCR_EA = 1 << 2, 1 << 1, 1 << 3


def vector_offset(exc: ExcType, cur_el: int, target_el: int, spsel: int, lower_aarch32: bool = False) -> int:
    """Offset into VBAR_<target_el> for an exception of type `exc` taken from `cur_el`."""
    if target_el > cur_el:
        group = VECTOR_LOWER_A32 if lower_aarch32 else VECTOR_LOWER_A64
    else:
        group = VECTOR_CURRENT_SPX if spsel else VECTOR_CURRENT_SP0
    return group + int(exc) * 0x80


def target_el(exc: ExcType, cur_el: int, *, have_el2: bool = False, have_el3: bool = False,
              hcr_el2: int = 0, scr_el3: int = 0) -> int:
    """The EL an asynchronous exception, or a synchronous one routed by default, is taken to.

    Without EL2/EL3 everything goes to EL1 (from EL0 or EL1). An exception is
    never taken to a lower EL than the current one (Arm ARM D1.3.1). SVC, HVC
    and SMC have fixed targets (EL1, EL2, EL3): the caller passes those itself.
    """
    el = 1
    if have_el3:
        bit = {ExcType.IRQ: SCR_IRQ, ExcType.FIQ: SCR_FIQ, ExcType.SERROR: SCR_EA}.get(exc, 0)
        if scr_el3 & bit:
            el = 3
    if el == 1 and have_el2 and cur_el < 2:
        if hcr_el2 & HCR_TGE:
            el = 2
        else:
            bit = {ExcType.IRQ: HCR_IMO, ExcType.FIQ: HCR_FMO, ExcType.SERROR: HCR_AMO}.get(exc, 0)
            if hcr_el2 & bit:
                el = 2
    return max(el, cur_el, 1)


@dataclass(frozen=True)
class ExceptionEntry:
    """What the CPU must do to take an exception (AArch64.TakeException).

    The caller: saves the current SP into its bank, writes ``spsr`` to
    SPSR_<el>, ``elr`` to ELR_<el>, ``esr``/``far`` to ESR/FAR_<el> when not
    None, sets PSTATE to ``pstate`` (and loads SP_<el>), clears the exclusive
    monitor, and jumps to ``pc``. A new PSTATE means new translation state, so
    the TB ends here.
    """
    target_el: int
    pc: int
    pstate: int
    spsr: int
    elr: int
    esr: int | None
    far: int | None


def take_exception(exc: ExcType, pstate: int, return_pc: int, vbar: int, *, target: int = 1,
                   sctlr: int = 0, esr: int | None = None, far: int | None = None,
                   have_pan: bool = False, have_ssbs: bool = False, have_mte: bool = False,
                   lower_aarch32: bool = False) -> ExceptionEntry:
    """Compute the entry into `target` EL for an exception of type `exc`.

    `have_pan`/`have_ssbs`/`have_mte`: the CPU implements FEAT_PAN/SSBS/MTE (pass
    ``model.has_pan``: on a v8.0 CPU, SCTLR_EL1 bit 23 is RES1 and must not set PAN).
    `return_pc` is the preferred return address (the faulting instruction for
    aborts and UNDEF, the next one for SVC/HVC/SMC, the interrupted one for IRQ).
    `vbar`/`sctlr` are VBAR/SCTLR of the target EL. `esr` must be given for
    synchronous exceptions and SErrors, and is ignored (left unchanged) for IRQ/FIQ.
    """
    cur_el = pstate_el(pstate)
    if target < cur_el or not 1 <= target <= 3:
        raise ValueError(f"exception cannot be taken from EL{cur_el} to EL{target}")
    if exc in (ExcType.SYNC, ExcType.SERROR) and esr is None:
        raise ValueError("synchronous exceptions and SErrors need a syndrome")
    spsel = pstate & PSTATE_SP
    pc = (vbar & ~0x7FF) + vector_offset(exc, cur_el, target, spsel, lower_aarch32)
    # The architecture leaves NZCV unchanged; QEMU 7.2 clears it (pstate_write(DAIF | mode)), and
    # we follow QEMU so that state after entry, `-d int` and `info registers` agree with it.
    new = pstate & (PSTATE_DIT | PSTATE_PAN)
    new |= PSTATE_DAIF | (target << 2) | PSTATE_SP  # masked, SP_ELx, nRW=0, SS=0, IL=0, BTYPE=0
    if have_pan and target == 1 and not sctlr & SCTLR_SPAN:
        new |= PSTATE_PAN
    # UAO is cleared on entry (FEAT_UAO); SSBS comes from SCTLR.DSSBS; TCO is set (FEAT_MTE).
    if have_ssbs and sctlr & SCTLR_DSSBS:
        new |= PSTATE_SSBS
    if have_mte:
        new |= PSTATE_TCO
    keep_esr = exc in (ExcType.SYNC, ExcType.SERROR)
    return ExceptionEntry(target_el=target, pc=pc & 0xFFFFFFFFFFFFFFFF, pstate=new,
                          spsr=pstate & SPSR_MASK, elr=return_pc & 0xFFFFFFFFFFFFFFFF,
                          esr=esr if keep_esr else None, far=far if exc == ExcType.SYNC else None)


# ---- Exception return (Arm ARM D1.10/D1.11, AArch64.ExceptionReturn, IllegalExceptionReturn) ----
@dataclass(frozen=True)
class ExceptionReturn:
    """What ERET does: the new PSTATE and PC (the caller also moves SP banks and
    clears the exclusive monitor). ``illegal`` means an illegal exception return:
    PSTATE.EL/SPSel/nRW stayed, PSTATE.IL is set, and the next instruction will
    take an Illegal Execution State exception (EC 0x0E)."""
    pstate: int
    pc: int
    illegal: bool


def _illegal_return(spsr: int, cur_el: int, *, have_el2: bool, have_el3: bool,
                    aarch32_el0: bool, hcr_el2: int) -> bool:
    m = spsr & PSTATE_M
    if spsr & PSTATE_nRW:
        # Return to AArch32: only EL0 (User mode, M[3:0] = 0) can be AArch32 here.
        return not (aarch32_el0 and m == 0)
    el = (m >> 2) & 3
    if m & 2:  # M[1] is reserved for AArch64
        return True
    if el > cur_el:
        return True
    if (el == 2 and not have_el2) or (el == 3 and not have_el3):
        return True
    if el == 0 and m & PSTATE_SP:  # EL0 with SP_EL0 only: M = 0b0001 is reserved
        return True
    if el == 1 and have_el2 and hcr_el2 & HCR_TGE and cur_el == 2:
        return True  # returning to EL1 while HCR_EL2.TGE routes EL1 away
    return False


def exception_return(spsr: int, elr: int, pstate: int, *, have_el2: bool = False,
                     have_el3: bool = False, aarch32_el0: bool = False, hcr_el2: int = 0,
                     ss_enabled: bool = False, tbi: bool = False) -> ExceptionReturn:
    """ERET from the EL in `pstate`, with SPSR_ELx = `spsr` and ELR_ELx = `elr`.

    `ss_enabled`: software step is enabled for the target (MDSCR_EL1.SS and the
    debug state allow it), so SPSR.SS is restored; otherwise PSTATE.SS = 0.
    `tbi`: the top byte of the return address is ignored at the target (TCR.TBIx),
    so bits 63:56 of the new PC are the sign extension of bit 55.
    """
    cur_el = pstate_el(pstate)
    if cur_el == 0:
        raise ValueError("ERET is UNDEFINED at EL0")
    spsr &= SPSR_MASK
    illegal = _illegal_return(spsr, cur_el, have_el2=have_el2, have_el3=have_el3,
                              aarch32_el0=aarch32_el0, hcr_el2=hcr_el2)
    if illegal:
        # D1.11: EL, SPSel and nRW unchanged, IL set; NZCV and DAIF from SPSR; the other
        # fields are UNKNOWN, and QEMU (HELPER(exception_return)) keeps them: so do we.
        from_spsr = PSTATE_NZCV | PSTATE_DAIF
        new = (spsr & from_spsr) | (pstate & ~from_spsr & SPSR_MASK) | PSTATE_IL
    else:
        new = spsr
    if not ss_enabled:
        new &= ~PSTATE_SS
    pc = elr & 0xFFFFFFFFFFFFFFFF
    if not new & PSTATE_nRW:
        if tbi:
            pc = (pc & ((1 << 56) - 1)) | (0xFF00000000000000 if pc >> 55 & 1 else 0)
    else:
        pc &= 0xFFFFFFFE if spsr & (1 << 5) else 0xFFFFFFFC  # AArch32: Thumb halfword, A32 word
    return ExceptionReturn(pstate=new, pc=pc, illegal=illegal)


def pending_interrupt(pstate: int, irq: bool, fiq: bool, serror: bool = False) -> ExcType | None:
    """The asynchronous exception to take now at EL0/EL1 (no EL2/EL3 routing), or None.

    An interrupt is taken when it is pending and not masked by PSTATE.{A,I,F};
    the priority among several pending ones is IMPLEMENTATION DEFINED; this is
    QEMU's order (arm_cpu_exec_interrupt: FIQ, IRQ, then SError).
    """
    if fiq and not pstate & PSTATE_F:
        return ExcType.FIQ
    if irq and not pstate & PSTATE_I:
        return ExcType.IRQ
    if serror and not pstate & PSTATE_A:
        return ExcType.SERROR
    return None


# ---- `-d int` log lines, as QEMU 7.2 prints them (target/arm/helper.c arm_log_exception,
# arm_cpu_do_interrupt_aarch64; op_helper.c HELPER(exception_return)) ----

# QEMU's exception numbers and names (target/arm/cpu.h EXCP_*).
QEMU_EXCP_UDEF, QEMU_EXCP_SWI, QEMU_EXCP_PREFETCH_ABORT, QEMU_EXCP_DATA_ABORT = 1, 2, 3, 4
QEMU_EXCP_IRQ, QEMU_EXCP_FIQ, QEMU_EXCP_BKPT, QEMU_EXCP_HVC, QEMU_EXCP_SMC = 5, 6, 7, 11, 13
QEMU_EXCP_VSERR = 24
QEMU_EXCP_NAMES = {1: "Undefined Instruction", 2: "SVC", 3: "Prefetch Abort", 4: "Data Abort", 5: "IRQ",
                   6: "FIQ", 7: "Breakpoint", 11: "Hypervisor Call", 13: "Secure Monitor Call",
                   24: "Virtual SERR"}

_EC_TO_QEMU_EXCP = {
    EC.SVC: QEMU_EXCP_SWI, EC.HVC: QEMU_EXCP_HVC, EC.SMC: QEMU_EXCP_SMC, EC.BRK: QEMU_EXCP_BKPT,
    EC.INSN_ABORT_LOWER: QEMU_EXCP_PREFETCH_ABORT, EC.INSN_ABORT_SAME: QEMU_EXCP_PREFETCH_ABORT,
    EC.BREAKPOINT_LOWER: QEMU_EXCP_PREFETCH_ABORT, EC.BREAKPOINT_SAME: QEMU_EXCP_PREFETCH_ABORT,
    EC.DATA_ABORT_LOWER: QEMU_EXCP_DATA_ABORT, EC.DATA_ABORT_SAME: QEMU_EXCP_DATA_ABORT,
    EC.WATCHPOINT_LOWER: QEMU_EXCP_DATA_ABORT, EC.WATCHPOINT_SAME: QEMU_EXCP_DATA_ABORT,
}


def qemu_excp(exc: ExcType, esr: int | None) -> int:
    """QEMU's exception number for an exception (what `-d int` prints first)."""
    if exc == ExcType.IRQ:
        return QEMU_EXCP_IRQ
    if exc == ExcType.FIQ:
        return QEMU_EXCP_FIQ
    if exc == ExcType.SERROR:
        return QEMU_EXCP_VSERR
    return _EC_TO_QEMU_EXCP.get(esr_ec(esr or 0), QEMU_EXCP_UDEF)  # UNDEF, traps, step, alignment


def int_log(exc: ExcType, entry: ExceptionEntry | None, *, cur_el: int, cpu_index: int = 0,
            syndrome: int, far: int | None = None, target: int = 1, psci: bool = False) -> str:
    """The `-d int` lines for taking an exception.

    `syndrome` is the ESR printed: for IRQ/FIQ QEMU prints the syndrome of the
    previous exception (it keeps it in env->exception), so the CPU must remember it.
    With `psci`, the HVC/SMC was handled as a PSCI call (no entry: `entry` may be None).
    """
    n = qemu_excp(exc, syndrome)
    if entry is not None:
        target = entry.target_el
    lines = [f"Taking exception {n} [{QEMU_EXCP_NAMES.get(n, 'unknown')}] on CPU {cpu_index}",
             f"...from EL{cur_el} to EL{target}",
             f"...with ESR 0x{esr_ec(syndrome):x}/0x{syndrome & 0xFFFFFFFF:x}"]
    if psci:
        lines.append("...handled as PSCI call")
        return "\n".join(lines) + "\n"
    assert entry is not None
    if n in (QEMU_EXCP_PREFETCH_ABORT, QEMU_EXCP_DATA_ABORT) and far is not None:
        lines.append(f"...with FAR 0x{far:x}")
    lines.append(f"...with ELR 0x{entry.elr:x}")
    lines.append(f"...to EL{entry.target_el} PC 0x{entry.pc:x} PSTATE 0x{entry.pstate:x}")
    return "\n".join(lines) + "\n"


def eret_log(cur_el: int, ret: ExceptionReturn) -> tuple[str, str]:
    """The log line for ERET and its `-d` mask: "int" for a return, "guest_errors" for an
    illegal one (QEMU logs those only there)."""
    if ret.illegal:
        return "guest_errors", f"Illegal exception return at EL{cur_el}: resuming execution at 0x{ret.pc:x}\n"
    new_el = pstate_el(ret.pstate)
    return "int", f"Exception return from AArch64 EL{cur_el} to AArch64 EL{new_el} PC 0x{ret.pc:x}\n"
