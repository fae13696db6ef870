"""Read-modify-write helpers for A64: store-exclusive, CAS/CASP, LSE atomics.

Guest threads are host threads. The GIL does not make a Python
read-compare-write sequence atomic (a thread switch may happen between any
two bytecodes), so every such sequence runs under one process-wide lock.
Plain loads and stores stay inline and lock-free, as in QEMU, where they race
with host atomics the same way.

Helpers reach guest memory through ``cpu.mem``: an address space with
``mem`` (a memoryview of guest memory), ``wp`` (per-page write permission: 1
writable, 2 writable but holding translated code, 0 not) and ``write(addr,
data)`` (the checked slow path, which invalidates translated code).
Atomic accesses need natural alignment (SIGBUS otherwise) and write
permission even when they end up not writing (a failed CAS), as a host
cmpxchg would.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm.translate import helper
from pyqemu.tcg.ir import Helper

LOCK = threading.Lock()
PAGE_SHIFT = 12


def _check(mem, addr: int, size: int) -> int:
    """Fault unless [addr, addr+size) is aligned and writable; the page's wp value."""
    if addr & (size - 1):
        raise GuestException("bus", addr, True)
    try:
        w = mem.wp[addr >> PAGE_SHIFT]
    except IndexError:
        w = 0
    if not w:
        raise GuestException("segv", addr, True)
    return w


def _write(mem, w: int, addr: int, val: int, size: int) -> None:
    data = val.to_bytes(size, "little")
    if w == 1:
        mem.mem[addr:addr + size] = data
    else:  # the page holds translated code: the slow path invalidates it
        mem.write(addr, data)


@helper(may_fault=True)
def stxr(cpu, addr: int, excl_addr: int, excl_val: int, val: int, size: int) -> int:
    """Store-exclusive: 0 (stored) iff the monitor holds `addr` and memory
    still holds the value the load-exclusive saw; 1 otherwise."""
    if addr != excl_addr:
        return 1
    mem = cpu.mem
    with LOCK:
        w = _check(mem, addr, size)
        if int.from_bytes(mem.mem[addr:addr + size], "little") != excl_val:
            return 1
        _write(mem, w, addr, val & ((1 << (size * 8)) - 1), size)
    return 0


@helper(may_fault=True)
def cas(cpu, addr: int, cmp: int, new: int, size: int) -> int:
    """Compare and swap (CAS: size 1..8; CASP: the pair as one 8/16-byte value)."""
    m = (1 << (size * 8)) - 1
    mem = cpu.mem
    with LOCK:
        w = _check(mem, addr, size)
        old = int.from_bytes(mem.mem[addr:addr + size], "little")
        if old == cmp & m:
            _write(mem, w, addr, new & m, size)
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
        mem = cpu.mem
        with LOCK:
            w = _check(mem, addr, size)
            old = int.from_bytes(mem.mem[addr:addr + size], "little")
            _write(mem, w, addr, op(old, val & m, size) & m, size)
        return old
    rmw.__name__ = name
    rmw.__qualname__ = name
    return helper(may_fault=True)(rmw)


LD_OPS: tuple[Helper, ...] = tuple(_make_rmw(n, _OPS[n]) for n in
                                   ("ldadd", "ldclr", "ldeor", "ldset",
                                    "ldsmax", "ldsmin", "ldumax", "ldumin"))
SWP: Helper = _make_rmw("swp", _OPS["swp"])
