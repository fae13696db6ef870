"""NVMe queues and requests: the state of a submission/completion queue pair and of one
command in flight (QEMU ``hw/nvme/nvme.h`` NvmeSQueue, NvmeCQueue, NvmeRequest)."""
from __future__ import annotations

import collections
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyqemu.hw.nvme.ns import Namespace

_CQE = struct.Struct("<IIHHHH")


class SQueue:
    """A submission queue: ``size`` 64-byte entries at guest address ``addr``."""

    def __init__(self, sqid: int, cqid: int, addr: int, size: int) -> None:
        self.sqid, self.cqid, self.addr, self.size = sqid, cqid, addr, size
        self.head = self.tail = 0
        self.outstanding = 0            # fetched, completion not yet posted
        self.deleted = False
        self.busy = False               # processing (no re-entry from completions)
        self.db_addr = self.ei_addr = 0 # shadow doorbell and event index (Doorbell Buffer Config)

    def empty(self) -> bool:
        return self.head == self.tail


class CQueue:
    """A completion queue: ``size`` 16-byte entries, phase tag, interrupt vector."""

    def __init__(self, cqid: int, addr: int, size: int, vector: int, irq_enabled: bool) -> None:
        self.cqid, self.addr, self.size = cqid, addr, size
        self.vector, self.irq_enabled = vector, irq_enabled
        self.head = self.tail = 0
        self.phase = 1
        self.sqs: list[SQueue] = []
        self.waiting: collections.deque[Request] = collections.deque()   # done, not yet posted
        self.db_addr = self.ei_addr = 0

    def full(self) -> bool:
        return (self.tail + 1) % self.size == self.head

    def entry(self, req: Request) -> bytes:
        """The completion entry for ``req`` at the tail, with the current phase tag."""
        return _CQE.pack(req.result & 0xFFFFFFFF, 0, req.sq.head, req.sq.sqid, req.cid,
                         ((req.status << 1) | self.phase) & 0xFFFF)

    def advance(self) -> None:
        self.tail += 1
        if self.tail == self.size:
            self.tail = 0
            self.phase ^= 1


class Request:
    """One command: its 64 bytes, and the status and result (DW0) it completes with."""

    __slots__ = ("sq", "cmd", "opcode", "flags", "cid", "nsid", "status", "result", "ns")

    def __init__(self, sq: SQueue, cmd: bytes) -> None:
        self.sq = sq
        self.cmd = cmd
        self.opcode = cmd[0]
        self.flags = cmd[1]
        self.cid, self.nsid = struct.unpack_from("<HI", cmd, 2)
        self.status = 0
        self.result = 0
        self.ns: Namespace | None = None

    def dw(self, n: int) -> int:
        """Command dword ``n`` (CDW10 is ``dw(10)``)."""
        return int.from_bytes(self.cmd[4 * n:4 * n + 4], "little")

    def qw(self, n: int) -> int:
        """The 64-bit field starting at dword ``n`` (PRP1 is ``qw(6)``, SLBA ``qw(10)``)."""
        return int.from_bytes(self.cmd[4 * n:4 * n + 8], "little")

    @property
    def psdt(self) -> int:
        return (self.flags >> 6) & 3

    @property
    def fuse(self) -> int:
        return self.flags & 3
