"""Internal snapshots: the snapshot table (QEMU 7.2 layout, extra data kept), create/apply/delete,
refcount walks over a whole L1 tree, and the vm-state area (QEMU's qcow2-snapshot.c).
"""
from __future__ import annotations

import errno
import os
import struct
import time
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..driver import BlockError, ImageCorruptError, SnapshotInfo
from . import compress as comp
from . import header as H
from .cluster import COMPRESSED, COPIED, OFFSET_MASK, decode_table, encode_table

if TYPE_CHECKING:
    from .driver import Qcow2Driver

_ENTRY = struct.Struct(">QIHHIIQII")  # 40 bytes
_EXTRA = struct.Struct(">QQq")  # vm_state_size_large, disk_size, icount
EXTRA_SIZE = _EXTRA.size  # what QEMU 7.2 writes: 24
MAX_EXTRA = 1024
MAX_TABLE_BYTES = 64 * 1024 * 1024


@dataclass
class Snapshot:
    """One snapshot table entry as stored."""
    l1_table_offset: int
    l1_size: int
    id: str
    name: str
    date_sec: int
    date_nsec: int
    vm_clock_nsec: int
    vm_state_size: int
    disk_size: int
    icount: int  # -1: none
    extra_tail: bytes = b""  # extra data past the fields we know, kept as found

    def info(self) -> SnapshotInfo:
        return SnapshotInfo(id=self.id, name=self.name, vm_state_size=self.vm_state_size,
                            date_sec=self.date_sec, date_nsec=self.date_nsec,
                            vm_clock_nsec=self.vm_clock_nsec,
                            icount=None if self.icount < 0 else self.icount,
                            extra={"disk_size": self.disk_size, "l1_size": self.l1_size})

    def to_bytes(self) -> bytes:
        ident, name = self.id.encode(), self.name.encode()
        extra = _EXTRA.pack(self.vm_state_size, self.disk_size, self.icount) + self.extra_tail
        out = _ENTRY.pack(self.l1_table_offset, self.l1_size, len(ident), len(name), self.date_sec,
                          self.date_nsec, self.vm_clock_nsec, min(self.vm_state_size, 0xFFFFFFFF),
                          len(extra)) + extra + ident + name
        return out + bytes(-len(out) % 8)


def parse_table(buf: bytes, count: int, version: int, cluster_size: int) -> list[Snapshot]:
    """Parse ``count`` entries; every length is checked against ``buf`` before use."""
    snaps = []
    pos = 0
    for i in range(count):
        if pos + _ENTRY.size > len(buf):
            raise ImageCorruptError("Snapshot table is truncated")
        (l1_off, l1_size, id_len, name_len, dsec, dnsec, vmclock, vmsize32,
         extra_size) = _ENTRY.unpack_from(buf, pos)
        pos += _ENTRY.size
        if extra_size > MAX_EXTRA:
            raise ImageCorruptError(f"Too much extra metadata in snapshot table entry {i}")
        if pos + extra_size + id_len + name_len > len(buf):
            raise ImageCorruptError("Snapshot table is truncated")
        extra = buf[pos:pos + extra_size]
        pos += extra_size
        vmsize, disk_size, icount = vmsize32, 0, -1
        if extra_size >= 8:
            vmsize = struct.unpack_from(">Q", extra, 0)[0]
        if extra_size >= 16:
            disk_size = struct.unpack_from(">Q", extra, 8)[0]
        if extra_size >= 24:
            icount = struct.unpack_from(">q", extra, 16)[0]
        ident = buf[pos:pos + id_len].decode("utf-8", "replace")
        pos += id_len
        name = buf[pos:pos + name_len].decode("utf-8", "replace")
        pos += name_len
        pos = (pos + 7) & ~7
        if l1_size > H.MAX_L1_SIZE // 8:
            raise ImageCorruptError("Snapshot L1 table too large")
        if l1_off % cluster_size or l1_off >= H.MAX_HOST_OFFSET:
            raise ImageCorruptError("Snapshot L1 table offset invalid")
        snaps.append(Snapshot(l1_off, l1_size, ident, name, dsec, dnsec, vmclock, vmsize, disk_size, icount,
                              bytes(extra[_EXTRA.size:]) if extra_size > _EXTRA.size else b""))
    return snaps


class SnapshotMixin:
    """Snapshot operations of :class:`~pyqemu.block.qcow2.driver.Qcow2Driver`."""

    def _load_snapshots(self: Qcow2Driver) -> list[Snapshot]:
        h = self.hdr
        if not h.nb_snapshots:
            return []
        # entries are >= 40 bytes; read the lot, bounded by QEMU's limit and the file
        limit = min(MAX_TABLE_BYTES, max(0, self.f.size() - h.snapshots_offset))
        buf = self.f.pread(h.snapshots_offset, limit)
        return parse_table(buf, h.nb_snapshots, h.version, self.cs)

    def _snapshot_table_size(self: Qcow2Driver) -> int:
        return sum(len(s.to_bytes()) for s in self.snapshots)

    def _write_snapshot_table(self: Qcow2Driver, snaps: list[Snapshot]) -> None:
        """Write a new table, point the header at it, then free the old one."""
        data = b"".join(s.to_bytes() for s in snaps)
        if len(data) > MAX_TABLE_BYTES:
            raise BlockError("Snapshot table too large", errno.EFBIG)
        old_off, old_size = self.hdr.snapshots_offset, self._snapshot_table_size() if self.snapshots else 0
        new_off = 0
        if data:
            new_off = self.rc.alloc(-(-len(data) // self.cs))
            self.f.pwrite(new_off, data)
            self._data_dirty = True
        self.flush()
        self._set_header(nb_snapshots=len(snaps), snapshots_offset=new_off)
        self.snapshots = snaps
        if old_off and old_size:
            self.rc.free_later(old_off, old_size)
        self.flush()

    def snapshot_list(self: Qcow2Driver) -> list[SnapshotInfo]:
        return [s.info() for s in self.snapshots]

    def _find_snapshot(self: Qcow2Driver, name_or_id: str) -> int:
        for i, s in enumerate(self.snapshots):
            if s.id == name_or_id:
                return i
        for i, s in enumerate(self.snapshots):
            if s.name == name_or_id:
                return i
        raise BlockError("Can't find snapshot", errno.ENOENT)

    def _read_l1(self: Qcow2Driver, offset: int, size: int) -> array:
        """An L1 table; entries past the end of the file read as 0 without being allocated twice."""
        avail = max(0, min(size * 8, self.f.size() - offset)) & ~7
        table = decode_table(self.f.pread_full(offset, avail)) if avail else array("Q")
        if len(table) < size:
            table.extend(array("Q", bytes(8 * (size - len(table)))))
        return table

    def _walk_refs(self: Qcow2Driver, l1: list[int], delta: int) -> None:
        """Add ``delta`` (+1 now, -1 after the next flush) to every L2 table and cluster the L1 reaches."""
        cs = self.cs
        for e in l1:
            l2off = e & OFFSET_MASK
            if not l2off:
                continue
            if l2off & (cs - 1):
                raise ImageCorruptError(f"L2 table offset {l2off:#x} unaligned")
            for entry in self.l2cache.get(l2off):
                if entry & COMPRESSED:
                    off, n = comp.host_range(entry, self.cluster_bits)
                    first, last = off >> self.cluster_bits, (off + n - 1) >> self.cluster_bits
                    for ci in range(first, last + 1):
                        self.rc.add(ci, 1) if delta > 0 else self.rc.free_later(ci << self.cluster_bits, 1)
                elif entry & OFFSET_MASK:
                    if delta > 0:
                        self.rc.add((entry & OFFSET_MASK) >> self.cluster_bits, 1)
                    else:
                        self.rc.free_later(entry & OFFSET_MASK, cs)
                        self._punch.add((entry & OFFSET_MASK) >> self.cluster_bits)
            if delta > 0:
                self.rc.add(l2off >> self.cluster_bits, 1)
            else:
                self.rc.free_later(l2off, cs)

    def _check_headroom(self: Qcow2Driver, l1: list[int]) -> None:
        """Refuse (before changing anything) a +1 walk that would overflow a refcount (QEMU: -ERANGE)."""
        adds: dict[int, int] = {}
        for e in l1:
            l2off = e & OFFSET_MASK
            if not l2off:
                continue
            adds[l2off >> self.cluster_bits] = adds.get(l2off >> self.cluster_bits, 0) + 1
            for entry in self.l2cache.get(l2off):
                if entry & COMPRESSED:
                    off, n = comp.host_range(entry, self.cluster_bits)
                    for ci in range(off >> self.cluster_bits, ((off + n - 1) >> self.cluster_bits) + 1):
                        adds[ci] = adds.get(ci, 0) + 1
                elif entry & OFFSET_MASK:
                    ci = (entry & OFFSET_MASK) >> self.cluster_bits
                    adds[ci] = adds.get(ci, 0) + 1
        limit = self.rc.max_refcount
        for ci, n in adds.items():
            if self.rc.get(ci) + n > limit:
                raise BlockError(os.strerror(errno.ERANGE), errno.ERANGE)

    def _fix_copied(self: Qcow2Driver) -> None:
        """Set COPIED exactly where the refcount is 1, in the active L1 and its L2 tables."""
        for i, e in enumerate(self.l1):
            l2off = e & OFFSET_MASK
            if not l2off:
                if e:
                    self._set_l1(i, 0)
                continue
            want = l2off | (COPIED if self.rc.get(l2off >> self.cluster_bits) == 1 else 0)
            if want != e:
                self._set_l1(i, want)
            table = self.l2cache.get(l2off)
            changed = False
            for j, entry in enumerate(table):
                host = entry & OFFSET_MASK
                if entry & COMPRESSED or not host:
                    continue
                copied = bool(entry & COPIED)
                if copied != (self.rc.get(host >> self.cluster_bits) == 1):
                    table[j] = entry ^ COPIED
                    changed = True
            if changed:
                self.l2cache.mark_dirty(l2off)

    def vmstate_offset(self: Qcow2Driver) -> int:
        """Guest offset of the vm-state area: the first L1 entry past the disk."""
        per_l1 = self.cs << self.l2_bits
        return -(-self.size // per_l1) * per_l1

    def vmstate_write(self: Qcow2Driver, pos: int, data: bytes) -> None:
        self._begin_write()
        start = self.vmstate_offset() + pos
        need_l1 = -(-(start + len(data)) // (self.cs << self.l2_bits))
        if need_l1 > len(self.l1):
            self._grow_l1(need_l1)
        self._write(start, memoryview(data).cast("B"))

    def snapshot_create(self: Qcow2Driver, name: str, vm_state: bytes = b"", vm_clock_nsec: int = 0,
                        icount: int | None = None, vm_state_size: int | None = None) -> SnapshotInfo:
        self._begin_write()
        if len(self.snapshots) >= H.MAX_SNAPSHOTS:
            raise BlockError("Too many snapshots", errno.EFBIG)
        ids = [int(s.id) for s in self.snapshots if s.id.isdigit()]
        new_id = str(max(ids, default=0) + 1)
        vm_off = self.vmstate_offset()
        self._check_headroom(self.l1)
        if vm_state:
            self.vmstate_write(0, vm_state)
        vm_size = len(vm_state) if vm_state_size is None else vm_state_size
        self.flush()
        # copy the active L1, then take a reference on everything it reaches
        n = len(self.l1)
        l1_copy = array("Q", self.l1)
        l1_off = self.rc.alloc(-(-n * 8 // self.cs)) if n else 0
        if n:
            self.f.pwrite(l1_off, encode_table(l1_copy))
            self._data_dirty = True
        self._walk_refs(self.l1, +1)
        self._fix_copied()
        self.flush()
        now = time.time_ns()
        snap = Snapshot(l1_off, n, new_id, name, now // 1_000_000_000, now % 1_000_000_000, vm_clock_nsec,
                        vm_size, self.size, -1 if icount is None else icount)
        self._write_snapshot_table(self.snapshots + [snap])
        if vm_size:
            # the active image does not need the vm state (QEMU drops it to avoid COW on the next one)
            self._full_discard(vm_off >> self.cluster_bits, -(-(vm_off + vm_size) // self.cs))
            self.flush()
        return snap.info()

    def snapshot_apply(self: Qcow2Driver, name_or_id: str) -> SnapshotInfo:
        self._begin_write()
        snap = self.snapshots[self._find_snapshot(name_or_id)]
        self.flush()
        sn_l1 = self._read_l1(snap.l1_table_offset, snap.l1_size)
        if snap.disk_size and snap.disk_size != self.size:
            self._set_header(size=snap.disk_size)
        self._check_headroom(sn_l1)
        if len(sn_l1) > len(self.l1):
            self._grow_l1(len(sn_l1), exact=True)
        self._walk_refs(sn_l1, +1)
        self._walk_refs(self.l1, -1)
        pad = array("Q", bytes(8 * (len(self.l1) - len(sn_l1))))
        self.l1 = array("Q", [e & ~COPIED for e in sn_l1]) + pad
        self.l1_dirty = True
        self._meta_gen += 1
        self.flush()
        self._fix_copied()
        self.flush()
        self._ccache = None
        return snap.info()

    def snapshot_delete(self: Qcow2Driver, name_or_id: str) -> None:
        self._begin_write()
        i = self._find_snapshot(name_or_id)
        snap = self.snapshots[i]
        self.flush()
        sn_l1 = self._read_l1(snap.l1_table_offset, snap.l1_size)
        self._write_snapshot_table(self.snapshots[:i] + self.snapshots[i + 1:])
        self._walk_refs(sn_l1, -1)
        if snap.l1_size:
            self.rc.free_later(snap.l1_table_offset, snap.l1_size * 8)
        self.flush()
        self._fix_copied()
        self.flush()

    def vmstate_read(self: Qcow2Driver, snapshot: SnapshotInfo) -> bytes:
        snap = next((s for s in self.snapshots if s.id == snapshot.id), None)
        if snap is None:
            raise BlockError("Can't find snapshot", errno.ENOENT)
        per_l1 = self.cs << self.l2_bits
        start = -(-snap.disk_size // per_l1) * per_l1 if snap.disk_size else self.vmstate_offset()
        # saved VM state is written data: it cannot be larger than the file or than the L1 maps
        if snap.vm_state_size > self.f.size() or start + snap.vm_state_size > snap.l1_size * per_l1:
            raise ImageCorruptError(f"Snapshot '{snap.name}' claims {snap.vm_state_size} bytes of VM state, "
                                    "more than the image holds")
        l1 = self._read_l1(snap.l1_table_offset, snap.l1_size)
        out = bytearray()
        pos, end = start, start + snap.vm_state_size
        while pos < end:
            ci = pos >> self.cluster_bits
            in_off = pos & (self.cs - 1)
            n = min(self.cs - in_off, end - pos)
            l1i = ci >> self.l2_bits
            entry = 0
            if l1i < len(l1) and l1[l1i] & OFFSET_MASK:
                entry = self.l2cache.get(l1[l1i] & OFFSET_MASK)[ci & (self.l2_entries - 1)]
            out += self._read_cluster(ci, entry, in_off, n) if entry else bytes(n)
            pos += n
        return bytes(out)
