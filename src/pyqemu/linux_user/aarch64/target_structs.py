"""AArch64 Linux user ABI: structure layouts and constants that differ by target.

Layouts are little-endian ``struct.Struct`` objects (LP64: long and pointers are
8 bytes). Where the x86_64 kernel uses the same layout the system-call code
hands guest buffers straight to the host; these definitions serve the calls
that must convert, and document the rest.
"""
from __future__ import annotations

import struct

# struct stat (asm-generic/stat.h): dev, ino, mode, nlink, uid, gid, rdev, pad, size, blksize, pad,
# blocks, atime, atime_nsec, mtime, mtime_nsec, ctime, ctime_nsec, 2 x unused
STAT = struct.Struct("<QQIIIIQQqiiqqQqQqQII")
assert STAT.size == 128

# struct statx (identical on every architecture)
STATX = struct.Struct("<IIQIIIHHQQQQ" + "qIi" * 4 + "IIIIQII96x")
assert STATX.size == 256

# struct statfs (asm-generic, 64-bit words): type, bsize, blocks, bfree, bavail, files, ffree,
# fsid[2], namelen, frsize, flags, spare[4]
STATFS = struct.Struct("<qqQQQQQiiqqq32x")
assert STATFS.size == 120

TIMESPEC = struct.Struct("<qq")  # tv_sec, tv_nsec
TIMEVAL = struct.Struct("<qq")  # tv_sec, tv_usec
TIMEZONE = struct.Struct("<ii")
ITIMERSPEC = struct.Struct("<qqqq")
RLIMIT64 = struct.Struct("<QQ")
TMS = struct.Struct("<qqqq")
# struct rusage: ru_utime, ru_stime (timevals) and 14 longs
RUSAGE = struct.Struct("<qqqq14q")
assert RUSAGE.size == 144
# struct sysinfo: uptime, loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap,
# procs, pad, totalhigh, freehigh, mem_unit
SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
assert SYSINFO.size == 112
# struct termios (kernel, NCCS = 19): iflag, oflag, cflag, lflag, line, cc[19]
TERMIOS = struct.Struct("<IIIIB19s")
assert TERMIOS.size == 36
TERMIOS2 = struct.Struct("<IIIIB19sII")  # + ispeed, ospeed
WINSIZE = struct.Struct("<HHHH")
UTSNAME = struct.Struct("<65s65s65s65s65s65s")  # sysname nodename release version machine domainname
# struct linux_dirent64 header: ino, off, reclen, type (name follows)
DIRENT64 = struct.Struct("<QqHB")
# struct epoll_event is not packed on AArch64 (it is on x86_64)
EPOLL_EVENT = struct.Struct("<I4xQ")
HOST_EPOLL_EVENT_X86_64 = struct.Struct("<IQ")
FLOCK = struct.Struct("<hhqqi4x")  # type, whence, start, len, pid
IOVEC = struct.Struct("<QQ")
POLLFD = struct.Struct("<ihh")
# struct msghdr: name, namelen, iov, iovlen, control, controllen, flags
MSGHDR = struct.Struct("<QI4xQQQQI4x")
assert MSGHDR.size == 56
MMSGHDR = struct.Struct("<QI4xQQQQI4xI4x")  # msghdr + msg_len
CMSGHDR = struct.Struct("<QII")  # len, level, type
SIGSET_SIZE = 8

# open(2) flags whose values differ between AArch64 and x86_64
O_DIRECTORY = 0o40000
O_NOFOLLOW = 0o100000
O_DIRECT = 0o200000
O_LARGEFILE = 0o400000
O_ACCMODE = 3
O_CREAT = 0o100
O_CLOEXEC = 0o2000000
O_NONBLOCK = 0o4000
O_TMPFILE = 0o20000000 | O_DIRECTORY

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EMPTY_PATH = 0x1000

UNAME_MACHINE = b"aarch64"
