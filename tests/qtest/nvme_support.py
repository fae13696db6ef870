"""A small NVMe host driver for the nvme tests, run against pyqemu's ``-M virt`` or the real
``qemu-system-aarch64 -M virt`` under qtest with the same accesses.

``Rig`` describes drives and ``-device`` strings; ``pyqemu_target``/``qemu_target`` build
the machine. ``NvmeDriver`` does what a driver does: program BAR0 through ECAM, enable the
controller, submit commands and wait for their completion entries (phase tags), create
I/O queue pairs, build PRP lists in guest RAM.
(No tests here: helpers shared by the test_nvme*.py files.)
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qtest_support import QemuQtest, SpaceAccess, poll_until

RAM = 0x40000000
ECAM = 0x4010000000
BAR = 0x10000000
PAGE = 4096
ASQ, ACQ = RAM + 0x100000, RAM + 0x101000
PRP_LISTS = RAM + 0x180000
DATA = RAM + 0x200000
MSIX_TARGET = RAM + 0x1F0000      # MSI-X messages land here: a store in RAM we can read back
UNASSIGNED = 0x0900F000           # between the PL011 and the PL031: nothing answers


@dataclass
class Drive:
    id: str
    path: str
    fmt: str = "raw"
    opts: dict[str, str] = field(default_factory=dict)   # discard=unmap, cache=writethrough...


@dataclass
class Rig:
    drives: list[Drive]
    devices: list[str]


def _dev_opts(text: str) -> dict[str, str]:
    driver, *rest = text.split(",")
    opts = {"driver": driver}
    for kv in rest:
        k, _, v = kv.partition("=")
        opts[k] = v
    return opts


class PyTarget(SpaceAccess):
    """pyqemu's virt board with the rig's drives and devices."""

    name = "pyqemu"

    def __init__(self, rig: Rig) -> None:
        from pyqemu.block.block_backend import BlockBackend
        from pyqemu.block.registry import open_image
        from pyqemu.hw.core.machine import create_machine
        from pyqemu.system import drives, main_loop
        from pyqemu.system.machines import find_machine
        from pyqemu.system.qdev_add import device_add

        drives.clear()
        self.loop = main_loop.get()
        _, self.machine = create_machine(find_machine("virt", "aarch64"), 128 << 20, {})
        self.machine.reset()
        self.blks = []
        for d in rig.drives:
            cache = d.opts.get("cache", "writeback")
            blk = BlockBackend(open_image(d.path, d.fmt, read_only=d.opts.get("readonly") == "on"),
                               name=d.id, discard=d.opts.get("discard", "ignore"),
                               writeback=cache != "writethrough", loop=self.loop)
            drives.register_backend(blk)
            self.blks.append(blk)
        self.devices = [device_add(_dev_opts(t), self.machine) for t in rig.devices]
        self.space = self.machine.address_space_memory

    def settle(self, cond: Callable[[], bool], timeout: float = 10.0) -> bool:
        return cond() or self.loop.run_until(cond, timeout)

    def intx(self) -> int:
        """The level of the GIC input nvme's INTA (slot 1: swizzled to INTB, SPI 4) drives."""
        return self.machine.board.gpex.irqs[1].level

    def close(self) -> None:
        from pyqemu.system import drives
        for blk in self.blks:
            blk.close()
        drives.clear()


class QemuTarget(QemuQtest):
    """Real QEMU 7.2 with the rig's drives and devices, under qtest."""

    name = "qemu"

    def __init__(self, rig: Rig) -> None:
        args: list[str] = []
        for d in rig.drives:
            extra = "".join(f",{k}={v}" for k, v in d.opts.items())
            args += ["-drive", f"if=none,id={d.id},file={d.path},format={d.fmt}{extra}"]
        for t in rig.devices:
            args += ["-device", t]
        super().__init__(args)
        self.intercept_gic()

    def settle(self, cond: Callable[[], bool], timeout: float = 10.0) -> bool:
        return poll_until(cond, timeout, 0.0005)

    def close(self) -> None:
        # SIGTERM: QEMU shuts down in order, writing out its image caches (qcow2 metadata)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                pass
        super().close()

    def intx(self) -> int:
        self.readl(RAM)          # IRQ changes arrive between replies: fetch them
        return self.spi.get(4, 0)


@dataclass
class Cqe:
    dw0: int
    sqhd: int
    sqid: int
    cid: int
    status: int      # the 15-bit status field: SCT << 8 | SC, plus DNR (0x4000), M (0x2000)

    @property
    def sc(self) -> int:
        return self.status & 0x7FF

    @property
    def dnr(self) -> bool:
        return bool(self.status & 0x4000)


class Queue:
    def __init__(self, qid: int, sq: int, cq: int, size: int, cq_size: int | None = None) -> None:
        self.qid, self.sq, self.cq, self.size = qid, sq, cq, size
        self.cq_size = cq_size or size
        self.tail = self.head = 0
        self.phase = 1


class NvmeDriver:
    """Drives the controller at 00:``slot``.0 like a host driver."""

    def __init__(self, t: Any, slot: int = 1) -> None:
        self.t = t
        self.slot = slot
        self.queues: dict[int, Queue] = {}
        self.cid = 0

    # -- PCI ----------------------------------------------------------------------------------
    def cfg(self, reg: int) -> int:
        return ECAM + (self.slot << 15) + reg

    def pci_setup(self, bar: int = BAR, command: int = 0x6) -> None:
        self.t.writel(self.cfg(0x10), bar & 0xFFFFFFFF)
        self.t.writel(self.cfg(0x14), bar >> 32)
        self.t.writew(self.cfg(0x04), command)
        self.bar = bar

    def msix_enable(self, vectors: int = 4) -> None:
        """Point vector v's message at MSIX_TARGET + 4 * v with data 0x100 + v; enable MSI-X."""
        for v in range(vectors):
            e = self.bar + 0x2000 + 16 * v
            self.t.writel(e, (MSIX_TARGET + 4 * v) & 0xFFFFFFFF)
            self.t.writel(e + 4, (MSIX_TARGET + 4 * v) >> 32)
            self.t.writel(e + 8, 0x100 + v)
            self.t.writel(e + 12, 0)
        self.t.writew(self.cfg(0x42), 0x8000)   # MSI-X capability at 0x40: ENABLE

    def msix_messages(self, vectors: int = 4) -> list[int]:
        return [self.t.readl(MSIX_TARGET + 4 * v) for v in range(vectors)]

    def msix_clear(self, vectors: int = 4) -> None:
        self.t.memwrite(MSIX_TARGET, bytes(4 * vectors))

    # -- registers ----------------------------------------------------------------------------
    def reg(self, off: int, size: int = 4) -> int:
        return self.t.readq(self.bar + off) if size == 8 else self.t.readl(self.bar + off)

    def set_reg(self, off: int, value: int, size: int = 4) -> None:
        (self.t.writeq if size == 8 else self.t.writel)(self.bar + off, value)

    def enable(self, entries: int = 32, cc: int = 0x460001) -> int:
        """Program AQA/ASQ/ACQ, write CC; returns CSTS."""
        self.t.memwrite(ACQ, bytes(16 * entries))
        self.set_reg(0x24, (entries - 1) << 16 | (entries - 1))
        self.set_reg(0x28, ASQ, 8)
        self.set_reg(0x30, ACQ, 8)
        self.set_reg(0x14, cc)
        self.queues = {0: Queue(0, ASQ, ACQ, entries)} if cc & 1 else {}
        return self.reg(0x1C)

    def disable(self) -> int:
        self.set_reg(0x14, 0)
        self.queues = {}
        return self.reg(0x1C)

    # -- commands -----------------------------------------------------------------------------
    def submit(self, qid: int, opc: int, *, nsid: int = 0, prp1: int = 0, prp2: int = 0,
               cdw: dict[int, int] | None = None, flags: int = 0, cid: int | None = None,
               ring: bool = True) -> int:
        q = self.queues[qid]
        if cid is None:
            self.cid = (self.cid + 1) & 0xFFFF
            cid = self.cid
        c = bytearray(64)
        struct.pack_into("<BBHI", c, 0, opc, flags, cid, nsid)
        struct.pack_into("<QQ", c, 24, prp1, prp2)
        for n, v in (cdw or {}).items():
            struct.pack_into("<I", c, 4 * n, v & 0xFFFFFFFF)
        self.t.memwrite(q.sq + 64 * q.tail, bytes(c))
        q.tail = (q.tail + 1) % q.size
        if ring:
            self.ring(qid)
        return cid

    def ring(self, qid: int) -> None:
        self.set_reg(0x1000 + 8 * qid, self.queues[qid].tail)

    def peek(self, qid: int) -> bool:
        """Is a new completion entry at the CQ head?"""
        q = self.queues[qid]
        st = struct.unpack("<H", self.t.memread(q.cq + 16 * q.head + 14, 2))[0]
        return (st & 1) == q.phase

    def reap(self, qid: int, timeout: float = 10.0, doorbell: bool = True) -> Cqe:
        q = self.queues[qid]
        if not self.t.settle(lambda: self.peek(qid), timeout):
            raise TimeoutError(f"no completion on queue {qid}")
        raw = self.t.memread(q.cq + 16 * q.head, 16)
        dw0, _dw1, sqhd, sqid, cid, st = struct.unpack("<IIHHHH", raw)
        q.head += 1
        if q.head == q.cq_size:
            q.head = 0
            q.phase ^= 1
        if doorbell:
            self.set_reg(0x1004 + 8 * qid, q.head)
        return Cqe(dw0, sqhd, sqid, cid, st >> 1)

    def cmd(self, qid: int, opc: int, **kw: Any) -> Cqe:
        cid = self.submit(qid, opc, **kw)
        cqe = self.reap(qid)
        assert cqe.cid == cid
        return cqe

    def admin(self, opc: int, **kw: Any) -> Cqe:
        return self.cmd(0, opc, **kw)

    def identify(self, cns: int, nsid: int = 0, buf: int = DATA, cdw11: int = 0) -> tuple[Cqe, bytes]:
        self.t.memwrite(buf, bytes(4096))
        cqe = self.admin(0x06, nsid=nsid, prp1=buf, cdw={10: cns, 11: cdw11})
        return cqe, self.t.memread(buf, 4096)

    def create_io_queues(self, qid: int = 1, size: int = 64, vector: int = 0, ien: bool = True
                         ) -> tuple[Cqe, Cqe]:
        sq, cq = RAM + 0x110000 + 0x10000 * qid, RAM + 0x118000 + 0x10000 * qid
        self.t.memwrite(cq, bytes(16 * size))
        c1 = self.admin(0x05, prp1=cq, cdw={10: (size - 1) << 16 | qid,
                                             11: vector << 16 | (2 if ien else 0) | 1})
        c2 = self.admin(0x01, prp1=sq, cdw={10: (size - 1) << 16 | qid, 11: qid << 16 | 1})
        if c1.status == 0 and c2.status == 0:
            self.queues[qid] = Queue(qid, sq, cq, size)
        return c1, c2

    def prps(self, buf: int, length: int, lists: int = PRP_LISTS) -> tuple[int, int]:
        """PRP1/PRP2 for a page-aligned buffer, writing a (chained) PRP list when needed."""
        pages = [buf + PAGE * i for i in range((length + PAGE - 1) // PAGE)]
        if len(pages) <= 1:
            return buf, 0
        if len(pages) == 2:
            return pages[0], pages[1]
        rest = pages[1:]
        per = PAGE // 8
        addr = lists
        while rest:
            if len(rest) > per:
                chunk, rest = rest[:per - 1], rest[per - 1:]
                nxt = addr + PAGE
                self.t.memwrite(addr, struct.pack(f"<{per}Q", *chunk, nxt))
                addr = nxt
            else:
                self.t.memwrite(addr, struct.pack(f"<{len(rest)}Q", *rest))
                rest = []
        return pages[0], lists

    def rw(self, qid: int, opc: int, nsid: int, slba: int, nlb: int, buf: int = DATA,
           lbasz: int = 512, **kw: Any) -> Cqe:
        prp1, prp2 = self.prps(buf, nlb * lbasz)
        kw.setdefault("prp1", prp1)
        kw.setdefault("prp2", prp2)
        cdw = {10: slba & 0xFFFFFFFF, 11: slba >> 32, 12: (nlb - 1) & 0xFFFF}
        cdw.update(kw.pop("cdw", {}))
        return self.cmd(qid, opc, nsid=nsid, cdw=cdw, **kw)

    def write(self, qid: int, nsid: int, slba: int, data: bytes, buf: int = DATA,
              lbasz: int = 512) -> Cqe:
        self.t.memwrite(buf, data)
        return self.rw(qid, 0x01, nsid, slba, len(data) // lbasz, buf, lbasz)

    def read(self, qid: int, nsid: int, slba: int, nlb: int, buf: int = DATA,
             lbasz: int = 512) -> tuple[Cqe, bytes]:
        self.t.memwrite(buf, bytes(nlb * lbasz))
        cqe = self.rw(qid, 0x02, nsid, slba, nlb, buf, lbasz)
        return cqe, self.t.memread(buf, nlb * lbasz)

    def bringup(self, qid: int = 1, size: int = 64, msix: bool = False) -> None:
        """PCI setup, enable, one I/O queue pair (vector 1 with MSI-X, else 0)."""
        self.pci_setup()
        if msix:
            self.msix_enable()
        assert self.enable() == 1
        c1, c2 = self.create_io_queues(qid, size, vector=1 if msix else 0)
        assert (c1.status, c2.status) == (0, 0)
