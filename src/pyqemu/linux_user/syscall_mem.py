"""Memory-management system calls: thin wrappers over :class:`GuestMemory`."""
from __future__ import annotations

import errno

from pyqemu.linux_user.mmap import PAGE_MASK, page_align
from pyqemu.linux_user.syscall import sx32, sx64, syscall

PROT_KNOWN = 0x7 | 0x8 | 0x10 | 0x20 | 0x01000000 | 0x02000000  # RWX, SEM, BTI, MTE, GROWSDOWN/UP


@syscall("brk")
def sys_brk(proc, cpu, addr, *_):
    mem = proc.mem
    if addr == 0:
        return mem.brk
    return mem.set_brk(addr)


@syscall("mmap")
def sys_mmap(proc, cpu, addr, length, prot, flags, fd, offset):
    if prot & ~PROT_KNOWN:
        return -errno.EINVAL
    return proc.mem.mmap(addr, length, prot & 7, sx32(flags) & 0xFFFFFFFF, sx32(fd), sx64(offset))


@syscall("munmap")
def sys_munmap(proc, cpu, addr, length, *_):
    return proc.mem.munmap(addr, length)


@syscall("mprotect")
def sys_mprotect(proc, cpu, addr, length, prot, *_):
    if prot & ~PROT_KNOWN:
        return -errno.EINVAL
    return proc.mem.mprotect(addr, length, prot & 7)


@syscall("mremap")
def sys_mremap(proc, cpu, old, old_len, new_len, flags, new_addr, *_):
    return proc.mem.mremap(old, old_len, new_len, flags, new_addr)


@syscall("madvise")
def sys_madvise(proc, cpu, addr, length, advice, *_):
    return proc.mem.madvise(addr, length, sx32(advice))


@syscall("msync")
def sys_msync(proc, cpu, addr, length, flags, *_):
    return proc.mem.msync(addr, length, flags)


@syscall("mincore")
def sys_mincore(proc, cpu, addr, length, vec, *_):
    if addr & PAGE_MASK:
        return -errno.EINVAL
    length = page_align(length)
    if not proc.mem.is_mapped(addr, length):
        return -errno.ENOMEM
    proc.mem.write(vec, b"\1" * (length >> 12))  # everything counts as resident
    return 0


@syscall("mlock", "munlock", "munlockall", "mlock2")
def sys_mlock(proc, cpu, *_):
    return 0  # guest memory is not locked (as QEMU): nothing to do


@syscall("mlockall")
def sys_mlockall(proc, cpu, flags, *_):
    flags &= 0xFFFFFFFF
    if not flags or flags & ~7 or flags == 4:  # MCL_ONFAULT needs MCL_CURRENT or MCL_FUTURE
        return -errno.EINVAL
    return 0
