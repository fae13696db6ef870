"""Memory regions as QOM objects (``memory-region``), as QEMU shows them in the QOM tree.

``memory.py`` stays free of QOM for speed; ``attach_region`` gives a region
its QOM object, a child ``NAME[N]`` of its owner (or of
``/machine/unattached`` when it has none), as QEMU's memory_region_init does.
"""
from __future__ import annotations

from pyqemu.memory import ADDR_SPACE_END, MemoryRegion
from pyqemu.qom.object import Object


class MemoryRegionObject(Object):
    TYPE = "memory-region"

    def __init__(self, mr: MemoryRegion) -> None:
        super().__init__()
        self.mr = mr
        # Instance properties in memory_region_initfn's order (it decides qom-list's order).
        self.add_link("container", "memory-region", lambda o: _qom_of(mr.container))
        self.property_add("addr", "uint64", lambda o: mr.addr)
        self.property_add("priority", "uint32", lambda o: mr.priority & 0xFFFFFFFF)
        self.property_add("size", "uint64", lambda o: min(mr.size, ADDR_SPACE_END - 1))


def _qom_of(mr: MemoryRegion | None) -> Object | None:
    obj = mr.qom if mr is not None else None
    return obj if isinstance(obj, Object) else None


def attach_region(mr: MemoryRegion, owner: Object) -> MemoryRegionObject:
    """Make ``mr`` a QOM child of ``owner`` named after it (QEMU escapes '/' in names)."""
    obj = MemoryRegionObject(mr)
    name = (mr.name or "anonymous").replace("/", "\\x2f")
    owner.add_child(f"{name}[*]", obj)
    mr.qom = obj
    return obj
