"""A tiny virtio driver for qtest-level tests: what Linux's virtio_mmio + virtio_blk do, in
register accesses and ring writes in guest RAM, on a ``Bench`` with RAM and one transport."""
from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qtest_support import Bench

from pyqemu.block.block_backend import BlockBackend
from pyqemu.block.registry import open_image
from pyqemu.hw.virtio.virtio_blk import VirtIOBlock
from pyqemu.hw.virtio.virtio_mmio import VirtioMMIO
from pyqemu.system import runstate as rs
from pyqemu.system.main_loop import MainLoop

BASE = 0x0A000000
RAM = 0x40000000
RAM_SIZE = 0x400000

# registers
MAGIC, VERSION, DEVICE_ID, DEV_FEAT, DEV_FEAT_SEL = 0x00, 0x04, 0x08, 0x10, 0x14
DRV_FEAT, DRV_FEAT_SEL, PAGE_SIZE, QSEL, QNUM_MAX, QNUM = 0x20, 0x24, 0x28, 0x30, 0x34, 0x38
QALIGN, QPFN, QREADY, QNOTIFY, ISR, ISR_ACK, STATUS = 0x3C, 0x40, 0x44, 0x50, 0x60, 0x64, 0x70
QDESC, QDRIVER, QDEVICE, GEN, CONFIG = 0x80, 0x90, 0xA0, 0xFC, 0x100

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
NEEDS_RESET = 0x40


class Driver:
    """Drives one virtio-mmio transport (legacy or modern) with queue 0 set up."""

    def __init__(self, bench: Any, loop: MainLoop | None, modern: bool, qsize: int = 16,
                 base: int = BASE) -> None:
        """``bench`` is a Bench or a QemuQtest (then ``loop`` is None and waits poll)."""
        self.b, self.loop, self.modern, self.qsize, self.base = bench, loop, modern, qsize, base
        self.heap = self.data_start = RAM + 0x10000
        self.next_desc = 0
        self.avail_idx = 0
        self.desc = self.avail = self.used = 0
        self.queue = 0

    # -- registers ---------------------------------------------------------------------------------
    def r(self, off: int) -> int:
        return self.b.readl(self.base + off)

    def w(self, off: int, v: int) -> None:
        self.b.writel(self.base + off, v)

    def features(self) -> int:
        self.w(DEV_FEAT_SEL, 1)
        hi = self.r(DEV_FEAT)
        self.w(DEV_FEAT_SEL, 0)
        return hi << 32 | self.r(DEV_FEAT)

    def alloc(self, n: int, align: int = 16) -> int:
        """Guest memory for rings and buffers; buffers wrap around (earlier requests are done)."""
        self.heap = (self.heap + align - 1) & ~(align - 1)
        if self.heap + n > RAM + RAM_SIZE:
            self.heap = self.data_start
        a = self.heap
        self.heap += n
        return a

    def init(self, accept: int | None = None, drop: int = 0) -> int:
        """Reset, negotiate (all offered features minus ``drop``, or ``accept``), queue 0, DRIVER_OK."""
        self.w(STATUS, 0)
        self.w(STATUS, 1)
        self.w(STATUS, 3)
        feats = self.features() if accept is None else accept
        feats &= ~drop
        if self.modern:
            for sel in (0, 1):
                self.w(DRV_FEAT_SEL, sel)
                self.w(DRV_FEAT, feats >> (32 * sel) & 0xFFFFFFFF)
            self.w(STATUS, 0xB)
            assert self.r(STATUS) & 8
        else:
            self.w(PAGE_SIZE, 4096)
            self.w(DRV_FEAT_SEL, 0)
            self.w(DRV_FEAT, feats & 0xFFFFFFFF)
        self.setup_queue(0)
        self.w(STATUS, self.r(STATUS) | 4)
        return feats

    def setup_queue(self, q: int) -> None:
        n = self.qsize
        self.queue = q
        self.w(QSEL, q)
        assert self.r(QNUM_MAX) >= n
        self.w(QNUM, n)
        if self.modern:
            self.desc = self.alloc(16 * n, 16)
            self.avail = self.alloc(6 + 2 * n, 2)
            self.used = self.alloc(6 + 8 * n, 4)
            for off, a in ((QDESC, self.desc), (QDRIVER, self.avail), (QDEVICE, self.used)):
                self.w(off, a & 0xFFFFFFFF)
                self.w(off + 4, a >> 32)
            self.w(QREADY, 1)
        else:
            self.desc = self.alloc(0x3000, 4096)
            self.w(QALIGN, 4096)
            self.w(QPFN, self.desc >> 12)
            self.avail = self.desc + 16 * n
            self.used = (self.avail + 6 + 2 * n + 4095) & ~4095
        self.next_desc = 0
        self.avail_idx = 0
        self.data_start = self.heap

    # -- rings ---------------------------------------------------------------------------------------
    def put_desc(self, table: int, i: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.b.memwrite(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def buffers(self, bufs: list[tuple[bytes | int, bool]]) -> list[tuple[int, int, bool]]:
        out = []
        for data, writable in bufs:
            n = data if isinstance(data, int) else len(data)
            a = self.alloc(n)
            if not isinstance(data, int):
                self.b.memwrite(a, data)
            out.append((a, n, writable))
        return out

    def add_chain(self, bufs: list[tuple[bytes | int, bool]], indirect: bool = False,
                  kick: bool = True) -> tuple[int, list[tuple[int, int, bool]]]:
        """Put a chain in the ring (each buffer: bytes to read, or a size to be written)."""
        placed = self.buffers(bufs)
        if indirect:
            table = self.alloc(16 * len(placed))
            for i, (a, n, wr) in enumerate(placed):
                last = i == len(placed) - 1
                self.put_desc(table, i, a, n, (F_WRITE if wr else 0) | (0 if last else F_NEXT), i + 1)
            head = self.next_desc % self.qsize
            self.next_desc += 1
            self.put_desc(self.desc, head, table, 16 * len(placed), F_INDIRECT, 0)
        else:
            idx = [(self.next_desc + i) % self.qsize for i in range(len(placed))]
            self.next_desc += len(placed)
            head = idx[0]
            for i, (a, n, wr) in enumerate(placed):
                last = i == len(placed) - 1
                self.put_desc(self.desc, idx[i], a, n, (F_WRITE if wr else 0) | (0 if last else F_NEXT),
                              0 if last else idx[i + 1])
        self.publish(head, kick)
        return head, placed

    def publish(self, head: int, kick: bool = True) -> None:
        self.b.writew(self.avail + 4 + 2 * (self.avail_idx % self.qsize), head)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.b.writew(self.avail + 2, self.avail_idx)
        if kick:
            self.w(QNOTIFY, self.queue)

    def used_idx(self) -> int:
        return self.b.readw(self.used + 2)

    def used_elem(self, i: int) -> tuple[int, int]:
        return struct.unpack("<II", self.b.memread(self.used + 4 + 8 * (i % self.qsize), 8))

    def wait_used(self, n: int, timeout: float = 5.0) -> None:
        if self.loop is not None:
            assert self.loop.run_until(lambda: self.used_idx() >= n, timeout), "request did not complete"
            return
        deadline = time.monotonic() + timeout
        while self.used_idx() < n:
            assert time.monotonic() < deadline, "request did not complete"
            time.sleep(0.005)

    # -- virtio-blk requests ---------------------------------------------------------------------------
    def blk_req(self, rtype: int, sector: int = 0, out: bytes = b"", in_len: int = 0,
                indirect: bool = False) -> tuple[int, bytes, int]:
        """One request; returns (status, data read, used length)."""
        bufs: list[tuple[bytes | int, bool]] = [(struct.pack("<IIQ", rtype, 0, sector), False)]
        if out:
            bufs.append((out, False))
        if in_len:
            bufs.append((in_len, True))
        bufs.append((1, True))
        n = self.used_idx()
        _, placed = self.add_chain(bufs, indirect=indirect)
        self.wait_used(n + 1)
        data = self.b.memread(placed[-2][0], in_len) if in_len else b""
        status = self.b.readb(placed[-1][0])
        return status, data, self.used_elem(n)[1]


def make_bench(blk: BlockBackend, *, modern: bool,
               **props: Any) -> tuple[Bench, VirtioMMIO, VirtIOBlock, Any]:
    """RAM + one virtio-mmio transport + a virtio-blk-device on it, using ``blk``."""
    b = Bench(ram_base=RAM, ram_size=RAM_SIZE)
    t = VirtioMMIO()
    t.force_legacy = not modern
    t.dma_as = b.space
    probe = b.add(t, BASE, irqs=1)
    dev = VirtIOBlock()
    dev.blk = blk
    for k, v in props.items():
        setattr(dev, k, v)
    assert t.bus is not None
    dev.qdev_realize(t.bus)
    return b, t, dev, probe


def open_blk(path: str, fmt: str, loop: MainLoop, *, read_only: bool = False, **kw: Any) -> BlockBackend:
    drv = open_image(path, fmt, read_only=read_only)
    return BlockBackend(drv, loop=loop, **kw)


def new_loop() -> MainLoop:
    return MainLoop(rs.VMRunState())


@pytest.fixture(name="loop")
def loop_fixture() -> Iterator[MainLoop]:
    """``loop``: a main loop of the test's own, closed after it (import ``loop_fixture`` into a
    test file to use it)."""
    ml = new_loop()
    yield ml
    ml.close()


def sparse_raw(path: Path, size: int) -> str:
    """A zero-filled (sparse) raw image of ``size`` bytes at ``path``."""
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)
