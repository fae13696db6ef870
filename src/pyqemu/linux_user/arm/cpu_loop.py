"""The user-mode CPU loop for 32-bit ARM: run code, turn exceptions into signals."""
from __future__ import annotations

from pyqemu.accel.tcg.cpu_exec import cpu_exec
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.aarch64.cpu_loop import SLICE

SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 7, 8, 11
SEGV_MAPERR, SEGV_ACCERR = 1, 2
ILL_ILLOPN, BUS_ADRALN, TRAP_BRKPT = 2, 1, 1


def signal_for(e: GuestException, mapped) -> tuple[int, int, int]:
    """(signal, si_code, si_addr) for a synchronous guest exception, as qemu-arm reports
    them: data and prefetch aborts SIGSEGV (MAPERR/ACCERR), alignment faults SIGBUS,
    BKPT SIGTRAP, undefined instructions SIGILL with ILL_ILLOPN at the instruction."""
    kind = e.kind
    if kind == "segv":
        addr = e.addr & 0xFFFFFFFF
        return SIGSEGV, SEGV_ACCERR if mapped(addr) else SEGV_MAPERR, addr
    if kind == "bus":
        return SIGBUS, BUS_ADRALN, e.addr & 0xFFFFFFFF
    if kind == "trap":
        return SIGTRAP, TRAP_BRKPT, (e.pc or 0) & 0xFFFFFFFF
    if kind == "fpe":
        return SIGFPE, e.code, (e.pc or 0) & 0xFFFFFFFF
    return SIGILL, ILL_ILLOPN, (e.pc or 0) & 0xFFFFFFFE


def cpu_loop(proc, cpu) -> None:
    """Run `cpu` until its thread exits (ThreadExit / GuestExit propagate)."""
    signals = proc.signals
    tbs = proc.tbs
    mapped = proc.mem.is_mapped
    while True:
        try:
            cpu_exec(cpu, tbs, SLICE)
        except GuestException as e:
            sig, code, addr = signal_for(e, lambda a: mapped(a, 1))
            signals.force_sync(cpu, sig, code, addr)
            signals.do_signal(cpu)
            continue
        if signals.maybe:
            signals.do_signal(cpu)
