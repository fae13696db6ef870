"""``-strace``: log system calls the way qemu-aarch64 7.2 does.

Each call is logged as ``PID name(args)`` when it starts (flushed, so that the
guest's own output lands between the two halves as it does with QEMU) and
`` = result`` when it returns; failures read ``= -1 errno=N (message)``.
Calls QEMU does not know print ``Unknown syscall N``.

QEMU describes each call by a printf format applied to the raw 64-bit
arguments (``%d`` and ``%#x`` see only the low 32 bits, ``%p`` prints
``(nil)`` for 0) or by a dedicated printer; calls with neither print six
decimal arguments. The tables below reproduce QEMU 7.2's choices.
"""
from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable

from pyqemu.util import log

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
AT_FDCWD = -100

# --- printf emulation ----------------------------------------------------------


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


def _s64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v & (1 << 63) else v


def _conv(spec: str, v: int) -> str:
    if spec == "%d":
        return str(_s32(v))
    if spec == "%u":
        return str(v & M32)
    if spec == "%#x":
        v &= M32
        return f"{v:#x}" if v else "0"
    if spec == "%x":
        return f"{v & M32:x}"
    if spec == "%p":
        v &= M64
        return f"{v:#x}" if v else "(nil)"
    if spec == "%ld":
        return str(_s64(v))
    if spec == "%lu":
        return str(v & M64)
    if spec == "%#o":
        v &= M32
        return f"0{v:o}" if v else "0"
    raise ValueError(spec)


_SPEC = re.compile(r"%(?:#x|#o|ld|lu|[dupx])")


def printf(fmt: str, name: str, args) -> str:
    """Apply a QEMU strace format (its first %s is the call name)."""
    head, rest = fmt.split("%s", 1)
    it = iter(args)
    return head + name + _SPEC.sub(lambda m: _conv(m.group(0), next(it, 0)), rest)


# --- QEMU's argument printers -----------------------------------------------------


def pointer(p: int) -> str:
    p &= M64
    return f"0x{p:016x}" if p else "NULL"


def _string(mem, addr: int) -> str:
    try:
        s = mem.read_cstr(addr, 1 << 20)
    except Exception:
        return pointer(addr)
    return '"' + s.decode("latin-1") + '"'


def _dirfd(v: int) -> str:
    v = _s32(v)
    return "AT_FDCWD" if v == AT_FDCWD else str(v)


def flags(table: list[tuple[int, str]], v: int) -> str:
    """QEMU's print_flags: names of the set bits in table order, rest in hex."""
    v = _s64(v)
    if v == 0 and table[0][0] == 0:
        return table[0][1]
    names = []
    for value, name in table:
        if value and v & value == value:
            names.append(name)
            v &= ~value
    if not names:
        return _conv("%#x", v)
    if v:
        names.append(_conv("%#x", v))
    return "|".join(names)


def enum(table: dict[int, str], v: int) -> str:
    return table.get(_s64(v), _conv("%#x", v))


ACCESS_FLAGS = [(0, "F_OK"), (4, "R_OK"), (2, "W_OK"), (1, "X_OK")]
AT_FILE_FLAGS = [(0x200, "AT_EACCESS"), (0x100, "AT_SYMLINK_NOFOLLOW")]
UNLINKAT_FLAGS = [(0x200, "AT_REMOVEDIR")]
MODE_FLAGS = [(0o140000, "S_IFSOCK"), (0o120000, "S_IFLNK"), (0o100000, "S_IFREG"),
              (0o60000, "S_IFBLK"), (0o40000, "S_IFDIR"), (0o20000, "S_IFCHR"), (0o10000, "S_IFIFO")]
OPEN_ACCESS = [(0, "O_RDONLY"), (1, "O_WRONLY"), (2, "O_RDWR")]
# QEMU 7.2 believes O_LARGEFILE is 0o100000 (O_NOFOLLOW) on AArch64; copied as is.
OPEN_FLAGS = [(0o2000, "O_APPEND"), (0o100, "O_CREAT"), (0o40000, "O_DIRECTORY"), (0o200, "O_EXCL"),
              (0o100000, "O_LARGEFILE"), (0o400, "O_NOCTTY"), (0o100000, "O_NOFOLLOW"),
              (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o4000000, "__O_SYNC"), (0o1000, "O_TRUNC"),
              (0o200000, "O_DIRECT"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"),
              (0o10000000, "O_PATH"), (0o20040000, "O_TMPFILE"), (0o20000000, "__O_TMPFILE")]
PROT_FLAGS = [(0, "PROT_NONE"), (4, "PROT_EXEC"), (1, "PROT_READ"), (2, "PROT_WRITE"), (8, "PROT_SEM"),
              (0x1000000, "PROT_GROWSDOWN"), (0x2000000, "PROT_GROWSUP")]
MMAP_FLAGS = [(1, "MAP_SHARED"), (2, "MAP_PRIVATE"), (0x20, "MAP_ANONYMOUS"), (0x800, "MAP_DENYWRITE"),
              (0x10, "MAP_FIXED"), (0x100, "MAP_GROWSDOWN"), (0x1000, "MAP_EXECUTABLE"),
              (0x2000, "MAP_LOCKED"), (0x10000, "MAP_NONBLOCK"), (0x4000, "MAP_NORESERVE"),
              (0x8000, "MAP_POPULATE"), (0x4000000, "MAP_UNINITIALIZED")]
STATX_FLAGS = [(0x1000, "AT_EMPTY_PATH"), (0x800, "AT_NO_AUTOMOUNT"), (0x100, "AT_SYMLINK_NOFOLLOW"),
               (0, "AT_STATX_SYNC_AS_STAT"), (0x2000, "AT_STATX_FORCE_SYNC"), (0x4000, "AT_STATX_DONT_SYNC")]
STATX_MASK = [(0xFFF, "STATX_ALL"), (0x7FF, "STATX_BASIC_STATS"), (1, "STATX_TYPE"), (2, "STATX_MODE"),
              (4, "STATX_NLINK"), (8, "STATX_UID"), (0x10, "STATX_GID"), (0x20, "STATX_ATIME"),
              (0x40, "STATX_MTIME"), (0x80, "STATX_CTIME"), (0x100, "STATX_INO"), (0x200, "STATX_SIZE"),
              (0x400, "STATX_BLOCKS"), (0x800, "STATX_BTIME")]
FALLOC_FLAGS = [(1, "FALLOC_FL_KEEP_SIZE"), (2, "FALLOC_FL_PUNCH_HOLE"), (4, "FALLOC_FL_NO_HIDE_STALE"),
                (8, "FALLOC_FL_COLLAPSE_RANGE"), (0x10, "FALLOC_FL_ZERO_RANGE"),
                (0x20, "FALLOC_FL_INSERT_RANGE"), (0x40, "FALLOC_FL_UNSHARE_RANGE")]
MOUNT_FLAGS = [(4096, "MS_BIND"), (128, "MS_DIRSYNC"), (64, "MS_MANDLOCK"), (8192, "MS_MOVE"),
               (1024, "MS_NOATIME"), (4, "MS_NODEV"), (2048, "MS_NODIRATIME"), (8, "MS_NOEXEC"),
               (2, "MS_NOSUID"), (1, "MS_RDONLY"), (1 << 21, "MS_RELATIME"), (32, "MS_REMOUNT"),
               (16, "MS_SYNCHRONOUS")]
UMOUNT2_FLAGS = [(1, "MNT_FORCE"), (2, "MNT_DETACH"), (4, "MNT_EXPIRE")]
MLOCKALL_FLAGS = [(1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT")]
CLONE_FLAGS = [(0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
               (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"),
               (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"),
               (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"), (0x100000, "CLONE_PARENT_SETTID"),
               (0x200000, "CLONE_CHILD_CLEARTID"), (0x400000, "CLONE_DETACHED"),
               (0x800000, "CLONE_UNTRACED"), (0x1000000, "CLONE_CHILD_SETTID"),
               (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"),
               (0x20000000, "CLONE_NEWPID"), (0x40000000, "CLONE_NEWNET"), (0x2000000, "CLONE_NEWCGROUP"),
               (0x80, "CLONE_NEWTIME"), (0x80000000, "CLONE_IO")]
CLOCKS = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
          3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
          6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 8: "CLOCK_REALTIME_ALARM",
          9: "CLOCK_BOOTTIME_ALARM", 10: "CLOCK_SGI_CYCLE", 11: "CLOCK_TAI"}
ITIMERS = {0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}
MADVISE = {0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
           4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK", 11: "MADV_DOFORK",
           12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE", 14: "MADV_HUGEPAGE", 15: "MADV_NOHUGEPAGE",
           16: "MADV_DONTDUMP", 17: "MADV_DODUMP", 18: "MADV_WIPEONFORK", 19: "MADV_KEEPONFORK",
           20: "MADV_COLD", 21: "MADV_PAGEOUT", 22: "MADV_POPULATE_READ", 23: "MADV_POPULATE_WRITE"}
SEEK = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}
SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
           8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
           14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
           20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
           26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS"}
SOCK_DOMAINS = {1: "PF_UNIX", 2: "PF_INET", 16: "PF_NETLINK", 17: "PF_PACKET"}
NETLINK_PROTOCOLS = {0: "NETLINK_ROUTE", 9: "NETLINK_AUDIT", 12: "NETLINK_NETFILTER",
                     15: "NETLINK_KOBJECT_UEVENT", 20: "NETLINK_RDMA", 21: "NETLINK_CRYPTO"}
SOCK_TYPES = {2: "SOCK_DGRAM", 1: "SOCK_STREAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
              10: "SOCK_PACKET"}
FUTEX_OPS = ["FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_FD", "FUTEX_REQUEUE", "FUTEX_CMP_REQUEUE", "FUTEX_WAKE_OP",
             "FUTEX_LOCK_PI", "FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI", "FUTEX_WAIT_BITSET",
             "FUTEX_WAKE_BITSET", "FUTEX_WAIT_REQUEUE_PI", "FUTEX_CMP_REQUEUE_PI", "FUTEX_LOCK_PI2"]
FCNTL_CMDS = {0: ("F_DUPFD", "ld"), 1: ("F_GETFD", None), 2: ("F_SETFD", "ld"), 3: ("F_GETFL", None),
              4: ("F_SETFL", "open"), 5: ("F_GETLK", "ptr"), 6: ("F_SETLK", "ptr"), 7: ("F_SETLKW", "ptr"),
              8: ("F_SETOWN", "ld,"), 9: ("F_GETOWN", None), 10: ("F_SETSIG", "ld,"),
              11: ("F_GETSIG", None), 15: ("F_SETOWN_EX", "ptr"), 16: ("F_GETOWN_EX", "ptr"),
              36: ("F_OFD_GETLK", "ptr"), 37: ("F_OFD_SETLK", "ptr"), 38: ("F_OFD_SETLKW", "ptr"),
              1024: ("F_SETLEASE", "ld"), 1025: ("F_GETLEASE", None), 1026: ("F_NOTIFY", "ld"),
              1030: ("F_DUPFD_CLOEXEC", "ld"), 1031: ("F_SETPIPE_SZ", "ld"), 1032: ("F_GETPIPE_SZ", None),
              1033: ("F_ADD_SEALS", "hex"), 1034: ("F_GET_SEALS", None)}


def file_mode(v: int) -> str:
    v = _s64(v)
    if v == 0:
        return "000"
    out = ""
    for value, name in MODE_FLAGS:
        if v & value == value:
            out = name + "|"
            v &= ~value
            break
    v &= ~0o170000
    if v:
        return out + _conv("%#o", v)
    return out[:-1] if out else ""


def open_flags(v: int) -> str:
    s = flags(OPEN_ACCESS, v & 3)
    v = _s64(v) & ~3
    if v == 0:
        return s
    return s + "|" + flags(OPEN_FLAGS, v)


def _signal(v: int) -> str:
    return SIGNALS.get(v & M64, str(_s64(v)))


def _read_longs(mem, addr: int, n: int) -> tuple | None:
    try:
        return struct.unpack(f"<{n}q", mem.read(addr, 8 * n))
    except Exception:
        return None


def timespec(mem, addr: int) -> str:
    if not addr:
        return "NULL"
    v = _read_longs(mem, addr, 2)
    return f"{{tv_sec = {v[0]},tv_nsec = {v[1]}}}" if v else pointer(addr)


def timeval(mem, addr: int) -> str:
    if not addr:
        return "NULL"
    v = _read_longs(mem, addr, 2)
    return f"{{tv_sec = {v[0]},tv_usec = {v[1]}}}" if v else pointer(addr)


def timezone(mem, addr: int) -> str:
    if not addr:
        return "NULL"
    try:
        a, b = struct.unpack("<ii", mem.read(addr, 8))
    except Exception:
        return pointer(addr)
    return f"{{{a},{b}}}"


def itimerval(mem, addr: int) -> str:
    if not addr:
        return "NULL"
    return f"{{it_interval={timeval(mem, addr)},it_value={timeval(mem, addr + 16)},}}"


def sockaddr(mem, addr: int, length: int) -> str:
    try:
        raw = mem.read(addr, _s32(length))
        fam = struct.unpack_from("<H", raw)[0]
    except Exception:
        return f"0x{addr & M64:016x},, {_s64(length)}"
    if fam == 1:
        path = raw[2:].split(b"\0", 1)[0].decode("latin-1")
        body = f'{{sun_family=AF_UNIX,sun_path="{path}"}}'
    elif fam == 2 and len(raw) >= 8:
        port = struct.unpack_from(">H", raw, 2)[0]
        body = (f"{{sin_family=AF_INET,sin_port=htons({port}),"
                f'sin_addr=inet_addr("{raw[4]}.{raw[5]}.{raw[6]}.{raw[7]}")}}')
    elif fam == 16 and len(raw) >= 12:
        pid, groups = struct.unpack_from("<II", raw, 4)
        body = f"{{nl_family=AF_NETLINK,nl_pid={pid},nl_groups={groups}}}"
    else:
        data = (raw[2:16] + bytes(14))[:14]
        body = f"{{sa_family={fam}, sa_data={{" + ", ".join(f"{b:02x}" for b in data) + "}}"
    return f"{body}, {_s64(length)}"


# --- per-call printers ---------------------------------------------------------------
# Each returns the text between the parentheses.

Printer = Callable[..., str]


def _p(*parts: str) -> str:
    return ",".join(parts)


def _pr_at_path_flags(tbl):
    return lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), pointer(a[2]), flags(tbl, a[3]))


def _pr_openat(m, a):
    out = [_dirfd(a[0]), _string(m, a[1]), open_flags(a[2])]
    if a[2] & 0o100:
        out.append(file_mode(a[3]))
    return _p(*out)


def _pr_fcntl(m, a):
    fd = _conv("%d", a[0])
    cmd = _s64(a[1])
    if cmd not in FCNTL_CMDS:
        return _p(fd, str(cmd), pointer(a[2]))
    name, kind = FCNTL_CMDS[cmd]
    if kind is None:
        return _p(fd, name)
    if kind == "ld":
        return _p(fd, name, str(_s64(a[2])))
    if kind == "ld,":
        return _p(fd, name, str(_s64(a[2]))) + ","
    if kind == "open":
        return _p(fd, name, open_flags(a[2]))
    if kind == "hex":
        return _p(fd, name, f"0x{a[2] & M64:016x}")
    return _p(fd, name, pointer(a[2]))


def _pr_mmap(m, a):
    return _p(pointer(a[0]), _conv("%d", a[1]), flags(PROT_FLAGS, a[2]), flags(MMAP_FLAGS, a[3]),
              _conv("%d", a[4]), _conv("%#x", a[5]))


def _pr_lseek(m, a):
    whence = SEEK.get(_s64(a[2]))
    return _p(_conv("%d", a[0]), str(_s64(a[1])), whence if whence else _conv("%#x", a[2]))


def _pr_futex(m, a):
    op = a[1] & M32
    base = op & ~(128 | 256)
    if base < len(FUTEX_OPS):
        opname = ("FUTEX_PRIVATE_FLAG|" if op & 128 else "") + \
            ("FUTEX_CLOCK_REALTIME|" if op & 256 else "") + FUTEX_OPS[base]
    else:
        opname = f"0x{op:x}"
    t = timespec(m, a[3]) if base in (0, 9, 6, 13, 11) else pointer(a[3])
    return _p(pointer(a[0]), opname, _conv("%d", a[2]), t, pointer(a[4]), _conv("%d", a[4]))


def _pr_socket(m, a):
    dom, typ, proto = a[0] & M32, a[1] & M32, a[2] & M32
    t = SOCK_TYPES.get(typ & 0xF, "")
    if typ & 0o2000000:
        t += "|SOCK_CLOEXEC"
    if typ & 0o4000:
        t += "|SOCK_NONBLOCK"
    pname = None
    if dom == 16:
        pname = NETLINK_PROTOCOLS.get(proto)
    elif dom == 2 and typ == 10 and proto == 3:
        pname = "ETH_P_ALL"
    elif dom != 17:
        pname = {0: "IPPROTO_IP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 255: "IPPROTO_RAW"}.get(proto)
    return _p(SOCK_DOMAINS.get(dom, str(_s32(dom))), t, pname or str(_s32(proto)))


def _pr_execve(m, a):
    items = []
    addr = a[1]
    while True:
        try:
            p = m.u64(addr)
        except Exception:
            break
        if not p:
            break
        s = _string(m, p)
        if s.startswith('"'):
            items.append(s + ",")
        addr += 8
    return _string(m, a[0]) + ",{" + "".join(items) + "NULL}"


PRINTERS: dict[str, Printer] = {
    "accept": lambda m, a: _p(_conv("%d", a[0]), pointer(a[1]), _number(m, a[2])),
    "acct": lambda m, a: _string(m, a[0]),
    "bind": lambda m, a: _p(str(_s64(a[0])), sockaddr(m, a[1], a[2])),
    "brk": lambda m, a: pointer(a[0]),
    "chdir": lambda m, a: _string(m, a[0]),
    "chroot": lambda m, a: _string(m, a[0]),
    "clock_adjtime": lambda m, a: _p(enum(CLOCKS, a[0]), pointer(a[1])),
    "clock_getres": lambda m, a: _p(enum(CLOCKS, a[0]), pointer(a[1])),
    "clock_gettime": lambda m, a: _p(enum(CLOCKS, a[0]), pointer(a[1])),
    "clock_nanosleep": lambda m, a: _p(enum(CLOCKS, a[0]), _conv("%d", a[1]), timespec(m, a[2]),
                                       timespec(m, a[3])),
    "clock_settime": lambda m, a: _p(enum(CLOCKS, a[0]), timespec(m, a[1])),
    "clone": lambda m, a: _p(flags(CLONE_FLAGS, a[0] & M32), f"child_stack=0x{a[1] & M64:016x}",
                             f"parent_tidptr=0x{a[2] & M64:016x}", f"tls=0x{a[3] & M64:016x}",
                             f"child_tidptr=0x{a[4] & M64:016x}"),  # AArch64: CLONE_BACKWARDS
    "execve": _pr_execve,
    "faccessat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), flags(ACCESS_FLAGS, a[2]),
                                 flags(AT_FILE_FLAGS, a[3])),
    "fallocate": lambda m, a: _p(_conv("%d", a[0]), flags(FALLOC_FLAGS, a[1]), str(_s64(a[2])),
                                 str(_s64(a[3]))),
    "fchmodat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), file_mode(a[2]), flags(AT_FILE_FLAGS, a[3])),
    "fchownat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), _conv("%d", a[2]), _conv("%d", a[3]),
                                flags(AT_FILE_FLAGS, a[4])),
    "fcntl": _pr_fcntl,
    "fgetxattr": lambda m, a: _p(_conv("%d", a[0]), _string(m, a[1]), pointer(a[2]), _conv("%lu", a[3])),
    "flistxattr": lambda m, a: _p(_conv("%d", a[0]), pointer(a[1]), _conv("%lu", a[2])),
    "fremovexattr": lambda m, a: _p(_conv("%d", a[0]), _string(m, a[1])),
    "fstat": lambda m, a: _p(_conv("%d", a[0]), pointer(a[1])),
    "futex": _pr_futex,
    "getitimer": lambda m, a: _p(enum(ITIMERS, a[0]), pointer(a[1])),
    "gettimeofday": lambda m, a: _p(pointer(a[0]), pointer(a[1])),
    "getxattr": lambda m, a: _p(_string(m, a[0]), _string(m, a[1]), pointer(a[2]), _conv("%lu", a[3])),
    "kill": lambda m, a: _p(_conv("%d", a[0]), _signal(a[1])),
    "linkat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), _dirfd(a[2]), _string(m, a[3]),
                              flags(AT_FILE_FLAGS, a[4])),
    "listxattr": lambda m, a: _p(_string(m, a[0]), pointer(a[1]), _conv("%lu", a[2])),
    "lremovexattr": lambda m, a: _p(_string(m, a[0]), _string(m, a[1])),
    "lseek": _pr_lseek,
    "madvise": lambda m, a: _p(pointer(a[0]), _conv("%d", a[1]), enum(MADVISE, a[2])),
    "mkdirat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), file_mode(a[2])),
    "mknodat": lambda m, a: _pr_mknodat(m, a),
    "mlockall": lambda m, a: flags(MLOCKALL_FLAGS, a[0]),
    "mmap": _pr_mmap,
    "mount": lambda m, a: _p(_string(m, a[0]), _string(m, a[1]), _string(m, a[2]), flags(MOUNT_FLAGS, a[3]),
                             pointer(a[4])),
    "mprotect": lambda m, a: _p(pointer(a[0]), _conv("%d", a[1]), flags(PROT_FLAGS, a[2])),
    "munmap": lambda m, a: _p(pointer(a[0]), _conv("%d", a[1])),
    "newfstatat": _pr_at_path_flags(AT_FILE_FLAGS),
    "openat": _pr_openat,
    "readlinkat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), pointer(a[2]), _conv("%u", a[3])),
    "removexattr": lambda m, a: _p(_string(m, a[0]), _string(m, a[1])),
    "renameat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), _dirfd(a[2]), _string(m, a[3])),
    "rt_sigaction": lambda m, a: _p(_signal(a[0]), pointer(a[1]), pointer(a[2])),
    "rt_sigprocmask": lambda m, a: _p({0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"}
                                      .get(_s64(a[0]), "UNKNOWN"), pointer(a[1]), pointer(a[2])),
    "settimeofday": lambda m, a: _p(timeval(m, a[0]), timezone(m, a[1])),
    "setitimer": lambda m, a: _p(enum(ITIMERS, a[0]), itimerval(m, a[1]), pointer(a[2])),
    "socket": _pr_socket,
    "statfs": lambda m, a: _p(_string(m, a[0]), pointer(a[1])),
    "statx": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), flags(STATX_FLAGS, a[2]),
                             flags(STATX_MASK, a[3]), pointer(a[4])),
    "symlinkat": lambda m, a: _p(_string(m, a[0]), _dirfd(a[1]), _string(m, a[2])),
    "tgkill": lambda m, a: _p(_conv("%d", a[0]), _conv("%d", a[1]), _signal(a[2])),
    "tkill": lambda m, a: _p(_conv("%d", a[0]), _signal(a[1])),
    "truncate": lambda m, a: _p(_string(m, a[0]), str(_s64(a[1]))),
    "umount2": lambda m, a: _p(_string(m, a[0]), flags(UMOUNT2_FLAGS, a[1])),
    "unlinkat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), flags(UNLINKAT_FLAGS, a[2])),
    "unshare": lambda m, a: flags(CLONE_FLAGS, a[0]),
    "utimensat": lambda m, a: _p(_dirfd(a[0]), _string(m, a[1]), pointer(a[2]), flags(AT_FILE_FLAGS, a[3])),
}
IPC_CMDS = {0: "IPC_RMID", 1: "IPC_SET", 2: "IPC_STAT", 3: "IPC_INFO", 11: "MSG_STAT", 12: "MSG_INFO",
            13: "SHM_STAT", 14: "SHM_INFO", 15: "GETZCNT", 16: "SETVAL", 17: "SETALL", 18: "SEM_STAT",
            19: "SEM_INFO"}
PRINTERS["semctl"] = lambda m, a: _p(str(_s64(a[0])), str(_s64(a[1])),
                                     IPC_CMDS.get(a[2] & 0xFF, str(a[2] & 0xFF)), f"0x{a[3] & M64:016x}")
PRINTERS["faccessat2"] = PRINTERS["faccessat"]
PRINTERS["lgetxattr"] = PRINTERS["getxattr"]
PRINTERS["llistxattr"] = PRINTERS["listxattr"]


def _number(m, addr: int) -> str:
    if not addr:
        return "NULL"
    try:
        return f"[{_s32(m.u32(addr))}]"
    except Exception:
        return "[0]"


def _pr_mknodat(m, a):
    out = [_dirfd(a[0]), _string(m, a[1]), file_mode(a[2])]
    if a[2] & (0o20000 | 0o60000):
        dev = a[3] & M64
        major = ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)
        minor = (dev & 0xFF) | ((dev >> 12) & ~0xFF)
        out += [f"makedev({major}", f"{minor})"]
    return _p(*out)


# printf formats QEMU 7.2 uses for AArch64 calls.
FORMATS: dict[str, str] = {
    "adjtimex": "%s(%p)", "capget": "%s(%p,%p)", "capset": "%s(%p,%p)", "close": "%s(%d)",
    "close_range": "%s(%u,%u,%u)", "connect": "%s(%d,%#x,%d)", "dup": "%s(%d)", "dup3": "%s(%d,%d,%d)",
    "epoll_create1": "%s(%d)", "eventfd2": "%s(%d,%d)", "exit": "%s(%d)\n", "exit_group": "%s(%d)\n",
    "fchdir": "%s(%d)", "fchmod": "%s(%d,%#o)", "fchown": "%s(%d,%d,%d)", "fdatasync": "%s(%d)",
    "fstatfs": "%s(%d,%p)", "fsync": "%s(%d)", "ftruncate": "%s(%d,%ld)", "getcpu": "%s(%p,%d)",
    "getcwd": "%s(%p,%d)", "getdents64": "%s(%d,%p,%u)", "getegid": "%s()", "geteuid": "%s()",
    "getgid": "%s()", "getpgid": "%s(%u)", "getpid": "%s()", "getppid": "%s()",
    "getpriority": "%s(%#x,%#x)", "getrandom": "%s(%p,%u,%u)", "getsid": "%s(%d)", "gettid": "%s()",
    "getuid": "%s()", "listen": "%s(%d,%d)", "mlock": "%s(%p,%lu)", "mq_getsetattr": "%s(%d,%p,%p)",
    "mq_notify": "%s(%d,%p)", "mq_timedreceive": "%s(%d,%p,%d,%u,%p)", "mq_timedsend": "%s(%d,%p,%d,%u,%p)",
    "munlock": "%s(%p,%lu)", "munlockall": "%s()", "read": "%s(%d,%#x,%d)", "recvmsg": "%s(%d,%p,%#x)",
    "setfsgid": "%s(%u)", "setfsuid": "%s(%u)", "setgid": "%s(%u)", "setpgid": "%s(%u,%u)",
    "setresgid": "%s(%u,%u,%u)", "setresuid": "%s(%u,%u,%u)", "setreuid": "%s(%u,%u)", "setsid": "%s()",
    "sigaltstack": "%s(%p,%p)", "syncfs": "%s(%d)", "timer_settime": "%s(%d,%d,%p,%p)", "umask": "%s(%#o)",
    "uname": "%s(%p)", "waitid": "%s(%#x,%d,%p,%#x)", "write": "%s(%d,%#x,%d)", "writev": "%s(%d,%p,%#x)",
    "pidfd_open": "%s(%d,%u)", "pidfd_getfd": "%s(%d,%d,%u)", "copy_file_range": "%s(%d,%p,%d,%p,%lu,%u)",
}
_DEFAULT = "%s(%ld,%ld,%ld,%ld,%ld,%ld)"

# Calls QEMU 7.2 prints with the default six-number format.
_PLAIN = """accept4 add_key bpf delete_module epoll_ctl epoll_pwait execveat fadvise64 fanotify_init
fanotify_mark finit_module flock fsetxattr get_mempolicy getgroups getpeername getresgid getresuid
getrlimit get_robust_list getrusage getsockname getsockopt init_module inotify_add_watch inotify_init1
inotify_rm_watch io_cancel io_destroy io_getevents ioprio_get ioprio_set io_setup io_submit kcmp
kexec_load keyctl lookup_dcookie lsetxattr mbind membarrier memfd_create migrate_pages mincore mlock2
move_pages mremap msgctl msgget msgrcv msgsnd msync name_to_handle_at nanosleep nfsservctl
perf_event_open personality pivot_root ppoll prctl pread64 preadv prlimit64 process_vm_readv
process_vm_writev pselect6 ptrace pwrite64 pwritev quotactl readahead readv reboot recvfrom recvmmsg
remap_file_pages renameat2 request_key restart_syscall rt_sigpending rt_sigreturn rt_sigsuspend
rt_sigtimedwait sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setparam
sched_setscheduler sched_yield seccomp semget semop semtimedop sendfile sendmmsg sendmsg sendto
setdomainname setgroups sethostname set_mempolicy setns setpriority setregid setrlimit set_robust_list
setsockopt set_tid_address setuid setxattr shmat shmctl shmdt shmget shutdown signalfd4 socketpair
splice swapoff swapon sync sysinfo tee timer_create timer_delete timer_getoverrun timer_gettime
timerfd_create timerfd_gettime timerfd_settime times userfaultfd vhangup vmsplice wait4
sync_file_range pipe2 pidfd_send_signal rt_sigqueueinfo rt_tgsigqueueinfo semctl syslog ioctl""".split()

KNOWN: set[str] = set(FORMATS) | set(PRINTERS) | set(_PLAIN)


# --- results -------------------------------------------------------------------------

def _errstr(err: int) -> str:
    if err == 512:
        return "To be restarted"
    if err == 513:
        return "Successful exit from sigreturn"
    return os.strerror(err)


def _is_error(ret: int) -> bool:
    return (ret & M64) >= (M64 - 4095)


def result_text(mem, name: str, args, ret: int) -> str:
    """The `` = ...`` part, with its newline."""
    if _is_error(ret):
        err = -_s64(ret)
        return f" = -1 errno={err} ({_errstr(err)})\n"
    ret = _s64(ret)
    extra = ""
    if name in ("brk", "mmap", "shmat"):
        return f" = 0x{ret & M64:016x}\n"
    if name in ("clock_gettime", "clock_getres"):
        extra = f" ({timespec(mem, args[1])})"
    elif name == "gettimeofday":
        extra = f" ({timeval(mem, args[0])},{timezone(mem, args[1])})"
    elif name == "getitimer":
        extra = f" ({itimerval(mem, args[1])})"
    elif name == "setitimer":
        extra = f" (old_value = {itimerval(mem, args[2])})"
    elif name == "ioctl":
        extra = _ioctl_result(mem, args)
    return f" = {ret}{extra}\n"


# --- ioctl -----------------------------------------------------------------------------
# name, access ("", "r", "w"), argument type ("null", "int", "ptrint", "termios", "winsize", "ptr")
IOCTLS: dict[int, tuple[str, str, str]] = {
    0x5401: ("TCGETS", "r", "termios"), 0x5402: ("TCSETS", "w", "termios"),
    0x5403: ("TCSETSW", "w", "termios"), 0x5404: ("TCSETSF", "w", "termios"),
    0x5409: ("TCSBRK", "", "int"), 0x540A: ("TCXONC", "", "int"), 0x540B: ("TCFLSH", "", "int"),
    0x540C: ("TIOCEXCL", "", "null"), 0x540D: ("TIOCNXCL", "", "null"), 0x540E: ("TIOCSCTTY", "", "int"),
    0x540F: ("TIOCGPGRP", "r", "ptrint"), 0x5410: ("TIOCSPGRP", "w", "ptrint"),
    0x5411: ("TIOCOUTQ", "r", "ptrint"), 0x5412: ("TIOCSTI", "w", "ptrchar"),
    0x5413: ("TIOCGWINSZ", "r", "winsize"), 0x5414: ("TIOCSWINSZ", "w", "winsize"),
    0x5415: ("TIOCMGET", "r", "ptrint"), 0x5416: ("TIOCMBIS", "w", "ptrint"),
    0x5417: ("TIOCMBIC", "w", "ptrint"), 0x5418: ("TIOCMSET", "w", "ptrint"),
    0x5419: ("TIOCGSOFTCAR", "r", "ptrint"), 0x541A: ("TIOCSSOFTCAR", "w", "ptrint"),
    0x541B: ("FIONREAD", "r", "ptrint"), 0x541C: ("TIOCLINUX", "w", "ptrint"),
    0x541D: ("TIOCCONS", "", "null"), 0x5420: ("TIOCPKT", "w", "ptrint"),
    0x5421: ("FIONBIO", "w", "ptrint"), 0x5422: ("TIOCNOTTY", "", "null"),
    0x5423: ("TIOCSETD", "w", "ptrint"), 0x5424: ("TIOCGETD", "r", "ptrint"),
    0x5425: ("TCSBRKP", "", "int"), 0x5429: ("TIOCGSID", "w", "ptrint"), 0x5450: ("FIONCLEX", "", "null"),
    0x5451: ("FIOCLEX", "", "null"), 0x5452: ("FIOASYNC", "w", "ptrint"),
    0x40045431: ("TIOCSPTLCK", "w", "ptrint"),
}

TERMIOS_IFLAGS = [(1, "IGNBRK"), (2, "BRKINT"), (4, "IGNPAR"), (8, "PARMRK"), (0x10, "INPCK"),
                  (0x20, "ISTRIP"), (0x40, "INLCR"), (0x80, "IGNCR"), (0x100, "ICRNL"), (0x200, "IUCLC"),
                  (0x400, "IXON"), (0x800, "IXANY"), (0x1000, "IXOFF"), (0x2000, "IMAXBEL"),
                  (0x4000, "IUTF8")]
TERMIOS_OFLAGS = [(1, "OPOST"), (2, "OLCUC"), (4, "ONLCR"), (8, "OCRNL"), (0x10, "ONOCR"), (0x20, "ONLRET"),
                  (0x40, "OFILL"), (0x80, "OFDEL")]
TERMIOS_CFLAGS = [(0o100, "CSTOPB"), (0o200, "CREAD"), (0o400, "PARENB"), (0o1000, "PARODD"),
                  (0o2000, "HUPCL"), (0o4000, "CLOCAL"), (0o20000000000, "CRTSCTS")]
TERMIOS_LFLAGS = [(1, "ISIG"), (2, "ICANON"), (4, "XCASE"), (0o10, "ECHO"), (0o20, "ECHOE"), (0o40, "ECHOK"),
                  (0o100, "ECHONL"), (0o200, "NOFLSH"), (0o400, "TOSTOP"), (0o1000, "ECHOCTL"),
                  (0o2000, "ECHOPRT"), (0o4000, "ECHOKE"), (0o10000, "FLUSHO"), (0o40000, "PENDIN"),
                  (0o100000, "IEXTEN"), (0o200000, "EXTPROC")]
BAUDS = {0: "B0", 1: "B50", 2: "B75", 3: "B110", 4: "B134", 5: "B150", 6: "B200", 7: "B300", 8: "B600",
         9: "B1200", 10: "B1800", 11: "B2400", 12: "B4800", 13: "B9600", 14: "B19200", 15: "B38400",
         0o10001: "B57600", 0o10002: "B115200", 0o10003: "B230400", 0o10004: "B460800"}
_OFLAG_ENUMS = [(0o400, {0: "NL0", 0o400: "NL1"}), (0o3000, {0: "CR0", 0o1000: "CR1", 0o2000: "CR2",
                                                             0o3000: "CR3"}),
                (0o14000, {0: "TAB0", 0o4000: "TAB1", 0o10000: "TAB2", 0o14000: "TAB3"}),
                (0o20000, {0: "BS0", 0o20000: "BS1"}), (0o40000, {0: "VT0", 0o40000: "VT1"}),
                (0o100000, {0: "FF0", 0o100000: "FF1"})]


def termios(raw: bytes) -> str:
    i, o, c, lf = struct.unpack_from("<IIII", raw)
    out = "{c_iflag = " + flags(TERMIOS_IFLAGS, i) + ","
    out += "c_oflag = " + flags(TERMIOS_OFLAGS, o & ~0o177400) + ","
    for mask, names in _OFLAG_ENUMS:
        if o & mask:
            out += names.get(o & mask, _conv("%#x", o & mask)) + ","
    out += "c_cflag = "
    if c & 0o10017:
        out += BAUDS.get(c & 0o10017, _conv("%#x", c & 0o10017)) + ","
    if c & 0o60:
        out += {0o20: "CS6", 0o40: "CS7", 0o60: "CS8"}[c & 0o60] + ","
    out += flags(TERMIOS_CFLAGS, c & ~0o10077) + ","
    out += "c_lflag = " + flags(TERMIOS_LFLAGS, lf) + ","
    cc = raw[17:36].split(b"\0", 1)[0]
    out += 'c_cc = "' + cc.decode("latin-1") + '",'
    out += "c_line = '" + chr(raw[16]) + "'}"
    return out


def _ioctl_struct(mem, kind: str, addr: int) -> str | None:
    try:
        if kind == "termios":
            return termios(mem.read(addr, 36))
        if kind == "winsize":
            return "{" + ",".join(map(str, struct.unpack("<HHHH", mem.read(addr, 8)))) + "}"
        if kind == "ptrint":
            return str(_s32(mem.u32(addr)))
        if kind == "ptrchar":
            return str(mem.read(addr, 1)[0])
    except Exception:
        return None
    return None


def _pr_ioctl(m, a):
    fd = _conv("%d", a[0])
    ent = IOCTLS.get(a[1] & M64)
    if ent is None:
        return _p(fd, _conv("%#x", a[1]), _conv("%#x", a[2]))
    name, access, kind = ent
    if kind == "null":
        return _p(fd, name)
    if kind == "int":
        return _p(fd, name, _conv("%d", a[2]))
    if access == "r":
        return _p(fd, name, pointer(a[2]))
    s = _ioctl_struct(m, kind, a[2])
    return _p(fd, name, s if s is not None else pointer(a[2]))


def _ioctl_result(mem, args) -> str:
    ent = IOCTLS.get(args[1] & M64)
    if ent is None or ent[1] != "r":
        return ""
    s = _ioctl_struct(mem, ent[2], args[2])
    return f" ({s if s is not None else pointer(args[2])})"


PRINTERS["ioctl"] = _pr_ioctl


# --- entry points ------------------------------------------------------------------------

def call_text(mem, nr: int, name: str | None, args) -> str:
    """The text logged when a call starts (after the pid)."""
    if name is None or name not in KNOWN:
        return f"Unknown syscall {nr}\n"
    pr = PRINTERS.get(name)
    if pr is not None:
        try:
            return f"{name}({pr(mem, args)})"
        except Exception:  # never let logging break the guest
            pass
    return printf(FORMATS.get(name, _DEFAULT), name, args)


def enter(proc, cpu, nr: int, name: str | None, args) -> None:
    log.write(f"{os.getpid()} {call_text(proc.mem, nr, name, args)}")


def exit(proc, cpu, nr: int, name: str | None, args, ret: int | None) -> None:  # noqa: A001
    if name is None or name not in KNOWN:
        return
    if ret is None:  # the call set the registers itself (rt_sigreturn)
        ret = -513
    log.write(result_text(proc.mem, name, args, ret))
