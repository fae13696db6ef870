"""Split virtqueues (QEMU ``hw/virtio/virtio.c``, the vring half): what a device pops and pushes.

Interface:
  ``VirtQueue``         one queue: ring addresses (``desc``/``avail``/``used``), size ``num``,
                        ``pop()`` -> ``VirtQueueElement`` | None, ``push(elem, len)``,
                        ``should_notify()``, ``set_notification(on)``, ``set_legacy_pfn``.
  ``VirtQueueElement``  one request: ``out_sg`` (device-readable) and ``in_sg`` (device-writable)
                        lists of (guest address, length); ``read_out()``, ``write_in()``.
Spec   Virtio 1.1 section 2.6 (split virtqueues), 2.6.5.3 (indirect), 2.6.7/2.6.10 (event index).

Everything the guest put in the rings is checked: a bad chain (loop, next out of range,
readable after writable, nested or badly sized indirect table, buffers outside RAM, avail
index moved by more than the queue size) makes the device call ``virtio_error`` (QEMU's
messages; NEEDS_RESET, broken until reset) and the queue yields nothing more.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pyqemu.memory import AddressSpace, MemTxError

if TYPE_CHECKING:
    from pyqemu.hw.virtio.virtio import VirtIODevice

VRING_DESC_F_NEXT = 1
VRING_DESC_F_WRITE = 2
VRING_DESC_F_INDIRECT = 4
VRING_USED_F_NO_NOTIFY = 1
VRING_AVAIL_F_NO_INTERRUPT = 1
VIRTQUEUE_MAX_SIZE = 1024
VRING_DESC_SIZE = 16
VIRTIO_NO_VECTOR = 0xFFFF

_DESC = struct.Struct("<QIHH")      # addr, len, flags, next
_USED_ELEM = struct.Struct("<II")   # id, len


def vring_need_event(event_idx: int, new_idx: int, old: int) -> bool:
    """Virtio's vring_need_event: did ``new_idx`` move past ``event_idx`` since ``old``?"""
    return ((new_idx - event_idx - 1) & 0xFFFF) < ((new_idx - old) & 0xFFFF)


def is_ram(as_: AddressSpace, addr: int, length: int) -> bool:
    """Is [addr, addr+length) all RAM (what dma_memory_map can map directly)?"""
    end = addr + length
    if end > 1 << 64:
        return False
    while addr < end:
        r = as_.translate(addr)
        if r is None or r.mr.ram is None:
            return False
        addr = r.end
    return True


class VirtQueueElement:
    """A popped descriptor chain: ``index`` (its head) and the scatter-gather lists."""

    __slots__ = ("index", "out_sg", "in_sg", "_as", "ndescs")

    def __init__(self, index: int, out_sg: list[tuple[int, int]], in_sg: list[tuple[int, int]],
                 as_: AddressSpace) -> None:
        self.index = index
        self.out_sg = out_sg
        self.in_sg = in_sg
        self._as = as_
        self.ndescs = 1

    @property
    def out_len(self) -> int:
        return sum(n for _, n in self.out_sg)

    @property
    def in_len(self) -> int:
        return sum(n for _, n in self.in_sg)

    def read_out(self, offset: int = 0, length: int | None = None) -> bytes:
        """The device-readable bytes (from ``offset``, at most ``length``); MemTxError if the
        guest unmapped RAM under us (checked at pop, so only after a map change)."""
        out = bytearray()
        want = self.out_len - offset if length is None else length
        for addr, n in self.out_sg:
            if want <= 0:
                break
            if offset >= n:
                offset -= n
                continue
            take = min(n - offset, want)
            out += self._as.read(addr + offset, take)
            want -= take
            offset = 0
        return bytes(out)

    def write_in(self, data: bytes | bytearray | memoryview, offset: int = 0) -> int:
        """Scatter ``data`` into the device-writable buffers from ``offset``; returns bytes written."""
        data = memoryview(data).cast("B")
        pos = 0
        for addr, n in self.in_sg:
            if pos >= len(data):
                break
            if offset >= n:
                offset -= n
                continue
            take = min(n - offset, len(data) - pos)
            self._as.write(addr + offset, data[pos:pos + take])
            pos += take
            offset = 0
        return pos


class VirtQueue:
    """One split virtqueue of ``vdev``; see the module docstring."""

    def __init__(self, vdev: VirtIODevice, index: int, num: int) -> None:
        self.vdev = vdev
        self.index = index
        self.num_default = num
        self.num_max = VIRTQUEUE_MAX_SIZE
        self.num = num
        self.align = 4096
        self.desc = 0
        self.avail = 0
        self.used = 0
        self.ready = False
        self.vector = VIRTIO_NO_VECTOR
        self.last_avail_idx = 0
        self.shadow_avail_idx = 0
        self.used_idx = 0
        self.signalled_used = 0
        self.signalled_used_valid = False
        self.notification = True
        self.inuse = 0

    def reset(self) -> None:
        """virtio_queue_reset: rings forgotten, indices zero, size back to the device default."""
        self.desc = self.avail = self.used = 0
        self.ready = False
        self.last_avail_idx = self.shadow_avail_idx = self.used_idx = 0
        self.signalled_used = 0
        self.signalled_used_valid = False
        self.notification = True
        self.vector = VIRTIO_NO_VECTOR
        self.inuse = 0
        self.num = self.num_default
        self.align = 4096

    # -- ring layout ------------------------------------------------------------------------------
    def set_num(self, num: int) -> None:
        """virtio_queue_set_num: a queue can't be switched between existing and not, nor exceed
        the maximum (silently ignored, as QEMU)."""
        if bool(num) != bool(self.num) or num > VIRTQUEUE_MAX_SIZE or num < 0:
            return
        self.num = num

    def set_rings(self, desc: int, avail: int, used: int) -> None:
        self.desc, self.avail, self.used = desc, avail, used

    def update_rings(self) -> None:
        """Legacy layout after desc (virtio_queue_update_rings): avail right after the table,
        used at the next ``align`` boundary."""
        if not self.num or not self.desc:
            return
        self.avail = self.desc + self.num * VRING_DESC_SIZE
        end = self.avail + 4 + 2 * self.num
        self.used = (end + self.align - 1) & ~(self.align - 1)

    def set_legacy_pfn(self, pfn: int, page_size: int = 4096, align: int | None = None) -> None:
        """Legacy QueuePFN: the rings start at ``pfn * page_size`` (align defaults to the last
        QueueAlign, 4096 after reset)."""
        if align is not None:
            self.align = align
        self.desc = pfn * page_size
        self.update_rings()

    def legacy_pfn(self, page_size: int = 4096) -> int:
        return self.desc // page_size if page_size else 0

    # -- ring accessors (little-endian: modern, and legacy on a LE guest) ---------------------------
    @property
    def _as(self) -> AddressSpace:
        return self.vdev.dma

    def avail_flags(self) -> int:
        return self._as.load(self.avail, 2)

    def avail_idx(self) -> int:
        self.shadow_avail_idx = self._as.load(self.avail + 2, 2)
        return self.shadow_avail_idx

    def used_event(self) -> int:
        return self._as.load(self.avail + 4 + 2 * self.num, 2)

    def set_avail_event(self, val: int) -> None:
        if self.notification:
            self._as.store(self.used + 4 + 8 * self.num, val & 0xFFFF, 2)

    def set_notification(self, enable: bool) -> None:
        """Ask the driver to kick (or not) for new buffers (virtio_queue_set_notification)."""
        self.notification = enable
        if not self.desc:
            return
        try:
            if self.vdev.has_feature(29):   # EVENT_IDX (only written while notifications are on)
                self.set_avail_event(self.avail_idx())
            else:
                flags = self._as.load(self.used, 2)
                flags = flags & ~VRING_USED_F_NO_NOTIFY if enable else flags | VRING_USED_F_NO_NOTIFY
                self._as.store(self.used, flags, 2)
        except MemTxError:
            self.vdev.virtio_error("virtio: bogus ring address")

    # -- device side ----------------------------------------------------------------------------------
    def empty(self) -> bool:
        """No new buffers? (virtio_queue_empty; a broken or unset queue is empty)."""
        if not self.avail or self.vdev.broken:
            return True
        if self.shadow_avail_idx != self.last_avail_idx:
            return False
        try:
            return self.avail_idx() == self.last_avail_idx
        except MemTxError:
            return True

    def _num_heads(self) -> int:
        idx = self.last_avail_idx
        avail = self.avail_idx()
        n = (avail - idx) & 0xFFFF
        if n > self.num:
            self.vdev.virtio_error(f"Guest moved used index from {idx} to {avail}")
            return -1
        return n

    def pop(self) -> VirtQueueElement | None:
        """The next available chain, or None (empty, broken, or bad: then virtio_error)."""
        vdev = self.vdev
        if vdev.broken or not self.desc or not self.avail:
            return None
        try:
            return self._pop()
        except MemTxError as e:
            vdev.virtio_error(f"virtio: ring access at 0x{e.addr:x} failed")
            return None

    def _pop(self) -> VirtQueueElement | None:
        vdev = self.vdev
        as_ = self._as
        if self.shadow_avail_idx == self.last_avail_idx:
            n = self._num_heads()
            if n <= 0:
                return None
        elif self._num_heads() < 0:
            return None
        if self.inuse >= self.num:
            vdev.virtio_error("Virtqueue size exceeded")
            return None
        head = as_.load(self.avail + 4 + 2 * (self.last_avail_idx % self.num), 2)
        if head >= self.num:
            vdev.virtio_error(f"Guest says index {head} is available")
            return None
        self.last_avail_idx = (self.last_avail_idx + 1) & 0xFFFF
        if vdev.has_feature(29):   # EVENT_IDX: tell the driver how far we have read
            self.set_avail_event(self.last_avail_idx)

        table, max_ = self.desc, self.num
        addr, length, flags, nxt = _DESC.unpack(as_.read(table + VRING_DESC_SIZE * head, 16))
        if flags & VRING_DESC_F_INDIRECT:
            if not length or length % VRING_DESC_SIZE:
                vdev.virtio_error("Invalid size for indirect buffer table")
                return None
            if not is_ram(as_, addr, length):
                vdev.virtio_error("Cannot map indirect buffer")
                return None
            table, max_ = addr, length // VRING_DESC_SIZE
            addr, length, flags, nxt = _DESC.unpack(as_.read(table, 16))
            indirect = True
        else:
            indirect = False

        out_sg: list[tuple[int, int]] = []
        in_sg: list[tuple[int, int]] = []
        entries = 0
        while True:
            if indirect and flags & VRING_DESC_F_INDIRECT:
                vdev.virtio_error("Nested indirect descriptor")
                return None
            if not length:
                vdev.virtio_error("virtio: zero sized buffers are not allowed")
                return None
            if flags & VRING_DESC_F_WRITE:
                sg = in_sg
            else:
                if in_sg:
                    vdev.virtio_error("Incorrect order for descriptors")
                    return None
                sg = out_sg
            if len(out_sg) + len(in_sg) >= VIRTQUEUE_MAX_SIZE:
                vdev.virtio_error("virtio: too many write descriptors in indirect table")
                return None
            if not is_ram(as_, addr, length):
                vdev.virtio_error("virtio: bogus descriptor or out of resources")
                return None
            sg.append((addr, length))
            entries += 1
            if entries > max_:
                vdev.virtio_error("Looped descriptor")
                return None
            if not flags & VRING_DESC_F_NEXT:
                break
            if nxt >= max_:
                vdev.virtio_error(f"Desc next is {nxt}")
                return None
            addr, length, flags, nxt = _DESC.unpack(as_.read(table + VRING_DESC_SIZE * nxt, 16))
        self.inuse += 1
        elem = VirtQueueElement(head, out_sg, in_sg, as_)
        elem.ndescs = entries
        return elem

    def detach(self, elem: VirtQueueElement) -> None:
        """Give up an element without completing it (virtqueue_detach_element)."""
        self.inuse = max(0, self.inuse - 1)

    def push(self, elem: VirtQueueElement, written: int) -> None:
        """Put ``elem`` in the used ring with ``written`` bytes and publish it (fill + flush)."""
        if self.vdev.broken or not self.used:
            self.inuse = max(0, self.inuse - 1)
            return
        as_ = self._as
        try:
            slot = self.used + 4 + 8 * (self.used_idx % self.num)
            as_.write(slot, _USED_ELEM.pack(elem.index, written))
            old = self.used_idx
            new = (old + 1) & 0xFFFF
            as_.store(self.used + 2, new, 2)
        except MemTxError as e:
            self.inuse = max(0, self.inuse - 1)
            self.vdev.virtio_error(f"virtio: used ring write at 0x{e.addr:x} failed")
            return
        self.used_idx = new
        self.inuse = max(0, self.inuse - 1)
        if ((new - self.signalled_used) & 0xFFFF) < ((new - old) & 0xFFFF):
            self.signalled_used_valid = False

    def should_notify(self) -> bool:
        """virtio_split_should_notify: NOTIFY_ON_EMPTY, then event index or NO_INTERRUPT."""
        vdev = self.vdev
        try:
            if vdev.has_feature(24) and not self.inuse and self.empty():   # NOTIFY_ON_EMPTY
                return True
            if not vdev.has_feature(29):
                return not self.avail_flags() & VRING_AVAIL_F_NO_INTERRUPT
            valid = self.signalled_used_valid
            self.signalled_used_valid = True
            old = self.signalled_used
            new = self.signalled_used = self.used_idx
            return not valid or vring_need_event(self.used_event(), new, old)
        except MemTxError:
            return True
