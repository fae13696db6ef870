"""Exception entry/return and ESR syndromes (target/arm/exceptions.py).

Expected values are spelled out from the Arm ARM (DDI 0487) field layouts,
with the section named per case, and cross-checked against values Linux and
QEMU print (e.g. Linux's "ESR = 0x96000045" for an EL1 write translation fault).
The last test runs a bare-metal program on real qemu-system-aarch64 and
compares its whole `-d int,guest_errors` log with what these functions compute.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import unavailable

from pyqemu.target.arm import exceptions as E
from pyqemu.target.arm.exceptions import EC, ExcType


def esr(ec: int, iss: int = 0, il: int = 1) -> int:
    """ESR_ELx layout (D17.2.37): EC[31:26] IL[25] ISS[24:0]."""
    return (ec << 26) | (il << 25) | iss


# ---- syndromes ----

@pytest.mark.parametrize("value,expected", [
    # EC 0x00 Unknown reason: ISS 0, IL 1 (D17.2.37 "ISS encoding for exceptions with an unknown reason")
    (E.syn_uncategorized(), 0x02000000),
    # EC 0x01 WFI/WFE: CV[24]=1 COND[23:20]=0xE TI[1:0] (0 WFI, 1 WFE)
    (E.syn_wfx(is_wfe=False), esr(0x01, (1 << 24) | (0xE << 20))),
    (E.syn_wfx(is_wfe=True), 0x07E00001),
    # EC 0x07 FP/SIMD access trap from AArch64: CV=1, COND=0xE (Linux prints ESR 0x1fe00000)
    (E.syn_fp_access(), 0x1FE00000),
    # EC 0x0E Illegal Execution state
    (E.syn_illegal_state(), esr(0x0E)),
    # EC 0x15/0x16/0x17 SVC/HVC/SMC: ISS[15:0] = imm16 ("ISS encoding for an exception from HVC or SVC")
    (E.syn_svc(0), 0x56000000),
    (E.syn_svc(0x1234), 0x56001234),
    (E.syn_hvc(0), 0x5A000000),
    (E.syn_smc(0), 0x5E000000),
    # EC 0x22 PC alignment, 0x26 SP alignment
    (E.syn_pc_alignment(), 0x8A000000),
    (E.syn_sp_alignment(), 0x9A000000),
    # EC 0x2F SError: IL is 1
    (E.syn_serror(), 0xBE000000),
    # EC 0x3C BRK: ISS[15:0] = imm16 (Linux's BUG() is brk #0x800: ESR 0xf2000800)
    (E.syn_brk(0x800), 0xF2000800),
    # Debug exceptions: IFSC/DFSC = 0b100010 (debug event)
    (E.syn_breakpoint(same_el=False), esr(0x30, 0x22)),
    (E.syn_breakpoint(same_el=True), esr(0x31, 0x22)),
    (E.syn_software_step(same_el=False, isv=True, ex=False), esr(0x32, (1 << 24) | 0x22)),
    (E.syn_software_step(same_el=True, isv=True, ex=True), esr(0x33, (1 << 24) | (1 << 6) | 0x22)),
    (E.syn_watchpoint(same_el=False, wnr=True), esr(0x34, (1 << 6) | 0x22)),
    (E.syn_watchpoint(same_el=True, wnr=False, cm=True), esr(0x35, (1 << 8) | 0x22)),
])
def test_fixed_syndromes(value, expected):
    assert value == expected


def test_sysreg_trap_iss():
    # D17.2.37 "ISS encoding for an exception from MSR, MRS, or System instruction execution":
    # Op0[21:20] Op2[19:17] Op1[16:14] CRn[13:10] Rt[9:5] CRm[4:1] Direction[0] (1 = read).
    # mrs x3, ctr_el0 (op0=3 op1=3 CRn=0 CRm=0 op2=1), as Linux's user_cache_maint/ctr handler sees it:
    assert E.syn_sysreg_trap(3, 3, 0, 0, 1, 3, is_read=True) == 0x6232C061
    # msr cntv_ctl_el0, x1 (3,3,14,3,1): a write, Direction 0
    v = E.syn_sysreg_trap(3, 3, 14, 3, 1, 1, is_read=False)
    assert E.esr_ec(v) == EC.SYSREG_TRAP
    assert v == esr(0x18, (3 << 20) | (1 << 17) | (3 << 14) | (14 << 10) | (1 << 5) | (3 << 1))
    # dc zva, x0 (SYS: op0=1 op1=3 CRn=7 CRm=4 op2=1)
    assert E.syn_sysreg_trap(1, 3, 7, 4, 1, 0, is_read=False) == 0x6212DC08


def test_abort_syndromes():
    # D17.2.37 "ISS encoding for an exception from a Data Abort": ISV[24] SAS[23:22] SSE[21]
    # SRT[20:16] SF[15] AR[14] ... FnV[10] EA[9] CM[8] S1PTW[7] WnR[6] DFSC[5:0].
    # Linux "Unable to handle kernel paging request ... ESR = 0x96000045" (EL1 write, translation L1)
    assert E.syn_data_abort(same_el=True, fsc=0x05, wnr=True) == 0x96000045
    # EL0 read of an unmapped page, translation fault level 3: ESR 0x92000007
    assert E.syn_data_abort(same_el=False, fsc=0x07, wnr=False) == 0x92000007
    assert E.syn_data_abort(same_el=False, fsc=0x10, wnr=False, ea=True) == 0x92000210
    assert E.syn_data_abort(same_el=True, fsc=0x07, wnr=False, cm=True, s1ptw=True) == 0x96000187
    # With a valid instruction syndrome: str w2, [x1] -> SAS=2 SRT=2 SF=0
    v = E.syn_data_abort_iss(False, 0x0F, True, size_log2=2, sign_extend=False, rt=2, sixty_four=False)
    assert v == esr(0x24, (1 << 24) | (2 << 22) | (2 << 16) | (1 << 6) | 0x0F)
    # ldrsh x5, [x0]: SAS=1 SSE=1 SRT=5 SF=1 AR=1
    v = E.syn_data_abort_iss(True, 0x07, False, size_log2=1, sign_extend=True, rt=5, sixty_four=True,
                             acq_rel=True)
    assert v == esr(0x25, (1 << 24) | (1 << 22) | (1 << 21) | (5 << 16) | (1 << 15) | (1 << 14) | 0x07)
    # Instruction aborts (ISS: EA[9] S1PTW[7] IFSC[5:0]): EL0 fetch, permission L3 = 0x8200000f
    assert E.syn_insn_abort(same_el=False, fsc=0x0F) == 0x8200000F
    assert E.syn_insn_abort(same_el=True, fsc=0x06) == 0x86000006


def test_fault_status_codes():
    # DFSC values (D17.2.37): address size 0b0000LL, translation 0b0001LL, access flag 0b0010LL,
    # permission 0b0011LL, synchronous external abort 0b010000 / on walk 0b0101LL, alignment 0b100001.
    assert (E.FSC_ADDRESS_SIZE, E.FSC_TRANSLATION, E.FSC_ACCESS_FLAG, E.FSC_PERMISSION) == (0, 4, 8, 12)
    assert (E.FSC_SYNC_EXTERNAL, E.FSC_SYNC_EXTERNAL_WALK, E.FSC_ALIGNMENT, E.FSC_DEBUG) == \
        (0x10, 0x14, 0x21, 0x22)


# ---- PSTATE ----

def test_pstate_helpers():
    # The reset state of -M virt (specs/virt-aarch64.md): EL1h, DAIF masked, "PSTATE=0x400003c5" with Z.
    assert E.PSTATE_RESET_EL1 | E.PSTATE_Z == 0x400003C5
    assert E.mode_name(0x3C5) == "EL1h" and E.mode_name(0x3C4) == "EL1t" and E.mode_name(0) == "EL0t"
    assert E.make_pstate(0, spsel=1) == 0x3C0  # EL0 has only SP_EL0
    assert E.sp_bank(0x3C5) == 1 and E.sp_bank(0x3C4) == 0 and E.sp_bank(0) == 0
    assert E.pstate_el(0x3C5) == 1


# ---- exception entry ----

VBAR = 0xFFFF_8000_1001_0800


@pytest.mark.parametrize("pstate,exc,target,offset", [
    # D1.4 Table D1-7: current EL with SP0 0x000, current EL with SPx 0x200, lower EL AArch64 0x400,
    # lower EL AArch32 0x600; + 0x80 per type (Synchronous, IRQ, FIQ, SError).
    (E.make_pstate(1, spsel=0), ExcType.SYNC, 1, 0x000),
    (E.make_pstate(1, spsel=0), ExcType.SERROR, 1, 0x180),
    (E.make_pstate(1, spsel=1), ExcType.SYNC, 1, 0x200),
    (E.make_pstate(1, spsel=1), ExcType.IRQ, 1, 0x280),
    (E.make_pstate(0), ExcType.SYNC, 1, 0x400),
    (E.make_pstate(0), ExcType.IRQ, 1, 0x480),
    (E.make_pstate(0), ExcType.FIQ, 1, 0x500),
    (E.make_pstate(0), ExcType.SERROR, 1, 0x580),
    (E.make_pstate(1), ExcType.SYNC, 2, 0x400),
])
def test_vector_offsets(pstate, exc, target, offset):
    syn = E.syn_uncategorized() if exc in (ExcType.SYNC, ExcType.SERROR) else None
    e = E.take_exception(exc, pstate, 0x1000, VBAR, target=target, esr=syn)
    assert e.pc == VBAR + offset
    assert e.target_el == target


def test_svc_from_el0_entry_state():
    user = 0x60000000 | E.PSTATE_SSBS  # EL0t, Z and C set, interrupts unmasked
    sctlr = 0x30D0199D & ~E.SCTLR_SPAN  # Linux's SCTLR_EL1 with PAN enabled (cpu_enable_pan clears SPAN)
    e = E.take_exception(ExcType.SYNC, user, 0x400104, VBAR, esr=E.syn_svc(0), sctlr=sctlr, have_pan=True)
    assert e.elr == 0x400104 and e.spsr == user and e.esr == 0x56000000 and e.far is None
    # D1.3: DAIF all set, EL1, SPSel=1 (EL1h), nRW=0, SS=0, IL=0. NZCV: QEMU clears it
    # ("...to EL1 PC ... PSTATE 0x3c5" in -d int), where the architecture keeps it.
    assert e.pstate & 0xF == 0x5 and e.pstate & E.PSTATE_DAIF == E.PSTATE_DAIF
    assert e.pstate & E.PSTATE_NZCV == 0
    assert e.pstate & ~E.PSTATE_PAN == 0x3C5
    # SCTLR_EL1.SPAN=0: PAN is set on entry to EL1.
    assert e.pstate & E.PSTATE_PAN
    e = E.take_exception(ExcType.SYNC, user, 0, VBAR, esr=E.syn_svc(0), sctlr=E.SCTLR_SPAN, have_pan=True)
    assert not e.pstate & E.PSTATE_PAN
    e = E.take_exception(ExcType.SYNC, user, 0, VBAR, esr=E.syn_svc(0))  # v8.0: no FEAT_PAN
    assert not e.pstate & E.PSTATE_PAN


def test_entry_clears_ss_il_btype_and_keeps_ssbs_by_feature():
    p = E.make_pstate(1, spsel=1, daif=0) | E.PSTATE_SS | E.PSTATE_IL | (2 << 10) | E.PSTATE_SSBS
    e = E.take_exception(ExcType.IRQ, p, 0x2000, VBAR, esr=0x1234, far=0x99)
    assert e.pstate & (E.PSTATE_SS | E.PSTATE_IL | E.PSTATE_BTYPE) == 0
    assert e.spsr & E.PSTATE_IL and e.spsr & E.PSTATE_SS  # saved as they were
    assert e.esr is None and e.far is None  # IRQs leave ESR/FAR alone
    assert not e.pstate & E.PSTATE_SSBS  # no FEAT_SSBS
    e = E.take_exception(ExcType.IRQ, p, 0x2000, VBAR, have_ssbs=True, sctlr=0)
    assert not e.pstate & E.PSTATE_SSBS  # SCTLR_EL1.DSSBS = 0
    e = E.take_exception(ExcType.IRQ, p & ~E.PSTATE_SSBS, 0x2000, VBAR, have_ssbs=True, sctlr=E.SCTLR_DSSBS)
    assert e.pstate & E.PSTATE_SSBS


def test_data_abort_entry_sets_far():
    e = E.take_exception(ExcType.SYNC, E.make_pstate(1), 0xFFFF800010001234, VBAR,
                         esr=E.syn_data_abort(True, 0x05, True), far=0xDEAD0000)
    assert e.far == 0xDEAD0000 and e.esr == 0x96000045 and e.elr == 0xFFFF800010001234


def test_bad_entries_are_rejected():
    with pytest.raises(ValueError):
        E.take_exception(ExcType.SYNC, E.make_pstate(1), 0, VBAR)  # no syndrome
    with pytest.raises(ValueError):
        E.take_exception(ExcType.IRQ, E.make_pstate(2), 0, VBAR, target=1)  # to a lower EL


def test_target_el_routing():
    assert E.target_el(ExcType.IRQ, 0) == 1
    assert E.target_el(ExcType.SYNC, 1) == 1
    assert E.target_el(ExcType.IRQ, 1, have_el2=True, hcr_el2=E.HCR_IMO) == 2
    assert E.target_el(ExcType.IRQ, 1, have_el2=True, hcr_el2=E.HCR_FMO) == 1
    assert E.target_el(ExcType.SYNC, 0, have_el2=True, hcr_el2=E.HCR_TGE) == 2
    assert E.target_el(ExcType.FIQ, 1, have_el3=True, scr_el3=E.SCR_FIQ) == 3
    assert E.target_el(ExcType.IRQ, 2, have_el2=True) == 2  # never to a lower EL


def test_pending_interrupt_masking():
    assert E.pending_interrupt(E.make_pstate(1), irq=True, fiq=True) is None  # DAIF masked
    unmasked = E.make_pstate(0, daif=0)
    assert E.pending_interrupt(unmasked, irq=True, fiq=False) == ExcType.IRQ
    assert E.pending_interrupt(unmasked, irq=True, fiq=True) == ExcType.FIQ
    assert E.pending_interrupt(unmasked | E.PSTATE_I, irq=True, fiq=False) is None
    assert E.pending_interrupt(unmasked, irq=False, fiq=False, serror=True) == ExcType.SERROR


# ---- exception return ----

def test_eret_to_el0():
    spsr = 0x80000000  # EL0t, N set, interrupts enabled
    r = E.exception_return(spsr, 0x400108, E.make_pstate(1))
    assert (r.pstate, r.pc, r.illegal) == (spsr, 0x400108, False)


def test_eret_round_trip_with_entry():
    user = 0x20000000
    e = E.take_exception(ExcType.SYNC, user, 0x400000, VBAR, esr=E.syn_svc(1))
    r = E.exception_return(e.spsr, e.elr, e.pstate)
    assert r.pstate == user and r.pc == 0x400000 and not r.illegal


@pytest.mark.parametrize("spsr,why", [
    (E.make_pstate(2), "to EL2, not implemented"),
    (E.make_pstate(3), "to EL3, not implemented"),
    (0x3C1, "EL0 with SPSel=1 (M=0b0001) is reserved"),
    (0x3C6, "M[1] set is reserved"),
    (0x3D0, "AArch32 EL0 without AArch32 support"),
])
def test_illegal_exception_return(spsr, why):
    cur = E.make_pstate(1, spsel=1, daif=E.PSTATE_DAIF)
    r = E.exception_return(spsr | 0x90000000, 0x1000, cur)
    assert r.illegal, why
    # D1.11: EL, SPSel and nRW unchanged, IL set, the other fields from SPSR.
    assert r.pstate & 0x1F == cur & 0x1F
    assert r.pstate & E.PSTATE_IL
    assert r.pstate & E.PSTATE_NZCV == 0x90000000
    assert r.pc == 0x1000


def test_eret_to_higher_el_is_illegal_and_el2_when_present():
    r = E.exception_return(E.make_pstate(1), 0x1000, E.make_pstate(0, spsel=0) | 4)  # from EL1 to EL1: ok
    assert not r.illegal
    r = E.exception_return(E.make_pstate(2), 0x1000, E.make_pstate(1), have_el2=True)
    assert r.illegal  # higher than the current EL
    r = E.exception_return(E.make_pstate(1), 0x1000, E.make_pstate(2), have_el2=True)
    assert not r.illegal and E.pstate_el(r.pstate) == 1
    r = E.exception_return(E.make_pstate(1), 0x1000, E.make_pstate(2), have_el2=True, hcr_el2=E.HCR_TGE)
    assert r.illegal
    r = E.exception_return(0x10, 0x1001, E.make_pstate(1), aarch32_el0=True)
    assert not r.illegal and r.pc == 0x1000  # A32 state: word aligned


def test_eret_single_step_and_tbi():
    spsr = E.PSTATE_SS  # EL0t with SS
    assert not E.exception_return(spsr, 0, E.make_pstate(1)).pstate & E.PSTATE_SS
    assert E.exception_return(spsr, 0, E.make_pstate(1), ss_enabled=True).pstate & E.PSTATE_SS
    r = E.exception_return(0, 0x5A00_0000_0040_0000, E.make_pstate(1), tbi=True)
    assert r.pc == 0x0000_0000_0040_0000
    r = E.exception_return(0, 0x00FF_8000_0040_0000, E.make_pstate(1), tbi=True)
    assert r.pc == 0xFFFF_8000_0040_0000


def test_eret_at_el0_is_an_error():
    with pytest.raises(ValueError):
        E.exception_return(0, 0, E.make_pstate(0))


# ---- `-d int` lines against real QEMU ----

LOG_PROGRAM = r"""
    .global _start
_start:
    ldr x0, =vectors
    msr vbar_el1, x0
    mov x1, #(1 << 50)
dabt:
    ldr x2, [x1]                    // MMU off, beyond the 44-bit PA: address size fault, level 0
brk3:
    brk #3
udf0:
    .inst 0
    ldr x0, =after_illegal
    msr elr_el1, x0
    mov x0, #0x3c1                  // EL0 with SPSel=1: reserved, an illegal return
    msr spsr_el1, x0
eret1:
    eret
after_illegal:
    nop                             // PSTATE.IL: Illegal Execution state exception
    ldr x0, =user
    msr elr_el1, x0
    msr spsr_el1, xzr
eret2:
    eret
user:
    svc #5
    b .
    .balign 0x800
vectors:
    .skip 0x200
    mrs x30, spsr_el1
    bic x30, x30, #(1 << 20)        // clear IL, or the return would fault again
    msr spsr_el1, x30
    mrs x30, elr_el1
    add x30, x30, #4
    msr elr_el1, x30
handler_eret:
    eret
    .skip 0x200 - 7 * 4
    ldr x0, =0x84000008             // lower EL: the SVC ends the test with PSCI SYSTEM_OFF
    hvc #0
    .ltorg
"""


def test_int_log_matches_qemu(tmp_path):
    if not all(shutil.which(t) for t in ("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld",
                                         "aarch64-linux-gnu-nm")):
        unavailable("binutils-aarch64-linux-gnu not installed")
    if not shutil.which("qemu-system-aarch64"):
        unavailable("qemu-system-aarch64 (Debian qemu-system-arm) not installed")
    (tmp_path / "p.S").write_text(LOG_PROGRAM)
    subprocess.run(["aarch64-linux-gnu-as", "-o", str(tmp_path / "p.o"), str(tmp_path / "p.S")], check=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-Ttext=0x40080000", "-o", str(tmp_path / "p.elf"),
                    str(tmp_path / "p.o")], check=True)
    nm = subprocess.run(["aarch64-linux-gnu-nm", str(tmp_path / "p.elf")], capture_output=True, text=True,
                        check=True).stdout
    sym = {name: int(a, 16) for a, _, name in (ln.split() for ln in nm.splitlines())}
    log = tmp_path / "int.log"
    subprocess.run(["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-display", "none",
                    "-nodefaults", "-kernel", str(tmp_path / "p.elf"), "-d", "int,guest_errors",
                    "-D", str(log)], check=True, timeout=60, stdin=subprocess.DEVNULL)

    vbar = sym["vectors"]
    out: list[str] = []
    pstate = E.make_pstate(1)

    def take(esr: int, pc: int, far: int | None = None) -> None:
        nonlocal pstate
        cur = E.pstate_el(pstate)
        entry = E.take_exception(ExcType.SYNC, pstate, pc, vbar, esr=esr, far=far)
        out.append(E.int_log(ExcType.SYNC, entry, cur_el=cur, syndrome=esr, far=far))
        pstate = entry.pstate
        return entry

    def handler_return(entry) -> None:
        nonlocal pstate
        spsr, elr = entry.spsr & ~E.PSTATE_IL, entry.elr + 4
        ret = E.exception_return(spsr, elr, pstate)
        out.append(E.eret_log(1, ret)[1])
        pstate = ret.pstate

    handler_return(take(E.syn_data_abort(True, E.FSC_ADDRESS_SIZE, False), sym["dabt"], far=1 << 50))
    handler_return(take(E.syn_brk(3), sym["brk3"]))
    handler_return(take(E.syn_uncategorized(), sym["udf0"]))
    ret = E.exception_return(0x3C1, sym["after_illegal"], pstate)
    mask, line = E.eret_log(1, ret)
    assert ret.illegal and mask == "guest_errors"
    out.append(line)
    pstate = ret.pstate
    handler_return(take(E.syn_illegal_state(), sym["after_illegal"]))
    ret = E.exception_return(0, sym["user"], pstate)
    out.append(E.eret_log(1, ret)[1])
    pstate = ret.pstate
    take(E.syn_svc(5), sym["user"] + 4)
    out.append(E.int_log(ExcType.SYNC, None, cur_el=1, target=2, syndrome=E.syn_hvc(0), psci=True))
    assert log.read_text() == "".join(out)
