"""The memory API: how guest-physical addresses reach RAM, ROM and device registers.

A tree of ``MemoryRegion`` objects (containers holding subregions at offsets
with priorities, aliases into other regions, and terminal regions: RAM, ROM,
MMIO) is flattened into a ``FlatView``: a sorted table of non-overlapping
ranges, rebuilt when the map changes and searched with ``bisect`` per access.
An ``AddressSpace`` owns a root region and its current FlatView; it offers
byte-string ``read``/``write`` and sized ``load``/``store``.

MMIO regions declare the access sizes a guest may use (``valid``) and the
ones the device implements (``impl``); the core splits wide accesses and
widens narrow ones, so a device's read/write handles one size. RAM is an
anonymous ``mmap`` exposed as a memoryview (and a host address), so the CPU's
soft TLB and KVM can use it directly. An access that reaches nothing raises
``MemTxError`` (the CPU turns it into an external abort) and is logged under
``-d guest_errors``, as QEMU's ``memory_region_access_valid`` does.
Follows QEMU 7.2 ``softmmu/memory.c`` and ``softmmu/physmem.c``; little-endian
devices only (every device we emulate is).
"""
from __future__ import annotations

import bisect
import ctypes
import mmap
import struct
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyqemu.util import log

MEMTX_OK = 0
MEMTX_ERROR = 1          # the device reported an error (bus error)
MEMTX_DECODE_ERROR = 2   # nothing decodes this address

ADDR_SPACE_END = 1 << 64
_SIZE_FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}
_STRUCTS = {n: struct.Struct(f) for n, f in _SIZE_FMT.items()}
_bisect = bisect.bisect_right
# Guest RAM is sparse: untouched pages cost nothing, so a large -m is not charged against the
# host's commit limit (which would also make forking the process fail on a small host).
_RAM_MMAP_FLAGS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000  # MAP_NORESERVE


class _Transaction:
    def __init__(self) -> None:
        self.depth = 0
        self.pending: list[AddressSpace] = []


_txn = _Transaction()


@contextmanager
def transaction() -> Iterator[None]:
    """Batch map changes: flat views are rebuilt once, at the end (QEMU's
    memory_region_transaction_begin/commit). Boards build their map inside one."""
    _txn.depth += 1
    try:
        yield
    finally:
        _txn.depth -= 1
        if not _txn.depth:
            pending, _txn.pending = _txn.pending, []
            for space in pending:
                space.update()


class MemTxError(Exception):
    """A memory transaction failed: ``result`` is MEMTX_ERROR or MEMTX_DECODE_ERROR."""

    def __init__(self, addr: int, result: int = MEMTX_DECODE_ERROR) -> None:
        super().__init__(f"memory transaction at 0x{addr:x} failed ({result})")
        self.addr = addr
        self.result = result


@dataclass(frozen=True)
class AccessConstraints:
    """Access sizes in bytes (powers of two) and whether unaligned accesses are allowed."""
    min_size: int = 1
    max_size: int = 4
    unaligned: bool = False


@dataclass
class MemoryRegionOps:
    """A device's register access functions, QEMU's ``MemoryRegionOps``.

    ``read(offset, size) -> int`` and ``write(offset, value, size)`` are called
    only with sizes in ``impl``; ``valid`` is what the guest may use (other
    accesses fail as a decode error, like QEMU). A handler may raise
    ``MemTxError`` to report a bus error.
    """
    read: Callable[[int, int], int]
    write: Callable[[int, int, int], None]
    valid: AccessConstraints = field(default_factory=AccessConstraints)
    impl: AccessConstraints = field(default_factory=AccessConstraints)


def _mask(size: int) -> int:
    return (1 << (size * 8)) - 1


class MemoryRegion:
    """A region of guest-physical space; see the constructors ``ram_region``, ``rom_region``,
    ``mmio_region``, ``container_region`` and ``alias_region``. ``owner`` is the QOM object
    it belongs to (``info mtree -o``); regions are placed with ``add_subregion``."""

    def __init__(self, name: str | None, size: int, *, owner: object = None) -> None:
        if size < 0 or size > ADDR_SPACE_END:
            raise ValueError(f"bad memory region size {size:#x}")
        self.name = name
        self.size = size
        self.owner = owner
        self.addr = 0
        self.priority = 0
        self.enabled = True
        self.readonly = False
        self.terminates = False
        self.is_ram = False
        self.is_rom = False
        self.ops: MemoryRegionOps | None = None
        self.alias: MemoryRegion | None = None
        self.alias_offset = 0
        self.container: MemoryRegion | None = None
        self.subregions: list[MemoryRegion] = []  # highest priority first, newest first among equals
        self._mmap: mmap.mmap | None = None
        self.ram: memoryview | None = None
        self._spaces: list[AddressSpace] = []  # address spaces rooted here, told about changes
        self.is_rom_device = False
        self.romd_mode = False
        self.storage: memoryview | None = None   # a ROM device's bytes, in both modes
        self.qom: object = None  # its QOM object, when it is in the QOM tree

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def container_region(cls, name: str | None, size: int, *, owner: object = None) -> MemoryRegion:
        """A region that only holds subregions; holes in it are unassigned."""
        return cls(name, size, owner=owner)

    @classmethod
    def ram_region(cls, name: str, size: int, *, owner: object = None) -> MemoryRegion:
        """RAM backed by an anonymous mmap (zero-filled)."""
        mr = cls(name, size, owner=owner)
        mr.terminates = mr.is_ram = True
        mr._mmap = mmap.mmap(-1, max(size, 1), flags=_RAM_MMAP_FLAGS)
        mr.ram = memoryview(mr._mmap)[:size]
        return mr

    @classmethod
    def rom_region(cls, name: str, size: int, *, owner: object = None) -> MemoryRegion:
        """ROM: RAM the guest reads and cannot write (its writes are discarded)."""
        mr = cls.ram_region(name, size, owner=owner)
        mr.is_rom = mr.readonly = True
        return mr

    @classmethod
    def rom_device_region(cls, name: str, size: int, ops: MemoryRegionOps, *,
                          owner: object = None) -> MemoryRegion:
        """A ROM device (QEMU memory_region_init_rom_device): RAM-backed storage read (and
        executed) directly in romd mode, where writes go to ``ops``; outside romd mode every
        access goes to ``ops``. Starts in romd mode."""
        mr = cls.ram_region(name, size, owner=owner)
        mr.ops = ops
        mr.is_rom_device = mr.romd_mode = mr.readonly = True
        mr.storage = mr.ram
        return mr

    def set_romd(self, romd: bool) -> None:
        """Enter or leave romd mode (QEMU memory_region_rom_device_set_romd)."""
        if self.is_rom_device and romd != self.romd_mode:
            self.romd_mode = romd
            self.ram = self.storage if romd else None
            # The flat ranges read ``mr.ram`` at each access: the map's shape is the same, only
            # the listeners (TLB flushes) need to hear of it. (A boot loader probing a CFI flash
            # toggles this 1,000 times: re-rendering each time was 20% of U-Boot's start.)
            self.changed(rerender=False)

    @classmethod
    def mmio_region(cls, name: str, size: int, ops: MemoryRegionOps, *,
                    owner: object = None) -> MemoryRegion:
        """Device registers: every access goes to ``ops``."""
        mr = cls(name, size, owner=owner)
        mr.terminates = True
        mr.ops = ops
        return mr

    @classmethod
    def alias_region(cls, name: str, target: MemoryRegion, offset: int, size: int, *,
                     owner: object = None) -> MemoryRegion:
        """A window of ``size`` bytes onto ``target`` starting at ``offset``."""
        mr = cls(name, size, owner=owner)
        mr.alias = target
        mr.alias_offset = offset
        return mr

    # -- host memory --------------------------------------------------------------------------------
    @property
    def host_address(self) -> int:
        """The host virtual address of RAM/ROM (for native code and KVM)."""
        if self._mmap is None:
            raise TypeError(f"memory region '{self.name}' has no host memory")
        return ctypes.addressof(ctypes.c_char.from_buffer(self._mmap))

    # -- the map ------------------------------------------------------------------------------------
    def add_subregion(self, offset: int, sub: MemoryRegion, priority: int = 0) -> MemoryRegion:
        """Map ``sub`` at ``offset`` in this region. Later additions win among equal priorities."""
        if sub.container is not None:
            raise ValueError(f"memory region '{sub.name}' is already mapped")
        sub.container = self
        sub.addr = offset
        sub.priority = priority
        i = 0
        while i < len(self.subregions) and sub.priority < self.subregions[i].priority:
            i += 1
        self.subregions.insert(i, sub)
        self.changed()
        return sub

    def del_subregion(self, sub: MemoryRegion) -> None:
        self.subregions.remove(sub)
        sub.container = None
        self.changed()

    def set_enabled(self, enabled: bool) -> None:
        if enabled != self.enabled:
            self.enabled = enabled
            self.changed()

    def set_address(self, addr: int) -> None:
        """Move a mapped region (QEMU memory_region_set_address)."""
        container, prio = self.container, self.priority
        if container is None:
            self.addr = addr
            return
        container.del_subregion(self)
        container.add_subregion(addr, self, prio)

    def set_alias_offset(self, offset: int) -> None:
        self.alias_offset = offset
        self.changed()

    def set_readonly(self, readonly: bool) -> None:
        if readonly != self.readonly:
            self.readonly = readonly
            self.changed()

    def changed(self, rerender: bool = True) -> None:
        """Rebuild the flat views of every address space this region is part of (``rerender``
        False: only tell their listeners, the ranges being the same)."""
        spaces: list[AddressSpace] = []
        mr: MemoryRegion | None = self
        while mr is not None:
            spaces.extend(mr._spaces)
            mr = mr.container
        # Aliases pointing into this subtree see the change too; map changes are rare, so search.
        for space in list(AddressSpace.all_spaces):
            if space not in spaces and space.root.mentions_alias_to(self):
                spaces.append(space)
        if _txn.depth:
            _txn.pending.extend(sp for sp in spaces if all(sp is not q for q in _txn.pending))
            return
        for space in spaces:
            if rerender:
                space.update()
            else:
                space.notify()

    def mentions_alias_to(self, target: MemoryRegion) -> bool:
        stack: list[MemoryRegion] = [self]
        while stack:
            mr = stack.pop()
            if mr.alias is not None:
                t: MemoryRegion | None = target
                while t is not None:
                    if mr.alias is t:
                        return True
                    t = t.container
                stack.append(mr.alias)
            stack.extend(mr.subregions)
        return False

    @property
    def type_name(self) -> str:
        """What ``info mtree`` calls it: ram, rom, i/o (aliases show their target's)."""
        if self.alias is not None:
            return self.alias.type_name
        if self.is_rom_device:
            return "romd" if self.romd_mode else "i/o"
        if self.is_rom:
            return "rom"
        if self.is_ram:
            return "ram"
        return "i/o"

    def __repr__(self) -> str:
        return f"<MemoryRegion {self.name!r} {self.type_name} size={self.size:#x}>"

    # -- MMIO dispatch ------------------------------------------------------------------------------
    def _invalid(self, offset: int, size: int) -> MemTxError:
        """Log an access outside the ops' valid constraints; the error to raise."""
        assert self.ops is not None
        v = self.ops.valid
        if not v.unaligned and offset & (size - 1):
            reason = "unaligned"
        else:
            reason = f"invalid size (min:{v.min_size} max:{v.max_size})"
        log.guest_error(f"Invalid access at addr 0x{offset:X}, size {size}, region '{self.name}', "
                        f"reason: {reason}")
        return MemTxError(offset)

    def dispatch_read(self, offset: int, size: int) -> int:
        """Read ``size`` bytes at ``offset`` through the device's ops (valid sizes checked)."""
        ops = self.ops
        assert ops is not None
        v = ops.valid
        if not (v.min_size <= size <= v.max_size and (v.unaligned or not offset & (size - 1))):
            raise self._invalid(offset, size)
        impl = ops.impl
        if impl.min_size <= size <= impl.max_size and (impl.unaligned or not offset & (size - 1)):
            return ops.read(offset, size) & _mask(size)
        acc = min(max(size, impl.min_size), impl.max_size)
        if acc >= size:
            # widen: read the implemented unit that holds the bytes and pick them out
            base = offset if impl.unaligned else offset & ~(acc - 1)
            if offset + size <= base + acc:
                return (ops.read(base, acc) >> ((offset - base) * 8)) & _mask(size)
        elif impl.unaligned or not offset & (acc - 1):
            value = 0
            for i in range(0, size, acc):  # split into little-endian pieces of the implemented size
                value |= (ops.read(offset + i, acc) & _mask(acc)) << (8 * i)
            return value
        # rare: the access straddles implemented units; assemble it byte by byte
        return sum(self._read_byte(offset + i, acc) << (8 * i) for i in range(size))

    def _read_byte(self, offset: int, acc: int) -> int:
        ops = self.ops
        assert ops is not None
        base = offset & ~(acc - 1)
        return (ops.read(base, acc) >> ((offset - base) * 8)) & 0xFF

    def dispatch_write(self, offset: int, value: int, size: int) -> None:
        """Write ``size`` bytes at ``offset`` through the device's ops (valid sizes checked)."""
        ops = self.ops
        assert ops is not None
        v = ops.valid
        if not (v.min_size <= size <= v.max_size and (v.unaligned or not offset & (size - 1))):
            raise self._invalid(offset, size)
        impl = ops.impl
        value &= _mask(size)
        if impl.min_size <= size <= impl.max_size and (impl.unaligned or not offset & (size - 1)):
            ops.write(offset, value, size)
            return
        acc = min(max(size, impl.min_size), impl.max_size)
        if acc >= size:
            # Widen as QEMU does: the other bytes of the unit are written as zero.
            base = offset if impl.unaligned else offset & ~(acc - 1)
            if offset + size <= base + acc:
                ops.write(base, value << ((offset - base) * 8), acc)
                return
        elif impl.unaligned or not offset & (acc - 1):
            for i in range(0, size, acc):
                ops.write(offset + i, (value >> (8 * i)) & _mask(acc), acc)
            return
        for i in range(size):  # rare: straddles implemented units; byte by byte, each widened
            b = offset + i
            base = b & ~(acc - 1)
            ops.write(base, ((value >> (8 * i)) & 0xFF) << ((b - base) * 8), acc)


@dataclass(frozen=True, slots=True)
class FlatRange:
    """``[start, end)`` of an address space maps to ``mr`` at ``offset`` (a terminal region)."""
    start: int
    end: int
    mr: MemoryRegion
    offset: int
    readonly: bool

    @property
    def size(self) -> int:
        return self.end - self.start


class FlatView:
    """The rendered map of a root region: sorted, non-overlapping ``FlatRange``s."""

    def __init__(self, root: MemoryRegion | None) -> None:
        self.root = root
        self.ranges: list[FlatRange] = []
        if root is not None:
            self._render(root, 0, 0, ADDR_SPACE_END, False)
            self._simplify()
        self.starts = [r.start for r in self.ranges]

    def _render(self, mr: MemoryRegion, base: int, clip_start: int, clip_end: int,
                readonly: bool) -> None:
        """QEMU's render_memory_region: subregions by priority first, then this region in the gaps."""
        if not mr.enabled:
            return
        base += mr.addr
        readonly = readonly or mr.readonly
        start, end = max(base, clip_start), min(base + mr.size, clip_end)
        if start >= end:
            return
        if mr.alias is not None:
            self._render(mr.alias, base - mr.alias.addr - mr.alias_offset, start, end, readonly)
            return
        for sub in mr.subregions:
            self._render(sub, base, start, end, readonly)
        if mr.terminates:
            self._fill(start, end, mr, start - base, readonly)

    def _fill(self, start: int, end: int, mr: MemoryRegion, offset: int, readonly: bool) -> None:
        """Insert ``[start, end)`` of ``mr`` into the holes the ranges so far leave."""
        ranges = self.ranges
        i = bisect.bisect_right([r.start for r in ranges], start) - 1
        if i < 0 or ranges[i].end <= start:
            i += 1
        pos = start
        new: list[FlatRange] = []
        while pos < end:
            if i < len(ranges) and ranges[i].start <= pos:
                pos = ranges[i].end
                i += 1
                continue
            hole_end = min(end, ranges[i].start if i < len(ranges) else end)
            new.append(FlatRange(pos, hole_end, mr, offset + (pos - start), readonly))
            pos = hole_end
        if new:
            self.ranges = sorted(ranges + new, key=lambda r: r.start)

    def _simplify(self) -> None:
        out: list[FlatRange] = []
        for r in self.ranges:
            if out:
                p = out[-1]
                if (p.mr is r.mr and p.end == r.start and p.readonly == r.readonly
                        and p.offset + p.size == r.offset):
                    out[-1] = FlatRange(p.start, r.end, p.mr, p.offset, p.readonly)
                    continue
            out.append(r)
        self.ranges = out

    def lookup(self, addr: int) -> FlatRange | None:
        """The range holding ``addr``, or None where nothing is mapped."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0:
            r = self.ranges[i]
            if addr < r.end:
                return r
        return None

    def __iter__(self) -> Iterator[FlatRange]:
        return iter(self.ranges)


def flatview_root(mr: MemoryRegion | None) -> MemoryRegion | None:
    """The region a FlatView really renders (QEMU memory_region_get_flatview_root): skip
    containers holding one region that covers them from offset 0, and whole-region aliases."""
    while mr is not None and mr.enabled:
        if mr.alias is not None:
            if not mr.alias_offset and mr.size >= mr.alias.size:
                mr = mr.alias
                continue
        elif not mr.terminates:
            enabled = [c for c in mr.subregions if c.enabled]
            if not enabled:
                return None
            if len(enabled) == 1 and not enabled[0].addr and mr.size >= enabled[0].size:
                mr = enabled[0]
                continue
        return mr
    return None


class AddressSpace:
    """A view of memory from one master (the CPUs, a DMA engine): a root region and its FlatView."""

    all_spaces: weakref.WeakSet[AddressSpace] = weakref.WeakSet()

    def __init__(self, root: MemoryRegion, name: str) -> None:
        self.root = root
        self.name = name
        self.listeners: list[Callable[[AddressSpace], None]] = []
        root._spaces.append(self)
        AddressSpace.all_spaces.add(self)
        self.flatview = FlatView(flatview_root(root))

    def destroy(self) -> None:
        self.root._spaces.remove(self)
        AddressSpace.all_spaces.discard(self)

    def update(self) -> None:
        """Re-render after a map change, and tell listeners (TLB flushes, KVM slots)."""
        self.flatview = FlatView(flatview_root(self.root))
        self.notify()

    def notify(self) -> None:
        """Tell the listeners that what the map's ranges lead to changed."""
        for fn in self.listeners:
            fn(self)

    def translate(self, addr: int) -> FlatRange | None:
        return self.flatview.lookup(addr)

    # -- sized accesses (one size argument, no per-width copies) -------------------------------
    def load(self, addr: int, size: int) -> int:
        """A little-endian load of ``size`` (1, 2, 4, 8) bytes; MemTxError if unassigned."""
        fv = self.flatview
        i = _bisect(fv.starts, addr) - 1
        if i >= 0:
            r = fv.ranges[i]
            if addr + size <= r.end:
                ram = r.mr.ram
                if ram is not None:
                    return _STRUCTS[size].unpack_from(ram, r.offset + addr - r.start)[0]
                return r.mr.dispatch_read(r.offset + addr - r.start, size)
            if addr < r.end:  # straddles ranges: byte-string path
                return int.from_bytes(self.read(addr, size), "little")
        unassigned_log(addr, size)
        raise MemTxError(addr)

    def store(self, addr: int, value: int, size: int) -> None:
        """A little-endian store of ``size`` bytes; MemTxError if unassigned."""
        fv = self.flatview
        i = _bisect(fv.starts, addr) - 1
        if i >= 0:
            r = fv.ranges[i]
            if addr + size <= r.end:
                ram = r.mr.ram
                if ram is not None:
                    if not r.readonly:
                        _STRUCTS[size].pack_into(ram, r.offset + addr - r.start, value & _mask(size))
                    elif r.mr.ops is not None:   # ROM device in romd mode: writes are commands
                        r.mr.dispatch_write(r.offset + addr - r.start, value, size)
                    return
                r.mr.dispatch_write(r.offset + addr - r.start, value, size)
                return
            if addr < r.end:
                self.write(addr, (value & _mask(size)).to_bytes(size, "little"))
                return
        unassigned_log(addr, size)
        raise MemTxError(addr)

    # -- byte strings ---------------------------------------------------------------------------------
    def read(self, addr: int, length: int) -> bytes:
        """``length`` bytes from ``addr``; MemTxError at the first byte nothing answers."""
        out = bytearray()
        end = addr + length
        while addr < end:
            r = self._range(addr, length)
            n = min(end, r.end) - addr
            off = r.offset + addr - r.start
            if r.mr.ram is not None:
                out += r.mr.ram[off:off + n]
                addr += n
                continue
            n = _mmio_chunk(r.mr, off, n)
            out += r.mr.dispatch_read(off, n).to_bytes(n, "little")
            addr += n
        return bytes(out)

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at ``addr``; ROM ignores writes; MemTxError where nothing answers."""
        data = memoryview(data).cast("B")
        pos = 0
        while pos < len(data):
            a = addr + pos
            r = self._range(a, len(data))
            n = min(len(data) - pos, r.end - a)
            off = r.offset + a - r.start
            if r.mr.ram is not None and (not r.readonly or r.mr.ops is None):
                if not r.readonly:
                    r.mr.ram[off:off + n] = data[pos:pos + n]
                pos += n
                continue
            n = _mmio_chunk(r.mr, off, n)
            r.mr.dispatch_write(off, int.from_bytes(data[pos:pos + n], "little"), n)
            pos += n

    def _range(self, addr: int, size: int) -> FlatRange:
        r = self.flatview.lookup(addr)
        if r is None:
            unassigned_log(addr, size)
            raise MemTxError(addr)
        return r


def _mmio_chunk(mr: MemoryRegion, offset: int, length: int) -> int:
    """The largest access a byte-string transfer may use at ``offset`` (QEMU memory_access_size)."""
    assert mr.ops is not None
    n = min(length, mr.ops.valid.max_size, 8)
    if not mr.ops.valid.unaligned and offset:
        n = min(n, offset & -offset)
    while n & (n - 1):  # a power of two
        n &= n - 1
    return max(n, 1)


def unassigned_log(addr: int, size: int) -> None:
    """Log an access that hit no region, as QEMU logs ``io_mem_unassigned`` under guest_errors."""
    log.guest_error(f"Invalid access at addr 0x{addr & (ADDR_SPACE_END - 1):X}, size {size}, "
                    "region '(null)', reason: rejected")


# -- info mtree (QEMU memory.c mtree_info) -------------------------------------------------------------

def _mr_end(start: int, size: int) -> int:
    return min(start + (size - 1 if size else 0), ADDR_SPACE_END - 1)


def mtree_text(spaces: list[AddressSpace], *, flat: bool = False, owner: bool = False,
               disabled: bool = False, describe_owner: Callable[[MemoryRegion], str] | None = None) -> str:
    """``info mtree [-f] [-o] [-D]``: the region trees of ``spaces``, or their flat views.

    ``describe_owner(mr)`` gives ``-o``'s `` owner:{...} parent:{...}`` text.
    """
    out: list[str] = []
    own = describe_owner if owner and describe_owner is not None else None
    if flat:
        groups: dict[int, tuple[FlatView, list[AddressSpace]]] = {}
        for space in spaces:
            fv = space.flatview
            key = id(fv.root) if fv.root is not None else id(space)
            groups.setdefault(key, (fv, []))[1].append(space)
        for n, (fv, members) in enumerate(groups.values()):
            out.append(f"FlatView #{n}\n")
            for space in members:
                alias = f", alias {space.root.alias.name}" if space.root.alias is not None else ""
                out.append(f' AS "{space.name}", root: {space.root.name}{alias}\n')
            out.append(f" Root memory region: {fv.root.name if fv.root is not None else '(none)'}\n")
            if not fv.ranges:
                out.append("  No rendered FlatView\n\n")
                continue
            for r in fv.ranges:
                kind = "rom" if r.readonly else r.mr.type_name
                at = f" @{r.offset:016x}" if r.offset else ""
                out.append(f"  {r.start:016x}-{_mr_end(r.start, r.size):016x} (prio {r.mr.priority}, "
                           f"{kind}): {r.mr.name}{at}{own(r.mr) if own else ''}\n")
            out.append("\n")
        return "".join(out)
    aliases: list[MemoryRegion] = []
    roots: dict[int, tuple[MemoryRegion, list[str]]] = {}
    for space in spaces:
        roots.setdefault(id(space.root), (space.root, []))[1].append(space.name)
    for root, names in roots.values():
        for name in sorted(names, key=lambda s: s.encode()):
            out.append(f"address-space: {name}\n")
        _mtree_mr(out, root, 1, 0, aliases, own, disabled)
        out.append("\n")
    i = 0
    while i < len(aliases):  # printing an alias target may find more aliases
        mr = aliases[i]
        out.append(f"memory-region: {mr.name}\n")
        _mtree_mr(out, mr, 1, 0, aliases, own, disabled)
        out.append("\n")
        i += 1
    return "".join(out)


def _mtree_mr(out: list[str], mr: MemoryRegion, level: int, base: int, aliases: list[MemoryRegion],
              own: Callable[[MemoryRegion], str] | None, disabled: bool) -> None:
    start = base + mr.addr
    if start >= ADDR_SPACE_END:
        start = ADDR_SPACE_END - 1
    end = _mr_end(start, mr.size)
    if mr.enabled or disabled:
        line = "  " * level + f"{start:016x}-{end:016x} (prio {mr.priority}, {mr.type_name}): "
        off = " [disabled]" if not mr.enabled else ""
        if mr.alias is not None:
            if not any(a is mr.alias for a in aliases):
                aliases.append(mr.alias)
            a_end = mr.alias_offset + (mr.size - 1 if mr.size else 0)
            line += f"alias {mr.name} @{mr.alias.name} {mr.alias_offset:016x}-{a_end:016x}{off}"
        else:
            line += f"{mr.name}{off}"
        out.append(line + (own(mr) if own else "") + "\n")
    # by address, and by priority (highest first) at one address, as QEMU prints them
    subs = sorted(enumerate(mr.subregions), key=lambda t: (t[1].addr, -t[1].priority, t[0]))
    for _, sub in subs:
        _mtree_mr(out, sub, level + 1, start, aliases, own, disabled)
