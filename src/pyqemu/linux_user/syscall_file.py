"""File-system and file-descriptor system calls.

Guest file descriptors are host file descriptors (as in QEMU). Where the
AArch64 and host structures agree, guest buffers are passed to the host
kernel in place (see :mod:`host_syscall`), after checking the guest's page
permissions (``EFAULT`` otherwise) and, for buffers the kernel writes,
dropping any translated code in them. Open flags, ``struct stat`` and
``struct epoll_event`` (in :mod:`syscall_net`) are converted.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from pyqemu.linux_user import paths
from pyqemu.linux_user.aarch64 import target_structs as T
from pyqemu.linux_user.host_syscall import HOST_IS_X86_64
from pyqemu.linux_user.host_syscall import host_syscall as H
from pyqemu.linux_user.syscall import sx32, syscall
from pyqemu.util import log

PATH_MAX = 4096
IOV_MAX = 1024
MAX_RW = 0x7FFFF000  # Linux caps one read/write at this many bytes

# --- open flags: AArch64 <-> host ---------------------------------------------------
_HOST_O_LARGEFILE = 0o100000 if HOST_IS_X86_64 else 0o400000
_FLAG_PAIRS = [(T.O_DIRECTORY, os.O_DIRECTORY), (T.O_NOFOLLOW, os.O_NOFOLLOW),
               (T.O_DIRECT, getattr(os, "O_DIRECT", 0o40000)), (T.O_LARGEFILE, _HOST_O_LARGEFILE)]
_G_MOVED = sum(g for g, _ in _FLAG_PAIRS)
_H_MOVED = sum(h for _, h in _FLAG_PAIRS)


def flags_g2h(f: int) -> int:
    f &= 0xFFFFFFFF
    out = f & ~_G_MOVED
    for g, h in _FLAG_PAIRS:
        if f & g:
            out |= h
    return out


def flags_h2g(f: int) -> int:
    """Host file status flags -> AArch64 (O_LARGEFILE dropped, as qemu-aarch64 does)."""
    out = f & ~_H_MOVED
    for g, h in _FLAG_PAIRS[:3]:
        if f & h:
            out |= g
    return out


# --- helpers -------------------------------------------------------------------------

def guest_path(proc, addr: int, empty_ok: bool = False) -> bytes:
    """The NUL-terminated file name at `addr` (EFAULT, ENAMETOOLONG, ENOENT for "")."""
    name = proc.mem.read_cstr(addr, PATH_MAX + 1)
    if len(name) > PATH_MAX - 1:
        raise OSError(errno.ENAMETOOLONG, "")
    if not name and not empty_ok:
        raise OSError(errno.ENOENT, "")
    return name


def prefixed(proc, name: bytes) -> bytes:
    return paths.prefix_of(proc)(name)


def opt_w(proc, addr: int, size: int) -> int:
    """Host pointer for an optional output buffer (0 stays NULL)."""
    return proc.mem.host_w(addr, size) if addr else 0


def opt_r(proc, addr: int, size: int) -> int:
    return proc.mem.host_r(addr, size) if addr else 0


def host_iovec(proc, iov: int, cnt: int, to_guest: bool):
    """The guest iovec array as a host iovec array (ctypes), buffers checked."""
    cnt = sx32(cnt)
    if cnt < 0 or cnt > IOV_MAX:
        raise OSError(errno.EINVAL, "")
    raw = proc.mem.read(iov, 16 * cnt)
    arr = (ctypes.c_uint64 * (2 * cnt + 1))()
    mem = proc.mem
    for i in range(cnt):
        base, ln = T.IOVEC.unpack_from(raw, 16 * i)
        if ln > MAX_RW:
            raise OSError(errno.EINVAL, "")
        arr[2 * i] = (mem.host_w(base, ln) if to_guest else mem.host_r(base, ln)) if ln else 0
        arr[2 * i + 1] = ln
    return arr


def _host_stat_to_guest(raw: bytes) -> bytes:
    """Host struct stat -> AArch64 struct stat."""
    if not HOST_IS_X86_64:
        return raw[:128]
    (dev, ino, nlink, mode, uid, gid, _pad, rdev, size, blksize, blocks,
     at, atn, mt, mtn, ct, ctn) = _X86_STAT.unpack_from(raw)
    return T.STAT.pack(dev, ino, mode, nlink, uid, gid, rdev, 0, size, blksize, 0, blocks,
                       at, atn, mt, mtn, ct, ctn, 0, 0)


_X86_STAT = struct.Struct("<QQQIIIiQqqqqqqqqq24x")
_HOST_STAT_SIZE = 144 if HOST_IS_X86_64 else 128


def _stat_into(proc, buf_addr: int, dirfd: int, name: bytes, flags: int) -> int:
    host = ctypes.create_string_buffer(_HOST_STAT_SIZE)
    r = H("newfstatat", dirfd, name, host, flags)
    if r < 0:
        return r
    proc.mem.write(buf_addr, _host_stat_to_guest(host.raw))
    return r


# --- read / write ----------------------------------------------------------------------

@syscall("read")
def sys_read(proc, cpu, fd, buf, count, *_):
    count = min(count, MAX_RW)
    return H("read", fd, proc.mem.host_w(buf, count), count)


@syscall("write")
def sys_write(proc, cpu, fd, buf, count, *_):
    count = min(count, MAX_RW)
    return H("write", fd, proc.mem.host_r(buf, count), count)


@syscall("pread64")
def sys_pread64(proc, cpu, fd, buf, count, off, *_):
    count = min(count, MAX_RW)
    return H("pread64", fd, proc.mem.host_w(buf, count), count, off)


@syscall("pwrite64")
def sys_pwrite64(proc, cpu, fd, buf, count, off, *_):
    count = min(count, MAX_RW)
    return H("pwrite64", fd, proc.mem.host_r(buf, count), count, off)


@syscall("readv")
def sys_readv(proc, cpu, fd, iov, cnt, *_):
    return H("readv", fd, host_iovec(proc, iov, cnt, True), cnt)


@syscall("writev")
def sys_writev(proc, cpu, fd, iov, cnt, *_):
    return H("writev", fd, host_iovec(proc, iov, cnt, False), cnt)


@syscall("preadv")
def sys_preadv(proc, cpu, fd, iov, cnt, lo, hi, *_):
    return H("preadv", fd, host_iovec(proc, iov, cnt, True), cnt, lo, hi)


@syscall("pwritev")
def sys_pwritev(proc, cpu, fd, iov, cnt, lo, hi, *_):
    return H("pwritev", fd, host_iovec(proc, iov, cnt, False), cnt, lo, hi)


@syscall("preadv2")
def sys_preadv2(proc, cpu, fd, iov, cnt, lo, hi, flags):
    return H("preadv2", fd, host_iovec(proc, iov, cnt, True), cnt, lo, hi, flags)


@syscall("pwritev2")
def sys_pwritev2(proc, cpu, fd, iov, cnt, lo, hi, flags):
    return H("pwritev2", fd, host_iovec(proc, iov, cnt, False), cnt, lo, hi, flags)


@syscall("lseek")
def sys_lseek(proc, cpu, fd, off, whence, *_):
    return H("lseek", fd, off, whence)


@syscall("sendfile")
def sys_sendfile(proc, cpu, out_fd, in_fd, offp, count, *_):
    return H("sendfile", out_fd, in_fd, opt_w(proc, offp, 8), count)


@syscall("copy_file_range")
def sys_copy_file_range(proc, cpu, fd_in, off_in, fd_out, off_out, length, flags):
    return H("copy_file_range", fd_in, opt_w(proc, off_in, 8), fd_out, opt_w(proc, off_out, 8),
             length, flags)


@syscall("splice")
def sys_splice(proc, cpu, fd_in, off_in, fd_out, off_out, length, flags):
    return H("splice", fd_in, opt_w(proc, off_in, 8), fd_out, opt_w(proc, off_out, 8), length, flags)


@syscall("getdents64")
def sys_getdents64(proc, cpu, fd, dirp, count, *_):
    count = min(count, MAX_RW)
    return H("getdents64", fd, proc.mem.host_w(dirp, count), count)


# --- descriptors -------------------------------------------------------------------------

def _passthrough(*names: str) -> None:
    """Calls whose arguments are all plain numbers with the same meaning on the host."""
    for name in names:
        def impl(proc, cpu, *args, _n=name):
            return H(_n, *args)
        impl.__name__ = f"sys_{name}"
        syscall(name)(impl)


_passthrough("close", "dup", "dup3", "fsync", "fdatasync", "syncfs", "fchdir", "fchmod", "fchown",
             "ftruncate", "flock", "fallocate", "fadvise64", "readahead", "sync_file_range", "tee",
             "umask", "close_range", "inotify_init1", "inotify_rm_watch", "timerfd_create")


@syscall("sync")
def sys_sync(proc, cpu, *_):
    os.sync()
    return 0


# fcntl commands whose third argument points to a struct flock (identical layout)
_F_LOCK_GET = {5, 36}  # F_GETLK, F_OFD_GETLK
_F_LOCK_SET = {6, 7, 37, 38}  # F_SETLK(W), F_OFD_SETLK(W)
_F_SCALAR = {0, 1, 2, 8, 9, 10, 11, 1024, 1025, 1026, 1030, 1031, 1032, 1033, 1034}
F_GETFL, F_SETFL, F_SETOWN_EX, F_GETOWN_EX, F_GETOWNER_UIDS = 3, 4, 15, 16, 17


@syscall("fcntl")
def sys_fcntl(proc, cpu, fd, cmd, arg, *_):
    cmd = sx32(cmd)
    if cmd == F_GETFL:
        r = H("fcntl", fd, cmd, 0)
        return flags_h2g(r) if r >= 0 else r
    if cmd == F_SETFL:
        return H("fcntl", fd, cmd, flags_g2h(arg))
    if cmd in _F_LOCK_GET:
        return H("fcntl", fd, cmd, proc.mem.host_w(arg, T.FLOCK.size))
    if cmd in _F_LOCK_SET:
        return H("fcntl", fd, cmd, proc.mem.host_r(arg, T.FLOCK.size))
    if cmd == F_GETOWN_EX:
        return H("fcntl", fd, cmd, proc.mem.host_w(arg, 8))
    if cmd == F_SETOWN_EX:
        return H("fcntl", fd, cmd, proc.mem.host_r(arg, 8))
    if cmd == F_GETOWNER_UIDS:
        return H("fcntl", fd, cmd, proc.mem.host_w(arg, 8))
    if cmd in _F_SCALAR:
        return H("fcntl", fd, cmd, arg)
    return -errno.EINVAL


@syscall("pipe2")
def sys_pipe2(proc, cpu, fds, flags, *_):
    return H("pipe2", proc.mem.host_w(fds, 8), flags_g2h(flags))


# ioctl requests pyqemu forwards: direction ("v": the argument is a value, "r": the host
# writes `size` bytes to the guest, "w": the host reads them, "rw": both) and size.
IOCTLS: dict[int, tuple[str, int]] = {
    0x5401: ("r", 36), 0x5402: ("w", 36), 0x5403: ("w", 36), 0x5404: ("w", 36),  # TCGETS, TCSETS*
    0x5409: ("v", 0), 0x540A: ("v", 0), 0x540B: ("v", 0),  # TCSBRK, TCXONC, TCFLSH
    0x540C: ("v", 0), 0x540D: ("v", 0), 0x540E: ("v", 0),  # TIOCEXCL, TIOCNXCL, TIOCSCTTY
    0x540F: ("r", 4), 0x5410: ("w", 4), 0x5411: ("r", 4),  # TIOCGPGRP, TIOCSPGRP, TIOCOUTQ
    0x5412: ("w", 1), 0x5413: ("r", 8), 0x5414: ("w", 8),  # TIOCSTI, TIOCGWINSZ, TIOCSWINSZ
    0x5415: ("r", 4), 0x5416: ("w", 4), 0x5417: ("w", 4), 0x5418: ("w", 4),  # TIOCM*
    0x5419: ("r", 4), 0x541A: ("w", 4), 0x541B: ("r", 4),  # TIOC[GS]SOFTCAR, FIONREAD
    0x541D: ("v", 0), 0x5420: ("w", 4), 0x5421: ("w", 4),  # TIOCCONS, TIOCPKT, FIONBIO
    0x5422: ("v", 0), 0x5423: ("w", 4), 0x5424: ("r", 4),  # TIOCNOTTY, TIOCSETD, TIOCGETD
    0x5425: ("v", 0), 0x5429: ("r", 4),  # TCSBRKP, TIOCGSID
    0x802C542A: ("r", 44), 0x402C542B: ("w", 44), 0x402C542C: ("w", 44), 0x402C542D: ("w", 44),  # TC*S2
    0x80045430: ("r", 4), 0x40045431: ("w", 4), 0x5441: ("v", 0),  # TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER
    0x80045438: ("r", 4), 0x80045440: ("r", 4),  # TIOCGPKT, TIOCGEXCL
    0x5450: ("v", 0), 0x5451: ("v", 0), 0x5452: ("w", 4),  # FIONCLEX, FIOCLEX, FIOASYNC
    0x5460: ("r", 8), 0x2: ("r", 4),  # FIOQSIZE, FIGETBSZ
    0x80081272: ("r", 8), 0x1268: ("r", 4), 0x1260: ("r", 8),  # BLKGETSIZE64, BLKSSZGET, BLKGETSIZE
    0x80086601: ("r", 4), 0x40086602: ("w", 4),  # FS_IOC_GETFLAGS, FS_IOC_SETFLAGS
    0x40049409: ("v", 0), 0x80045200: ("r", 4),  # FICLONE, RNDGETENTCNT
}


@syscall("ioctl")
def sys_ioctl(proc, cpu, fd, req, arg, *_):
    req &= 0xFFFFFFFF
    ent = IOCTLS.get(req)
    if ent is None:
        log.unimp(f"Unsupported ioctl: cmd=0x{req:04x}")
        return -errno.ENOSYS
    kind, size = ent
    if kind == "v":
        return H("ioctl", fd, req, arg)
    if kind == "r":
        return H("ioctl", fd, req, proc.mem.host_w(arg, size))
    if kind == "w":
        return H("ioctl", fd, req, proc.mem.host_r(arg, size))
    proc.mem.host_r(arg, size)
    return H("ioctl", fd, req, proc.mem.host_w(arg, size))


# --- names ----------------------------------------------------------------------------------

@syscall("openat")
def sys_openat(proc, cpu, dirfd, path, flags, mode, *_):
    name = guest_path(proc, path)
    special = paths.open_special(proc, name, flags, mode)
    if special is not None:
        return special
    return H("openat", dirfd, prefixed(proc, name), flags_g2h(flags), mode)


@syscall("newfstatat")
def sys_newfstatat(proc, cpu, dirfd, path, buf, flags, *_):
    name = guest_path(proc, path, empty_ok=True)
    return _stat_into(proc, buf, dirfd, prefixed(proc, name), flags)


@syscall("fstat")
def sys_fstat(proc, cpu, fd, buf, *_):
    return _stat_into(proc, buf, fd, b"", T.AT_EMPTY_PATH)


@syscall("statx")
def sys_statx(proc, cpu, dirfd, path, flags, mask, buf, *_):
    name = guest_path(proc, path, empty_ok=True)
    return H("statx", dirfd, name, flags, mask, proc.mem.host_w(buf, T.STATX.size))


@syscall("statfs")
def sys_statfs(proc, cpu, path, buf, *_):
    name = prefixed(proc, guest_path(proc, path))
    return H("statfs", name, proc.mem.host_w(buf, T.STATFS.size))


@syscall("fstatfs")
def sys_fstatfs(proc, cpu, fd, buf, *_):
    return H("fstatfs", fd, proc.mem.host_w(buf, T.STATFS.size))


@syscall("readlinkat")
def sys_readlinkat(proc, cpu, dirfd, path, buf, size, *_):
    name = guest_path(proc, path)
    size = sx32(size)
    if paths.proc_self_entry(name) == b"exe":
        target = os.fsencode(paths.exe_path(proc))
        n = min(len(target), max(size, 0))
        proc.mem.write(buf, target[:n])
        return n
    return H("readlinkat", dirfd, prefixed(proc, name), proc.mem.host_w(buf, max(size, 0)), size)


@syscall("faccessat")
def sys_faccessat(proc, cpu, dirfd, path, mode, *_):
    return H("faccessat", dirfd, guest_path(proc, path), mode)


@syscall("faccessat2")
def sys_faccessat2(proc, cpu, dirfd, path, mode, flags, *_):
    return H("faccessat2", dirfd, guest_path(proc, path, empty_ok=True), mode, flags)


@syscall("mkdirat")
def sys_mkdirat(proc, cpu, dirfd, path, mode, *_):
    return H("mkdirat", dirfd, guest_path(proc, path), mode)


@syscall("mknodat")
def sys_mknodat(proc, cpu, dirfd, path, mode, dev, *_):
    return H("mknodat", dirfd, guest_path(proc, path), mode, dev)


@syscall("unlinkat")
def sys_unlinkat(proc, cpu, dirfd, path, flags, *_):
    return H("unlinkat", dirfd, guest_path(proc, path), flags)


@syscall("symlinkat")
def sys_symlinkat(proc, cpu, target, dirfd, path, *_):
    return H("symlinkat", guest_path(proc, target), dirfd, guest_path(proc, path))


@syscall("linkat")
def sys_linkat(proc, cpu, olddir, old, newdir, new, flags, *_):
    return H("linkat", olddir, guest_path(proc, old, empty_ok=True), newdir, guest_path(proc, new), flags)


@syscall("renameat")
def sys_renameat(proc, cpu, olddir, old, newdir, new, *_):
    return H("renameat", olddir, guest_path(proc, old), newdir, guest_path(proc, new))


@syscall("renameat2")
def sys_renameat2(proc, cpu, olddir, old, newdir, new, flags, *_):
    return H("renameat2", olddir, guest_path(proc, old), newdir, guest_path(proc, new), flags)


@syscall("fchmodat")
def sys_fchmodat(proc, cpu, dirfd, path, mode, *_):
    return H("fchmodat", dirfd, guest_path(proc, path), mode)


@syscall("fchownat")
def sys_fchownat(proc, cpu, dirfd, path, uid, gid, flags, *_):
    return H("fchownat", dirfd, guest_path(proc, path, empty_ok=True), uid, gid, flags)


@syscall("utimensat")
def sys_utimensat(proc, cpu, dirfd, path, times, flags, *_):
    name = prefixed(proc, guest_path(proc, path)) if path else 0
    return H("utimensat", dirfd, name, opt_r(proc, times, 32), flags)


@syscall("truncate")
def sys_truncate(proc, cpu, path, length, *_):
    return H("truncate", guest_path(proc, path), length)


@syscall("chdir")
def sys_chdir(proc, cpu, path, *_):
    return H("chdir", guest_path(proc, path))


@syscall("chroot")
def sys_chroot(proc, cpu, path, *_):
    return H("chroot", guest_path(proc, path))


@syscall("acct")
def sys_acct(proc, cpu, path, *_):
    return H("acct", guest_path(proc, path) if path else 0)


@syscall("mount")
def sys_mount(proc, cpu, source, target, fstype, flags, data, *_):
    def opt_str(a):
        return proc.mem.read_cstr(a, PATH_MAX) if a else 0
    return H("mount", opt_str(source), guest_path(proc, target), opt_str(fstype), flags,
             opt_r(proc, data, 1) if data else 0)


@syscall("umount2")
def sys_umount2(proc, cpu, target, flags, *_):
    return H("umount2", guest_path(proc, target), flags)


@syscall("getcwd")
def sys_getcwd(proc, cpu, buf, size, *_):
    size = min(size, 1 << 20)
    return H("getcwd", proc.mem.host_w(buf, size), size)


@syscall("memfd_create")
def sys_memfd_create(proc, cpu, name, flags, *_):
    return H("memfd_create", proc.mem.read_cstr(name, 256), flags)


@syscall("inotify_add_watch")
def sys_inotify_add_watch(proc, cpu, fd, path, mask, *_):
    return H("inotify_add_watch", fd, guest_path(proc, path), mask)


@syscall("timerfd_settime")
def sys_timerfd_settime(proc, cpu, fd, flags, new, old, *_):
    return H("timerfd_settime", fd, flags, proc.mem.host_r(new, 32), opt_w(proc, old, 32))


@syscall("timerfd_gettime")
def sys_timerfd_gettime(proc, cpu, fd, cur, *_):
    return H("timerfd_gettime", fd, proc.mem.host_w(cur, 32))


# --- extended attributes (same layout: names and raw values) ----------------------------------

@syscall("setxattr", "lsetxattr")
def sys_setxattr(proc, cpu, path, name, value, size, flags, *_):
    return H(proc_nr_name(cpu), guest_path(proc, path), proc.mem.read_cstr(name, 256),
             proc.mem.host_r(value, size), size, flags)


@syscall("fsetxattr")
def sys_fsetxattr(proc, cpu, fd, name, value, size, flags, *_):
    return H("fsetxattr", fd, proc.mem.read_cstr(name, 256), proc.mem.host_r(value, size), size, flags)


@syscall("getxattr", "lgetxattr")
def sys_getxattr(proc, cpu, path, name, value, size, *_):
    return H(proc_nr_name(cpu), guest_path(proc, path), proc.mem.read_cstr(name, 256),
             opt_w(proc, value, size), size)


@syscall("fgetxattr")
def sys_fgetxattr(proc, cpu, fd, name, value, size, *_):
    return H("fgetxattr", fd, proc.mem.read_cstr(name, 256), opt_w(proc, value, size), size)


@syscall("listxattr", "llistxattr")
def sys_listxattr(proc, cpu, path, lst, size, *_):
    return H(proc_nr_name(cpu), guest_path(proc, path), opt_w(proc, lst, size), size)


@syscall("flistxattr")
def sys_flistxattr(proc, cpu, fd, lst, size, *_):
    return H("flistxattr", fd, opt_w(proc, lst, size), size)


@syscall("removexattr", "lremovexattr")
def sys_removexattr(proc, cpu, path, name, *_):
    return H(proc_nr_name(cpu), guest_path(proc, path), proc.mem.read_cstr(name, 256))


@syscall("fremovexattr")
def sys_fremovexattr(proc, cpu, fd, name, *_):
    return H("fremovexattr", fd, proc.mem.read_cstr(name, 256))


def proc_nr_name(cpu) -> str:
    """The name of the system call being run (for implementations shared by several)."""
    name = getattr(cpu, "syscall_name", None)  # set by the 32-bit ARM dispatcher
    if name:
        return name
    from pyqemu.linux_user.aarch64.syscall_nr import NAMES
    return NAMES[cpu.regs[8]]
