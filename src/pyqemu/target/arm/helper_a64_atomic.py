"""Read-modify-write helpers for A64: store-exclusive, CAS/CASP, LSE atomics.

Guest threads are host threads and plain guest loads and stores stay inline
and lock-free, as in QEMU. The GIL does not make a Python read-compare-write
sequence atomic, so each helper goes through :mod:`atomic_mem`: under one
process-wide lock (:data:`LOCK`: helpers exclude each other and the futex
compare), with its load and store done through a typed view of guest memory
with no call or backward jump in between (CPython switches threads only
there), so that no plain store of another thread can be lost between them.
LD<op> computes the new value first, then stores it only if memory still
holds the value it was computed from (else it starts again).

Memory is reached through ``cpu.rmw_view(addr, size)`` after the checks a
store needs (write permission, even when the operation ends up not writing,
as a host cmpxchg would; translated code on the page is invalidated first).
Misaligned atomic accesses fault with an alignment fault (SIGBUS in user mode).
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.target.arm.atomic_mem import LOCK, cell, cmpxchg, xchg
from pyqemu.target.arm.translate import helper
from pyqemu.tcg.ir import Helper


@helper(may_fault=True)
def stxr(cpu, addr: int, excl_addr: int, excl_val: int, val: int, size: int) -> int:
    """Store-exclusive: 0 (stored) iff the monitor holds `addr` and memory
    still holds the value the load-exclusive saw; 1 otherwise."""
    if addr != excl_addr:
        return 1
    if excl_val >> (size * 8):  # (a wider load-exclusive): memory cannot hold it
        cell(cpu, addr, size)  # the checks of the store
        return 1
    return 0 if cmpxchg(cpu, addr, size, excl_val, val) == excl_val else 1


@helper(may_fault=True)
def cas(cpu, addr: int, cmp: int, new: int, size: int) -> int:
    """Compare and swap (CAS: size 1..8; CASP: the pair as one 8/16-byte value)."""
    return cmpxchg(cpu, addr, size, cmp, new)


def _smax(old: int, v: int, size: int) -> int:
    s = 1 << (size * 8 - 1)
    return old if (old ^ s) >= (v ^ s) else v


def _smin(old: int, v: int, size: int) -> int:
    s = 1 << (size * 8 - 1)
    return old if (old ^ s) <= (v ^ s) else v


# LSE operations, in the order of the opc field of the encoding (SWP: o3=1, opc=0).
_OPS: dict[str, Callable[[int, int, int], int]] = {
    "ldadd": lambda old, v, size: old + v,
    "ldclr": lambda old, v, size: old & ~v,
    "ldeor": lambda old, v, size: old ^ v,
    "ldset": lambda old, v, size: old | v,
    "ldsmax": _smax,
    "ldsmin": _smin,
    "ldumax": lambda old, v, size: max(old, v),
    "ldumin": lambda old, v, size: min(old, v),
}


def _make_rmw(name: str, op: Callable[[int, int, int], int]) -> Helper:
    def rmw(cpu, addr: int, val: int, size: int) -> int:
        m = (1 << (size * 8)) - 1
        val &= m
        view, i = cell(cpu, addr, size)
        with LOCK:
            while True:
                old = view[i]
                new = op(old, val, size) & m
                # No call between this load and the store: no thread switch there.
                if view[i] == old:
                    view[i] = new
                    return old
    rmw.__name__ = name
    rmw.__qualname__ = name
    return helper(may_fault=True)(rmw)


LD_OPS: tuple[Helper, ...] = tuple(_make_rmw(n, _OPS[n]) for n in
                                   ("ldadd", "ldclr", "ldeor", "ldset",
                                    "ldsmax", "ldsmin", "ldumax", "ldumin"))


@helper(may_fault=True)
def swp(cpu, addr: int, val: int, size: int) -> int:
    """SWP: atomically store ``val`` and return the old memory value."""
    return xchg(cpu, addr, size, val)


SWP: Helper = swp
