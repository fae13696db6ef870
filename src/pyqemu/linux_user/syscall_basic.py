"""Process lifetime and basic I/O system calls."""
from __future__ import annotations

import os

from pyqemu.accel.tcg.excp import GuestExit
from pyqemu.linux_user.syscall import syscall


@syscall("exit_group")
def sys_exit_group(proc, cpu, status, *_):
    raise GuestExit(status & 0xFF)


@syscall("exit")
def sys_exit(proc, cpu, status, *_):
    raise GuestExit(status & 0xFF)


@syscall("write")
def sys_write(proc, cpu, fd, buf, count, *_):
    data = proc.mem.read(buf, count)
    return os.write(fd, data)
