"""A bounded write-back cache of metadata tables (L2 tables, refcount blocks), QEMU's Qcow2Cache.

Tables are kept decoded (host-endian arrays).  A dirty table is written only
by ``write_dirty`` — which the driver calls in its flush order — or, when the
cache is full of dirty tables, by the ``make_room`` callback, which flushes
all metadata in the safe order first.  So eviction never writes a table ahead
of the tables it depends on.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..file_io import HostFile


class TableCache:
    """Cluster-sized tables by host offset, least recently used evicted first."""

    def __init__(self, f: HostFile, cluster_size: int, capacity: int,
                 decode: Callable[[bytes], Any], encode: Callable[[Any], bytes],
                 make_room: Callable[[], None]) -> None:
        self.f = f
        self.cluster_size = cluster_size
        self.capacity = max(2, capacity)
        self.decode = decode
        self.encode = encode
        self.make_room = make_room
        self.tables: OrderedDict[int, Any] = OrderedDict()
        self.dirty: set[int] = set()

    def get(self, offset: int) -> Any:
        t = self.tables.get(offset)
        if t is not None:
            self.tables.move_to_end(offset)
            return t
        t = self.decode(self.f.pread_full(offset, self.cluster_size))
        self._insert(offset, t)
        return t

    def new(self, offset: int, table: Any) -> Any:
        """Put a freshly made table at ``offset`` (dirty: it exists only here so far)."""
        self._insert(offset, table)
        self.dirty.add(offset)
        return table

    def mark_dirty(self, offset: int) -> None:
        self.dirty.add(offset)

    def _insert(self, offset: int, table: Any) -> None:
        if offset not in self.tables and len(self.tables) >= self.capacity:
            self._evict()
        self.tables[offset] = table
        self.tables.move_to_end(offset)

    def _evict(self) -> None:
        for off in self.tables:
            if off not in self.dirty:
                del self.tables[off]
                return
        self.make_room()  # writes every dirty table, in dependency order
        for off in self.tables:
            if off not in self.dirty:
                del self.tables[off]
                return
        off, table = self.tables.popitem(last=False)  # never drop a dirty table unwritten
        self.f.pwrite(off, self.encode(table))
        self.dirty.discard(off)

    def write_dirty(self) -> bool:
        """Write every dirty table; True when something was written."""
        if not self.dirty:
            return False
        for off in sorted(self.dirty):
            t = self.tables.get(off)
            if t is not None:
                self.f.pwrite(off, self.encode(t))
        self.dirty.clear()
        return True

    def discard(self, offset: int) -> None:
        """Forget a table whose cluster was freed (its contents no longer matter)."""
        self.tables.pop(offset, None)
        self.dirty.discard(offset)

    def clear(self) -> None:
        self.tables.clear()
        self.dirty.clear()
