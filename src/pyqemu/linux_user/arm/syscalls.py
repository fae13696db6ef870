"""System calls for 32-bit ARM (EABI): numbering, argument registers, and the calls whose
ABI differs from AArch64.

The number is in r7, the arguments in r0..r6, the result in r0 (32 bits). A call
is routed, by its name in ``arm/syscall.tbl``:

* to an ARM implementation registered here with :func:`arm_syscall` (structures
  with 32-bit longs and pointers, 64-bit arguments in even/odd register pairs,
  ``mmap2``, the ARM private calls, the legacy path calls), else
* to the AArch64 implementation of the same call (or of the name in
  ``ALIASES``: ``getuid32`` -> ``getuid``, ``clock_gettime64`` ->
  ``clock_gettime``...) when the ABI is the same: only ints, pointers to
  buffers whose layout does not depend on the word size, or 64-bit time.

Arguments reach the AArch64 implementations zero-extended, except values in
``0xffff0000..0xffffffff``, which are small negative ints (``AT_FDCWD``, -1)
and become the 64-bit negative numbers those implementations expect.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from pyqemu.linux_user import syscall as _sys
from pyqemu.linux_user.arm import strace_arm
from pyqemu.linux_user.arm import target_structs as T
from pyqemu.linux_user.arm.syscall_nr import NAMES, NUMBERS
from pyqemu.linux_user.host_syscall import host_syscall as H
from pyqemu.linux_user.process import SvcNumbers, run_svc
from pyqemu.target.arm import cpu32 as C

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
AT_FDCWD = -100

ARM_TABLE: dict[str, _sys.SysImpl] = {}

# ARM names served by the AArch64 implementation of another name (same ABI)
ALIASES = {
    "getuid32": "getuid", "geteuid32": "geteuid", "getgid32": "getgid", "getegid32": "getegid",
    "setuid32": "setuid", "setgid32": "setgid", "setreuid32": "setreuid", "setregid32": "setregid",
    "setresuid32": "setresuid", "setresgid32": "setresgid", "getresuid32": "getresuid",
    "getresgid32": "getresgid", "setfsuid32": "setfsuid", "setfsgid32": "setfsgid",
    "getgroups32": "getgroups", "setgroups32": "setgroups", "fchown32": "fchown",
    "sendfile64": "sendfile",
    "clock_gettime64": "clock_gettime", "clock_settime64": "clock_settime",
    "clock_getres_time64": "clock_getres", "clock_nanosleep_time64": "clock_nanosleep",
    "clock_adjtime64": "clock_adjtime", "timer_gettime64": "timer_gettime",
    "timer_settime64": "timer_settime", "timerfd_gettime64": "timerfd_gettime",
    "timerfd_settime64": "timerfd_settime", "utimensat_time64": "utimensat",
    "ppoll_time64": "ppoll", "futex_time64": "futex", "semtimedop_time64": "semtimedop",
    "sched_rr_get_interval_time64": "sched_rr_get_interval",
}
# AArch64 implementations that must not serve ARM as they are (layouts differ); anything
# here without an ARM implementation returns -ENOSYS.
NOT_SAME = frozenset({
    "fstat", "newfstatat", "statfs", "fstatfs", "readv", "writev", "preadv", "pwritev", "preadv2",
    "pwritev2", "pread64", "pwrite64", "lseek", "ftruncate", "truncate", "fallocate",
    "sync_file_range", "readahead", "fcntl", "mmap", "uname", "sysinfo", "times", "getrusage",
    "getrlimit", "setrlimit", "gettimeofday", "settimeofday", "clock_gettime", "clock_getres",
    "clock_settime", "nanosleep", "clock_nanosleep", "adjtimex", "clock_adjtime", "rt_sigaction",
    "sigaltstack", "rt_sigreturn", "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "wait4", "waitid", "execve", "execveat", "set_robust_list", "get_robust_list", "clone3",
    "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "pselect6", "setitimer", "getitimer",
    "msgsnd", "msgrcv", "msgctl", "shmctl", "semctl", "timer_settime", "timer_gettime",
    "timerfd_settime", "timerfd_gettime", "utimensat", "ppoll", "futex", "semtimedop",
    "sched_rr_get_interval", "io_getevents", "io_pgetevents", "mq_timedsend", "mq_timedreceive",
    "select", "sendfile", "getdents",
})


def arm_syscall(*names: str):
    """Register an ARM implementation for the system calls `names`."""
    def reg(fn):
        for n in names:
            ARM_TABLE[n] = fn
        return fn
    return reg


def resolve(name: str):
    """The implementation serving ARM's `name` and the name it implements (None, name: none)."""
    impl = ARM_TABLE.get(name)
    if impl is not None:
        return impl, name
    base = ALIASES.get(name, name)
    if base in NOT_SAME and name not in ALIASES:
        return None, name
    return _sys.TABLE.get(base), base


def s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


def arg64(v: int) -> int:
    """A 32-bit register as the 64-bit argument an AArch64 implementation expects."""
    return v | 0xFFFFFFFF00000000 if v >= 0xFFFF0000 else v


def pair(lo: int, hi: int) -> int:
    """A signed 64-bit argument from an even/odd register pair (little-endian: lo first)."""
    v = ((hi & M32) << 32) | (lo & M32)
    return v - (1 << 64) if v >> 63 else v


# --- dispatch ---------------------------------------------------------------------------------

def dispatch(proc, cpu) -> int | None:
    """Run the system call in the CPU's registers; stores the 32-bit result in r0 and
    returns it sign-extended to 64 bits (unsigned), or None when the call set the registers."""
    R = cpu.regs
    nr = R[7] & M32
    name = NAMES.get(nr)
    args = [R[i] & M32 for i in range(7)]
    strace = proc.strace
    if strace:
        strace_arm.enter(proc, cpu, nr, name, args[:6])
    impl, base = resolve(name) if name else (None, None)
    if impl is None:
        ret = _sys.unimplemented(nr, name)
    else:
        cpu.syscall_name = base
        try:
            ret = _sys.run_impl(impl, proc, cpu, args if name in ARM_TABLE else (arg64(a) for a in args[:6]))
        finally:
            cpu.syscall_name = None
    if ret is None:
        if strace:
            strace_arm.exit(proc, cpu, nr, name, args[:6], None)
        return None
    if ret >= 1 << 63:  # an implementation returned an unsigned 64-bit -errno
        ret -= 1 << 64
    if strace:
        strace_arm.exit(proc, cpu, nr, name, args[:6], ret if ret < 0 else ret & M32)
    R[0] = ret & M32
    return s32(ret) & M64


# --- scratch memory for converting arguments --------------------------------------------------

def scratch(proc, cpu) -> int:
    """A guest page private to this thread, for arguments converted to the AArch64 layout."""
    addr = getattr(cpu, "arm_scratch", 0)
    if not addr:
        from pyqemu.linux_user.mmap import PAGE_SIZE, PROT_READ, PROT_WRITE
        mem = proc.mem
        with mem.lock:
            addr = mem.find_free(PAGE_SIZE)
            mem.map(addr, PAGE_SIZE, PROT_READ | PROT_WRITE)
        cpu.arm_scratch = addr
    return addr


def _base(name: str):
    return _sys.TABLE[name]


# --- ARM private calls ------------------------------------------------------------------------

@arm_syscall("set_tls")
def sys_set_tls(proc, cpu, value, *_):
    cpu.regs[C.REG_TPIDRURO] = value & M32
    return 0


@arm_syscall("get_tls")
def sys_get_tls(proc, cpu, *_):
    return cpu.regs[C.REG_TPIDRURO] & M32


@arm_syscall("cacheflush")
def sys_cacheflush(proc, cpu, start, end, flags, *_):
    if end < start:
        return -errno.EINVAL
    from pyqemu.linux_user.mmap import PAGE_SHIFT, PAGE_SIZE
    for page in range(start >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1 if end > start else 0):
        if page in proc.mem.code_pages:
            proc._code_unmapped(page << PAGE_SHIFT, PAGE_SIZE)
    return 0


@arm_syscall("breakpoint")
def sys_breakpoint(proc, cpu, *_):
    from pyqemu.linux_user.aarch64.signal_frame import siginfo
    proc.signals.send_thread(cpu, 5, siginfo(5, 1, addr=(cpu.addr - 4) & M32))
    return cpu.regs[0] & M32


# --- memory -----------------------------------------------------------------------------------

@arm_syscall("mmap2")
def sys_mmap2(proc, cpu, addr, length, prot, flags, fd, pgoff, *_):
    if prot & ~0x7 & ~0x03000000:
        return -errno.EINVAL
    return proc.mem.mmap(addr, length, prot & 7, flags, s32(fd), pgoff << 12)


@arm_syscall("msync")
def sys_msync(proc, cpu, addr, length, flags, *_):
    """msync with the address as it is (the vector page is at 0xffff0000): like the host
    call qemu-arm makes, no hole below ``reserved_va`` (GuestMemory.msync)."""
    return proc.mem.msync(addr, length, flags)


# --- 64-bit arguments in register pairs ------------------------------------------------------

@arm_syscall("_llseek")
def sys_llseek(proc, cpu, fd, hi, lo, result, whence, *_):
    r = H("lseek", s32(fd), pair(lo, hi), s32(whence))
    if r < 0:
        return r
    proc.mem.write(result, struct.pack("<q", r))
    return 0


@arm_syscall("lseek")
def sys_lseek(proc, cpu, fd, off, whence, *_):
    r = H("lseek", s32(fd), s32(off), s32(whence))
    if r > 0x7FFFFFFF:
        return -errno.EOVERFLOW
    return r


@arm_syscall("pread64")
def sys_pread64(proc, cpu, fd, buf, count, _pad, lo, hi, *_):
    return _base("pread64")(proc, cpu, s32(fd), buf, count, pair(lo, hi))


@arm_syscall("pwrite64")
def sys_pwrite64(proc, cpu, fd, buf, count, _pad, lo, hi, *_):
    return _base("pwrite64")(proc, cpu, s32(fd), buf, count, pair(lo, hi))


@arm_syscall("truncate64")
def sys_truncate64(proc, cpu, path, _pad, lo, hi, *_):
    return _base("truncate")(proc, cpu, path, pair(lo, hi) & M64)


@arm_syscall("ftruncate64")
def sys_ftruncate64(proc, cpu, fd, _pad, lo, hi, *_):
    return _base("ftruncate")(proc, cpu, s32(fd), pair(lo, hi) & M64)


@arm_syscall("truncate")
def sys_truncate(proc, cpu, path, length, *_):
    return _base("truncate")(proc, cpu, path, s32(length) & M64)


@arm_syscall("ftruncate")
def sys_ftruncate(proc, cpu, fd, length, *_):
    return _base("ftruncate")(proc, cpu, s32(fd), s32(length) & M64)


@arm_syscall("fallocate")
def sys_fallocate(proc, cpu, fd, mode, off_lo, off_hi, len_lo, len_hi, *_):
    return _base("fallocate")(proc, cpu, s32(fd), mode, pair(off_lo, off_hi) & M64,
                              pair(len_lo, len_hi) & M64)


@arm_syscall("arm_fadvise64_64")
def sys_fadvise64_64(proc, cpu, fd, advice, off_lo, off_hi, len_lo, len_hi, *_):
    try:
        os.posix_fadvise(s32(fd), pair(off_lo, off_hi), pair(len_lo, len_hi), s32(advice))
    except OSError as e:
        return -e.errno
    return 0


@arm_syscall("arm_sync_file_range")
def sys_sync_file_range2(proc, cpu, fd, flags, off_lo, off_hi, nb_lo, nb_hi, *_):
    return _base("sync_file_range")(proc, cpu, s32(fd), pair(off_lo, off_hi) & M64,
                                    pair(nb_lo, nb_hi) & M64, flags)


@arm_syscall("readahead")
def sys_readahead(proc, cpu, fd, _pad, lo, hi, count, *_):
    return _base("readahead")(proc, cpu, s32(fd), pair(lo, hi) & M64, count)


# --- iovec (8 bytes on ARM) -------------------------------------------------------------------

def host_iovec(proc, iov: int, cnt: int, to_guest: bool):
    cnt = s32(cnt)
    if cnt < 0 or cnt > 1024:
        raise OSError(errno.EINVAL, "")
    raw = proc.mem.read(iov, 8 * cnt)
    arr = (ctypes.c_uint64 * (2 * cnt + 1))()
    mem = proc.mem
    for i in range(cnt):
        base, ln = T.IOVEC.unpack_from(raw, 8 * i)
        if ln > 0x7FFFF000:
            raise OSError(errno.EINVAL, "")
        arr[2 * i] = (mem.host_w(base, ln) if to_guest else mem.host_r(base, ln)) if ln else 0
        arr[2 * i + 1] = ln
    return arr


@arm_syscall("readv")
def sys_readv(proc, cpu, fd, iov, cnt, *_):
    return H("readv", s32(fd), host_iovec(proc, iov, cnt, True), s32(cnt))


@arm_syscall("writev")
def sys_writev(proc, cpu, fd, iov, cnt, *_):
    return H("writev", s32(fd), host_iovec(proc, iov, cnt, False), s32(cnt))


@arm_syscall("preadv")
def sys_preadv(proc, cpu, fd, iov, cnt, lo, hi, *_):
    return H("preadv", s32(fd), host_iovec(proc, iov, cnt, True), s32(cnt), lo, hi)


@arm_syscall("pwritev")
def sys_pwritev(proc, cpu, fd, iov, cnt, lo, hi, *_):
    return H("pwritev", s32(fd), host_iovec(proc, iov, cnt, False), s32(cnt), lo, hi)


@arm_syscall("preadv2")
def sys_preadv2(proc, cpu, fd, iov, cnt, lo, hi, flags, *_):
    return H("preadv2", s32(fd), host_iovec(proc, iov, cnt, True), s32(cnt), lo, hi, flags)


@arm_syscall("pwritev2")
def sys_pwritev2(proc, cpu, fd, iov, cnt, lo, hi, flags, *_):
    return H("pwritev2", s32(fd), host_iovec(proc, iov, cnt, False), s32(cnt), lo, hi, flags)


# --- stat64, statfs64, fcntl64 ----------------------------------------------------------------

def _stat64_into(proc, buf: int, dirfd: int, name: bytes, flags: int) -> int:
    from pyqemu.linux_user.aarch64 import target_structs as A
    from pyqemu.linux_user.syscall_file import _HOST_STAT_SIZE, _host_stat_to_guest
    host = ctypes.create_string_buffer(_HOST_STAT_SIZE)
    r = H("newfstatat", dirfd, name, host, flags)
    if r < 0:
        return r
    (dev, ino, mode, nlink, uid, gid, rdev, _p, size, blksize, _p2, blocks,
     at, atn, mt, mtn, ct, ctn, _u1, _u2) = A.STAT.unpack(_host_stat_to_guest(host.raw))
    proc.mem.write(buf, T.STAT64.pack(dev, ino & M32, mode, nlink, uid, gid, rdev, size, blksize,
                                      blocks, at & M32, atn, mt & M32, mtn, ct & M32, ctn, ino))
    return 0


def _path(proc, addr: int, empty_ok: bool = False) -> bytes:
    from pyqemu.linux_user.syscall_file import guest_path, prefixed
    return prefixed(proc, guest_path(proc, addr, empty_ok))


@arm_syscall("stat64")
def sys_stat64(proc, cpu, path, buf, *_):
    return _stat64_into(proc, buf, AT_FDCWD, _path(proc, path), 0)


@arm_syscall("lstat64")
def sys_lstat64(proc, cpu, path, buf, *_):
    return _stat64_into(proc, buf, AT_FDCWD, _path(proc, path), 0x100)


@arm_syscall("fstat64")
def sys_fstat64(proc, cpu, fd, buf, *_):
    return _stat64_into(proc, buf, s32(fd), b"", 0x1000)


@arm_syscall("fstatat64")
def sys_fstatat64(proc, cpu, dirfd, path, buf, flags, *_):
    return _stat64_into(proc, buf, s32(dirfd), _path(proc, path, True), flags)


def _statfs64(proc, call: str, first, size: int, buf: int) -> int:
    from pyqemu.linux_user.aarch64 import target_structs as A
    if size not in (T.STATFS64.size, 88):
        return -errno.EINVAL
    host = ctypes.create_string_buffer(A.STATFS.size)
    r = H(call, first, host)
    if r < 0:
        return r
    (ftype, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize,
     flags) = A.STATFS.unpack(host.raw)
    proc.mem.write(buf, T.STATFS64.pack(ftype & M32, bsize & M32, blocks, bfree, bavail, files, ffree,
                                        fsid0, fsid1, namelen & M32, frsize & M32, flags & M32))
    return 0


@arm_syscall("statfs64")
def sys_statfs64(proc, cpu, path, size, buf, *_):
    return _statfs64(proc, "statfs", _path(proc, path), size, buf)


@arm_syscall("fstatfs64")
def sys_fstatfs64(proc, cpu, fd, size, buf, *_):
    return _statfs64(proc, "fstatfs", s32(fd), size, buf)


_F_GETLK, _F_SETLK, _F_SETLKW = 5, 6, 7
_FLOCK32 = struct.Struct("<hhiii")  # struct flock with 32-bit off_t


@arm_syscall("fcntl64")
def sys_fcntl64(proc, cpu, fd, cmd, arg, *_):
    cmd = s32(cmd)
    if cmd in (T.F_GETLK64, T.F_SETLK64, T.F_SETLKW64):
        host_cmd = cmd - T.F_GETLK64 + _F_GETLK
        if cmd == T.F_GETLK64:
            return H("fcntl", s32(fd), host_cmd, proc.mem.host_w(arg, T.FLOCK64.size))
        return H("fcntl", s32(fd), host_cmd, proc.mem.host_r(arg, T.FLOCK64.size))
    if cmd in (_F_GETLK, _F_SETLK, _F_SETLKW):
        ltype, whence, start, length, pid = _FLOCK32.unpack(proc.mem.read(arg, _FLOCK32.size))
        host = ctypes.create_string_buffer(T.FLOCK64.pack(ltype, whence, start, length, pid))
        r = H("fcntl", s32(fd), cmd, host)
        if r >= 0 and cmd == _F_GETLK:
            ltype, whence, start, length, pid = T.FLOCK64.unpack(host.raw[:T.FLOCK64.size])
            if start > 0x7FFFFFFF or length > 0x7FFFFFFF:
                return -errno.EOVERFLOW
            proc.mem.write(arg, _FLOCK32.pack(ltype, whence, start, length, pid))
        return r
    if cmd in (36, 37, 38):  # F_OFD_GETLK/SETLK/SETLKW take struct flock64 on ARM
        return H("fcntl", s32(fd), cmd, proc.mem.host_w(arg, T.FLOCK64.size))
    return _base("fcntl")(proc, cpu, s32(fd) & M64, cmd & M64, arg64(arg))


@arm_syscall("fcntl")
def sys_fcntl(proc, cpu, fd, cmd, arg, *_):
    return sys_fcntl64(proc, cpu, fd, cmd, arg)


# --- the legacy path calls (ARM has them; AArch64 only has the *at forms) -------------------

def _at(name: str, *fixed):
    """A legacy call implemented by the AArch64 `name`(AT_FDCWD, args..., *fixed)."""
    def impl(proc, cpu, *args):
        n = _AT_ARGC[name]
        return _base(name)(proc, cpu, AT_FDCWD & M64, *(arg64(a) for a in args[:n]), *fixed)
    return impl


_AT_ARGC = {"openat": 2, "mkdirat": 2, "mknodat": 3, "faccessat": 2, "readlinkat": 3,
            "fchmodat": 2, "fchownat": 3}
ARM_TABLE["open"] = _at("openat")
ARM_TABLE["mkdir"] = _at("mkdirat")
ARM_TABLE["mknod"] = _at("mknodat")
ARM_TABLE["access"] = _at("faccessat")
ARM_TABLE["readlink"] = _at("readlinkat")
ARM_TABLE["chmod"] = _at("fchmodat")
ARM_TABLE["chown32"] = _at("fchownat", 0)
ARM_TABLE["lchown32"] = _at("fchownat", 0x100)


@arm_syscall("creat")
def sys_creat(proc, cpu, path, mode, *_):
    return _base("openat")(proc, cpu, AT_FDCWD & M64, path, 0o1101, mode)  # O_CREAT|O_WRONLY|O_TRUNC


@arm_syscall("unlink")
def sys_unlink(proc, cpu, path, *_):
    return _base("unlinkat")(proc, cpu, AT_FDCWD & M64, path, 0)


@arm_syscall("rmdir")
def sys_rmdir(proc, cpu, path, *_):
    return _base("unlinkat")(proc, cpu, AT_FDCWD & M64, path, 0x200)


@arm_syscall("rename")
def sys_rename(proc, cpu, old, new, *_):
    return _base("renameat")(proc, cpu, AT_FDCWD & M64, old, AT_FDCWD & M64, new)


@arm_syscall("link")
def sys_link(proc, cpu, old, new, *_):
    return _base("linkat")(proc, cpu, AT_FDCWD & M64, old, AT_FDCWD & M64, new, 0)


@arm_syscall("symlink")
def sys_symlink(proc, cpu, target, new, *_):
    return _base("symlinkat")(proc, cpu, target, AT_FDCWD & M64, new)


@arm_syscall("pipe")
def sys_pipe(proc, cpu, fds, *_):
    return _base("pipe2")(proc, cpu, fds, 0)


@arm_syscall("dup2")
def sys_dup2(proc, cpu, old, new, *_):
    old, new = s32(old), s32(new)
    if old == new:
        try:
            os.fstat(old)
        except OSError as e:
            return -e.errno
        return new
    return _base("dup3")(proc, cpu, old, new, 0)


@arm_syscall("poll")
def sys_poll(proc, cpu, fds, nfds, timeout, *_):
    t = s32(timeout)
    if t < 0:
        return _base("ppoll")(proc, cpu, fds, nfds, 0, 0, 8)
    ts = scratch(proc, cpu) + 256
    proc.mem.write(ts, struct.pack("<qq", t // 1000, (t % 1000) * 1_000_000))
    return _base("ppoll")(proc, cpu, fds, nfds, ts, 0, 8)


@arm_syscall("epoll_wait")
def sys_epoll_wait(proc, cpu, epfd, events, maxevents, timeout, *_):
    return _base("epoll_pwait")(proc, cpu, s32(epfd) & M64, events, s32(maxevents) & M64,
                                s32(timeout) & M64, 0, 8)


@arm_syscall("pselect6_time64")
def sys_pselect6_time64(proc, cpu, n, inp, outp, exp, tsp, sig, *_):
    sig64 = 0
    if sig:
        ptr, size = struct.unpack("<II", proc.mem.read(sig, 8))
        sig64 = scratch(proc, cpu) + 512
        proc.mem.write(sig64, struct.pack("<QQ", ptr, size))
    nfds = s32(n)
    if not 0 < nfds <= 1024 or nfds % 64 == 0 or nfds % 64 > 32:
        return _base("pselect6")(proc, cpu, s32(n) & M64, inp, outp, exp, tsp, sig64)
    # The host writes fd_sets in 8-byte words, ARM's are 4-byte words: go through copies
    # so that the word past the guest's last one is not written.
    size32 = (nfds + 31) // 32 * 4
    base = scratch(proc, cpu) + 3072
    sets = []
    for i, a in enumerate((inp, outp, exp)):
        if a:
            proc.mem.write(base + 136 * i, proc.mem.read(a, size32) + bytes(8))
        sets.append(base + 136 * i if a else 0)
    r = _base("pselect6")(proc, cpu, s32(n) & M64, *sets, tsp, sig64)
    if r >= 0:
        for a, c in zip((inp, outp, exp), sets, strict=True):
            if a:
                proc.mem.write(a, proc.mem.read(c, size32))
    return r


@arm_syscall("getpgrp")
def sys_getpgrp(proc, cpu, *_):
    return _base("getpgid")(proc, cpu, 0)


@arm_syscall("eventfd")
def sys_eventfd(proc, cpu, count, *_):
    return _base("eventfd2")(proc, cpu, count, 0)


@arm_syscall("epoll_create")
def sys_epoll_create(proc, cpu, size, *_):
    if s32(size) <= 0:
        return -errno.EINVAL
    return _base("epoll_create1")(proc, cpu, 0)


@arm_syscall("inotify_init")
def sys_inotify_init(proc, cpu, *_):
    return _base("inotify_init1")(proc, cpu, 0)


@arm_syscall("pause")
def sys_pause(proc, cpu, *_):
    proc.signals.wait_event(cpu, lambda: None)
    return -514  # ERESTARTNOHAND: EINTR once a handler has run


@arm_syscall("sendfile")
def sys_sendfile32(proc, cpu, out_fd, in_fd, offp, count, *_):
    """sendfile with a 32-bit off_t (sendfile64 takes the AArch64 loff_t)."""
    s = 0
    if offp:
        s = scratch(proc, cpu) + 2048
        proc.mem.write(s, struct.pack("<q", s32(proc.mem.u32(offp))))
    r = _base("sendfile")(proc, cpu, s32(out_fd) & M64, s32(in_fd) & M64, s, count)
    if s and r >= 0:
        off = struct.unpack("<q", proc.mem.read(s, 8))[0]
        if off > 0x7FFFFFFF:
            return -errno.EOVERFLOW
        proc.mem.put_u32(offp, off)
    return r


@arm_syscall("pselect6")
def sys_pselect6_32(proc, cpu, n, inp, outp, exp, tsp, sig, *_):
    """pselect6 with a 32-bit timespec (glibc uses it when the timeout fits in 32 bits)."""
    t = _ts32_to64(proc, cpu, tsp, 5)
    r = sys_pselect6_time64(proc, cpu, n, inp, outp, exp, t, sig)
    _ts64_back(proc, cpu, t, tsp)
    return r


@arm_syscall("ppoll")
def sys_ppoll32(proc, cpu, fds, nfds, tsp, sigmask, size, *_):
    t = _ts32_to64(proc, cpu, tsp, 5)
    r = _base("ppoll")(proc, cpu, fds, nfds, t, sigmask, size)
    _ts64_back(proc, cpu, t, tsp)
    return r


@arm_syscall("utimensat")
def sys_utimensat32(proc, cpu, dirfd, path, times, flags, *_):
    t = 0
    if times:
        a = T.TIMESPEC.unpack(proc.mem.read(times, 8))
        b = T.TIMESPEC.unpack(proc.mem.read(times + 8, 8))
        t = scratch(proc, cpu) + 64 * 6
        proc.mem.write(t, struct.pack("<4q", *a, *b))
    return _base("utimensat")(proc, cpu, s32(dirfd) & M64, path, t, flags)


# --- identity, limits, time -----------------------------------------------------------------

@arm_syscall("uname")
def sys_uname(proc, cpu, buf, *_):
    r = _base("uname")(proc, cpu, buf)
    if r == 0:
        proc.mem.write(buf + 4 * 65, T.UNAME_MACHINE.ljust(65, b"\0"))
    return r


@arm_syscall("sysinfo")
def sys_sysinfo(proc, cpu, buf, *_):
    from pyqemu.linux_user.aarch64 import target_structs as A
    host = ctypes.create_string_buffer(A.SYSINFO.size)
    r = H("sysinfo", host)
    if r < 0:
        return r
    (up, l1, l2, l3, total, free, shared, buffers, tswap, fswap, procs, _pad, thigh, fhigh,
     unit) = A.SYSINFO.unpack(host.raw)
    vals = [total, free, shared, buffers, tswap, fswap, thigh, fhigh]
    while unit < (1 << 30) and any(v > M32 for v in vals):  # scale as the compat kernel does
        vals = [v >> 1 for v in vals]
        unit <<= 1
    total, free, shared, buffers, tswap, fswap, thigh, fhigh = (v & M32 for v in vals)
    proc.mem.write(buf, T.SYSINFO.pack(min(up, 0x7FFFFFFF), l1 & M32, l2 & M32, l3 & M32, total,
                                       free, shared, buffers, tswap, fswap, procs, 0, thigh,
                                       fhigh, unit))
    return 0


@arm_syscall("times")
def sys_times(proc, cpu, buf, *_):
    from pyqemu.linux_user.aarch64 import target_structs as A
    host = ctypes.create_string_buffer(A.TMS.size)
    r = H("times", host)
    if r < 0 and r > -4096:
        return r
    if buf:
        proc.mem.write(buf, T.TMS.pack(*(s32(v) for v in A.TMS.unpack(host.raw))))
    return r & M32


@arm_syscall("getrusage")
def sys_getrusage(proc, cpu, who, buf, *_):
    from pyqemu.linux_user.aarch64 import target_structs as A
    host = ctypes.create_string_buffer(A.RUSAGE.size)
    r = H("getrusage", s32(who), host)
    if r < 0:
        return r
    proc.mem.write(buf, T.RUSAGE.pack(*(s32(v) for v in A.RUSAGE.unpack(host.raw))))
    return 0


def _rlim32(v: int) -> int:
    return T.RLIM_INFINITY if v >= T.RLIM_INFINITY else v


@arm_syscall("ugetrlimit")
def sys_ugetrlimit(proc, cpu, res, buf, *_):
    r = _base("prlimit64")(proc, cpu, 0, s32(res) & M64, 0, scratch(proc, cpu))
    if r < 0:
        return r
    cur, mx = struct.unpack("<QQ", proc.mem.read(scratch(proc, cpu), 16))
    proc.mem.write(buf, T.RLIMIT.pack(_rlim32(cur), _rlim32(mx)))
    return 0


@arm_syscall("setrlimit")
def sys_setrlimit(proc, cpu, res, buf, *_):
    cur, mx = T.RLIMIT.unpack(proc.mem.read(buf, 8))
    conv = [M64 if v == T.RLIM_INFINITY else v for v in (cur, mx)]
    s = scratch(proc, cpu)
    proc.mem.write(s, struct.pack("<QQ", *conv))
    return _base("prlimit64")(proc, cpu, 0, s32(res) & M64, s, 0)


def _ts32_to64(proc, cpu, addr: int, slot: int) -> int:
    """Copy a 32-bit timespec/timeval at `addr` to scratch slot `slot` as 64-bit; 0 stays 0."""
    if not addr:
        return 0
    a, b = T.TIMESPEC.unpack(proc.mem.read(addr, 8))
    s = scratch(proc, cpu) + 64 * slot
    proc.mem.write(s, struct.pack("<qq", a, b))
    return s


def _ts64_back(proc, cpu, s: int, addr: int) -> None:
    if addr and s:
        a, b = struct.unpack("<qq", proc.mem.read(s, 16))
        proc.mem.write(addr, T.TIMESPEC.pack(s32(a), s32(b)))


def _out_ts(proc, cpu, addr: int, slot: int) -> int:
    return scratch(proc, cpu) + 64 * slot if addr else 0


@arm_syscall("clock_gettime")
def sys_clock_gettime32(proc, cpu, clk, ts, *_):
    s = _out_ts(proc, cpu, ts, 0)
    r = _base("clock_gettime")(proc, cpu, s32(clk) & M64, s)
    if r == 0:
        _ts64_back(proc, cpu, s, ts)
    return r


@arm_syscall("clock_getres")
def sys_clock_getres32(proc, cpu, clk, ts, *_):
    s = _out_ts(proc, cpu, ts, 0)
    r = _base("clock_getres")(proc, cpu, s32(clk) & M64, s)
    if r == 0:
        _ts64_back(proc, cpu, s, ts)
    return r


@arm_syscall("gettimeofday")
def sys_gettimeofday(proc, cpu, tv, tz, *_):
    s = _out_ts(proc, cpu, tv, 0)
    r = _base("gettimeofday")(proc, cpu, s, tz)
    if r == 0:
        _ts64_back(proc, cpu, s, tv)
    return r


@arm_syscall("nanosleep")
def sys_nanosleep32(proc, cpu, req, rem, *_):
    s = _ts32_to64(proc, cpu, req, 0)
    o = _out_ts(proc, cpu, rem, 1)
    r = _base("nanosleep")(proc, cpu, s, o)
    _ts64_back(proc, cpu, o, rem)
    return r


@arm_syscall("clock_nanosleep")
def sys_clock_nanosleep32(proc, cpu, clk, flags, req, rem, *_):
    s = _ts32_to64(proc, cpu, req, 0)
    o = _out_ts(proc, cpu, rem, 1)
    r = _base("clock_nanosleep")(proc, cpu, s32(clk) & M64, flags, s, o)
    _ts64_back(proc, cpu, o, rem)
    return r


_FUTEX_TIMED = frozenset({0, 6, 9, 11, 13})  # WAIT, LOCK_PI, WAIT_BITSET, WAIT_REQUEUE_PI, LOCK_PI2


@arm_syscall("futex")
def sys_futex32(proc, cpu, uaddr, op, val, timeout, uaddr2, val3, *_):
    """futex with a 32-bit timespec (the *_time64 twin takes the AArch64 layout)."""
    if (op & 0x7F) in _FUTEX_TIMED:
        timeout = _ts32_to64(proc, cpu, timeout, 2)
    return _base("futex")(proc, cpu, uaddr, op, val, timeout, uaddr2, val3)


def _itv_in(proc, cpu, addr: int, slot: int) -> int:
    if not addr:
        return 0
    vals = T.ITIMERVAL.unpack(proc.mem.read(addr, T.ITIMERVAL.size))
    s = scratch(proc, cpu) + 64 * slot
    proc.mem.write(s, struct.pack("<4q", *vals))
    return s


def _itv_out(proc, cpu, s: int, addr: int) -> None:
    if s and addr:
        vals = struct.unpack("<4q", proc.mem.read(s, 32))
        proc.mem.write(addr, T.ITIMERVAL.pack(*(s32(v) for v in vals)))


@arm_syscall("setitimer")
def sys_setitimer(proc, cpu, which, new, old, *_):
    n = _itv_in(proc, cpu, new, 3)
    o = scratch(proc, cpu) + 64 * 4 if old else 0
    r = _base("setitimer")(proc, cpu, s32(which) & M64, n, o)
    if r == 0:
        _itv_out(proc, cpu, o, old)
    return r


@arm_syscall("getitimer")
def sys_getitimer(proc, cpu, which, cur, *_):
    o = scratch(proc, cpu) + 64 * 4
    r = _base("getitimer")(proc, cpu, s32(which) & M64, o)
    if r == 0:
        _itv_out(proc, cpu, o, cur)
    return r


# --- signals ----------------------------------------------------------------------------------

@arm_syscall("rt_sigaction")
def sys_rt_sigaction(proc, cpu, sig, act_addr, oact_addr, sigsetsize, *_):
    from pyqemu.linux_user import syscall_proc as P
    return P.do_rt_sigaction(proc, sig, act_addr, oact_addr, sigsetsize, T.SIGACTION, M32)


@arm_syscall("sigaltstack")
def sys_sigaltstack(proc, cpu, ss_addr, oss_addr, *_):
    from pyqemu.linux_user import signal as S
    signals = proc.signals
    sp = cpu.regs[C.REG_SP]
    old_sp, old_size, old_flags = cpu.altstack
    oflags = signals.sas_flags(cpu, sp) | (old_flags & S.SS_AUTODISARM)
    if ss_addr:
        ss_sp, ss_flags, ss_size = T.STACK_T.unpack(proc.mem.read(ss_addr, T.STACK_T.size))
        r = signals.set_altstack(cpu, (ss_sp, ss_flags & M32, ss_size), sp)
        if r:
            return r
    if oss_addr:
        proc.mem.write(oss_addr, T.STACK_T.pack(old_sp & M32, s32(oflags), old_size & M32))
    return 0


def _sigreturn(proc, cpu, rt: bool):
    from pyqemu.linux_user import signal as S
    from pyqemu.linux_user.arm import signal_arm
    cpu.skip_restart = True
    cpu.restart_fn = None
    if not signal_arm.sigreturn(proc.signals, cpu, rt):
        sp = cpu.regs[C.REG_SP]
        proc.signals.force_sync(cpu, S.SIGSEGV, 1 if not proc.mem.is_mapped(sp, 1) else 2, sp)
    return None


@arm_syscall("rt_sigreturn")
def sys_rt_sigreturn(proc, cpu, *_):
    return _sigreturn(proc, cpu, True)


@arm_syscall("sigreturn")
def sys_sigreturn(proc, cpu, *_):
    return _sigreturn(proc, cpu, False)


def _info_out(proc, cpu, r: int, s: int, info_addr: int) -> int:
    from pyqemu.linux_user.arm.signal_frame import siginfo_to_arm
    if r >= 0 and info_addr:
        proc.mem.write(info_addr, siginfo_to_arm(proc.mem.read(s, 128)))
    return r


@arm_syscall("rt_sigtimedwait_time64")
def sys_rt_sigtimedwait64(proc, cpu, set_addr, info_addr, ts, size, *_):
    s = scratch(proc, cpu) + 1024
    r = _base("rt_sigtimedwait")(proc, cpu, set_addr, s if info_addr else 0, ts, size)
    return _info_out(proc, cpu, r, s, info_addr)


@arm_syscall("rt_sigtimedwait")
def sys_rt_sigtimedwait32(proc, cpu, set_addr, info_addr, ts, size, *_):
    s = scratch(proc, cpu) + 1024
    t = _ts32_to64(proc, cpu, ts, 0)
    r = _base("rt_sigtimedwait")(proc, cpu, set_addr, s if info_addr else 0, t, size)
    return _info_out(proc, cpu, r, s, info_addr)


def _info_in(proc, cpu, uinfo: int) -> int:
    from pyqemu.linux_user.arm.signal_frame import siginfo_from_arm
    s = scratch(proc, cpu) + 1024
    proc.mem.write(s, siginfo_from_arm(proc.mem.read(uinfo, 128)))
    return s


@arm_syscall("rt_sigqueueinfo")
def sys_rt_sigqueueinfo(proc, cpu, tgid, sig, uinfo, *_):
    return _base("rt_sigqueueinfo")(proc, cpu, arg64(tgid), sig, _info_in(proc, cpu, uinfo))


@arm_syscall("rt_tgsigqueueinfo")
def sys_rt_tgsigqueueinfo(proc, cpu, tgid, tid, sig, uinfo, *_):
    return _base("rt_tgsigqueueinfo")(proc, cpu, arg64(tgid), arg64(tid), sig,
                                      _info_in(proc, cpu, uinfo))


# --- processes --------------------------------------------------------------------------------

@arm_syscall("fork")
def sys_fork(proc, cpu, *_):
    return _base("clone")(proc, cpu, 17, 0, 0, 0, 0)  # SIGCHLD


@arm_syscall("vfork")
def sys_vfork(proc, cpu, *_):
    return _base("clone")(proc, cpu, 0x4000 | 0x100 | 17, 0, 0, 0, 0)  # CLONE_VFORK|CLONE_VM|SIGCHLD


@arm_syscall("clone")
def sys_clone(proc, cpu, flags, newsp, ptid, tls, ctid, *_):
    return _base("clone")(proc, cpu, flags, newsp, ptid, tls, ctid)


def _rusage_out(proc, cpu, s: int, addr: int) -> None:
    """The AArch64 struct rusage at scratch `s` -> the ARM one at `addr`."""
    from pyqemu.linux_user.aarch64 import target_structs as A
    vals = A.RUSAGE.unpack(proc.mem.read(s, A.RUSAGE.size))
    proc.mem.write(addr, T.RUSAGE.pack(*(s32(v) for v in vals)))


@arm_syscall("wait4")
def sys_wait4(proc, cpu, pid, status, options, rusage, *_):
    ru = scratch(proc, cpu) + 2560 if rusage else 0
    r = _base("wait4")(proc, cpu, arg64(pid), status, options, ru)
    if r > 0 and rusage:
        _rusage_out(proc, cpu, ru, rusage)
    return r


@arm_syscall("waitid")
def sys_waitid(proc, cpu, idtype, id_, infop, options, rusage, *_):
    s = scratch(proc, cpu) + 1024
    r = _base("waitid")(proc, cpu, idtype, arg64(id_), s if infop else 0, options, 0)
    if r >= 0 and rusage:
        proc.mem.write(rusage, bytes(T.RUSAGE.size))
    return _info_out(proc, cpu, r, s, infop)


@arm_syscall("msgsnd")
def sys_msgsnd(proc, cpu, msqid, msgp, size, flags, *_):
    """struct msgbuf starts with a 4-byte long mtype on ARM."""
    size = s32(size)
    if size < 0:
        return -errno.EINVAL
    raw = proc.mem.read(msgp, 4 + size)
    buf = ctypes.create_string_buffer(struct.pack("<q", s32(struct.unpack_from("<I", raw)[0])) + raw[4:],
                                      8 + size)
    return H("msgsnd", s32(msqid), buf, size, flags)


@arm_syscall("msgrcv")
def sys_msgrcv(proc, cpu, msqid, msgp, size, typ, flags, *_):
    size = s32(size)
    if size < 0:
        return -errno.EINVAL
    proc.mem.host_w(msgp, 4 + size)  # EFAULT before taking a message
    buf = ctypes.create_string_buffer(8 + size)
    r = H("msgrcv", s32(msqid), buf, size, s32(typ), flags)
    if r >= 0:
        mtype = struct.unpack_from("<q", buf.raw)[0]
        proc.mem.write(msgp, struct.pack("<i", s32(mtype)) + buf.raw[8:8 + r])
    return r


@arm_syscall("execve")
def sys_execve(proc, cpu, path, argv, envp, *_):
    from pyqemu.linux_user import syscall_proc as P
    return P.do_execve(proc, cpu, AT_FDCWD, path, argv, envp, 0)


@arm_syscall("execveat")
def sys_execveat(proc, cpu, dirfd, path, argv, envp, flags, *_):
    from pyqemu.linux_user import syscall_proc as P
    return P.do_execve(proc, cpu, s32(dirfd), path, argv, envp, flags)


@arm_syscall("set_robust_list")
def sys_set_robust_list(proc, cpu, head, size, *_):
    from pyqemu.linux_user import syscall_proc as P
    return P.set_robust_list(cpu, head, size, T.ROBUST_LIST_HEAD.size)


@arm_syscall("get_robust_list")
def sys_get_robust_list(proc, cpu, pid, head_ptr, len_ptr, *_):
    from pyqemu.linux_user import syscall_proc as P
    return P.get_robust_list(proc, cpu, pid, head_ptr, len_ptr, proc.mem.put_u32, T.ROBUST_LIST_HEAD.size)


# --- the system-call exception ---------------------------------------------------------------

def _nrs(*names: str) -> frozenset[int]:
    return frozenset(NUMBERS[n] for n in names if n in NUMBERS)


HOST_BLOCKING = _nrs(
    "read", "readv", "write", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "send", "sendto",
    "sendmsg", "sendmmsg", "accept", "accept4", "connect", "poll", "ppoll", "ppoll_time64",
    "pselect6", "pselect6_time64", "_newselect", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "open", "openat", "openat2", "flock", "fcntl", "fcntl64", "msgrcv", "msgsnd", "semtimedop",
    "semtimedop_time64", "mq_timedsend", "mq_timedreceive", "splice", "tee", "sendfile",
    "sendfile64", "ioctl", "getrandom", "copy_file_range", "vmsplice", "close", "fsync",
    "fdatasync", "arm_sync_file_range", "fallocate", "ftruncate", "ftruncate64", "truncate",
    "truncate64", "pause")
EINTR_FINAL = _nrs("close", "rt_sigsuspend", "sigsuspend", "rt_sigtimedwait",
                   "rt_sigtimedwait_time64", "restart_syscall", "nanosleep", "clock_nanosleep",
                   "clock_nanosleep_time64")
RESTART_FOR = {nr: -514 & M64 for nr in _nrs("poll", "ppoll", "ppoll_time64", "pselect6",
                                              "pselect6_time64", "_newselect", "epoll_wait",
                                              "epoll_pwait", "epoll_pwait2")}
SIGPIPE_CALLS = _nrs("write", "writev", "pwrite64", "pwritev", "pwritev2", "send", "sendto",
                     "sendmsg", "sendmmsg", "splice", "vmsplice", "tee", "sendfile", "sendfile64",
                     "copy_file_range")
MSG_FLAGS_ARG = {NUMBERS["sendto"]: 3, NUMBERS["sendmsg"]: 2, NUMBERS["sendmmsg"]: 3,
                 NUMBERS["send"]: 3}
ARM_SVC = SvcNumbers(HOST_BLOCKING, EINTR_FINAL, RESTART_FOR, SIGPIPE_CALLS, MSG_FLAGS_ARG)


def exception_svc(cpu) -> None:
    """SVC in 32-bit ARM user mode: a kuser helper trap, or a system call with its restarts
    and signal delivery (:func:`pyqemu.linux_user.process.run_svc`)."""
    from pyqemu.linux_user.arm import kuser
    if kuser.is_helper_return(cpu):
        kuser.run_helper(cpu)
        return
    run_svc(cpu, cpu.regs[7] & M32, lambda: dispatch(cpu.proc, cpu), ARM_SVC, M32)


def _load_modules() -> None:
    """The ARM calls of the other modules (sockets, System V IPC) register themselves."""
    from pyqemu.linux_user.arm import syscalls_ipc, syscalls_net  # noqa: F401


_load_modules()
