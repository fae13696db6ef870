"""The BlockDriver API: what an image format (raw, qcow2) offers the layers above it.

A driver instance is one open image (QEMU's BlockDriverState). Requests are
byte-granular and synchronous; BlockBackend runs them in worker threads and
completes them in the main loop, so nothing here touches asyncio. A driver
that has a backing file holds it as ``backing`` (another driver instance) and
reads fall through to it.

Errors a user can cause (a bad image, a bad option, a missing file) raise
BlockError or a subclass with a QEMU-style message; never a bare
struct.error, IndexError, or an allocation the image's numbers demand.
"""
from __future__ import annotations

import errno as errno_mod
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar


class BlockError(Exception):
    """An error a user sees: QEMU's message text, and an errno when there is one."""

    def __init__(self, message: str, errno: int = errno_mod.EIO) -> None:
        super().__init__(message)
        self.errno = errno


class ImageCorruptError(BlockError):
    """The image's metadata is inconsistent or hostile (QEMU marks it corrupt or refuses it)."""


class UnsupportedError(BlockError):
    """The operation or option does not exist for this format (``-ENOTSUP``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errno_mod.ENOTSUP)


@dataclass(frozen=True)
class BlockStatus:
    """How one extent of the guest disk is stored (one ``qemu-img map --output=json`` line).

    ``data``: the layer holds data for it (or it is preallocated when ``zero`` too);
    ``zero``: it reads as zeros; ``present``: some layer of the chain provides it;
    ``depth``: 0 for this image, n for its n-th backing file;
    ``offset``: host offset of the data in ``filename`` when it can be read raw.
    """
    start: int
    length: int
    data: bool
    zero: bool
    present: bool = True
    depth: int = 0
    offset: int | None = None
    filename: str | None = None
    compressed: bool = False


@dataclass
class SnapshotInfo:
    """One internal snapshot (QAPI SnapshotInfo)."""
    id: str
    name: str
    vm_state_size: int = 0
    date_sec: int = 0
    date_nsec: int = 0
    vm_clock_nsec: int = 0
    icount: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    """What ``check`` found and fixed (QAPI ImageCheck, plus the messages it printed)."""
    corruptions: int = 0
    leaks: int = 0
    check_errors: int = 0
    corruptions_fixed: int = 0
    leaks_fixed: int = 0
    total_clusters: int | None = None
    allocated_clusters: int | None = None
    fragmented_clusters: int | None = None
    compressed_clusters: int | None = None
    image_end_offset: int | None = None
    messages: list[str] = field(default_factory=list)


class BlockDriver(ABC):
    """One open image of one format.

    Subclasses set ``format_name`` and implement the abstract methods; the
    others default to what a format without the feature does in QEMU.
    """
    format_name: ClassVar[str]
    #: Can this format hold a backing file / internal snapshots / compressed clusters?
    supports_backing: ClassVar[bool] = False
    supports_snapshots: ClassVar[bool] = False
    supports_compression: ClassVar[bool] = False
    #: ``qemu-img create -o`` options this format takes: (name, type, help, default),
    #: type one of "size", "bool", "number", "string"; drives ``-o help`` and option typing.
    create_options: ClassVar[tuple[tuple[str, str, str, Any], ...]] = ()

    filename: str
    read_only: bool
    backing: BlockDriver | None = None
    #: The backing file name as the image records it, and its recorded format (None: probe).
    backing_filename: str | None = None
    backing_format: str | None = None

    # --- lifecycle -------------------------------------------------------
    @classmethod
    def probe(cls, header: bytes, filename: str) -> int:
        """Score 0..100 that ``header`` (the file's first bytes) is this format."""
        return 0

    @classmethod
    @abstractmethod
    def create(cls, filename: str, size: int, options: dict[str, Any]) -> None:
        """Make a new image (``qemu-img create -o``); options already typed by the caller."""

    @abstractmethod
    def close(self) -> None:
        """Flush and close; a qcow2 image clears its dirty bit here."""

    # --- I/O ---------------------------------------------------------------
    @property
    @abstractmethod
    def size(self) -> int:
        """Virtual disk size in bytes."""

    @abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """Guest bytes [offset, offset+length); past-EOF reads are the caller's error."""

    @abstractmethod
    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...

    def write_zeroes(self, offset: int, length: int, may_unmap: bool = False) -> None:
        """Make the range read as zeros, without writing data where the format allows."""
        self.write(offset, bytes(length))

    def write_compressed(self, offset: int, data: bytes) -> None:
        """Write one whole, aligned cluster compressed (``convert -c``)."""
        raise UnsupportedError(f"Compression is not supported for format '{self.format_name}'")

    def discard(self, offset: int, length: int) -> None:
        """Unmap the range where whole clusters allow; reads afterwards give zeros or backing data.

        Discard is advisory (QEMU): a format that cannot unmap ignores it.
        """
        del offset, length

    @abstractmethod
    def flush(self) -> None:
        """Everything written so far is on stable storage (fdatasync) when this returns."""

    @abstractmethod
    def block_status(self, offset: int, length: int) -> BlockStatus:
        """The first extent at ``offset`` (at most ``length`` bytes) with uniform status, for this layer."""

    def truncate(self, size: int, shrink: bool = False, preallocation: str = "off") -> None:
        raise UnsupportedError(f"Image format '{self.format_name}' does not support resizing")

    # --- snapshots -----------------------------------------------------------
    def snapshot_list(self) -> list[SnapshotInfo]:
        return []

    def snapshot_create(self, name: str, vm_state: bytes = b"", vm_clock_nsec: int = 0,
                        icount: int | None = None, vm_state_size: int | None = None) -> SnapshotInfo:
        """Take an internal snapshot; the VM state is ``vm_state``, or the first ``vm_state_size``
        bytes already streamed with ``vmstate_write``."""
        raise UnsupportedError(f"Block format '{self.format_name}' does not support internal snapshots")

    def snapshot_apply(self, name_or_id: str) -> SnapshotInfo:
        raise UnsupportedError(f"Block format '{self.format_name}' does not support internal snapshots")

    def snapshot_delete(self, name_or_id: str) -> None:
        raise UnsupportedError(f"Block format '{self.format_name}' does not support internal snapshots")

    def vmstate_read(self, snapshot: SnapshotInfo) -> bytes:
        raise UnsupportedError("No VM state in this image format")

    def vmstate_write(self, pos: int, data: bytes) -> None:
        """Stream VM state into the active image's vm-state area (savevm), before ``snapshot_create``
        with ``vm_state_size``; QEMU's bdrv_save_vmstate."""
        raise UnsupportedError("No VM state in this image format")

    # --- inspection and maintenance -------------------------------------------
    def check(self, repair: str | None = None) -> CheckResult:
        """``qemu-img check [-r leaks|all]``; formats without a check raise UnsupportedError (exit 63)."""
        raise UnsupportedError("This image format does not support checks")

    def info(self) -> dict[str, Any]:
        """Format-specific fields of ``qemu-img info --output=json`` (cluster-size, format-specific, ...)."""
        return {}

    def allocated_file_size(self) -> int:
        """Host bytes the image occupies (``actual-size``: st_blocks * 512)."""
        import os
        return os.stat(self.filename).st_blocks * 512

    def amend(self, options: dict[str, Any]) -> None:
        raise UnsupportedError(f"Format driver '{self.format_name}' does not support option amendment")

    def change_backing_file(self, backing_file: str | None, backing_fmt: str | None) -> None:
        """Rewrite the header's backing pointer only (``rebase -u``)."""
        raise UnsupportedError(f"Operation not supported by format '{self.format_name}'")

    def __enter__(self) -> BlockDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
