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
current ASID. :meth:`SoftTLB.switch_asid` puts the current ASID's entries aside
and brings back the new one's, so a context switch keeps the kernel's (global)
entries and neither process pays for page walks again. TLBI by VA, by ASID
and ALL reach the entries put aside as well.

The physical side is an object with ``ram_page(pa_page, write) -> memoryview |
None`` (a 4 KiB view of RAM, or of ROM for reads; None for MMIO), and
``read(pa, size) -> int`` / ``write(pa, size, value)`` for everything else.
"""
from __future__ import annotations

import contextlib
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
        self.read: list[dict[int, memoryview]] = [{} for _ in range(nb_mmu_idx)]
        self.write: list[dict[int, memoryview]] = [{} for _ in range(nb_mmu_idx)]
        self.exec: list[dict[int, int]] = [{} for _ in range(nb_mmu_idx)]  # va page -> pa page
        # Global translations to pages with no RAM view (devices): va page -> pa page, at
        # 2 * mmu_idx + is_store. A device access still goes through the slow path, but
        # without a page-table walk each time (a console's register, polled per character).
        self.io: list[dict[int, int]] = [{} for _ in range(2 * nb_mmu_idx)]
        with contextlib.suppress(AttributeError):  # (RAM that replaced a device: ram_page now)
            phys.on_ram_added.append(lambda: [d.clear() for d in self.io])
        # pa page -> [(mmu_idx, va page)] of write entries, to revoke them when code appears there
        self._writers: dict[int, set[tuple[int, int]]] = {}
        self.code_pages: set[int] = set()  # physical pages holding translated code
        self.on_flush: list[Callable[[int | None], None]] = []
        # (old ASID, new ASID, whether the old one's own entries held code, whether the new
        # one's were brought back): hooks that keep virtual-pc caches per address space
        self.on_asid_switch: list[Callable[[int, int, bool, bool], None]] = []
        self.on_code_write: Callable[[int, int], None] = lambda pa, size: None
        self.fills = 0
        self.asid = 0
        # (mmu_idx, va page) -> pa page of the write entry (-1: none) of the current ASID's
        # own (non-global) entries; asid -> the same entries put aside: (read, write, exec, pa)
        self._ng: dict[tuple[int, int], int] = {}
        self._saved: dict[int, dict[tuple[int, int], tuple[Any, Any, Any, int]]] = {}
        # The native tier's mirror of the read/write entries (accel/tcg/native_tlb.py), if any:
        # whatever leaves the dictionaries leaves it too.
        self.native: Any = None

    # --- what generated code sees --------------------------------------------------
    def bind(self, cpu: Any) -> None:
        """Give ``cpu`` the ``TR<i>``/``TW<i>`` attributes blocks load, and make it this TLB's owner."""
        cpu.tlb = self
        for i in range(self.nb_mmu_idx):
            setattr(cpu, f"TR{i}", self.read[i].get)
            setattr(cpu, f"TW{i}", self.write[i].get)

    # --- filling ------------------------------------------------------------------------
    def fill(self, va: int, access: int, mmu_idx: int) -> tuple[int, memoryview | None]:
        """Translate ``va``; install its page when it is RAM. Returns (pa, view or None)."""
        if access != ACCESS_EXEC:
            io_page = self.io[2 * mmu_idx + access].get(va >> PAGE_BITS)
            if io_page is not None:
                return io_page << PAGE_BITS | (va & PAGE_MASK), None
        pa, prot = self.translate(va, access, mmu_idx)
        self.fills += 1
        va_page = va >> PAGE_BITS
        pa_page = pa >> PAGE_BITS
        key = (mmu_idx, va_page)
        wpa = -1
        if self.native is not None:
            self.native.drop(mmu_idx, va_page)
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
            self._writers.setdefault(pa_page, set()).add(key)
            wpa = pa_page
        else:
            self.write[mmu_idx].pop(va_page, None)
        if prot & PROT_GLOBAL:
            self._ng.pop(key, None)
            if access != ACCESS_EXEC and self.phys.ram_page(pa_page, False) is None:
                self.io[2 * mmu_idx + access][va_page] = pa_page
        else:
            self._ng[key] = wpa
        if access == ACCESS_WRITE:
            view = self.write[mmu_idx].get(va_page)
        if view is not None and self.native is not None:  # (native code would miss it next)
            self.native.refill(self, mmu_idx, va)
        return pa, view

    def translate_code(self, va: int, mmu_idx: int) -> int:
        """Physical address of the instruction at ``va`` (raises the guest's instruction abort)."""
        pa_page = self.exec[mmu_idx].get(va >> PAGE_BITS)
        if pa_page is None:
            pa, prot = self.translate(va, ACCESS_EXEC, mmu_idx)
            pa_page = pa >> PAGE_BITS
            self.exec[mmu_idx][va >> PAGE_BITS] = pa_page
            key = (mmu_idx, va >> PAGE_BITS)
            if prot & PROT_GLOBAL:
                self._ng.pop(key, None)
            else:
                self._ng.setdefault(key, -1)
        return pa_page << PAGE_BITS | (va & PAGE_MASK)

    def protect_code_page(self, pa_page: int) -> None:
        """Translated code now lives on ``pa_page``: stores to it must take the slow path."""
        if pa_page in self.code_pages:
            return
        self.code_pages.add(pa_page)
        native = self.native
        for idx, va_page in self._writers.pop(pa_page, ()):
            self.write[idx].pop(va_page, None)
            if native is not None:  # (and the tables of ASIDs put aside: their entries are)
                native.drop_everywhere(idx, va_page)

    def unprotect_code_page(self, pa_page: int) -> None:
        self.code_pages.discard(pa_page)

    # --- flushing -----------------------------------------------------------------------
    def flush(self) -> None:
        """Forget every translation of every ASID (TLBI ALL, translation-regime changes)."""
        for d in (*self.read, *self.write, *self.exec, *self.io):
            d.clear()
        self._writers.clear()
        self._ng.clear()
        self._saved.clear()
        if self.native is not None:
            self.native.clear()
        for hook in self.on_flush:
            hook(None)

    def flush_page(self, va: int) -> None:
        """Forget the translations of the page holding ``va`` in every regime and ASID (TLBI VA*)."""
        va_page = (va & 0xFFFFFFFFFFFFFFFF) >> PAGE_BITS
        code = False
        for idx in range(self.nb_mmu_idx):
            self.read[idx].pop(va_page, None)
            self.write[idx].pop(va_page, None)
            if self.exec[idx].pop(va_page, None) is not None:
                code = True
            self.io[2 * idx].pop(va_page, None)
            self.io[2 * idx + 1].pop(va_page, None)
            if self.native is not None:
                self.native.drop_everywhere(idx, va_page)
            key = (idx, va_page)
            self._ng.pop(key, None)
            for saved in self._saved.values():
                entry = saved.pop(key, None)
                if entry is not None and entry[2] is not None:
                    code = True  # (an address space put aside translated code there)
        if code:  # only code translations have virtual-pc caches to drop (a data page is the common case)
            for hook in self.on_flush:
                hook(va_page)

    def flush_asid(self, asid: int) -> None:
        """Forget the non-global translations of ``asid`` (TLBI ASIDE1)."""
        self._saved.pop(asid, None)
        if asid == self.asid:
            if self.native is not None:
                self.native.clear_running()
            self._code_gone(self._stash())
        elif self.native is not None:
            self.native.forget(asid)

    def switch_asid(self, asid: int) -> None:
        """The current ASID is now ``asid``: put the old one's entries aside, bring back the new one's."""
        old = self.asid
        if asid == old:
            return
        stashed = self._stash()
        native = self.native
        if stashed is not None:
            self._saved[old] = stashed
            if len(self._saved) > MAX_SAVED_ASIDS:
                evicted = next(iter(self._saved))
                del self._saved[evicted]
                if native is not None:
                    native.forget(evicted)
        if native is not None:  # (native code reads the new ASID's own table: native_tlb.py)
            native.switch(old, asid)
            if stashed is None:
                native.forget(old)  # (it has no entries of its own to come back to)
        self.asid = asid
        saved = self._saved.pop(asid, None)
        if saved:
            self._restore(saved)
        if self.on_asid_switch:
            had_code = stashed is not None and any(e[2] is not None for e in stashed.values())
            for hook in self.on_asid_switch:
                hook(old, asid, had_code, bool(saved))
        else:
            self._code_gone(stashed)  # the old ASID's code pages are gone from this context

    def _code_gone(self, stashed: dict[tuple[int, int], tuple[Any, Any, Any, int]] | None) -> None:
        """Tell the hooks about each page whose code translation was taken out."""
        if not stashed:
            return
        pages = {va_page for (_idx, va_page), entry in stashed.items() if entry[2] is not None}
        for va_page in pages:
            for hook in self.on_flush:
                hook(va_page)

    def _stash(self) -> dict[tuple[int, int], tuple[Any, Any, Any, int]] | None:
        """Take the current ASID's own entries out of the dictionaries (None: it has none)."""
        if not self._ng:
            return None
        out = {}
        read, write, exe = self.read, self.write, self.exec
        for key, wpa in self._ng.items():  # (the native mirror keeps a table per ASID)
            idx, va_page = key
            out[key] = (read[idx].pop(va_page, None), write[idx].pop(va_page, None),
                        exe[idx].pop(va_page, None), wpa)
        self._ng = {}
        return out

    def _restore(self, saved: dict[tuple[int, int], tuple[Any, Any, Any, int]]) -> None:
        code_pages = self.code_pages
        for key, (r, w, x, wpa) in saved.items():
            idx, va_page = key
            if r is not None:
                self.read[idx][va_page] = r
            if w is not None and wpa not in code_pages:  # code may have appeared there meanwhile
                self.write[idx][va_page] = w
                self._writers.setdefault(wpa, set()).add(key)
            else:
                wpa = -1
            if x is not None:
                self.exec[idx][va_page] = x
            self._ng[key] = wpa

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
        self.on_ram_added: list[Callable[[], None]] = []
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
            if old != self._ram_map:  # (device pages that became RAM: soft TLBs' io entries)
                for fn in self.on_ram_added:
                    fn()
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
