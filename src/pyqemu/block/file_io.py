"""Host file helpers shared by the image drivers (QEMU's file-posix, the parts we need).

Positional I/O (``os.pread``/``os.pwrite``, so requests from several worker
threads never race on a file position), ``fdatasync``, and the sparse-file
operations: ``fallocate`` (punch hole, zero range, allocate) through libc with
ctypes, and ``SEEK_DATA``/``SEEK_HOLE`` to find allocated extents.  Every
helper turns an ``OSError`` into a :class:`BlockError` carrying its errno.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat

from .driver import BlockError

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10


def _load_libc() -> ctypes.CDLL:
    # glibc's soname first: find_library runs "ldconfig -p", which costs every start-up tens of ms
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


_libc: ctypes.CDLL | None
try:
    _libc = _load_libc()
    _fallocate = _libc.fallocate
    _fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    _fallocate.restype = ctypes.c_int
except (OSError, AttributeError):  # not Linux/glibc: no punch hole, plain writes instead
    _libc = None


def fallocate(fd: int, mode: int, offset: int, length: int) -> bool:
    """``fallocate(2)``; False when the host file system cannot do it (EOPNOTSUPP)."""
    if length <= 0:
        return True
    if _libc is None:
        if mode == 0:
            os.posix_fallocate(fd, offset, length)
            return True
        return False
    if _fallocate(fd, mode, offset, length) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
        return False
    raise BlockError(f"fallocate failed: {os.strerror(err)}", err)


def _error(what: str, exc: OSError) -> BlockError:
    return BlockError(f"{what}: {exc.strerror}", exc.errno or errno.EIO)


def no_flush_requested(options: dict | None) -> bool:
    """QEMU's ``cache=unsafe`` or ``cache.no-flush=on`` in open options."""
    o = options or {}
    v = o.get("cache.no-flush", False)
    return o.get("cache") == "unsafe" or v is True or str(v).lower() in ("on", "true", "1")


class HostFile:
    """One open host file (or block device) with positional, error-mapped I/O."""

    def __init__(self, filename: str, read_only: bool = True, create: bool = False) -> None:
        flags = os.O_RDONLY if read_only else os.O_RDWR
        if create:
            flags |= os.O_CREAT | os.O_TRUNC
        try:
            self.fd = os.open(filename, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise _error(f"Could not open '{filename}'", exc) from None
        self.filename = filename
        self.read_only = read_only
        st = os.fstat(self.fd)
        self.is_block_device = stat.S_ISBLK(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            os.close(self.fd)
            raise BlockError(f"Could not open '{filename}': Is a directory", errno.EISDIR)
        self._can_punch = True
        #: cache=unsafe / cache.no-flush=on: flushes do nothing (qemu-img convert's default)
        self.no_flush = False

    # --- plain I/O -------------------------------------------------------------
    def pread(self, offset: int, length: int) -> bytes:
        """Read up to ``length`` bytes; short only at end of file."""
        try:
            data = os.pread(self.fd, length, offset)
            if len(data) < length and data:
                parts = [data]
                got = len(data)
                while got < length:
                    more = os.pread(self.fd, length - got, offset + got)
                    if not more:
                        break
                    parts.append(more)
                    got += len(more)
                data = b"".join(parts)
            return data
        except OSError as exc:
            raise _error(f"Could not read '{self.filename}'", exc) from None

    def pread_full(self, offset: int, length: int) -> bytes:
        """Read exactly ``length`` bytes, zero-filling past end of file."""
        data = self.pread(offset, length)
        if len(data) < length:
            data += bytes(length - len(data))
        return data

    def pread_into(self, offset: int, view: memoryview) -> None:
        """Fill ``view`` from ``offset`` (zeros past end of file) without allocating a new buffer."""
        try:
            got, n = 0, len(view)
            while got < n:
                k = os.preadv(self.fd, [view[got:]], offset + got)
                if not k:
                    view[got:] = bytes(n - got)
                    break
                got += k
        except OSError as exc:
            raise _error(f"Could not read '{self.filename}'", exc) from None

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        try:
            view = memoryview(data)
            while view:
                n = os.pwrite(self.fd, view, offset)
                view = view[n:]
                offset += n
        except OSError as exc:
            raise _error(f"Could not write '{self.filename}'", exc) from None

    def flush(self) -> None:
        """Make written data durable (QEMU uses fdatasync for flush)."""
        if self.read_only or self.no_flush:
            return
        try:
            os.fdatasync(self.fd)
        except OSError as exc:
            raise _error(f"Could not flush '{self.filename}'", exc) from None

    def size(self) -> int:
        if self.is_block_device:
            return os.lseek(self.fd, 0, os.SEEK_END)
        return os.fstat(self.fd).st_size

    def truncate(self, size: int) -> None:
        try:
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise _error(f"Failed to resize '{self.filename}'", exc) from None

    def allocated_size(self) -> int:
        return os.fstat(self.fd).st_blocks * 512

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # --- sparse files ------------------------------------------------------------
    def punch_hole(self, offset: int, length: int) -> bool:
        """Deallocate host blocks (reads give zeros, file size unchanged); False if unsupported."""
        if not self._can_punch or self.is_block_device:
            return False
        ok = fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)
        if not ok:
            self._can_punch = False
        return ok

    def zero_range(self, offset: int, length: int, may_unmap: bool) -> None:
        """Make [offset, offset+length) read as zeros, cheaply where the host allows."""
        end = self.size()
        if may_unmap and offset + length <= end and self.punch_hole(offset, length):
            return
        if fallocate(self.fd, FALLOC_FL_ZERO_RANGE, offset, length):
            return
        chunk = 1 << 20
        zeros = bytes(min(chunk, length))
        pos = offset
        while pos < offset + length:
            n = min(chunk, offset + length - pos)
            self.pwrite(pos, zeros[:n])
            pos += n

    def allocate(self, offset: int, length: int) -> None:
        """Reserve host blocks (``preallocation=falloc``)."""
        if not fallocate(self.fd, 0, offset, length):
            try:
                os.posix_fallocate(self.fd, offset, length)
            except OSError as exc:
                raise _error("Could not preallocate data", exc) from None

    def extent(self, offset: int) -> tuple[bool, int]:
        """(is_data, end) of the data-or-hole extent that starts at ``offset`` (``SEEK_DATA``/``SEEK_HOLE``).

        Past EOF, or where the host cannot tell, everything counts as data up to EOF.
        """
        size = self.size()
        if offset >= size:
            return False, offset
        try:
            data = os.lseek(self.fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole up to EOF
                return False, size
            return True, size
        if data > offset:
            return False, data
        try:
            hole = os.lseek(self.fd, offset, os.SEEK_HOLE)
        except OSError:
            return True, size
        return True, max(hole, offset + 1)
