"""Guest-to-host mapping through L1/L2 tables: reads, allocating writes with copy-on-write,
discard, zero writes, block status and preallocation (QEMU's qcow2-cluster.c).

A mixin of :class:`~pyqemu.block.qcow2.driver.Qcow2Driver`; the state it uses
(``l1``, ``l2cache``, ``rc``, ``f``, ...) is set up there.
"""
from __future__ import annotations

import errno
import sys
from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..driver import BlockError, BlockStatus
from . import compress as comp

if TYPE_CHECKING:
    from .driver import Qcow2Driver

COPIED = 1 << 63
COMPRESSED = 1 << 62
ZERO = 1
OFFSET_MASK = 0x00FFFFFFFFFFFE00
L1_RESERVED = 0x7F000000000001FF
L2_RESERVED = 0x3F000000000001FE
_SWAP = sys.byteorder == "little"
#: At most this many clusters are allocated and written by one pwrite.
MAX_BATCH = 256


def decode_table(buf: bytes) -> array:
    a = array("Q", buf)
    if _SWAP:
        a.byteswap()
    return a


def encode_table(a: array) -> bytes:
    if _SWAP:
        b = array("Q", a)
        b.byteswap()
        return b.tobytes()
    return a.tobytes()


class ClusterMixin:
    """L1/L2 operations; see the module docstring."""

    # --- lookups -------------------------------------------------------------------
    def _l2_table(self: Qcow2Driver, l1i: int) -> tuple[int, array | None]:
        """(L2 offset, table) for L1 index ``l1i``; (0, None) when unallocated."""
        if l1i >= len(self.l1):
            return 0, None
        e = self.l1[l1i]
        off = e & OFFSET_MASK
        if not off:
            return 0, None
        if off & (self.cs - 1):
            self._corrupt(f"L2 table offset {off:#x} unaligned (L1 index: {l1i:#x})")
        return off, self.l2cache.get(off)

    def _entry(self: Qcow2Driver, ci: int) -> int:
        _, t = self._l2_table(ci >> self.l2_bits)
        return t[ci & (self.l2_entries - 1)] if t is not None else 0

    def _check_data_offset(self: Qcow2Driver, host: int, entry: int) -> None:
        if host & (self.cs - 1):
            self._corrupt(f"Cluster allocation offset {host:#x} unaligned (L2 entry: {entry:#x})")

    def _read_cluster(self: Qcow2Driver, ci: int, entry: int, start: int, length: int) -> bytes:
        """``length`` bytes at ``start`` within guest cluster ``ci`` whose L2 entry is ``entry``."""
        if entry & COMPRESSED:
            return self._read_compressed(entry)[start:start + length]
        host = entry & OFFSET_MASK
        if entry & ZERO and self.hdr.version >= 3:
            return bytes(length)
        if host:
            self._check_data_offset(host, entry)
            return self.f.pread_full(host + start, length)
        return self._read_backing((ci << self.cluster_bits) + start, length)

    def _read_backing(self: Qcow2Driver, offset: int, length: int) -> bytes:
        b = self.backing
        if b is None:
            return bytes(length)
        bsize = b.size
        if offset >= bsize:
            return bytes(length)
        n = min(length, bsize - offset)
        data = b.read(offset, n)
        return data if n == length else data + bytes(length - n)

    def _read_compressed(self: Qcow2Driver, entry: int) -> bytes:
        if self._ccache is not None and self._ccache[0] == entry:
            return self._ccache[1]
        off, n = comp.decode_entry(entry, self.cluster_bits)
        data = comp.decompress(self.f.pread(off, n), self.cs, self.hdr.compression_type)
        self._ccache = (entry, data)
        return data

    # --- reads -----------------------------------------------------------------------------
    def _read_pieces(self: Qcow2Driver, offset: int, length: int) -> Iterator[tuple[int, int, bytes | None]]:
        """(host offset, length, None) for runs to read from the image file, or (0, length, data)."""
        self._check_range(offset, length, self._guest_limit())
        pos, end = offset, offset + length
        cs_mask = self.cs - 1
        while pos < end:
            ci = pos >> self.cluster_bits
            in_off = pos & cs_mask
            n = min(self.cs - in_off, end - pos)
            entry = self._entry(ci)
            host = entry & OFFSET_MASK
            if host and not entry & (COMPRESSED | ZERO):
                # coalesce a run of clusters that are contiguous on the host into one pread
                self._check_data_offset(host, entry)
                run_host = host + in_off
                nxt = host + self.cs
                while pos + n < end:
                    e2 = self._entry(ci + 1)
                    if e2 & OFFSET_MASK != nxt or e2 & (COMPRESSED | ZERO) or e2 & L2_RESERVED:
                        break
                    ci += 1
                    nxt += self.cs
                    n += min(self.cs, end - pos - n)
                yield run_host, n, None
            else:
                yield 0, n, self._read_cluster(ci, entry, in_off, n)
            pos += n

    def read(self: Qcow2Driver, offset: int, length: int) -> bytes:
        out = [self.f.pread_full(host, n) if data is None else data
               for host, n, data in self._read_pieces(offset, length)]
        return out[0] if len(out) == 1 else b"".join(out)   # a single piece as it is: no copy

    def readinto(self: Qcow2Driver, offset: int, view: memoryview) -> None:
        """``read`` into a caller's buffer (host runs are read straight into it)."""
        pos = 0
        for host, n, data in self._read_pieces(offset, len(view)):
            if data is None:
                self.f.pread_into(host, view[pos:pos + n])
            else:
                view[pos:pos + n] = data
            pos += n

    # --- writes ---------------------------------------------------------------------------------
    def _writable_l2(self: Qcow2Driver, l1i: int) -> tuple[int, array]:
        """The L2 table for ``l1i``, allocated or copied (COW) so that this image owns it alone."""
        if l1i >= len(self.l1):
            self._grow_l1(l1i + 1)
        e = self.l1[l1i]
        old = e & OFFSET_MASK
        if old and e & COPIED:
            if old & (self.cs - 1):
                self._corrupt(f"L2 table offset {old:#x} unaligned (L1 index: {l1i:#x})")
            if old not in self._l2_checked:  # an L2 table must not sit on other metadata
                self._check_overlap(old, self.cs, allow=old >> self.cluster_bits)
                self._l2_checked.add(old)
            return old, self.l2cache.get(old)
        new = self.rc.alloc(1)
        self._check_overlap(new, self.cs)
        table = array("Q", self._l2_table(l1i)[1]) if old else array("Q", bytes(self.cs))
        self.l2cache.new(new, table)
        self._set_l1(l1i, new | COPIED)
        if old:  # only now: a flush must never see the old table freed while the L1 still points at it
            self.rc.free_later(old, self.cs)
        return new, table

    def _needs_alloc(self, entry: int) -> bool:
        """Must a write to this cluster go to a newly allocated host cluster?"""
        return not (entry & COPIED and entry & OFFSET_MASK and not entry & COMPRESSED)

    def write(self: Qcow2Driver, offset: int, data: bytes | bytearray | memoryview) -> None:
        self._check_range(offset, len(data), self._guest_limit())
        self._begin_write()
        self._write(offset, memoryview(data).cast("B"))

    def _write(self: Qcow2Driver, offset: int, mv: memoryview) -> None:
        pos, end = 0, len(mv)
        cs, cbits = self.cs, self.cluster_bits
        self._ccache = None
        while pos < end:
            goff = offset + pos
            ci = goff >> cbits
            in_off = goff & (cs - 1)
            l1i, l2i = ci >> self.l2_bits, ci & (self.l2_entries - 1)
            l2off, table = self._writable_l2(l1i)
            entry = table[l2i]
            if not self._needs_alloc(entry):
                host = entry & OFFSET_MASK
                self._check_data_offset(host, entry)
                if host >= self.f.size():  # we never leave an owned data cluster past EOF: hostile
                    self._corrupt(f"Data cluster offset {host:#x} is past the end of the image file")
                n = min(cs - in_off, end - pos)
                if entry & ZERO:  # preallocated zero cluster: the rest of it must read as zeros
                    buf = bytearray(cs)
                    buf[in_off:in_off + n] = mv[pos:pos + n]
                    self._check_overlap(host, cs)
                    self.f.pwrite(host, buf)
                    table[l2i] = host | COPIED
                    self.l2cache.mark_dirty(l2off)
                else:
                    self._check_overlap(host + in_off, n)
                    self.f.pwrite(host + in_off, mv[pos:pos + n])
                self._data_dirty = True   # an overwrite in place needs the next flush's fdatasync too
                pos += n
                continue
            # a run of clusters (in this L2 table) that all need new host clusters
            k = 1
            lim = min(MAX_BATCH, self.l2_entries - l2i, ((offset + end - 1) >> cbits) - ci + 1)
            while k < lim and self._needs_alloc(table[l2i + k]):
                k += 1
            run_end = min((ci + k) << cbits, offset + end)
            tail = run_end & (cs - 1)
            n = run_end - goff
            if in_off or tail:  # copy-on-write: the uncovered parts come from the old contents
                buf: bytearray | memoryview = bytearray(k * cs)
                if in_off:
                    buf[:in_off] = self._read_cluster(ci, entry, 0, in_off)
                if tail:
                    last = ci + k - 1
                    buf[(k - 1) * cs + tail:] = self._read_cluster(last, table[l2i + k - 1], tail, cs - tail)
                buf[in_off:in_off + n] = mv[pos:pos + n]
            else:
                buf = mv[pos:pos + n]
            host = self.rc.alloc(k)
            self._check_overlap(host, len(buf))
            self.f.pwrite(host, buf)
            self._data_dirty = True
            for j in range(k):
                if table[l2i + j]:
                    self._release_entry(table[l2i + j])
            first = host | COPIED
            table[l2i:l2i + k] = array("Q", range(first, first + k * cs, cs))
            self.l2cache.mark_dirty(l2off)
            pos += n

    def _release_entry(self: Qcow2Driver, entry: int, punch: bool = False) -> None:
        """Drop the reference an L2 entry held (after the entry's replacement is on disk)."""
        if entry & COMPRESSED:
            off, n = comp.host_range(entry, self.cluster_bits)
            self.rc.free_later(off, n)
        elif entry & OFFSET_MASK:
            self.rc.free_later(entry & OFFSET_MASK, self.cs)
            if punch:
                self._punch.add((entry & OFFSET_MASK) >> self.cluster_bits)

    def write_compressed(self: Qcow2Driver, offset: int, data: bytes) -> None:
        cs = self.cs
        if offset & (cs - 1) or (len(data) != cs and offset + len(data) != self.size):
            raise BlockError("Compressed writes must be whole, aligned clusters", errno.EINVAL)
        self._check_range(offset, len(data), self.size)
        self._begin_write()
        data = bytes(data) + bytes(cs - len(data))
        packed = comp.compress(data, self.hdr.compression_type)
        if packed is None:
            self._write(offset, memoryview(data))
            return
        ci = offset >> self.cluster_bits
        l2off, table = self._writable_l2(ci >> self.l2_bits)
        l2i = ci & (self.l2_entries - 1)
        host = self._alloc_bytes(len(packed))
        self._check_overlap(host, len(packed))
        self.f.pwrite(host, packed)
        self._data_dirty = True
        self._release_entry(table[l2i])
        table[l2i] = comp.encode_entry(host, len(packed), self.cluster_bits)
        self.l2cache.mark_dirty(l2off)
        self._ccache = None

    def _alloc_bytes(self: Qcow2Driver, n: int) -> int:
        """Byte-granular space for compressed data, packed right after the previous piece, running on
        into the following clusters when they are free (QEMU's qcow2_alloc_bytes)."""
        cs, bits = self.cs, self.cluster_bits
        fbo = self._free_byte_offset
        cur = fbo >> bits
        used = self.rc.get(cur) if fbo & (cs - 1) else 0
        if 0 < used < self.rc.max_refcount:
            extra = ((fbo & (cs - 1)) + n - 1) >> bits  # whole clusters needed past the current one
            claimed = []
            for ci in range(cur + 1, cur + 1 + extra):
                if not self.rc.alloc_at(ci):
                    break
                claimed.append(ci)
            if len(claimed) == extra:
                self.rc.add(cur, 1)
                self._free_byte_offset = fbo + n
                return fbo
            for ci in claimed:  # not contiguous after all: give back what nothing references yet
                self.rc.set(ci, 0)
            self._free_byte_offset = 0
        start = self.rc.alloc(-(-n // cs))
        self._free_byte_offset = start + n
        return start

    # --- discard and zeroes -----------------------------------------------------------------------
    def _whole_clusters(self: Qcow2Driver, offset: int, length: int) -> tuple[int, int]:
        """Guest clusters fully inside [offset, offset+length); the image end counts as a boundary."""
        first = -(-offset // self.cs)
        end = offset + length
        last = end // self.cs if end < self.size else -(-end // self.cs)
        return first, last

    def discard(self: Qcow2Driver, offset: int, length: int) -> None:
        self._check_range(offset, length, self.size)
        self._begin_write()
        first, last = self._whole_clusters(offset, length)
        v3 = self.hdr.version >= 3
        for ci in range(first, last):
            l1i = ci >> self.l2_bits
            if l1i >= len(self.l1) or not self.l1[l1i] & OFFSET_MASK:
                if self.backing is None or not v3:
                    continue
            l2off, table = self._writable_l2(l1i)
            l2i = ci & (self.l2_entries - 1)
            old = table[l2i]
            allocated = bool(old & (OFFSET_MASK | COMPRESSED))
            if v3 and (self.backing is not None or allocated):
                new = ZERO
            elif v3:
                new = old
            else:
                new = 0
            if new != old:
                table[l2i] = new
                self.l2cache.mark_dirty(l2off)
                self._release_entry(old, punch=True)
        self._ccache = None

    def write_zeroes(self: Qcow2Driver, offset: int, length: int, may_unmap: bool = False) -> None:
        self._check_range(offset, length, self.size)
        self._begin_write()
        if self.hdr.version >= 3 and length:
            # QEMU widens an unaligned head or tail to the whole cluster when the rest of it reads as
            # zeros anyway (block status), so the zero flag can be used
            end = offset + length
            if offset % self.cs and self._reads_zero(offset // self.cs):
                offset -= offset % self.cs
            if end % self.cs and end < self.size and self._reads_zero(end // self.cs):
                end = min(-(-end // self.cs) * self.cs, self.size)
            length = end - offset
        first, last = self._whole_clusters(offset, length)
        if self.hdr.version < 3 or first >= last:
            self._write(offset, memoryview(bytes(length)))
            return
        head_end = first * self.cs
        if head_end > offset:
            self._write(offset, memoryview(bytes(head_end - offset)))
        tail_start = min(last * self.cs, offset + length)
        if offset + length > tail_start:
            self._write(tail_start, memoryview(bytes(offset + length - tail_start)))
        for ci in range(first, last):
            l2off, table = self._writable_l2(ci >> self.l2_bits)
            l2i = ci & (self.l2_entries - 1)
            old = table[l2i]
            unmap = may_unmap or bool(old & COMPRESSED)
            new = ZERO if unmap else (old | ZERO)
            if new != old:
                table[l2i] = new
                self.l2cache.mark_dirty(l2off)
                if unmap:
                    self._release_entry(old, punch=True)
        self._ccache = None

    def _reads_zero(self: Qcow2Driver, ci: int) -> bool:
        """Does guest cluster ``ci`` read as zeros by its metadata alone (no data read)?"""
        entry = self._entry(ci)
        if entry & COMPRESSED:
            return False
        if entry & ZERO:
            return True
        return not entry & OFFSET_MASK and self.backing is None

    # --- block status ----------------------------------------------------------------------------
    def _classify(self: Qcow2Driver, entry: int) -> tuple[str, int]:
        if entry & COMPRESSED:
            return "compressed", 0
        host = entry & OFFSET_MASK
        if entry & ZERO and self.hdr.version >= 3:
            return ("zero_alloc", host) if host else ("zero", 0)
        if host:
            return "normal", host
        return "unalloc", 0

    def block_status(self: Qcow2Driver, offset: int, length: int) -> BlockStatus:
        limit = self.size
        length = min(length, limit - offset)
        if length <= 0:
            return BlockStatus(offset, 0, data=False, zero=True, present=False)
        cs = self.cs
        ci = offset >> self.cluster_bits
        kind, host = self._classify(self._entry(ci))
        end = min((ci + 1) * cs, offset + length)
        nxt = host + cs if host else 0
        while end < offset + length:
            k2, h2 = self._classify(self._entry(end >> self.cluster_bits))
            if k2 != kind or (host and h2 != nxt) or kind == "compressed":
                break
            if host:
                nxt += cs
            end = min(end + cs, offset + length)
        n = end - offset
        in_off = offset & (cs - 1)
        if kind == "normal" and not self._metadata_preallocated():
            return BlockStatus(offset, n, data=True, zero=False, offset=host + in_off, filename=self.filename)
        if kind == "normal":
            # a metadata-preallocated image: the host file knows which clusters really hold data
            hoff = host + in_off
            is_data, ext_end = self.f.extent(hoff)
            if ext_end <= hoff:  # past the end of the host file: reads as zeros
                is_data, ext_end = False, hoff + n
            n = max(1, min(n, ext_end - hoff))
            return BlockStatus(offset, n, data=True, zero=not is_data, offset=hoff, filename=self.filename)
        if kind == "zero_alloc":
            return BlockStatus(offset, n, data=False, zero=True, offset=host + in_off, filename=self.filename)
        if kind == "zero":
            return BlockStatus(offset, n, data=False, zero=True)
        if kind == "compressed":
            return BlockStatus(offset, n, data=True, zero=False, compressed=True)
        return BlockStatus(offset, n, data=False, zero=self.backing is None, present=False)

    def _metadata_preallocated(self: Qcow2Driver) -> bool:
        """QEMU's qcow2_detect_metadata_preallocation: far more clusters in use than the host file holds."""
        if self._prealloc_detected is None:
            real = self.f.allocated_size() // self.cs
            threshold = max(real * 10 // 9, real + 2)
            used = self.rc.used_clusters(-(-self.f.size() // self.cs))
            self._prealloc_detected = len(used) >= threshold
        return self._prealloc_detected

    # --- preallocation ------------------------------------------------------------------------------
    def _preallocate(self: Qcow2Driver, start: int, end: int, mode: str) -> None:
        """Give [start, end) host clusters: mapped (metadata), reserved (falloc) or zeroed (full)."""
        if mode == "off" or end <= start:
            return
        if mode not in ("metadata", "falloc", "full"):
            raise BlockError(f"Unsupported preallocation mode '{mode}'", errno.EINVAL)
        cs = self.cs
        ci = start >> self.cluster_bits
        last = -(-end // cs)
        host_end = 0
        while ci < last:
            l2off, table = self._writable_l2(ci >> self.l2_bits)
            l2i = ci & (self.l2_entries - 1)
            k = min(self.l2_entries - l2i, last - ci)
            todo = [j for j in range(k) if not table[l2i + j] & OFFSET_MASK or table[l2i + j] & COMPRESSED]
            if todo:
                host = self.rc.alloc(len(todo))
                for n, j in enumerate(todo):
                    table[l2i + j] = (host + n * cs) | COPIED
                self.l2cache.mark_dirty(l2off)
                host_end = max(host_end, host + len(todo) * cs)
                if host_end > self.f.size():  # keep the file covering what the refcounts say is used
                    self.f.truncate(host_end)
                if mode == "falloc":
                    self.f.allocate(host, len(todo) * cs)
                elif mode == "full":
                    self.f.zero_range(host, len(todo) * cs, may_unmap=False)
                    self.f.allocate(host, len(todo) * cs)
            ci += k
        if host_end > self.f.size():
            self.f.truncate(host_end)
        self._data_dirty = True
