"""System call dispatch for user mode.

Implementations register themselves with :func:`syscall` by name (the names
of ``aarch64/syscall.tbl``); they receive the process, the calling CPU and the
raw 64-bit arguments, and return a result or ``-errno``. A host ``OSError``
raised by an implementation becomes ``-errno`` automatically. Calls listed in
``IGNORED`` deliberately succeed doing nothing; anything else unknown returns
``-ENOSYS`` and is logged under ``-d unimp`` and ``-strace``.
"""
from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.linux_user.aarch64.syscall_nr import NAMES
from pyqemu.util import log

if TYPE_CHECKING:
    from pyqemu.linux_user.process import Process

M64 = 0xFFFFFFFFFFFFFFFF

SysImpl = Callable[..., int]
TABLE: dict[str, SysImpl] = {}
IGNORED: set[str] = {"madvise", "membarrier", "fadvise64", "sync", "syncfs",
                     "mlock", "munlock", "mlockall", "munlockall", "msync"}


def syscall(*names: str) -> Callable[[SysImpl], SysImpl]:
    """Register an implementation for the system calls `names`."""
    def reg(fn: SysImpl) -> SysImpl:
        for n in names:
            TABLE[n] = fn
        return fn
    return reg


def sx32(v: int) -> int:
    """Interpret the low 32 bits of `v` as a signed int (C `int` argument)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def sx64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


def unimplemented(nr: int, name: str | None) -> int:
    """Result of a call without implementation: 0 if it is IGNORED, else -ENOSYS (logged)."""
    if name in IGNORED:
        return 0
    log.unimp(f"Unsupported syscall: {nr}" + (f" ({name})" if name else ""))
    return -errno.ENOSYS


def run_impl(impl: Callable[..., int | None], proc: Process, cpu, args: Iterable[int]) -> int | None:
    """``impl(proc, cpu, *args)``; a host OSError or a guest page fault becomes -errno."""
    try:
        return impl(proc, cpu, *args)
    except OSError as e:
        return -(e.errno or errno.EIO)
    except GuestException as e:
        if e.kind != "segv":
            raise
        return -errno.EFAULT


def dispatch(proc: Process, cpu) -> None:
    """Run the system call in the CPU's registers; store the result in X0."""
    R = cpu.regs
    nr = R[8]
    name = NAMES.get(nr)
    args = R[0:6]
    strace = proc.strace
    if strace:
        proc.strace_enter(cpu, nr, name, args)
    impl = TABLE.get(name) if name else None
    ret = unimplemented(nr, name) if impl is None else run_impl(impl, proc, cpu, args)
    if ret is None:  # the call set the registers itself (rt_sigreturn)
        if strace:
            proc.strace_exit(cpu, nr, name, args, None)
        return
    if strace:
        proc.strace_exit(cpu, nr, name, args, ret)
    R[0] = ret & M64


def _load_implementations() -> None:
    from pyqemu.linux_user import (
        syscall_basic,  # noqa: F401
        syscall_file,  # noqa: F401
        syscall_ipc,  # noqa: F401
        syscall_mem,  # noqa: F401
        syscall_misc,  # noqa: F401
        syscall_net,  # noqa: F401
        syscall_proc,  # noqa: F401  (last: its signal-aware nanosleep/exit win)
    )


_load_implementations()
