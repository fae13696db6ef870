"""32-bit ARM (EABI) Linux user ABI: structure layouts that differ from AArch64.

ILP32: long and pointers are 4 bytes; 64-bit members (long long, loff_t, u64)
are 8-byte aligned (EABI). The ``*_time64`` system calls and ``statx``,
``prlimit64``, ``getdents64``, ``epoll_event`` use the same layouts as
AArch64 (see ``aarch64/target_structs.py``); what is here is what differs.
"""
from __future__ import annotations

import struct

# struct stat64 (arch/arm/include/uapi/asm/stat.h): dev (u64), pad0[4], __st_ino (u32), mode,
# nlink, uid, gid, rdev (u64), pad3[4] (+4 alignment), size (s64), blksize (u32), pad (4, EABI alignment),
# blocks (u64), atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec (u32 each), ino (u64)
STAT64 = struct.Struct("<Q4xIIIIIQ8xqI4xQIIIIIIQ")
assert STAT64.size == 104

# struct statfs64 (asm-generic statfs.h, ARM packs it to 4: ARCH_PACK_STATFS64): type, bsize
# (u32), blocks, bfree, bavail, files, ffree (u64), fsid[2], namelen, frsize, flags, spare[4]
STATFS64 = struct.Struct("<IIQQQQQiiIII16x")
assert STATFS64.size == 84

TIMESPEC = struct.Struct("<ii")  # old 32-bit time_t
TIMEVAL = struct.Struct("<ii")
TIMESPEC64 = struct.Struct("<qq")
ITIMERVAL = struct.Struct("<iiii")
RLIMIT = struct.Struct("<II")  # unsigned long rlim_cur, rlim_max
RLIM_INFINITY = 0xFFFFFFFF
TMS = struct.Struct("<iiii")
RUSAGE = struct.Struct("<iiii14i")
assert RUSAGE.size == 72
# struct sysinfo: uptime, loads[3], totalram, freeram, sharedram, bufferram, totalswap,
# freeswap (longs), procs, pad (u16), totalhigh, freehigh, mem_unit (u32), _f[8]
SYSINFO = struct.Struct("<i3I6IHH2II8x")
assert SYSINFO.size == 64
IOVEC = struct.Struct("<II")
# struct msghdr: name, namelen, iov, iovlen, control, controllen, flags
MSGHDR = struct.Struct("<IIIIIII")
CMSGHDR = struct.Struct("<III")  # len, level, type
# struct sigaction as rt_sigaction takes it: handler, flags, restorer, mask (u64)
SIGACTION = struct.Struct("<IIIQ")
assert SIGACTION.size == 20
STACK_T = struct.Struct("<IiI")  # ss_sp, ss_flags, ss_size
ROBUST_LIST_HEAD = struct.Struct("<IiI")  # list.next, futex_offset, list_op_pending
# struct flock64 (EABI): type, whence, pad, start, len, pid, pad
FLOCK64 = struct.Struct("<hh4xqqi4x")
assert FLOCK64.size == 32
SIGSET_SIZE = 8

# open(2) flags: ARM's values differ from the host's (and from AArch64's, which match ARM's)
O_DIRECTORY = 0o40000
O_NOFOLLOW = 0o100000
O_DIRECT = 0o200000
O_LARGEFILE = 0o400000

# fcntl64 commands for struct flock64 (asm-generic fcntl.h, 32-bit)
F_GETLK64, F_SETLK64, F_SETLKW64 = 12, 13, 14

UNAME_MACHINE = b"armv7l"
