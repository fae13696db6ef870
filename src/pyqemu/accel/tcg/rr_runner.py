"""Round-robin vCPUs (QEMU's single-threaded TCG): the vCPUs of a machine take turns.

The main loop asks the runner for a slice of about ``budget`` guest
instructions; each running vCPU gets its share, measured in translated
blocks (``INSNS_PER_BLOCK`` on average) or, with ``-icount``, in exact
instructions counted by the generated code. A halted vCPU (WFI, powered off)
is skipped; when every vCPU is halted the runner reports idle and the loop
sleeps until a timer, an fd or an interrupt kicks it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyqemu.accel.tcg.cpu_exec import cpu_exec_sys

INSNS_PER_BLOCK = 4


class RoundRobinRunner:
    """A :class:`pyqemu.system.main_loop.VcpuRunner` over system-mode vCPUs.

    ``icount_account(n)`` receives the instructions executed when the vCPUs
    count them (their blocks were translated with instruction counting).
    """

    def __init__(self, cpus: Sequence[Any], icount_account: Callable[[int], None] | None = None,
                 on_switch: Callable[[Any], None] | None = None) -> None:
        self.cpus = list(cpus)
        self.icount_account = icount_account
        self.on_switch = on_switch  # told which vCPU runs next (a GIC banks on it)
        self.slices = 0

    def __call__(self, budget: int) -> bool:
        running = [c for c in self.cpus if not c.halted]
        if not running:
            return False
        self.slices += 1
        share = max(1, budget // len(running))
        # Counted instructions (-icount): an exact instruction budget; else blocks.
        counted = self.icount_account is not None
        blocks = share if counted else max(1, share // INSNS_PER_BLOCK)
        busy = False
        for cpu in running:
            if self.on_switch is not None:
                self.on_switch(cpu)
            before = cpu.icount
            cpu_exec_sys(cpu, blocks, share if counted else None)
            if self.icount_account is not None:
                self.icount_account(cpu.icount - before)
            if not cpu.halted:
                busy = True
        return busy
