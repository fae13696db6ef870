"""The ``raw`` format: the guest disk is the host file, byte for byte (QEMU raw-format + file-posix).

Sparse like QEMU's: ``create`` truncates (and allocates only the first block),
discard and unmapping zero-writes punch holes, ``block_status`` asks the
host with ``SEEK_DATA``/``SEEK_HOLE``, and flush is ``fdatasync``.
"""
from __future__ import annotations

import errno
from typing import Any, ClassVar

from .driver import BlockDriver, BlockError, BlockStatus
from .file_io import HostFile, no_flush_requested

PREALLOC_MODES = ("off", "falloc", "full")
#: QEMU allocates the first block of a new or truncated raw file so that later
#: O_DIRECT alignment probing finds data there; it shows in ``map`` and ``du``.
FIRST_BLOCK = 4096


def _preallocate(f: HostFile, old: int, new: int, mode: str) -> None:
    if new <= old or mode == "off":
        return
    if mode == "falloc":
        f.allocate(old, new - old)
    elif mode == "full":
        chunk = bytes(1 << 20)
        pos = old
        while pos < new:
            n = min(len(chunk), new - pos)
            f.pwrite(pos, chunk[:n])
            pos += n
    else:
        raise BlockError(f"Unsupported preallocation mode '{mode}'", errno.EINVAL)


class RawDriver(BlockDriver):
    """A raw image: no metadata, no backing file, no snapshots."""

    format_name = "raw"
    create_options: ClassVar[tuple[tuple[str, str, str, Any], ...]] = (
        ("size", "size", "Virtual disk size", None),
        ("preallocation", "string", "Preallocation mode (allowed values: off, falloc, full)", "off"),
    )

    def __init__(self, filename: str, read_only: bool = True, options: dict[str, Any] | None = None) -> None:
        self.filename = filename
        self.read_only = read_only
        self.options = dict(options or {})
        self.file = HostFile(filename, read_only=read_only)
        self.file.no_flush = no_flush_requested(options)

    @classmethod
    def probe(cls, header: bytes, filename: str) -> int:
        return 1  # anything can be raw; every real format scores higher

    @classmethod
    def create(cls, filename: str, size: int, options: dict[str, Any]) -> None:
        mode = str(options.get("preallocation", "off") or "off")
        if mode not in PREALLOC_MODES:
            raise BlockError(f"Invalid parameter '{mode}'", errno.EINVAL)
        if size < 0:
            raise BlockError("Image size must be non-negative", errno.EINVAL)
        f = HostFile(filename, read_only=False, create=True)
        try:
            f.truncate(size)
            _preallocate(f, 0, size, mode)
            if mode == "off" and size:
                f.pwrite(0, bytes(min(size, FIRST_BLOCK)))
        finally:
            f.close()

    def close(self) -> None:
        if self.file.fd >= 0:
            self.file.flush()
            self.file.close()

    @property
    def size(self) -> int:
        """The file size rounded up to whole sectors, as QEMU reports it (the tail reads as zeros)."""
        return -(-self.file.size() // 512) * 512

    def _check_writable(self) -> None:
        if self.read_only:
            raise BlockError("Block node is read-only", errno.EACCES)

    def read(self, offset: int, length: int) -> bytes:
        return self.file.pread_full(offset, length)

    def readinto(self, offset: int, view: memoryview) -> None:
        """``read`` into a caller's buffer: a reused buffer is not faulted in afresh on every read."""
        self.file.pread_into(offset, view)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        self._check_writable()
        self.file.pwrite(offset, data)

    def write_zeroes(self, offset: int, length: int, may_unmap: bool = False) -> None:
        self._check_writable()
        self.file.zero_range(offset, length, may_unmap)

    def discard(self, offset: int, length: int) -> None:
        self._check_writable()
        end = min(offset + length, self.size)
        if end > offset:
            self.file.punch_hole(offset, end - offset)

    def flush(self) -> None:
        self.file.flush()

    def block_status(self, offset: int, length: int) -> BlockStatus:
        size = self.size
        length = min(length, size - offset)
        if length <= 0:
            return BlockStatus(offset, 0, data=False, zero=True, offset=offset, filename=self.filename)
        if offset >= self.file.size():  # the partial sector past EOF
            return BlockStatus(offset, length, data=False, zero=True, offset=offset, filename=self.filename)
        is_data, end = self.file.extent(offset)
        n = max(1, min(end, offset + length) - offset)
        return BlockStatus(offset, n, data=is_data, zero=not is_data, offset=offset, filename=self.filename)

    def truncate(self, size: int, shrink: bool = False, preallocation: str = "off") -> None:
        self._check_writable()
        old = self.size
        if size < old and not shrink:
            raise BlockError("Use the --shrink option to perform a shrink operation.", errno.EINVAL)
        if preallocation not in PREALLOC_MODES:
            raise BlockError(f"Unsupported preallocation mode '{preallocation}'", errno.ENOTSUP)
        if self.file.is_block_device:
            if size > old:
                raise BlockError("Cannot grow device files", errno.EINVAL)
            return
        self.file.truncate(size)
        _preallocate(self.file, old, size, preallocation)

    def info(self) -> dict[str, Any]:
        return {}

    def allocated_file_size(self) -> int:
        return self.file.allocated_size()
