"""System V IPC: shared memory, message queues and semaphores.

The kernel objects are the host's. Shared-memory segments are attached by the
host at the guest address (``shmat`` with ``SHM_REMAP`` inside the guest
reservation), so they are shared with other processes exactly as on Linux.
``struct semid64_ds`` differs between AArch64 and x86_64 and is converted;
the other structures have the same layout and are passed in place.
"""
from __future__ import annotations

import ctypes
import errno
import struct

from pyqemu.linux_user.host_syscall import HOST_IS_X86_64
from pyqemu.linux_user.host_syscall import host_syscall as H
from pyqemu.linux_user.mmap import PAGE_MASK, PROT_EXEC, PROT_READ, PROT_WRITE, VMA, page_align
from pyqemu.linux_user.syscall import sx32, syscall
from pyqemu.linux_user.syscall_file import opt_r

IPC_64 = 0x100
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC = 0o10000, 0o20000, 0o40000, 0o100000
SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY = 11, 12, 13, 14, 15
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
SHMLBA = 4096

SHMID_DS_SIZE = 112  # struct shmid64_ds (identical on both)
SHMINFO_SIZE = 72  # struct shminfo64
SHM_INFO_SIZE = 48  # struct shm_info
MSQID_DS_SIZE = 120  # struct msqid64_ds (identical on both)
MSGINFO_SIZE = 32  # struct msginfo: 8 ints
SEMINFO_SIZE = 40  # struct seminfo: 10 ints
IPC_PERM_SIZE = 48
# struct semid64_ds: perm, otime, ctime, nsems, 2 unused (AArch64)
_SEMID_GUEST = struct.Struct(f"<{IPC_PERM_SIZE}sqqQQQ")
# x86_64: perm, otime, unused, ctime, unused, nsems, 2 unused
_SEMID_X86 = struct.Struct(f"<{IPC_PERM_SIZE}sqQqQQQQ")
_SEMID_HOST_SIZE = _SEMID_X86.size if HOST_IS_X86_64 else _SEMID_GUEST.size


# --- shared memory ------------------------------------------------------------------------

@syscall("shmget")
def sys_shmget(proc, cpu, key, size, flags, *_):
    return H("shmget", key, size, flags)


def _shm_size(shmid: int) -> int:
    buf = ctypes.create_string_buffer(SHMID_DS_SIZE)
    r = H("shmctl", shmid, IPC_STAT, buf)
    if r < 0:
        return r
    return struct.unpack_from("<Q", buf.raw, IPC_PERM_SIZE)[0]


@syscall("shmat")
def sys_shmat(proc, cpu, shmid, addr, flags, *_):
    size = _shm_size(shmid)
    if size < 0:
        return size
    size = page_align(size)
    mem = proc.mem
    if addr:
        if addr & (SHMLBA - 1):
            if not flags & SHM_RND:
                return -errno.EINVAL
            addr &= ~(SHMLBA - 1)
        if not flags & SHM_REMAP and not mem.range_free(addr, size):
            return -errno.EINVAL
    prot = PROT_READ | (0 if flags & SHM_RDONLY else PROT_WRITE) | (PROT_EXEC if flags & SHM_EXEC else 0)
    with mem.lock:
        if not addr:
            try:
                addr = mem.find_free(size)
            except MemoryError:
                return -errno.ENOMEM
        mem.unmap(addr, size)
        r = H("shmat", shmid, mem.host_base + addr, (flags & (SHM_RDONLY | SHM_EXEC)) | SHM_REMAP)
        if r < 0:
            mem._host_reset(addr, size)
            return r
        mem._insert(VMA(addr, addr + size, prot, shared=True, maxprot=prot | PROT_EXEC,
                        name=f"/SYSV{shmid & 0xFFFFFFFF:08x} (deleted)", ino=shmid + 1))
        mem._set_tables(addr, addr + size, prot)
    proc.shm_segments = getattr(proc, "shm_segments", {})
    proc.shm_segments[addr] = size
    return addr


@syscall("shmdt")
def sys_shmdt(proc, cpu, addr, *_):
    segs = getattr(proc, "shm_segments", {})
    if addr & PAGE_MASK or addr not in segs:
        return -errno.EINVAL
    size = segs.pop(addr)
    proc.mem.unmap(addr, size)  # putting the reservation back detaches it in the host
    return 0


@syscall("shmctl")
def sys_shmctl(proc, cpu, shmid, cmd, buf, *_):
    c = sx32(cmd) & ~IPC_64
    if c in (IPC_STAT, SHM_STAT, SHM_STAT_ANY):
        return H("shmctl", shmid, c, proc.mem.host_w(buf, SHMID_DS_SIZE))
    if c == IPC_SET:
        return H("shmctl", shmid, c, proc.mem.host_r(buf, SHMID_DS_SIZE))
    if c == IPC_INFO:
        return H("shmctl", shmid, c, proc.mem.host_w(buf, SHMINFO_SIZE))
    if c == SHM_INFO:
        return H("shmctl", shmid, c, proc.mem.host_w(buf, SHM_INFO_SIZE))
    if c in (IPC_RMID, SHM_LOCK, SHM_UNLOCK):
        return H("shmctl", shmid, c, 0)
    return -errno.EINVAL


# --- message queues --------------------------------------------------------------------------

@syscall("msgget")
def sys_msgget(proc, cpu, key, flags, *_):
    return H("msgget", key, flags)


@syscall("msgsnd")
def sys_msgsnd(proc, cpu, msqid, msgp, size, flags, *_):
    return H("msgsnd", msqid, proc.mem.host_r(msgp, 8 + size), size, flags)


@syscall("msgrcv")
def sys_msgrcv(proc, cpu, msqid, msgp, size, typ, flags, *_):
    return H("msgrcv", msqid, proc.mem.host_w(msgp, 8 + size), size, typ, flags)


@syscall("msgctl")
def sys_msgctl(proc, cpu, msqid, cmd, buf, *_):
    c = sx32(cmd) & ~IPC_64
    if c in (IPC_STAT, MSG_STAT, MSG_STAT_ANY):
        return H("msgctl", msqid, c, proc.mem.host_w(buf, MSQID_DS_SIZE))
    if c == IPC_SET:
        return H("msgctl", msqid, c, proc.mem.host_r(buf, MSQID_DS_SIZE))
    if c in (IPC_INFO, MSG_INFO):
        return H("msgctl", msqid, c, proc.mem.host_w(buf, MSGINFO_SIZE))
    if c == IPC_RMID:
        return H("msgctl", msqid, c, 0)
    return -errno.EINVAL


# --- semaphores --------------------------------------------------------------------------------

@syscall("semget")
def sys_semget(proc, cpu, key, nsems, flags, *_):
    return H("semget", key, nsems, flags)


@syscall("semop")
def sys_semop(proc, cpu, semid, sops, nsops, *_):
    return H("semtimedop", semid, proc.mem.host_r(sops, 6 * nsops), nsops, 0)


@syscall("semtimedop")
def sys_semtimedop(proc, cpu, semid, sops, nsops, timeout, *_):
    return H("semtimedop", semid, proc.mem.host_r(sops, 6 * nsops), nsops, opt_r(proc, timeout, 16))


def _semid_h2g(raw: bytes) -> bytes:
    if not HOST_IS_X86_64:
        return raw[:_SEMID_GUEST.size]
    perm, otime, _u1, ctime, _u2, nsems, _u3, _u4 = _SEMID_X86.unpack_from(raw)
    return _SEMID_GUEST.pack(perm, otime, ctime, nsems, 0, 0)


def _semid_g2h(raw: bytes) -> bytes:
    if not HOST_IS_X86_64:
        return raw
    perm, otime, ctime, nsems, _u3, _u4 = _SEMID_GUEST.unpack_from(raw)
    return _SEMID_X86.pack(perm, otime, 0, ctime, 0, nsems, 0, 0)


def _sem_count(semid: int) -> int:
    buf = ctypes.create_string_buffer(_SEMID_HOST_SIZE)
    r = H("semctl", semid, 0, IPC_STAT, buf)
    if r < 0:
        return r
    return struct.unpack_from("<Q", _semid_h2g(buf.raw), IPC_PERM_SIZE + 16)[0]


@syscall("semctl")
def sys_semctl(proc, cpu, semid, semnum, cmd, arg, *_):
    c = sx32(cmd) & ~IPC_64
    mem = proc.mem
    if c in (IPC_STAT, SEM_STAT, SEM_STAT_ANY):
        mem.host_w(arg, _SEMID_GUEST.size)
        buf = ctypes.create_string_buffer(_SEMID_HOST_SIZE)
        r = H("semctl", semid, semnum, c, buf)
        if r >= 0:
            mem.write(arg, _semid_h2g(buf.raw))
        return r
    if c == IPC_SET:
        buf = ctypes.create_string_buffer(_semid_g2h(mem.read(arg, _SEMID_GUEST.size)), _SEMID_HOST_SIZE)
        return H("semctl", semid, semnum, c, buf)
    if c in (IPC_INFO, SEM_INFO):
        return H("semctl", semid, semnum, c, mem.host_w(arg, SEMINFO_SIZE))
    if c in (GETALL, SETALL):
        n = _sem_count(semid)
        if n < 0:
            return n
        ptr = mem.host_w(arg, 2 * n) if c == GETALL else mem.host_r(arg, 2 * n)
        return H("semctl", semid, semnum, c, ptr)
    if c in (IPC_RMID, GETPID, GETVAL, GETNCNT, GETZCNT, SETVAL):
        return H("semctl", semid, semnum, c, arg)
    return -errno.EINVAL

