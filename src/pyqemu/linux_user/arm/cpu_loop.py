"""The user-mode CPU loop for 32-bit ARM: run code, turn exceptions into signals."""
from __future__ import annotations

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.aarch64.cpu_loop import cpu_loop as a64_cpu_loop

SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 7, 8, 11
SEGV_MAPERR, SEGV_ACCERR = 1, 2
ILL_ILLOPN, BUS_ADRALN, TRAP_BRKPT = 2, 1, 1


def signal_for(e: GuestException, mapped) -> tuple[int, int, int, int, None]:
    """(signal, si_code, si_addr, esr, pc) for a synchronous guest exception, as qemu-arm
    reports them: data and prefetch aborts SIGSEGV (MAPERR/ACCERR), alignment faults SIGBUS,
    BKPT SIGTRAP, undefined instructions SIGILL with ILL_ILLOPN at the instruction.  Shaped
    like the AArch64 :func:`~pyqemu.linux_user.aarch64.cpu_loop.signal_for`: esr is 0 (an
    AArch32 frame has no esr_context) and pc None (the context resumes at ``e.pc``)."""
    kind = e.kind
    if kind == "segv":
        addr = e.addr & 0xFFFFFFFF
        return SIGSEGV, SEGV_ACCERR if mapped(addr) else SEGV_MAPERR, addr, 0, None
    if kind == "bus":
        return SIGBUS, BUS_ADRALN, e.addr & 0xFFFFFFFF, 0, None
    if kind == "trap":
        return SIGTRAP, TRAP_BRKPT, (e.pc or 0) & 0xFFFFFFFF, 0, None
    if kind == "fpe":
        return SIGFPE, e.code, (e.pc or 0) & 0xFFFFFFFF, 0, None
    return SIGILL, ILL_ILLOPN, (e.pc or 0) & 0xFFFFFFFE, 0, None


def cpu_loop(proc, cpu) -> None:
    """Run `cpu` until its thread exits (ThreadExit / GuestExit propagate)."""
    a64_cpu_loop(proc, cpu, signal_for)
