"""Read-modify-write helpers for A64: store-exclusive, CAS/CASP, LSE atomics.

Guest threads are host threads. The GIL does not make a Python
read-compare-write sequence atomic (a thread switch may happen between any
two bytecodes), so every such sequence runs under one process-wide lock.
Plain loads and stores stay inline and lock-free, as in QEMU, where they race
with host atomics the same way.

Helpers reach guest memory through ``cpu.rmw_view(addr, size)``: a writable
view and offset for a naturally aligned access, after the checks a store
needs (write permission, even when the operation ends up not writing, as a
host cmpxchg would; translated code on the page is invalidated first).
Misaligned atomic accesses fault with an alignment fault (SIGBUS in user mode).
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm.translate import helper
from pyqemu.tcg.ir import Helper

LOCK = threading.Lock()


def _locate(cpu, addr: int, size: int) -> tuple[memoryview, int]:
    if addr & (size - 1):
        raise GuestException("bus", addr, True)
    return cpu.rmw_view(addr, size)


def _get(view: memoryview, off: int, size: int) -> int:
    return int.from_bytes(view[off:off + size], "little")


def _put(view: memoryview, off: int, size: int, val: int) -> None:
    view[off:off + size] = (val & ((1 << (size * 8)) - 1)).to_bytes(size, "little")


@helper(may_fault=True)
def stxr(cpu, addr: int, excl_addr: int, excl_val: int, val: int, size: int) -> int:
    """Store-exclusive: 0 (stored) iff the monitor holds `addr` and memory
    still holds the value the load-exclusive saw; 1 otherwise."""
    if addr != excl_addr:
        return 1
    with LOCK:
        view, off = _locate(cpu, addr, size)
        if _get(view, off, size) != excl_val:
            return 1
        _put(view, off, size, val)
    return 0


@helper(may_fault=True)
def cas(cpu, addr: int, cmp: int, new: int, size: int) -> int:
    """Compare and swap (CAS: size 1..8; CASP: the pair as one 8/16-byte value)."""
    m = (1 << (size * 8)) - 1
    with LOCK:
        view, off = _locate(cpu, addr, size)
        old = _get(view, off, size)
        if old == cmp & m:
            _put(view, off, size, new)
    return old


def _smax(old: int, v: int, size: int) -> int:
    s = 1 << (size * 8 - 1)
    return old if (old ^ s) >= (v ^ s) else v


def _smin(old: int, v: int, size: int) -> int:
    s = 1 << (size * 8 - 1)
    return old if (old ^ s) <= (v ^ s) else v


# LSE operations, indexed by o3:opc of the encoding (SWP is o3=1, opc=0).
_OPS: dict[str, Callable[[int, int, int], int]] = {
    "ldadd": lambda old, v, size: old + v,
    "ldclr": lambda old, v, size: old & ~v,
    "ldeor": lambda old, v, size: old ^ v,
    "ldset": lambda old, v, size: old | v,
    "ldsmax": _smax,
    "ldsmin": _smin,
    "ldumax": lambda old, v, size: max(old, v),
    "ldumin": lambda old, v, size: min(old, v),
    "swp": lambda old, v, size: v,
}


def _make_rmw(name: str, op: Callable[[int, int, int], int]) -> Helper:
    def rmw(cpu, addr: int, val: int, size: int) -> int:
        m = (1 << (size * 8)) - 1
        with LOCK:
            view, off = _locate(cpu, addr, size)
            old = _get(view, off, size)
            _put(view, off, size, op(old, val & m, size))
        return old
    rmw.__name__ = name
    rmw.__qualname__ = name
    return helper(may_fault=True)(rmw)


LD_OPS: tuple[Helper, ...] = tuple(_make_rmw(n, _OPS[n]) for n in
                                   ("ldadd", "ldclr", "ldeor", "ldset",
                                    "ldsmax", "ldsmin", "ldumax", "ldumin"))
SWP: Helper = _make_rmw("swp", _OPS["swp"])
