"""qcow2 reference counts: the refcount table, refcount blocks of 1..64-bit entries, cluster allocation.

Ordering rules that keep a crash harmless (it may leak clusters, never
corrupt): increments reach the disk before any reference to the cluster
(``write_blocks`` runs first in the driver's flush), and decrements are held
back in ``pending`` until the references they drop are on disk
(``apply_pending`` runs last).  A cluster whose refcount is about to drop is
therefore never reused before its old reference is gone.
"""
from __future__ import annotations

import errno
import itertools
import sys
from array import array
from collections.abc import Callable

from ..driver import BlockError, ImageCorruptError
from ..file_io import HostFile
from .cache import TableCache
from .header import MAX_HOST_OFFSET, MAX_REFTABLE_SIZE

REFT_OFFSET_MASK = 0xFFFFFFFFFFFFFE00
_BIG = sys.byteorder == "little"
_WIDE = {3: "B", 4: "H", 5: "I" if array("I").itemsize == 4 else "L", 6: "Q"}


def _sub_byte_tables(order: int) -> tuple[list[tuple[int, ...]], int]:
    bits = 1 << order
    per = 8 // bits
    mask = (1 << bits) - 1
    return [tuple((b >> (i * bits)) & mask for i in range(per)) for b in range(256)], per


def make_codec(order: int) -> tuple[Callable[[bytes], array], Callable[[array], bytes]]:
    """Decode/encode one refcount block of 2^order-bit big-endian (sub-byte: LSB-first) entries."""
    if order >= 3:
        code = _WIDE[order]

        def decode(buf: bytes) -> array:
            a = array(code, buf)
            if _BIG and a.itemsize > 1:
                a.byteswap()
            return a

        def encode(a: array) -> bytes:
            if _BIG and a.itemsize > 1:
                b = array(a.typecode, a)
                b.byteswap()
                return b.tobytes()
            return a.tobytes()
        return decode, encode
    table, per = _sub_byte_tables(order)
    bits = 1 << order

    def decode_sub(buf: bytes) -> array:
        return array("B", itertools.chain.from_iterable(table[b] for b in buf))

    def encode_sub(a: array) -> bytes:
        out = bytearray(len(a) // per)
        for i in range(len(out)):
            v = 0
            for j in range(per):
                v |= a[i * per + j] << (j * bits)
            out[i] = v
        return bytes(out)
    return decode_sub, encode_sub


class Refcounts:
    """The refcount structures of one open image, with a cache of blocks."""

    def __init__(self, f: HostFile, cluster_bits: int, order: int, table_offset: int, table_clusters: int,
                 move_table: Callable[[int, int], None], make_room: Callable[[], None],
                 cache_tables: int = 32) -> None:
        self.f = f
        self.cluster_bits = cluster_bits
        self.cs = 1 << cluster_bits
        self.order = order
        self.max_refcount = (1 << (1 << order)) - 1
        self.entries = (self.cs * 8) >> order  # refcounts per block
        self.table_offset = table_offset
        self.table_clusters = table_clusters
        raw = f.pread_full(table_offset, table_clusters * self.cs)
        tab = array("Q", raw)
        if _BIG:
            tab.byteswap()
        self.table: list[int] = [e & REFT_OFFSET_MASK for e in tab]
        while self.table and self.table[-1] == 0:
            self.table.pop()
        for off in self.table:
            if off % self.cs or off >= MAX_HOST_OFFSET:
                raise ImageCorruptError(f"Refblock offset {off:#x} unaligned or out of range")
        self.table_dirty = False
        self.move_table = move_table
        decode, encode = make_codec(order)
        self.blocks = TableCache(f, self.cs, cache_tables, decode, encode, make_room)
        self.pending: dict[int, int] = {}  # cluster index -> decrements not yet applied
        self.gen = 0  # bumped whenever the table changes (new block or a move)
        #: How many clusters past EOF may legitimately be in use (tables cached but not yet written).
        self.slack = 4096 + 2 * cache_tables
        self.free_hint = 0
        #: Set by the driver: cluster indices that must never be handed out (metadata being moved).
        self.reserved: set[int] = set()

    # --- lookups ------------------------------------------------------------------------
    def get(self, ci: int) -> int:
        t = ci // self.entries
        if t >= len(self.table) or not self.table[t]:
            return 0
        return self.blocks.get(self.table[t])[ci % self.entries]

    def used_clusters(self, limit: int) -> list[int]:
        """Cluster indices below ``limit`` with a nonzero refcount, ascending; cost follows the
        refcount blocks that exist, not the size of a (possibly huge, sparse) file."""
        out: list[int] = []
        for t, off in enumerate(self.table):
            base = t * self.entries
            if not off or base >= limit:
                continue
            blk = self.blocks.get(off)
            out.extend(base + i for i, v in enumerate(blk) if v and base + i < limit)
        return out

    def _block(self, t: int) -> array:
        self._ensure_block(t)
        return self.blocks.get(self.table[t])

    def set(self, ci: int, value: int) -> None:
        if not 0 <= value <= self.max_refcount:
            raise BlockError("Refcount overflow" if value > 0 else "Refcount underflow", errno.ERANGE)
        t = ci // self.entries
        blk = self._block(t)
        blk[ci % self.entries] = value
        self.blocks.mark_dirty(self.table[t])

    def add(self, ci: int, delta: int) -> int:
        v = self.get(ci) + delta
        if v < 0:
            raise ImageCorruptError(f"Refcount of cluster {ci} would drop below zero")
        self.set(ci, v)
        return v

    # --- allocation ----------------------------------------------------------------------
    def _is_free(self, ci: int) -> bool:
        return ci not in self.reserved and self.get(ci) == 0

    def _free_run_at(self, ci: int, n: int) -> bool:
        """Are clusters [ci, ci+n) all free? One C-level count per refcount block (no reserved set)."""
        end = ci + n
        while ci < end:
            t, i = divmod(ci, self.entries)
            k = min(self.entries - i, end - ci)
            if t < len(self.table) and self.table[t]:
                blk = self.blocks.get(self.table[t])
                if blk[i:i + k].count(0) != k:
                    return False
            ci += k
        return True

    def _find_free(self, n: int) -> int:
        """First run of ``n`` free clusters at or after the hint."""
        ci = max(self.free_hint, 1)
        # Clusters in use past the end of the file are only the few tables not yet written back;
        # refcounts claiming more than that are hostile, and scanning them could take forever.
        limit = -(-self.f.size() // self.cs) + 2 * n + self.slack
        if (not self.reserved and ci + n - 1 <= limit and (ci + n) << self.cluster_bits < MAX_HOST_OFFSET
                and self._free_run_at(ci, n)):
            return ci   # the usual case: everything after the hint is free (a growing image)
        run_start, run = ci, 0
        while run < n:
            if ci > limit:
                raise ImageCorruptError("Refcounts claim clusters far past the end of the image file "
                                        "are in use; run 'qemu-img check -r all'")
            if self._is_free(ci):
                if run == 0:
                    run_start = ci
                run += 1
            else:
                run = 0
            ci += 1
        if (run_start + n) << self.cluster_bits >= MAX_HOST_OFFSET:
            raise BlockError("Image file would grow past the maximum qcow2 host offset", errno.EFBIG)
        return run_start

    def _ensure_block(self, t: int) -> None:
        """Give table index ``t`` a refcount block (allocating it, and growing the table, if needed)."""
        while t >= len(self.table) or not self.table[t]:
            if t >= len(self.table):
                if (t + 1) * 8 > MAX_REFTABLE_SIZE:
                    raise BlockError("Refcount table would exceed its maximum size", errno.EFBIG)
                self.table.extend([0] * (t + 1 - len(self.table)))
            b = self._find_free(1)
            bt = b // self.entries
            if bt == t:  # the new block describes itself
                off = b << self.cluster_bits
                blk = self.blocks.decode(bytes(self.cs))
                blk[b % self.entries] = 1
                self.blocks.new(off, blk)
                self.table[t] = off
                self.table_dirty = True
                self.gen += 1
            else:
                self._ensure_block(bt)
                if self._is_free(b):
                    self.set(b, 1)
                    off = b << self.cluster_bits
                    self.blocks.new(off, self.blocks.decode(bytes(self.cs)))
                    self.table[t] = off
                    self.table_dirty = True
                    self.gen += 1

    def alloc(self, n: int = 1) -> int:
        """Allocate ``n`` contiguous clusters with refcount 1; returns the host offset."""
        while True:
            start = self._find_free(n)
            # the blocks for the run must exist before the run is claimed; they may land inside it
            missing = [t for t in range(start // self.entries, (start + n - 1) // self.entries + 1)
                       if t >= len(self.table) or not self.table[t]]
            if not missing:
                break
            self._ensure_block(missing[0])
        ci, end = start, start + n
        while ci < end:   # one slice assignment per refcount block the run covers
            t, i = divmod(ci, self.entries)
            k = min(self.entries - i, end - ci)
            blk = self._block(t)
            blk[i:i + k] = array(blk.typecode, (1,)) * k
            self.blocks.mark_dirty(self.table[t])
            ci += k
        self.free_hint = end
        return start << self.cluster_bits

    def alloc_at(self, ci: int) -> bool:
        """Claim cluster ``ci`` if it is free (used to keep the image compact); False otherwise."""
        if not self._is_free(ci):
            return False
        self._ensure_block(ci // self.entries)
        if not self._is_free(ci):
            return False
        self.set(ci, 1)
        return True

    def free_later(self, offset: int, length: int) -> None:
        """Drop one reference from each cluster of [offset, offset+length) once references are on disk."""
        first = offset >> self.cluster_bits
        last = (offset + max(length, 1) - 1) >> self.cluster_bits
        for ci in range(first, last + 1):
            self.pending[ci] = self.pending.get(ci, 0) + 1

    def apply_pending(self) -> list[int]:
        """Apply held-back decrements; returns the cluster indices that became free."""
        freed = []
        pending, self.pending = self.pending, {}
        for ci, n in sorted(pending.items()):
            cur = self.get(ci)
            v = max(cur - n, 0)
            self.set(ci, v)
            if v == 0:
                freed.append(ci)
                self.free_hint = min(self.free_hint, ci)
        return freed

    # --- writing ----------------------------------------------------------------------------
    def table_bytes(self, clusters: int) -> bytes:
        a = array("Q", self.table)
        if _BIG:
            a.byteswap()
        return a.tobytes() + bytes(clusters * self.cs - len(self.table) * 8)

    def write_blocks(self) -> bool:
        """Write dirty blocks and the table (moving it when it outgrew its clusters); True if anything."""
        wrote = False
        if len(self.table) * 8 > self.table_clusters * self.cs:
            self._relocate_table()
            wrote = True
        wrote = self.blocks.write_dirty() or wrote
        if self.table_dirty:
            self.f.pwrite(self.table_offset, self.table_bytes(self.table_clusters))
            self.table_dirty = False
            wrote = True
        return wrote

    def _relocate_table(self) -> None:
        """Move the table to new clusters: blocks and table first, then the header, then free the old one."""
        while True:
            need = len(self.table) + len(self.table) // 4 + 8
            clusters = -(-need * 8 // self.cs)
            if clusters * self.cs > MAX_REFTABLE_SIZE:
                clusters = MAX_REFTABLE_SIZE // self.cs
            off = self.alloc(clusters)
            if len(self.table) * 8 <= clusters * self.cs:
                break
            for ci in range(off >> self.cluster_bits, (off >> self.cluster_bits) + clusters):
                self.set(ci, 0)
        self.blocks.write_dirty()
        self.f.pwrite(off, self.table_bytes(clusters))
        self.f.flush()
        old_off, old_clusters = self.table_offset, self.table_clusters
        self.table_offset, self.table_clusters = off, clusters
        self.table_dirty = False
        self.gen += 1
        self.move_table(off, clusters)  # rewrites and syncs the header
        self.free_later(old_off, old_clusters * self.cs)
