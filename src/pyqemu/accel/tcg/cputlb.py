"""The soft TLB: guest virtual pages -> host memory, for system-mode translated code.

Generated code reaches guest RAM through per-MMU-index dictionaries mapping a
virtual page number to a 4 KiB ``memoryview`` of the host RAM backing it:

    d = U64(P, addr & 4095)[0] if (P := TR1(addr >> 12)) is not None else LD_SLOW(...)

(``TR1`` is the bound ``get`` of the read dictionary of MMU index 1, which a
block loads from its vCPU on entry: ``TR1 = cpu.TR1``; blocks are shared by
the vCPUs of a machine, TLBs are not). A miss
goes to the slow path, which asks the CPU to translate the address (page-table
walk, permission check, guest fault), then either installs the page (RAM, ROM)
or performs the access on the physical address space (MMIO, unassigned).
An access that crosses a page end makes ``struct`` raise on the 4 KiB view;
the CPU loop then replays that one instruction with every access on the slow
path (``ReplaySlow``), so the fast path needs no crossing check.

Pages holding translated code are never in a write dictionary: a store to one
takes the slow path, which invalidates the blocks first (self-modifying code,
and an OS loading a program over old code).

Entries are tagged by address space the way a hardware TLB is: a fill whose
answer carries ``PROT_GLOBAL`` holds for every ASID; the others belong to the
current ASID. Each ASID has dictionaries of its own (:class:`_Space`), and
:meth:`SoftTLB.switch_asid` swaps them (rebinding the vCPU's ``TR<i>``/``TW<i>``)
rather than copying entries: a KPTI kernel (non-global kernel mappings) switches
ASID twice per system call, with thousands of entries on each side. Global
translations are also remembered apart (``_global``), so an address space that
first touches a global page, or a device page (which no dictionary holds),
needs no page-table walk. TLBI by VA, by ASID and ALL reach the address spaces
put aside as well.

The physical side is an object with ``ram_page(pa_page, write) -> memoryview |
None`` (a 4 KiB view of RAM, or of ROM for reads; None for MMIO), and
``read(pa, size) -> int`` / ``write(pa, size, value)`` for everything else.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol

from pyqemu.accel.tcg.excp import GuestException

PAGE_BITS = 12
PAGE_SIZE = 1 << PAGE_BITS
PAGE_MASK = PAGE_SIZE - 1

ACCESS_READ, ACCESS_WRITE, ACCESS_EXEC = 0, 1, 2
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAX_VIEWS = 1 << 16  # RAM page views AddressSpacePhys keeps (256 MiB of RAM each for reads and writes)
PROT_GLOBAL = 8  # translate's answer holds for every ASID (nG = 0, or no MMU)
MAX_SAVED_ASIDS = 64  # address spaces whose entries are kept while another one runs


class PhysicalMemory(Protocol):
    def ram_page(self, pa_page: int, write: bool) -> memoryview | None: ...

    def read(self, pa: int, size: int) -> int: ...

    def write(self, pa: int, size: int, value: int) -> None: ...


class ReplaySlow(Exception):
    """An access crossed a page: re-run the instruction at ``pc`` with slow-path memory accesses."""

    def __init__(self, pc: int) -> None:
        super().__init__(pc)
        self.pc = pc


_Q2 = struct.Struct("<QQ")


def _load128(view: memoryview, offset: int) -> int:
    lo, hi = _Q2.unpack_from(view, offset)
    return lo | hi << 64


def _store128(view: memoryview, offset: int, value: int) -> None:
    _Q2.pack_into(view, offset, value & 0xFFFFFFFFFFFFFFFF, value >> 64)


def _ld_slow(cpu: Any, addr: int, size: int, signed: int, mask: int, mmu_idx: int) -> int:
    return cpu.tlb.ld_slow(cpu, addr, size, signed, mask, mmu_idx)


def _st_slow(cpu: Any, addr: int, value: int, size: int, mmu_idx: int) -> None:
    cpu.tlb.st_slow(cpu, addr, value, size, mmu_idx)


def namespace() -> dict[str, Any]:
    """The names system-mode blocks use besides their vCPU's TLB: struct helpers, slow paths."""
    ns = struct_namespace()
    ns["LD_SLOW"] = _ld_slow
    ns["ST_SLOW"] = _st_slow
    return ns


def struct_namespace() -> dict[str, Any]:
    """``U8``..``S64`` (unpack_from), ``P8``..``P64`` (pack_into), ``L128``/``S128``."""
    ns: dict[str, Any] = {"L128": _load128, "S128": _store128}
    for size, ch in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
        ns[f"U{size * 8}"] = struct.Struct("<" + ch).unpack_from
        ns[f"S{size * 8}"] = struct.Struct("<" + ch.lower()).unpack_from
        ns[f"P{size * 8}"] = struct.Struct("<" + ch).pack_into
    return ns


_PROT_OF = (PROT_READ, PROT_WRITE, PROT_EXEC)  # the permission an access (ACCESS_*) needs


class _Space:
    """One address space's entries in a soft TLB: the running ASID's, or one put aside."""

    __slots__ = ("read", "write", "exec", "own_code")

    def __init__(self, nb_mmu_idx: int) -> None:
        self.read: list[dict[int, memoryview]] = [{} for _ in range(nb_mmu_idx)]
        self.write: list[dict[int, memoryview]] = [{} for _ in range(nb_mmu_idx)]
        self.exec: list[dict[int, int]] = [{} for _ in range(nb_mmu_idx)]
        self.own_code: set[int] = set()  # va pages of its non-global code translations

    def clear(self) -> None:
        for d in (*self.read, *self.write, *self.exec):
            d.clear()
        self.own_code = set()

    def drop(self, va_page: int) -> bool:
        """Forget ``va_page`` in every regime; whether it had a code translation."""
        code = False
        for r, w, x in zip(self.read, self.write, self.exec, strict=True):
            r.pop(va_page, None)
            w.pop(va_page, None)
            if x.pop(va_page, None) is not None:
                code = True
        self.own_code.discard(va_page)
        return code


class SoftTLB:
    """The TLB of one vCPU: ``nb_mmu_idx`` translation regimes (e.g. EL0, EL1).

    ``translate(va, access, mmu_idx) -> (pa, prot)`` is the CPU's page-table
    walk; it raises the guest's fault itself. ``on_flush(va_page | None)`` hooks
    let the TB lookup drop its virtual-pc caches when mappings change: they run
    with None on every full flush, and with a page only when an instruction-fetch
    translation of it went away (TLBI VA*, TLBI ASID, or an ASID switch putting it
    aside when no ``on_asid_switch`` hook keeps those caches per ASID), since a
    virtual-pc cache entry only exists for code that :meth:`translate_code`
    translated.
    """

    def __init__(self, phys: PhysicalMemory, translate: Callable[[int, int, int], tuple[int, int]],
                 nb_mmu_idx: int = 2) -> None:
        self.phys = phys
        self.translate = translate
        self.nb_mmu_idx = nb_mmu_idx
        self._space = _Space(nb_mmu_idx)  # the current ASID's entries (and global ones)
        self.read: list[dict[int, memoryview]] = self._space.read
        self.write: list[dict[int, memoryview]] = self._space.write
        self.exec: list[dict[int, int]] = self._space.exec  # va page -> pa page
        self._spaces: dict[int, _Space] = {}  # asid -> its entries, put aside (oldest first)
        # (mmu_idx, va page) -> (pa page, prot) of every global translation made: a fill in
        # another address space, or of a device page (no entry to keep), needs no walk
        self._global: dict[tuple[int, int], tuple[int, int]] = {}
        # Upper-half (va bit 63) translations that are not global but come from tables every
        # ASID shares: a KPTI kernel maps itself nG, so each process walked the kernel's pages
        # afresh (64,000 of a Linux boot's walks). ``upper_tables`` (set by the CPU: what
        # identifies the upper half's tables and how they are read, None: no sharing) keys
        # them: (mmu_idx, va page) -> (upper_tables, pa page, prot, generation). A TLBI by
        # ASID hides the older ones from that ASID only (``_asid_floor``), as hardware would
        # drop only that ASID's copies.
        self.upper_tables: Any = None
        self._shared: dict[tuple[int, int], tuple[Any, int, int, int]] = {}
        self._shared_gen = 0
        self._asid_floor: dict[int, int] = {}
        # pa page -> {(asid, mmu_idx, va page)} of write entries, to revoke them when code
        # appears there (in the address space that holds them)
        self._writers: dict[int, set[tuple[int, int, int]]] = {}
        self.code_pages: set[int] = set()  # physical pages holding translated code
        self.on_flush: list[Callable[[int | None], None]] = []
        # (old ASID, new ASID, whether the old one's own entries held code, whether the new
        # one's were brought back): hooks that keep virtual-pc caches per address space
        self.on_asid_switch: list[Callable[[int, int, bool, bool], None]] = []
        self.on_code_write: Callable[[int, int], None] = lambda pa, size: None
        self.fills = 0  # page-table walks
        self.asid = 0
        self._owner: Any = None  # the vCPU whose TR<i>/TW<i> read this TLB
        # The native tier's mirror of the read/write entries (accel/tcg/native_tlb.py), if any:
        # whatever leaves the dictionaries leaves it too.
        self.native: Any = None

    # --- what generated code sees --------------------------------------------------
    def bind(self, cpu: Any) -> None:
        """Give ``cpu`` the ``TR<i>``/``TW<i>`` attributes blocks load, and make it this TLB's owner."""
        cpu.tlb = self
        self._owner = cpu
        self._bind_space()

    def _bind_space(self) -> None:
        cpu = self._owner
        if cpu is not None:
            for i in range(self.nb_mmu_idx):
                setattr(cpu, f"TR{i}", self.read[i].get)
                setattr(cpu, f"TW{i}", self.write[i].get)

    # --- filling ------------------------------------------------------------------------
    def fill(self, va: int, access: int, mmu_idx: int) -> tuple[int, memoryview | None]:
        """Translate ``va``; install its page when it is RAM. Returns (pa, view or None)."""
        va_page = va >> PAGE_BITS
        pa_page, prot = self._translation(va, access, mmu_idx)
        pa = pa_page << PAGE_BITS | (va & PAGE_MASK)
        # (the new translation replaces both entries of the page)
        view = self.phys.ram_page(pa_page, False) if prot & PROT_READ else None
        if view is not None:
            self.read[mmu_idx][va_page] = view
        else:
            self.read[mmu_idx].pop(va_page, None)
        wview = self.phys.ram_page(pa_page, True) \
            if prot & PROT_WRITE and pa_page not in self.code_pages else None
        if wview is not None:
            self.write[mmu_idx][va_page] = wview
            self._writers.setdefault(pa_page, set()).add((self.asid, mmu_idx, va_page))
        else:
            self.write[mmu_idx].pop(va_page, None)
        if self.native is not None:  # (native code would miss it next)
            self.native.install(mmu_idx, va_page, view, wview)
        return pa, wview if access == ACCESS_WRITE else view

    def translate_code(self, va: int, mmu_idx: int) -> int:
        """Physical address of the instruction at ``va`` (raises the guest's instruction abort)."""
        va_page = va >> PAGE_BITS
        pa_page = self.exec[mmu_idx].get(va_page)
        if pa_page is None:
            pa_page, prot = self._translation(va, ACCESS_EXEC, mmu_idx)
            if not prot & PROT_GLOBAL:
                self._space.own_code.add(va_page)
            self.exec[mmu_idx][va_page] = pa_page
        return pa_page << PAGE_BITS | (va & PAGE_MASK)

    def _translation(self, va: int, access: int, mmu_idx: int) -> tuple[int, int]:
        """(pa page, prot) of ``va``: a remembered global translation that allows ``access``,
        else a page-table walk (which raises the guest's fault)."""
        key = (mmu_idx, va >> PAGE_BITS)
        known = self._global.get(key)
        if known is not None and known[1] & _PROT_OF[access]:
            return known
        upper = va >> 63 and self.upper_tables is not None
        if upper:
            shared = self._shared.get(key)
            if shared is not None and shared[0] == self.upper_tables and shared[2] & _PROT_OF[access] \
                    and shared[3] >= self._asid_floor.get(self.asid, 0):
                return shared[1], shared[2]
        pa, prot = self.translate(va, access, mmu_idx)
        self.fills += 1
        if prot & PROT_GLOBAL:
            known = self._global[key] = (pa >> PAGE_BITS, prot)
            return known
        if known is not None:
            del self._global[key]
        if upper:
            self._shared[key] = (self.upper_tables, pa >> PAGE_BITS, prot, self._shared_gen)
        return pa >> PAGE_BITS, prot

    def protect_code_page(self, pa_page: int) -> None:
        """Translated code now lives on ``pa_page``: stores to it must take the slow path."""
        if pa_page in self.code_pages:
            return
        self.code_pages.add(pa_page)
        native = self.native
        for asid, idx, va_page in self._writers.pop(pa_page, ()):
            space = self._space if asid == self.asid else self._spaces.get(asid)
            if space is not None:
                space.write[idx].pop(va_page, None)
            if native is not None:  # (and the tables of ASIDs put aside: their entries are)
                native.drop_everywhere(idx, va_page)

    def unprotect_code_page(self, pa_page: int) -> None:
        self.code_pages.discard(pa_page)

    # --- flushing -----------------------------------------------------------------------
    def flush(self) -> None:
        """Forget every translation of every ASID (TLBI ALL, translation-regime changes)."""
        self._space.clear()
        self._spaces.clear()
        self._global.clear()
        self._shared.clear()
        self._asid_floor.clear()
        self._writers.clear()
        if self.native is not None:
            self.native.clear()
        for hook in self.on_flush:
            hook(None)

    def flush_page(self, va: int) -> None:
        """Forget the translations of the page holding ``va`` in every regime and ASID (TLBI VA*)."""
        va_page = (va & 0xFFFFFFFFFFFFFFFF) >> PAGE_BITS
        code = self._space.drop(va_page)
        for space in self._spaces.values():
            if space.drop(va_page):
                code = True  # (an address space put aside translated code there)
        for idx in range(self.nb_mmu_idx):
            self._global.pop((idx, va_page), None)
            self._shared.pop((idx, va_page), None)
        if self.native is not None:
            self.native.drop_page(va_page)
        if code:  # only code translations have virtual-pc caches to drop (a data page is the common case)
            for hook in self.on_flush:
                hook(va_page)

    def flush_asid(self, asid: int) -> None:
        """Forget the non-global translations of ``asid`` (TLBI ASIDE1). (The global ones
        that address space holds go too: they come back from ``_global`` without a walk.)"""
        if self._shared:  # (shared upper-half translations made so far: not for this ASID)
            self._shared_gen += 1
            self._asid_floor[asid] = self._shared_gen
        if asid != self.asid:
            self._spaces.pop(asid, None)
            if self.native is not None:
                self.native.forget(asid)
            return
        if self.native is not None:
            self.native.clear_running()
        own_code = self._space.own_code
        self._space.clear()  # (in place: the vCPU's TR<i>/TW<i> stay bound to it)
        self._code_gone(own_code)

    def switch_asid(self, asid: int) -> None:
        """The current ASID is now ``asid``: put the old one's entries aside, bring back the
        new one's (the dictionaries are swapped, not copied: a KPTI kernel switches at every
        exception from user space, with thousands of entries on each side)."""
        old = self.asid
        if asid == old:
            return
        native = self.native
        gone = self._space
        self._spaces[old] = gone
        if len(self._spaces) > MAX_SAVED_ASIDS:
            evicted = next(iter(self._spaces))
            del self._spaces[evicted]
            if native is not None:
                native.forget(evicted)
        if native is not None:  # (native code reads the new ASID's own table: native_tlb.py)
            native.switch(old, asid)
        space = self._spaces.pop(asid, None)
        restored = space is not None
        if space is None:
            space = _Space(self.nb_mmu_idx)
        self.asid = asid
        self._space = space
        self.read, self.write, self.exec = space.read, space.write, space.exec
        self._bind_space()
        if self.on_asid_switch:
            for hook in self.on_asid_switch:
                hook(old, asid, bool(gone.own_code), restored)
        else:
            self._code_gone(gone.own_code)  # the old ASID's code pages are gone from this context

    def _code_gone(self, pages: set[int]) -> None:
        """Tell the hooks about each page whose (non-global) code translation was taken out."""
        for va_page in pages:
            for hook in self.on_flush:
                hook(va_page)

    # --- slow paths -----------------------------------------------------------------------
    def ld_slow(self, cpu: Any, addr: int, size: int, signed: int, mask: int, mmu_idx: int) -> int:
        """A load whose page is not in the TLB (or crosses a page end)."""
        if (addr & PAGE_MASK) + size > PAGE_SIZE:
            first = PAGE_SIZE - (addr & PAGE_MASK)
            lo = self._load(addr, first, mmu_idx)
            hi = self._load((addr + first) & 0xFFFFFFFFFFFFFFFF, size - first, mmu_idx)
            v = lo | hi << (first * 8)
        else:
            v = self._load(addr, size, mmu_idx)
        if signed and v >> (size * 8 - 1):
            v -= 1 << (size * 8)
        return v & mask

    def _load(self, addr: int, size: int, mmu_idx: int) -> int:
        view = self.read[mmu_idx].get(addr >> PAGE_BITS)
        if view is None:
            pa, view = self.fill(addr, ACCESS_READ, mmu_idx)
            if view is None:
                try:
                    return self.phys.read(pa, size)
                except PhysFault:
                    raise GuestException("segv", addr, False) from None
        off = addr & PAGE_MASK
        return int.from_bytes(view[off:off + size], "little")

    def st_slow(self, cpu: Any, addr: int, value: int, size: int, mmu_idx: int) -> None:
        """A store whose page is not in the write TLB (MMIO, ROM, code, crossing, miss)."""
        if (addr & PAGE_MASK) + size > PAGE_SIZE:
            first = PAGE_SIZE - (addr & PAGE_MASK)
            second = (addr + first) & 0xFFFFFFFFFFFFFFFF
            # translate both pages before writing either, so a fault leaves memory unchanged
            self._writable(addr, mmu_idx)
            self._writable(second, mmu_idx)
            self._store(addr, value & ((1 << (first * 8)) - 1), first, mmu_idx)
            self._store(second, value >> (first * 8), size - first, mmu_idx)
        else:
            self._store(addr, value, size, mmu_idx)

    def _writable(self, addr: int, mmu_idx: int) -> tuple[int, memoryview | None]:
        view = self.write[mmu_idx].get(addr >> PAGE_BITS)
        if view is not None:
            return -1, view
        return self.fill(addr, ACCESS_WRITE, mmu_idx)

    def _store(self, addr: int, value: int, size: int, mmu_idx: int) -> None:
        pa, view = self._writable(addr, mmu_idx)
        if view is None:
            pa_page = pa >> PAGE_BITS
            if pa_page in self.code_pages:
                self.on_code_write(pa, size)  # drops the blocks of those bytes
                ram = self.phys.ram_page(pa_page, True)
                if ram is not None:
                    off = pa & PAGE_MASK
                    ram[off:off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")
                    return
            try:
                self.phys.write(pa, size, value & ((1 << (size * 8)) - 1))
            except PhysFault:
                raise GuestException("segv", addr, True) from None
            return
        off = addr & PAGE_MASK
        view[off:off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")


class PhysFault(Exception):
    """Nothing answered a physical access (the CPU raises an external abort at the virtual address)."""


class AddressSpacePhys:
    """A CPU's physical memory (the soft TLB's ``phys``) over a :class:`pyqemu.memory.AddressSpace`.

    RAM and ROM pages are handed out as 4 KiB views (ROM for reads only);
    everything else is dispatched per access. A change of the memory map
    calls ``on_map_change`` (the machine flushes its vCPUs' TLBs) unless every
    RAM/ROM range of the old map is still there unchanged: TLBs only hold
    views of those, so a range that merely became RAM (a flash device back in
    read-array mode, a region added) cannot have left a stale entry.
    """

    def __init__(self, space: Any) -> None:
        from pyqemu.memory import MemTxError
        self.space = space
        self._memtx_error = MemTxError
        self.on_map_change: list[Callable[[], None]] = []
        self._ram_map, self._ram_objs = self._ram_ranges()
        self._views: dict[int, memoryview | None] = {}  # pa_page << 1 | write -> ram_page's answer
        space.listeners.append(self._map_changed)

    def _ram_ranges(self) -> tuple[frozenset[tuple[Any, ...]], list[Any]]:
        """The RAM/ROM-backed ranges of the current map (and their buffers, kept alive for ``id``)."""
        ranges, objs = set(), []
        for r in self.space.flatview.ranges:
            ram = r.mr.ram
            if ram is not None:
                ranges.add((r.start, r.end, r.mr, r.offset, id(ram),
                            bool(r.readonly or getattr(r.mr, "readonly", False))))
                objs.append(ram)
        return frozenset(ranges), objs

    def _map_changed(self, _space: Any) -> None:
        self._views.clear()
        old = self._ram_map
        self._ram_map, self._ram_objs = self._ram_ranges()
        if old <= self._ram_map:
            return
        for fn in self.on_map_change:
            fn()

    def ram_page(self, pa_page: int, write: bool) -> memoryview | None:
        """The 4 KiB view of RAM (or ROM, for reads) at ``pa_page``, None if it is not RAM
        (the same view object each time, until the memory map changes)."""
        key = pa_page << 1 | write
        try:
            return self._views[key]
        except KeyError:
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            view = self._views[key] = self._ram_page(pa_page, write)
            return view

    def _ram_page(self, pa_page: int, write: bool) -> memoryview | None:
        start = pa_page << PAGE_BITS
        r = self.space.flatview.lookup(start)
        if r is None or r.mr.ram is None or r.end < start + PAGE_SIZE:
            return None
        if write and (r.readonly or getattr(r.mr, "readonly", False)):
            return None
        off = r.offset + start - r.start
        return r.mr.ram[off:off + PAGE_SIZE]

    def read(self, pa: int, size: int) -> int:
        try:
            return self.space.load(pa, size)
        except self._memtx_error as e:
            raise PhysFault(pa) from e

    def write(self, pa: int, size: int, value: int) -> None:
        try:
            self.space.store(pa, value, size)
        except self._memtx_error as e:
            raise PhysFault(pa) from e
