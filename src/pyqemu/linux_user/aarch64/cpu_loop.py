"""The user-mode CPU loop for AArch64: run code, turn exceptions into signals."""
from __future__ import annotations

from pyqemu.accel.tcg.cpu_exec import cpu_exec
from pyqemu.accel.tcg.excp import GuestException

SLICE = 4096  # blocks between checks for signals

SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 7, 8, 11
SEGV_MAPERR, SEGV_ACCERR = 1, 2
ILL_ILLOPC, BUS_ADRALN, TRAP_BRKPT = 1, 1, 1


def signal_for(e: GuestException) -> tuple[int, int, int]:
    """(signal, si_code, si_addr) for a synchronous guest exception."""
    if e.kind == "segv":
        return SIGSEGV, e.code if e.code in (SEGV_MAPERR, SEGV_ACCERR) else SEGV_MAPERR, e.addr
    if e.kind == "bus":
        return SIGBUS, BUS_ADRALN, e.addr
    if e.kind == "trap":
        return SIGTRAP, TRAP_BRKPT, e.pc or 0
    if e.kind == "fpe":
        return SIGFPE, e.code, e.pc or 0
    return SIGILL, ILL_ILLOPC, e.pc or 0


def cpu_loop(proc, cpu) -> None:
    signals = proc.signals
    while True:
        try:
            cpu_exec(cpu, proc.tbs, SLICE)
        except GuestException as e:
            sig, code, addr = signal_for(e)
            if e.kind == "segv" and proc.mem.is_mapped(addr, 1):
                code = SEGV_ACCERR
            signals.force_sync(cpu, sig, code, addr)
        signals.deliver_pending(cpu)
