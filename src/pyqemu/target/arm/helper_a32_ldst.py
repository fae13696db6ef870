"""Helpers for AArch32 loads and stores: store-exclusive, SWP; breakpoints.

The read-compare-write ones go through :mod:`atomic_mem` (its
:func:`~atomic_mem.cmpxchg` and :func:`~atomic_mem.xchg`, shared with the A64
helpers and also used by the kuser helpers, ``linux_user/arm/kuser.py``):
under the process-wide lock of the atomics, with the load and the store done
with no possible thread switch in between, so that no plain store of another
guest thread is lost, as a host compare-and-swap guarantees in QEMU.
Misaligned accesses raise an alignment fault (SIGBUS in user mode).
"""
from __future__ import annotations

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm.atomic_mem import cmpxchg, xchg
from pyqemu.target.arm.translate32 import helper

__all__ = ["bkpt", "cmpxchg", "strex", "swp", "xchg"]


@helper(may_fault=True)
def strex(cpu, addr: int, excl_addr: int, excl_val: int, val: int, size: int) -> int:
    """STREX/STREXB/STREXH/STREXD (and the STLEX forms): 0 (stored) iff the monitor holds
    ``addr`` and memory (``size`` bytes) still holds the value the load-exclusive saw; 1
    otherwise. As QEMU: a different address fails without an access; the sizes of the
    two accesses are not compared (only the values are); the compare and the store are
    one atomic compare-and-swap (:func:`cmpxchg`)."""
    if addr != excl_addr:
        return 1
    excl_val &= (1 << (size * 8)) - 1
    return 0 if cmpxchg(cpu, addr, size, excl_val, val) == excl_val else 1


@helper(may_fault=True)
def swp(cpu, addr: int, val: int, size: int) -> int:
    """SWP/SWPB: atomically store ``val`` and return the old memory value."""
    return xchg(cpu, addr, size, val)


@helper(may_fault=True)
def bkpt(cpu, imm: int):
    """BKPT: a breakpoint exception (SIGTRAP in user mode)."""
    raise GuestException("trap", code=imm)
