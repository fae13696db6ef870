"""Not tests: a tiny virtio-pci driver the virtio-pci qtest tests share (ECAM enumeration, BAR sizing
capability walk, and virtio-blk requests through the modern or the legacy interface with split
rings in guest RAM. It runs on anything with qtest-style accessors (readb/w/l, writeb/w/l,
memread/memwrite) plus ``wait(cond)``: pyqemu's ``-M virt`` and real QEMU under qtest."""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from qtest_support import SpaceAccess, poll_until

ECAM = 0x4010000000
PIO = 0x3EFF0000
MMIO = 0x10000000
MMIO_HIGH = 0x8000000000
RAM = 0x40000000
GICD = 0x08000000
V2M_SETSPI = 0x08020040
V2M_FIRST_SPI = 80          # INTID of the first GICv2m SPI on virt

VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID = 0, 1, 4, 8
CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE, CAP_PCI_CFG = 1, 2, 3, 4, 5


def ecam(bus: int, dev: int, fn: int = 0, reg: int = 0) -> int:
    return ECAM + (bus << 20 | dev << 15 | fn << 12 | reg)


class Ours(SpaceAccess):
    """pyqemu's machine behind the qtest-style accessors."""

    def __init__(self, machine: Any, loop: Any) -> None:
        self.machine = machine
        self.space = machine.address_space_memory
        self.loop = loop

    def wait(self, cond: Callable[[], bool], timeout: float = 5.0) -> bool:
        return bool(self.loop.run_until(cond, timeout))


def qemu_wait(q: Any, cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    """``wait`` for real QEMU under qtest ``q`` (``cond`` reads through it)."""
    return poll_until(cond, timeout)


class Ring:
    """A split virtqueue the test drives: descriptors, avail and used rings in guest RAM."""

    def __init__(self, m: Any, num: int, desc: int, avail: int, used: int) -> None:
        self.m, self.num, self.desc, self.avail, self.used = m, num, desc, avail, used
        self.next_desc = 0
        self.avail_idx = 0
        self.last_used = 0
        m.memwrite(desc, bytes(16 * num))
        m.memwrite(avail, bytes(6 + 2 * num))
        m.memwrite(used, bytes(6 + 8 * num))

    def add(self, bufs: list[tuple[int, int, bool]]) -> int:
        """A chain of (addr, len, device-writable) buffers; returns its head."""
        head = self.next_desc
        for i, (addr, n, writable) in enumerate(bufs):
            d = (self.next_desc + i) % self.num
            nxt = (d + 1) % self.num
            flags = (1 if i + 1 < len(bufs) else 0) | (2 if writable else 0)
            self.m.memwrite(self.desc + 16 * d, struct.pack("<QIHH", addr, n, flags, nxt))
        self.next_desc = (self.next_desc + len(bufs)) % self.num
        slot = self.avail_idx % self.num
        self.m.memwrite(self.avail + 4 + 2 * slot, struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.m.memwrite(self.avail + 2, struct.pack("<H", self.avail_idx))
        return head

    def used_idx(self) -> int:
        return struct.unpack("<H", self.m.memread(self.used + 2, 2))[0]

    def pop_used(self) -> tuple[int, int]:
        slot = self.last_used % self.num
        self.last_used += 1
        return struct.unpack("<II", self.m.memread(self.used + 4 + 8 * slot, 8))


class VirtioPCI:
    """One virtio-pci function at ``bus:dev.0``."""

    def __init__(self, m: Any, wait: Callable[[Callable[[], bool]], bool], dev: int = 1,
                 bus: int = 0) -> None:
        self.m, self.wait_fn, self.base = m, wait, ecam(bus, dev)
        self.bars: dict[int, int] = {}
        self.caps: dict[int, tuple[int, int, int, int]] = {}   # cfg_type -> pos, bar, off, len
        self.mem_ptr = RAM + 0x100000
        self.queues: dict[int, Ring] = {}
        self.legacy = False

    # -- config space --------------------------------------------------------------------------
    def cfg(self, reg: int, size: int = 4) -> int:
        return {1: self.m.readb, 2: self.m.readw, 4: self.m.readl}[size](self.base + reg)

    def cfg_w(self, reg: int, v: int, size: int = 4) -> None:
        {1: self.m.writeb, 2: self.m.writew, 4: self.m.writel}[size](self.base + reg, v)

    def dump(self, n: int = 0x100) -> bytes:
        return b"".join(self.cfg(r).to_bytes(4, "little") for r in range(0, n, 4))

    def bar_sizes(self) -> dict[int, tuple[int, int]]:
        """BAR n -> (flags, size), by writing all-ones (then restoring) as firmware does."""
        out = {}
        n = 0
        while n < 6:
            reg = 0x10 + 4 * n
            orig = self.cfg(reg)
            self.cfg_w(reg, 0xFFFFFFFF)
            lo = self.cfg(reg)
            self.cfg_w(reg, orig)
            is64 = not lo & 1 and (lo >> 1) & 3 == 2
            if is64:
                orig_hi = self.cfg(reg + 4)
                self.cfg_w(reg + 4, 0xFFFFFFFF)
                hi = self.cfg(reg + 4)
                self.cfg_w(reg + 4, orig_hi)
                mask = hi << 32 | (lo & ~0xF)
                size = ((~mask) & ((1 << 64) - 1)) + 1
            elif lo:
                mask = lo & (~0x3 if lo & 1 else ~0xF) & 0xFFFFFFFF
                size = (~mask & (0xFFFF if lo & 1 else 0xFFFFFFFF)) + 1
            else:
                size = 0
            if lo:
                out[n] = (lo & (0x3 if lo & 1 else 0xF), size)
            n += 2 if is64 else 1
        return out

    def walk_caps(self) -> list[tuple[int, int, bytes]]:
        """(position, id, the capability's first 20 bytes) along the list."""
        out = []
        pos = self.cfg(0x34, 1)
        while pos and len(out) < 48:
            raw = b"".join(self.cfg(pos + i, 1).to_bytes(1, "little") for i in range(20))
            out.append((pos, raw[0], raw))
            pos = raw[1]
        return out

    def setup(self) -> None:
        """Map BAR0 (I/O 0x1000), BAR1 (32-bit window), BAR4 (64-bit window); enable decoding
        and bus mastering; read the virtio capabilities."""
        sizes = self.bar_sizes()
        if 0 in sizes:
            self.cfg_w(0x10, 0x1000)
            self.bars[0] = PIO + 0x1000
        if 1 in sizes:
            self.cfg_w(0x14, MMIO)
            self.bars[1] = MMIO
        if 2 in sizes:
            self.cfg_w(0x18, 0x2000)
            self.bars[2] = PIO + 0x2000
        if 4 in sizes:
            self.cfg_w(0x20, MMIO_HIGH & 0xFFFFFFFF)
            self.cfg_w(0x24, MMIO_HIGH >> 32)
            self.bars[4] = MMIO_HIGH
        self.cfg_w(0x04, 0x7, 2)
        for pos, cap_id, raw in self.walk_caps():
            if cap_id == 9:
                cfg_type, bar = raw[3], raw[4]
                off, length = struct.unpack_from("<II", raw, 8)
                self.caps.setdefault(cfg_type, (pos, bar, off, length))
            elif cap_id == 0x11:
                self.msix_cap = pos

    # -- modern ----------------------------------------------------------------------------------
    def region(self, cfg_type: int) -> int:
        _, bar, off, _ = self.caps[cfg_type]
        return self.bars[bar] + off

    def common_r(self, off: int, size: int) -> int:
        a = self.region(CAP_COMMON) + off
        return {1: self.m.readb, 2: self.m.readw, 4: self.m.readl}[size](a)

    def common_w(self, off: int, v: int, size: int) -> None:
        a = self.region(CAP_COMMON) + off
        {1: self.m.writeb, 2: self.m.writew, 4: self.m.writel}[size](a, v)

    def alloc(self, n: int, align: int = 4096) -> int:
        self.mem_ptr = (self.mem_ptr + align - 1) & ~(align - 1)
        a = self.mem_ptr
        self.mem_ptr += n
        return a

    def modern_init(self, nqueues: int = 1, qsize: int = 16, vectors: bool = False) -> int:
        """Reset, ACK, DRIVER, features (VERSION_1 only), FEATURES_OK, queues, DRIVER_OK."""
        self.common_w(0x14, 0, 1)
        self.common_w(0x14, 1, 1)
        self.common_w(0x14, 3, 1)
        self.common_w(0x00, 1, 4)
        hi = self.common_r(0x04, 4)
        self.common_w(0x08, 0, 4)
        self.common_w(0x0C, 0, 4)
        self.common_w(0x08, 1, 4)
        self.common_w(0x0C, hi & 1, 4)
        self.common_w(0x14, 0xB, 1)
        status = self.common_r(0x14, 1)
        if vectors:
            self.common_w(0x10, 0, 2)
        for n in range(nqueues):
            self.common_w(0x16, n, 2)
            self.common_w(0x18, qsize, 2)
            desc = self.alloc(16 * qsize)
            avail = self.alloc(6 + 2 * qsize, 2)
            used = self.alloc(6 + 8 * qsize, 4)
            for off, a in ((0x20, desc), (0x28, avail), (0x30, used)):
                self.common_w(off, a & 0xFFFFFFFF, 4)
                self.common_w(off + 4, a >> 32, 4)
            if vectors:
                self.common_w(0x1A, n + 1, 2)
            self.common_w(0x1C, 1, 2)
            self.queues[n] = Ring(self.m, qsize, desc, avail, used)
        self.common_w(0x14, 0xF, 1)
        return status

    def kick(self, n: int) -> None:
        if self.legacy:
            self.m.writew(self.bars[0] + 0x10, n)
            return
        pos, _, _, _ = self.caps[CAP_NOTIFY]
        mult = self.cfg(pos + 16)
        self.common_w(0x16, n, 2)
        off = self.common_r(0x1E, 2)
        self.m.writew(self.region(CAP_NOTIFY) + off * mult, n)

    # -- legacy ----------------------------------------------------------------------------------
    def legacy_init(self) -> int:
        io = self.bars[0]
        self.legacy = True
        self.m.writeb(io + 0x12, 0)
        self.m.writeb(io + 0x12, 1)
        self.m.writeb(io + 0x12, 3)
        host = self.m.readl(io)
        self.m.writel(io + 4, 0)
        self.m.writew(io + 0x0E, 0)
        num = self.m.readw(io + 0x0C)
        base = self.alloc(0x10000)
        self.m.writel(io + 0x08, base >> 12)
        avail = base + 16 * num
        used = (avail + 6 + 2 * num + 4095) & ~4095
        self.queues[0] = Ring(self.m, num, base, avail, used)
        self.m.writeb(io + 0x12, 7)
        return host

    # -- virtio-blk ------------------------------------------------------------------------------
    def blk_request(self, q: int, rtype: int, sector: int, data: bytes | None = None,
                    length: int = 0) -> tuple[int, bytes]:
        """One request, kicked and waited for: (status, data read)."""
        ring = self.queues[q]
        hdr = self.alloc(16, 16)
        self.m.memwrite(hdr, struct.pack("<IIQ", rtype, 0, sector))
        bufs = [(hdr, 16, False)]
        buf = 0
        if data is not None:
            buf = self.alloc(len(data))
            self.m.memwrite(buf, data)
            bufs.append((buf, len(data), False))
        elif length:
            buf = self.alloc(length)
            self.m.memwrite(buf, b"\xaa" * length)
            bufs.append((buf, length, True))
        st = self.alloc(1, 1)
        self.m.memwrite(st, b"\xff")
        bufs.append((st, 1, True))
        before = ring.used_idx()
        ring.add(bufs)
        self.kick(q)
        assert self.wait_fn(lambda: ring.used_idx() != before), "request not completed"
        ring.pop_used()
        out = self.m.memread(buf, length) if length else b""
        return self.m.memread(st, 1)[0], out
