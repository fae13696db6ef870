"""``qemu-img check`` for qcow2: recompute every refcount from the references, compare, repair.

Follows QEMU's qcow2_check_refcounts: the header, the active L1 and its L2
tables (with allocation/fragmentation statistics), every snapshot's L1 tree,
the snapshot table and the refcount structures are counted; mismatches print
QEMU's messages ("ERROR cluster N refcount=S reference=R", "Leaked cluster
...", "Repairing ..."); a reference to a cluster whose stored refcount is 0
makes ``-r all`` rebuild the whole refcount structure; COPIED flags are
checked against the (repaired) refcounts last.
"""
from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from ..driver import CheckResult, ImageCorruptError
from . import bitmaps
from . import compress as comp
from .cluster import COMPRESSED, COPIED, OFFSET_MASK, encode_table
from .refcount import Refcounts, make_codec

if TYPE_CHECKING:
    from .driver import Qcow2Driver


class _Counter:
    """Computed references per host cluster: sparse, so a huge sparse file costs nothing."""

    def __init__(self, drv: Qcow2Driver, res: CheckResult) -> None:
        self.drv = drv
        self.res = res
        self.cs = drv.cs
        self.bits = drv.cluster_bits
        self.file_size = drv.f.size()
        self.refs: dict[int, int] = {}

    def inc(self, offset: int, size: int) -> None:
        if size <= 0:
            return
        if offset + size - self.file_size >= self.cs:
            self.res.messages.append(
                "ERROR: counting reference for region exceeding the end of the file by one cluster or more: "
                f"offset 0x{offset:x} size 0x{size:x}")
            self.res.corruptions += 1
            return
        first, last = offset >> self.bits, (offset + size - 1) >> self.bits
        refs = self.refs
        for ci in range(first, last + 1):
            refs[ci] = refs.get(ci, 0) + 1


def _count_l1(drv: Qcow2Driver, c: _Counter, res: CheckResult, l1_off: int, l1_size: int,
              active: bool) -> None:
    cs, bits = drv.cs, drv.cluster_bits
    c.inc(l1_off, l1_size * 8)
    l1 = drv.l1 if active else drv._read_l1(l1_off, l1_size)
    next_contig = 0
    for e in l1:
        l2off = e & OFFSET_MASK
        if not l2off:
            continue
        if l2off & (cs - 1):
            res.messages.append(f"ERROR l2_offset={l2off:x}: Table is not cluster aligned; "
                                "L1 entry corrupted")
            res.corruptions += 1
            continue
        c.inc(l2off, cs)
        if l2off + cs > c.file_size + cs:
            continue  # already reported by inc; the table cannot be read
        for entry in drv.l2cache.get(l2off):
            if entry & COMPRESSED:
                off, n = comp.host_range(entry, bits)
                c.inc(off, n)
                if active:
                    res.allocated_clusters = (res.allocated_clusters or 0) + 1
                    res.compressed_clusters = (res.compressed_clusters or 0) + 1
                    res.fragmented_clusters = (res.fragmented_clusters or 0) + 1
                    next_contig = 0
                continue
            host = entry & OFFSET_MASK
            if not host:
                continue
            if active:
                res.allocated_clusters = (res.allocated_clusters or 0) + 1
                if next_contig and host != next_contig:
                    res.fragmented_clusters = (res.fragmented_clusters or 0) + 1
                next_contig = host + cs
            c.inc(host, cs)
            if host & (cs - 1):
                res.messages.append(f"ERROR offset={host:x}: Cluster is not properly aligned; "
                                    "L2 entry corrupted.")
                res.corruptions += 1


def _compute(drv: Qcow2Driver, res: CheckResult, with_refcount_structs: bool = True) -> _Counter:
    c = _Counter(drv, res)
    c.inc(0, drv.cs)
    _count_l1(drv, c, res, drv.hdr.l1_table_offset, len(drv.l1), True)
    for s in drv.snapshots:
        _count_l1(drv, c, res, s.l1_table_offset, s.l1_size, False)
    if drv.snapshots:
        c.inc(drv.hdr.snapshots_offset, drv._snapshot_table_size())
    try:
        for off, size in bitmaps.clusters(drv):
            c.inc(off, size)
    except ImageCorruptError as exc:
        res.messages.append(f"ERROR {exc}")
        res.corruptions += 1
    if with_refcount_structs:
        c.inc(drv.rc.table_offset, drv.rc.table_clusters * drv.cs)
        for i, off in enumerate(drv.rc.table):
            if not off:
                continue
            if off >= c.file_size:
                res.messages.append(f"ERROR refcount block {i} is outside image")
                res.corruptions += 1
                continue
            c.inc(off, drv.cs)
    return c


def _compare(drv: Qcow2Driver, c: _Counter, res: CheckResult, fix_leaks: bool, fix_errors: bool) -> bool:
    """Compare stored and computed refcounts; returns True when the structure must be rebuilt."""
    rebuild = False
    highest = -1
    # QEMU compares clusters up to the end of the file (or of the last reference, if further)
    n = max(max(c.refs, default=-1) + 1, -(-drv.f.size() // drv.cs))
    for ci in sorted(set(c.refs) | set(drv.rc.used_clusters(n))):
        stored = drv.rc.get(ci)
        computed = c.refs.get(ci, 0)
        if stored or computed:
            highest = ci
        if stored == computed:
            continue
        fixing = False
        if stored == 0:
            rebuild = True
        elif stored > computed and fix_leaks:
            fixing = True
        elif stored < computed and fix_errors:
            fixing = True
        word = "Repairing" if fixing else ("ERROR" if stored < computed else "Leaked")
        res.messages.append(f"{word} cluster {ci} refcount={stored} reference={computed}")
        if fixing:
            drv.rc.set(ci, computed)
            if stored > computed:
                res.leaks_fixed += 1
            else:
                res.corruptions_fixed += 1
        elif stored < computed:
            res.corruptions += 1
        else:
            res.leaks += 1
    res.image_end_offset = (highest + 1) * drv.cs
    return rebuild


def _rebuild(drv: Qcow2Driver, res: CheckResult, c: _Counter, order: int | None = None) -> None:
    """Write a fresh refcount table and blocks (of 2^order-bit entries) after the end of the image."""
    if order is None:
        res.messages.append("Rebuilding refcount structure")
        order = drv.hdr.refcount_order
    refs = c.refs
    cs, bits = drv.cs, drv.cluster_bits
    entries = (cs * 8) >> order
    start = max(max(refs, default=-1) + 1, -(-drv.f.size() // cs))
    nblocks = ntable = 1
    while True:
        total = start + nblocks + ntable
        need_blocks = -(-total // entries)
        need_table = -(-need_blocks * 8 // cs)
        if need_blocks <= nblocks and need_table <= ntable:
            break
        nblocks, ntable = max(nblocks, need_blocks), max(ntable, need_table)
    total = start + nblocks + ntable
    counts = dict(refs)
    for ci in range(start, total):
        counts[ci] = 1
    decode, encode = make_codec(order)
    max_refcount = (1 << (1 << order)) - 1
    by_block: dict[int, list[int]] = {}
    for ci in counts:
        by_block.setdefault(ci // entries, []).append(ci)
    table = []
    for b in range(nblocks):
        if b not in by_block:
            table.append(0)
            continue
        blk = decode(bytes(cs))
        for ci in by_block[b]:
            blk[ci - b * entries] = min(counts[ci], max_refcount)
        off = (start + b) << bits
        drv.f.pwrite(off, encode(blk))
        table.append(off)
    tab_off = (start + nblocks) << bits
    raw = encode_table(array("Q", table)) + bytes(ntable * cs - 8 * len(table))
    drv.f.pwrite(tab_off, raw)
    drv.f.flush()
    drv._set_header(refcount_table_offset=tab_off, refcount_table_clusters=ntable, refcount_order=order)
    drv.rc = Refcounts(drv.f, bits, order, tab_off, ntable, drv._move_reftable,
                       drv._make_room_refcounts, cache_tables=drv.rc.blocks.capacity)


def _check_copied(drv: Qcow2Driver, res: CheckResult, fix: bool) -> None:
    word = "Repairing" if fix else "ERROR"
    for i, e in enumerate(drv.l1):
        l2off = e & OFFSET_MASK
        if not l2off or l2off & (drv.cs - 1):
            continue
        rc = drv.rc.get(l2off >> drv.cluster_bits)
        if (rc == 1) != bool(e & COPIED):
            res.messages.append(f"{word} OFLAG_COPIED L2 cluster: l1_index={i} l1_entry={e:x} refcount={rc}")
            if fix:
                drv._set_l1(i, l2off | (COPIED if rc == 1 else 0))
                res.corruptions_fixed += 1
            else:
                res.corruptions += 1
        table = drv.l2cache.get(l2off)
        for j, entry in enumerate(table):
            host = entry & OFFSET_MASK
            if entry & COMPRESSED or not host:
                continue
            rc = drv.rc.get(host >> drv.cluster_bits)
            if (rc == 1) != bool(entry & COPIED):
                res.messages.append(f"{word} OFLAG_COPIED data cluster: l2_entry={entry:x} refcount={rc}")
                if fix:
                    table[j] = entry ^ COPIED
                    drv.l2cache.mark_dirty(l2off)
                    res.corruptions_fixed += 1
                else:
                    res.corruptions += 1


def check_image(drv: Qcow2Driver, repair: str | None) -> CheckResult:
    """Check (and with ``repair`` "leaks" or "all", repair) an open, flushed image.

    Like QEMU: a first comparison only reports; then either the refcount structure is rebuilt
    (``-r all`` when a used cluster has refcount 0), or the comparison runs again fixing what
    ``repair`` allows, printing "Repairing ..." lines.
    """
    fix_leaks = repair in ("leaks", "all")
    fix_errors = repair == "all"
    res = CheckResult()
    res.total_clusters = -(-drv.size // drv.cs)
    res.allocated_clusters = 0
    res.fragmented_clusters = 0
    res.compressed_clusters = 0
    c = _compute(drv, res)
    pre = (res.corruptions, res.leaks, res.image_end_offset)
    rebuild = _compare(drv, c, res, False, False)
    if rebuild and fix_errors:
        _rebuild(drv, res, c)
        res.corruptions_fixed += res.corruptions
        res.corruptions = 0
        # the old refcount structures are leaked now: fix them (not counted, as in QEMU)
        again = CheckResult()
        c = _compute(drv, again)
        _compare(drv, c, again, fix_leaks=True, fix_errors=False)
        res.messages += again.messages
        res.leaks_fixed += res.leaks
        res.leaks = 0
        res.image_end_offset = again.image_end_offset
    elif repair and rebuild:
        res.messages.append("ERROR need to rebuild refcount structures")
        res.check_errors += 1
        return res
    elif repair and (res.leaks or res.corruptions):
        res.corruptions, res.leaks, res.image_end_offset = pre
        _compare(drv, c, res, fix_leaks, fix_errors)
    _check_copied(drv, res, fix_errors)
    if fix_leaks or fix_errors:
        drv.flush()
    return res
