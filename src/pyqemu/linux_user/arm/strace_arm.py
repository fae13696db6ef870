"""-strace for 32-bit ARM: QEMU's formats by call name, pointers and addresses 32 bits wide.

Calls the AArch64 table does not describe print in QEMU's default six-number format
(as qemu-arm prints most ARM-only calls: ``ugetrlimit``, ``_llseek``, ``mmap2``...);
the ARM private calls (``set_tls`` and friends) are not logged, as qemu-arm handles
them before its system-call layer.
"""
from __future__ import annotations

import os
import re

from pyqemu.linux_user import strace as S
from pyqemu.linux_user.aarch64.syscall_nr import NAMES as A64_NAMES
from pyqemu.util import log

_A64_NAMES = frozenset(A64_NAMES.values())
# Calls whose AArch64 printers decode structures laid out differently on ARM: printed as numbers.
STRUCT_ARGS = frozenset({"setitimer", "getitimer", "clock_gettime", "clock_getres", "gettimeofday",
                         "settimeofday", "nanosleep", "clock_nanosleep", "futex", "sigaltstack",
                         "rt_sigaction", "fcntl", "sysinfo", "times", "getrusage", "wait4",
                         "select", "pselect6", "ppoll", "utimensat"})
_WIDE = re.compile(r"0x0{8}([0-9a-f]{8})")
PRIVATE_BASE = 0xF0000


def _narrow(text: str) -> str:
    return _WIDE.sub(r"0x\1", text)


def enter(proc, cpu, nr: int, name: str | None, args) -> None:
    if nr >= PRIVATE_BASE:
        return
    if name is None or (name not in S.KNOWN and name in _A64_NAMES):
        text = f"Unknown syscall {nr}\n"  # what qemu does not know for AArch64 it does not know here
    elif name in S.KNOWN and name not in STRUCT_ARGS:
        text = S.call_text(proc.mem, nr, name, args)
    else:
        text = S.printf(S._DEFAULT, name, args)
    log.write(f"{os.getpid()} {_narrow(text)}")


def exit(proc, cpu, nr: int, name: str | None, args, ret: int | None) -> None:  # noqa: A001
    if nr >= PRIVATE_BASE or name is None or (name not in S.KNOWN and name in _A64_NAMES):
        return
    if ret is None:
        ret = -513
    log.write(_narrow(S.result_text(proc.mem, "" if name in STRUCT_ARGS else name, args, ret)))
