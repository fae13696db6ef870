"""Raw host system calls through libc's ``syscall(2)`` (ctypes).

Used where the guest's and the host's kernel ABIs agree (64-bit little-endian
Linux: most structures have the same layout), so that guest buffers can be
handed to the host kernel directly as ``host_base + guest_address`` -- QEMU's
``g2h()``. Results are returned as the kernel returns them: a value, or
``-errno``; nothing raises. In particular ``EINTR`` comes back to the caller
instead of being retried (PEP 475 retries in :mod:`os` would hide signals from
the guest). ctypes releases the GIL for the duration of the call, so a
blocking call only blocks its own guest thread.
"""
from __future__ import annotations

import ctypes
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_C = ctypes.c_long
get_errno = ctypes.get_errno

# x86_64 numbers of the calls pyqemu forwards (arch/x86/entry/syscalls/syscall_64.tbl).
_X86_64 = {
    "read": 0, "write": 1, "close": 3, "poll": 7, "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11,
    "ioctl": 16, "pread64": 17, "pwrite64": 18, "readv": 19, "writev": 20, "sched_yield": 24,
    "mremap": 25, "msync": 26, "mincore": 27, "madvise": 28, "shmget": 29, "shmat": 30, "shmctl": 31,
    "dup": 32, "nanosleep": 35, "getitimer": 36, "setitimer": 38, "getpid": 39, "sendfile": 40,
    "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47,
    "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51, "getpeername": 52, "socketpair": 53,
    "setsockopt": 54, "getsockopt": 55, "uname": 63, "semget": 64, "semop": 65, "semctl": 66, "shmdt": 67,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "fcntl": 72, "flock": 73, "fsync": 74,
    "fdatasync": 75, "truncate": 76, "ftruncate": 77, "getcwd": 79, "chdir": 80, "fchdir": 81,
    "fchmod": 91, "fchown": 93, "umask": 95, "gettimeofday": 96, "getrlimit": 97, "getrusage": 98,
    "sysinfo": 99, "times": 100, "getuid": 102, "getgid": 104, "setuid": 105, "setgid": 106,
    "geteuid": 107, "getegid": 108, "setpgid": 109, "getppid": 110, "setsid": 112, "setreuid": 113,
    "setregid": 114, "getgroups": 115, "setgroups": 116, "setresuid": 117, "getresuid": 118,
    "setresgid": 119, "getresgid": 120, "getpgid": 121, "setfsuid": 122, "setfsgid": 123, "getsid": 124,
    "capget": 125, "capset": 126, "personality": 135, "statfs": 137, "fstatfs": 138, "getpriority": 140,
    "setpriority": 141, "sched_setparam": 142, "sched_getparam": 143, "sched_setscheduler": 144,
    "sched_getscheduler": 145, "sched_get_priority_max": 146, "sched_get_priority_min": 147,
    "sched_rr_get_interval": 148, "mlock": 149, "munlock": 150, "mlockall": 151, "munlockall": 152,
    "vhangup": 153, "prctl": 157, "adjtimex": 159, "setrlimit": 160, "chroot": 161, "sync": 162,
    "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166, "sethostname": 170,
    "setdomainname": 171, "gettid": 186, "readahead": 187, "setxattr": 188, "lsetxattr": 189,
    "fsetxattr": 190, "getxattr": 191, "lgetxattr": 192, "fgetxattr": 193, "listxattr": 194,
    "llistxattr": 195, "flistxattr": 196, "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
    "sched_setaffinity": 203, "sched_getaffinity": 204, "getdents64": 217, "semtimedop": 220,
    "fadvise64": 221, "timer_create": 222, "timer_settime": 223, "timer_gettime": 224,
    "timer_getoverrun": 225, "timer_delete": 226, "clock_settime": 227, "clock_gettime": 228,
    "clock_getres": 229, "clock_nanosleep": 230, "epoll_ctl": 233, "ioprio_set": 251, "ioprio_get": 252,
    "inotify_add_watch": 254, "inotify_rm_watch": 255, "openat": 257, "mkdirat": 258, "mknodat": 259,
    "fchownat": 260, "newfstatat": 262, "unlinkat": 263, "renameat": 264, "linkat": 265, "symlinkat": 266,
    "readlinkat": 267, "fchmodat": 268, "faccessat": 269, "pselect6": 270, "ppoll": 271, "unshare": 272,
    "splice": 275, "tee": 276, "sync_file_range": 277, "vmsplice": 278, "utimensat": 280,
    "epoll_pwait": 281, "timerfd_create": 283, "fallocate": 285, "timerfd_settime": 286,
    "timerfd_gettime": 287, "accept4": 288, "signalfd4": 289, "eventfd2": 290, "epoll_create1": 291,
    "dup3": 292, "pipe2": 293, "inotify_init1": 294, "preadv": 295, "pwritev": 296, "recvmmsg": 299,
    "prlimit64": 302, "clock_adjtime": 305, "syncfs": 306, "sendmmsg": 307, "getcpu": 309, "kcmp": 312,
    "renameat2": 316, "getrandom": 318, "memfd_create": 319, "membarrier": 324, "mlock2": 325,
    "copy_file_range": 326, "preadv2": 327, "pwritev2": 328, "statx": 332, "close_range": 436,
    "faccessat2": 439, "epoll_pwait2": 441,
}


def _host_numbers() -> dict[str, int]:
    machine = platform.machine()
    if machine in ("aarch64", "arm64"):
        from pyqemu.linux_user.aarch64.syscall_nr import NAMES
        return {name: nr for nr, name in NAMES.items()}
    return dict(_X86_64)


HOST_NR = _host_numbers()
HOST_IS_X86_64 = platform.machine() not in ("aarch64", "arm64")


def host_syscall(name: str, *args) -> int:
    """Call host system call `name`; ints pass as 64-bit words, bytes as char *."""
    conv = [_C(a) if isinstance(a, int) else a for a in args]
    r = _syscall(_C(HOST_NR[name]), *conv)
    if r == -1:
        return -get_errno()
    return r


def has_host(name: str) -> bool:
    return name in HOST_NR


# --- host memory mapping calls (the guest address space is one host mapping) -----
_mmap = _libc.mmap
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                  ctypes.c_long]
_mremap = _libc.mremap
_mremap.restype = ctypes.c_void_p
_mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
_madvise = _libc.madvise
_madvise.restype = ctypes.c_int
_madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_msync = _libc.msync
_msync.restype = ctypes.c_int
_msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
MAP_FAILED = (1 << 64) - 1


def host_mmap_fixed(addr: int, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0) -> int:
    """mmap with MAP_FIXED at host address `addr`; returns 0 or -errno."""
    r = _mmap(addr, length, prot, flags | 0x10, fd, offset)
    if r is None or r == MAP_FAILED or r != addr:
        return -get_errno() or -12
    return 0


def host_mremap_fixed(old: int, old_len: int, new_len: int, new: int) -> int:
    """Move host mapping `old` to `new` (MREMAP_MAYMOVE|MREMAP_FIXED); 0 or -errno."""
    r = _mremap(old, old_len, new_len, 3, new)
    if r is None or r == MAP_FAILED:
        return -get_errno() or -12
    return 0


def host_madvise(addr: int, length: int, advice: int) -> int:
    return -get_errno() if _madvise(addr, length, advice) else 0


def host_msync(addr: int, length: int, flags: int) -> int:
    return -get_errno() if _msync(addr, length, flags) else 0
