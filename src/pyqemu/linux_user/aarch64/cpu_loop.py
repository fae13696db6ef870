"""The user-mode CPU loop for AArch64: run code, turn exceptions into signals."""
from __future__ import annotations

import os

from pyqemu.accel.tcg.cpu_exec import cpu_exec
from pyqemu.accel.tcg.excp import GuestException

# Block calls between checks for signals (and between region-forming samples of the block
# about to run: PYQEMU_SLICE makes tests sample, and so form regions, more often).
SLICE = int(os.environ.get("PYQEMU_SLICE", "4096"))

SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 7, 8, 11
SEGV_MAPERR, SEGV_ACCERR = 1, 2
ILL_ILLOPC, ILL_ILLOPN = 1, 2
BUS_ADRALN, TRAP_BRKPT = 1, 1
FETCH_FAULT = 2  # GuestException.code of an instruction-fetch fault (GuestMemory.fetch32)

# ESR_EL1 values reported in the signal frame's esr_context, as Linux sanitises
# them for EL0 faults: EC, IL, WnR and a generic fault status.
EC_UNKNOWN, EC_IABT_LOW, EC_PC_ALIGN, EC_DABT_LOW, EC_BRK64 = 0x00, 0x20, 0x22, 0x24, 0x3C
ESR_IL = 1 << 25
ESR_WNR = 1 << 6
FSC_FAULT = 0x10  # sanitised fault status (ESR_ELx_FSC_FAULT)
FSC_ALIGN = 0x21


def signal_for(e: GuestException, mapped) -> tuple[int, int, int, int, int | None]:
    """(signal, si_code, si_addr, esr, pc) for a synchronous guest exception.

    `mapped(addr)` tells whether a guest address is mapped (SEGV_ACCERR vs
    SEGV_MAPERR). `pc` is where the faulting context resumes when that differs
    from ``e.pc`` (instruction-fetch faults happen at the branch target), else None.
    """
    kind = e.kind
    if kind == "segv":
        addr = e.addr
        if e.code == FETCH_FAULT:  # prefetch abort: pc is the unfetchable address
            if addr & 3:
                return SIGBUS, BUS_ADRALN, addr, (EC_PC_ALIGN << 26) | ESR_IL, addr
            code = SEGV_ACCERR if mapped(addr) else SEGV_MAPERR
            return SIGSEGV, code, addr, (EC_IABT_LOW << 26) | ESR_IL | FSC_FAULT, addr
        code = SEGV_ACCERR if mapped(addr) else SEGV_MAPERR
        esr = (EC_DABT_LOW << 26) | ESR_IL | FSC_FAULT | (ESR_WNR if e.write else 0)
        return SIGSEGV, code, addr, esr, None
    if kind == "bus":
        esr = (EC_DABT_LOW << 26) | ESR_IL | FSC_ALIGN | (ESR_WNR if e.write else 0)
        return SIGBUS, BUS_ADRALN, e.addr, esr, None
    if kind == "trap":
        return SIGTRAP, TRAP_BRKPT, e.pc or 0, (EC_BRK64 << 26) | ESR_IL | (e.code & 0xFFFF), None
    if kind == "fpe":
        return SIGFPE, e.code, e.pc or 0, 0, None
    # QEMU reports ILL_ILLOPN for an undefined instruction (Linux says ILL_ILLOPC).
    return SIGILL, ILL_ILLOPN, e.pc or 0, (EC_UNKNOWN << 26) | ESR_IL, None


def cpu_loop(proc, cpu, signal_for=signal_for) -> None:
    """Run `cpu` until its thread exits (ThreadExit / GuestExit propagate).

    ``signal_for`` maps a guest exception to its signal (the AArch32 loop passes its own).
    """
    signals = proc.signals
    tbs = proc.tbs
    mapped = proc.mem.is_mapped
    run = cpu_exec if proc.gdb is None else proc.gdb.run
    while True:
        try:
            run(cpu, tbs, SLICE)
        except GuestException as e:
            sig, code, addr, esr, pc = signal_for(e, lambda a: mapped(a, 1))
            if pc is not None:
                cpu.pc = pc
            signals.force_sync(cpu, sig, code, addr, esr)
            signals.do_signal(cpu)
            continue
        if signals.maybe:
            signals.do_signal(cpu)
