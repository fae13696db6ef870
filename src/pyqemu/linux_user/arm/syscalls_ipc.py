"""System V IPC control calls for 32-bit ARM: ``msgctl``, ``shmctl``, ``semctl`` with the
ARM (asm-generic, 32-bit) ``*64_ds`` layouts, converted to and from the host's.

ARM's ``struct ipc64_perm`` is 36 bytes (16-bit mode, 4-byte unused longs); times are
split into low/high words; counts are 4-byte longs.
"""
from __future__ import annotations

import ctypes
import errno
import struct

from pyqemu.linux_user.arm.syscalls import arm_syscall, s32
from pyqemu.linux_user.host_syscall import HOST_IS_X86_64
from pyqemu.linux_user.host_syscall import host_syscall as H

IPC_64 = 0x100
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
_PERM_ARM = struct.Struct("<iIIIIHxxHxx8x")  # key, uid, gid, cuid, cgid, mode, seq
_PERM_HOST = struct.Struct("<iIIIIIHxx4x16x")  # x86_64 / LP64 generic: mode is 32-bit
assert _PERM_ARM.size == 36 and _PERM_HOST.size == 48
_MSQ_ARM = struct.Struct("<36sIIIIIIIIIii8x")
_MSQ_HOST = struct.Struct("<48sqqqQQQii16x")
_SHM_ARM = struct.Struct("<36sIIIIIIIiiI8x")
_SHM_HOST = struct.Struct("<48sQqqqiiQ16x")
_SEM_ARM = struct.Struct("<36sIIIII8x")
assert (_MSQ_ARM.size, _MSQ_HOST.size, _SHM_ARM.size, _SHM_HOST.size, _SEM_ARM.size) == (88, 120, 84, 112, 64)
# x86_64 semid64_ds: perm, otime, unused, ctime, unused, nsems, 2 unused (LP64 generic: no unused)
_SEM_HOST = struct.Struct("<48sq8xq8xQ16x") if HOST_IS_X86_64 else struct.Struct("<48sqqQ16x")


def _perm_h2a(raw: bytes) -> bytes:
    key, uid, gid, cuid, cgid, mode, seq = _PERM_HOST.unpack(raw)
    return _PERM_ARM.pack(key, uid, gid, cuid, cgid, mode & 0xFFFF, seq)


def _perm_a2h(raw: bytes) -> bytes:
    key, uid, gid, cuid, cgid, mode, seq = _PERM_ARM.unpack(raw)
    return _PERM_HOST.pack(key, uid, gid, cuid, cgid, mode, seq)


def _split(t: int) -> tuple[int, int]:
    return t & 0xFFFFFFFF, (t >> 32) & 0xFFFFFFFF


def _join(lo: int, hi: int) -> int:
    v = (hi << 32) | lo
    return v - (1 << 64) if v >> 63 else v


def _ctl(proc, name: str, args_before: tuple, cmd: int, buf: int, host_size: int, to_arm, from_arm,
         arm_size: int, stat_cmds: tuple) -> int | None:
    """IPC_RMID, the *_STAT commands and IPC_SET of a *ctl call; None for any other command."""
    c = cmd & ~IPC_64
    mem = proc.mem
    if c == IPC_RMID:
        return H(name, *args_before, c, 0)
    if c in stat_cmds:
        mem.host_w(buf, arm_size)
        hb = ctypes.create_string_buffer(host_size)
        r = H(name, *args_before, c, hb)
        if r >= 0:
            mem.write(buf, to_arm(hb.raw))
        return r
    if c == IPC_SET:
        hb = ctypes.create_string_buffer(from_arm(mem.read(buf, arm_size)), host_size)
        return H(name, *args_before, c, hb)
    return None


def _msq_to_arm(raw: bytes) -> bytes:
    perm, st, rt, ct, cbytes, qnum, qbytes, lspid, lrpid = _MSQ_HOST.unpack(raw)
    return _MSQ_ARM.pack(_perm_h2a(perm), *_split(st), *_split(rt), *_split(ct), cbytes & 0xFFFFFFFF,
                         qnum & 0xFFFFFFFF, qbytes & 0xFFFFFFFF, lspid, lrpid)


def _msq_from_arm(raw: bytes) -> bytes:
    perm, sl, sh, rl, rh, cl, ch, cbytes, qnum, qbytes, lspid, lrpid = _MSQ_ARM.unpack(raw)
    return _MSQ_HOST.pack(_perm_a2h(perm), _join(sl, sh), _join(rl, rh), _join(cl, ch), cbytes, qnum,
                          qbytes, lspid, lrpid)


@arm_syscall("msgctl")
def sys_msgctl(proc, cpu, msqid, cmd, buf, *_):
    r = _ctl(proc, "msgctl", (s32(msqid),), s32(cmd), buf, _MSQ_HOST.size, _msq_to_arm, _msq_from_arm,
             _MSQ_ARM.size, (IPC_STAT, 11, 13))  # MSG_STAT, MSG_STAT_ANY
    if r is None:
        c = s32(cmd) & ~IPC_64
        if c in (IPC_INFO, 12):  # MSG_INFO: struct msginfo is 8 ints everywhere
            return H("msgctl", s32(msqid), c, proc.mem.host_w(buf, 32))
        return -errno.EINVAL
    return r


def _shm_to_arm(raw: bytes) -> bytes:
    perm, segsz, at, dt, ct, cpid, lpid, nattch = _SHM_HOST.unpack(raw)
    return _SHM_ARM.pack(_perm_h2a(perm), segsz & 0xFFFFFFFF, *_split(at), *_split(dt), *_split(ct),
                         cpid, lpid, nattch & 0xFFFFFFFF)


def _shm_from_arm(raw: bytes) -> bytes:
    perm, segsz, al, ah, dl, dh, cl, ch, cpid, lpid, nattch = _SHM_ARM.unpack(raw)
    return _SHM_HOST.pack(_perm_a2h(perm), segsz, _join(al, ah), _join(dl, dh), _join(cl, ch), cpid,
                          lpid, nattch)


@arm_syscall("shmctl")
def sys_shmctl(proc, cpu, shmid, cmd, buf, *_):
    c = s32(cmd) & ~IPC_64
    if c in (11, 12):  # SHM_LOCK, SHM_UNLOCK
        return H("shmctl", s32(shmid), c, 0)
    if c == IPC_INFO:  # struct shminfo64: 9 unsigned longs
        hb = ctypes.create_string_buffer(72)
        r = H("shmctl", s32(shmid), c, hb)
        if r >= 0:
            proc.mem.write(buf, struct.pack("<9I", *(v & 0xFFFFFFFF for v in struct.unpack("<9Q", hb.raw))))
        return r
    if c == 14:  # SHM_INFO: int used_ids, then 5 unsigned longs
        hb = ctypes.create_string_buffer(48)
        r = H("shmctl", s32(shmid), c, hb)
        if r >= 0:
            vals = struct.unpack("<i4x5Q", hb.raw)
            proc.mem.write(buf, struct.pack("<i5I", vals[0], *(v & 0xFFFFFFFF for v in vals[1:])))
        return r
    r = _ctl(proc, "shmctl", (s32(shmid),), s32(cmd), buf, _SHM_HOST.size, _shm_to_arm, _shm_from_arm,
             _SHM_ARM.size, (IPC_STAT, 13, 15))  # SHM_STAT, SHM_STAT_ANY
    return -errno.EINVAL if r is None else r


def _sem_to_arm(raw: bytes) -> bytes:
    perm, ot, ct, nsems = _SEM_HOST.unpack(raw)
    return _SEM_ARM.pack(_perm_h2a(perm), *_split(ot), *_split(ct), nsems & 0xFFFFFFFF)


def _sem_from_arm(raw: bytes) -> bytes:
    perm, ol, oh, cl, ch, nsems = _SEM_ARM.unpack(raw)
    return _SEM_HOST.pack(_perm_a2h(perm), _join(ol, oh), _join(cl, ch), nsems)


@arm_syscall("semctl")
def sys_semctl(proc, cpu, semid, semnum, cmd, arg, *_):
    from pyqemu.linux_user import syscall as _sys
    c = s32(cmd) & ~IPC_64
    if c in (IPC_STAT, IPC_SET, 18, 20):  # SEM_STAT, SEM_STAT_ANY
        r = _ctl(proc, "semctl", (s32(semid), s32(semnum)), c, arg, _SEM_HOST.size, _sem_to_arm,
                 _sem_from_arm, _SEM_ARM.size, (IPC_STAT, 18, 20))
        return -errno.EINVAL if r is None else r
    # GETVAL/SETVAL (an int), GETALL/SETALL (u16 arrays), IPC_INFO/SEM_INFO (ints): as AArch64
    return _sys.TABLE["semctl"](proc, cpu, s32(semid), s32(semnum), c, arg)
