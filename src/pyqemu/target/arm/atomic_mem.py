"""Atomic read-modify-write of guest memory, shared by the A32 and A64 helpers.

Guest threads are host threads, and plain guest stores are single, lock-free
Python operations. A read-compare-write sequence is therefore made atomic in
two ways: it runs under one process-wide lock (:data:`LOCK`, also held by
the futex code around its compare), so that read-modify-write helpers exclude
each other, and its load and store go through a typed view of guest memory
with no call and no backward jump in between, so that CPython cannot switch
threads there (in 3.11 the GIL is only handed over at calls, function entries
and backward jumps): no plain store of another thread can land between the
load and the store and be lost, as a host compare-and-swap guarantees in QEMU.
The checks (alignment, write permission, invalidating translated code on the
page) come before.

Guest memory is reached through ``cpu.rmw_view(addr, size)``: a writable byte
view and the offset of ``addr`` in it (the whole guest memory in user mode, a
page in system mode). Misaligned accesses raise an alignment fault (SIGBUS in
user mode). 16-byte accesses are two 64-bit items, low one first.
"""
from __future__ import annotations

import sys
import threading

from pyqemu.accel.tcg.excp import GuestException

# Typed views use the host byte order; guest memory is little-endian.
assert sys.byteorder == "little", "ARM atomics assume a little-endian host"

LOCK = threading.Lock()

M64 = (1 << 64) - 1
_FORMAT = {1: "B", 2: "H", 4: "I", 8: "Q", 16: "Q"}
_ITEM = {1: 1, 2: 2, 4: 4, 8: 8, 16: 8}
# The typed views of the last byte view seen (user mode: always the whole guest memory).
_typed: tuple[object, dict[int, memoryview]] = (None, {})


def cell(cpu, addr: int, size: int) -> tuple[memoryview, int]:
    """A view of guest memory as unsigned items of ``size`` bytes (8 for 16) and the index of
    ``addr`` in it (naturally aligned, writable; translated code on the page invalidated)."""
    global _typed
    if addr & (size - 1):
        raise GuestException("bus", addr, True)
    view, off = cpu.rmw_view(addr, size)
    base, views = _typed
    if base is not view:
        views = {}
        _typed = (view, views)
    typed = views.get(size)
    if typed is None:  # (a page at a time in system mode: cast only what is used)
        typed = views[size] = memoryview(view).cast(_FORMAT[size])
    return typed, off // _ITEM[size]


def cmpxchg(cpu, addr: int, size: int, expected: int, new: int) -> int:
    """Atomically store ``new`` in the naturally aligned ``size`` (1, 2, 4, 8, 16) bytes at
    ``addr`` if they hold ``expected`` (both truncated to ``size``); return the value they
    held. The permission checks are made even when nothing is stored."""
    m = (1 << (size * 8)) - 1
    expected &= m
    new &= m
    view, i = cell(cpu, addr, size)
    if size == 16:
        elo, ehi, nlo, nhi = expected & M64, expected >> 64, new & M64, new >> 64
        with LOCK:
            lo = view[i]
            hi = view[i + 1]
            if lo == elo and hi == ehi:
                view[i] = nlo
                view[i + 1] = nhi
        return lo | hi << 64
    with LOCK:
        # No call between the load and the store: no thread switch there.
        old = view[i]
        if old == expected:
            view[i] = new
    return old


def xchg(cpu, addr: int, size: int, new: int) -> int:
    """Atomically store ``new`` in the naturally aligned ``size`` (1, 2, 4, 8) bytes at
    ``addr``; return the value they held."""
    new &= (1 << (size * 8)) - 1
    view, i = cell(cpu, addr, size)
    with LOCK:
        old = view[i]
        view[i] = new
    return old
