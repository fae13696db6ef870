"""The TCG CPU loop: run translated blocks until something needs the outside.

Blocks return the function of the block to run next (chained), so the loop is
a bare call in a bounded ``for``: a slice of `budget` blocks, after which the
caller handles signals, other threads and the main loop.
"""
from __future__ import annotations

import struct

from pyqemu.accel.tcg.cputlb import ReplaySlow
from pyqemu.accel.tcg.excp import GuestException, InternalError
from pyqemu.accel.tcg.tb import TBCache, entry_at_line
from pyqemu.util import log

# Python errors that generated code raises for a bad guest address.
_ADDRESS_ERRORS = (IndexError, OverflowError, ValueError, struct.error)


def cpu_exec(cpu, tbs: TBCache, budget: int) -> None:
    """Run up to `budget` blocks from ``cpu.pc``; leaves ``cpu.pc`` exact.

    A guest exception propagates as :class:`GuestException` with ``cpu.pc``
    at the faulting instruction and registers as before it.
    """
    R = cpu.regs
    try:
        fn = tbs.lookup(cpu.pc)
        if log.enabled("exec") or log.enabled("cpu"):
            _exec_logged(cpu, tbs, fn, budget)
            return
        for _ in range(budget):
            fn = fn(cpu, R)
    except GuestException as e:
        if e.pc is not None:
            cpu.pc = e.pc
        raise
    cpu.pc = fn.guest_pc
    if tbs.regions:
        tbs.sample(fn)


def _exec_logged(cpu, tbs: TBCache, fn, budget: int) -> None:
    R = cpu.regs
    for _ in range(budget):
        pc = fn.guest_pc
        cpu.pc = pc
        if log.enabled("cpu"):
            log.log(cpu.dump())
        if log.enabled("exec"):
            log.log(f"Trace 0: [{pc:016x}]")
        fn = tbs.lookup(pc)(cpu, R)
    cpu.pc = fn.guest_pc


def restore_block_state(cpu, e: BaseException, meta) -> tuple[int, int, int] | None:
    """A block raised ``e``: write its register locals back (unless it raised after doing so
    itself, at an exit) and count the instructions it completed; return its line map entry.

    ``meta`` is the block's LINEMAP (tcg/pygen.py): (line map, lines after a write-back,
    written globals, counting?). The locals come from the block's frame, still alive in
    its exception handler, which called us.
    """
    tb = e.__traceback__
    if tb is None:
        return None
    linemap, done, written, counting = meta
    lineno = tb.tb_lineno
    entry = entry_at_line(linemap, lineno)
    if lineno not in done:
        if written:
            loc = tb.tb_frame.f_locals
            R = cpu.regs
            for gidx, name in written:
                R[gidx] = loc[name]
        if counting and entry is not None:
            cpu.icount += entry[2]
    return entry


def fault_in_block(cpu, e: BaseException, meta, count: bool = False) -> BaseException:
    """Called by a block's exception handler: restore, then pin the exception to a guest pc."""
    entry = restore_block_state(cpu, e, meta)
    return _pin(cpu, e, entry[1] if entry is not None else None)


def _pin(cpu, e: BaseException, pc: int | None) -> BaseException:
    if isinstance(e, GuestException):
        if e.pc is None:
            e.pc = pc
        cpu.pc = e.pc
        return e
    if isinstance(e, _ADDRESS_ERRORS):
        exc = GuestException("segv", 0, pc=pc)
        cpu.pc = pc
        return exc
    if isinstance(e, Exception) and not type(e).__module__.startswith("pyqemu"):
        err = InternalError(f"internal error at guest pc {pc:#x}: {type(e).__name__}: {e}")
        err.__cause__ = e
        return err
    return e


# --- system mode -----------------------------------------------------------------------

class CPUStop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A helper ended the slice (WFI, a stop request): ``cpu.pc`` is already where to resume."""


def fault_in_block_sys(cpu, e: BaseException, meta, count: bool = False) -> BaseException:
    """System mode's version: a page-crossing fast-path access becomes a slow replay."""
    entry = restore_block_state(cpu, e, meta)
    return pin_sys(cpu, e, entry[1] if entry is not None else None)


def pin_sys(cpu, e: BaseException, pc: int | None) -> BaseException:
    """The exception to raise for ``e``, raised by the instruction at ``pc`` of a block."""
    if isinstance(e, struct.error):
        return ReplaySlow(pc)
    if isinstance(e, _ADDRESS_ERRORS):
        err = InternalError(f"internal error at guest pc {pc:#x}: {type(e).__name__}: {e}")
        err.__cause__ = e
        return err
    return _pin(cpu, e, pc)


def cpu_exec_sys(cpu, budget: int, insns: int | None = None) -> int:
    """Run up to ``budget`` blocks of a system-mode vCPU; returns how many ran.

    ``insns`` (blocks translated with instruction counting, -icount): the slice
    also ends once that many instructions ran (looping blocks and regions check
    ``cpu.icount_limit`` at their back edges), so timers fire on time.

    The CPU provides ``lookup(pc)`` (interrupt check + block lookup under its
    current flags), ``take_exception(GuestException)`` (the architectural
    exception entry: sets ``pc``, EL, ...) and ``replay_slow(pc)``. A slice ends
    early when a helper raises CPUStop (WFI, ...).
    """
    R = cpu.regs
    tbs = getattr(cpu, "tbs", None)
    sample = tbs.sample if tbs is not None and getattr(tbs, "regions", False) else None
    done = 0
    replay: int | None = None
    limit = None
    if insns is not None:
        limit = cpu.icount_limit = cpu.icount + insns
    while done < budget:
        if limit is not None and cpu.icount >= limit:
            return done
        i = 0
        try:
            if replay is not None:
                pc, replay = replay, None
                done += 1
                fn = cpu.replay_slow(pc)(cpu, R)
            else:
                fn = cpu.lookup(cpu.pc)
            if limit is None:
                for i in range(budget - done):  # noqa: B007 - i is read after an exception
                    fn = fn(cpu, R)
            else:
                for i in range(budget - done):  # noqa: B007
                    fn = fn(cpu, R)
                    if cpu.icount >= limit:
                        break
            cpu.pc = fn.guest_pc
            if sample is not None:
                sample(fn)
            return budget
        except GuestException as e:
            done += i + 1
            if e.pc is not None:
                cpu.pc = e.pc
            cpu.take_exception(e)
            if cpu.halted:  # CPU_OFF, CPU_SUSPEND, a WFI emulated by firmware
                return done
        except ReplaySlow as e:
            done += i
            replay = e.pc
        except CPUStop:
            return done + i + 1
    return done
