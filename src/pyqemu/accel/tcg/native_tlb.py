"""The native soft TLB: a vCPU's TLB as a table that native code reads (system mode).

The Python tier's soft TLB (accel/tcg/cputlb.py) maps virtual pages to 4 KiB
``memoryview``s in dictionaries. Native code (tcg/llvmgen.py, ``SoftMMU``)
cannot read those, so each vCPU's :class:`SoftTLB` keeps a mirror: per MMU
index a two-way set-associative table of ``1 << TLB_BITS`` sets (indexed by
``page ^ page >> TLB_BITS``), each two entries of four 64-bit words,

    read tag, write tag, addend, unused

where a tag is the virtual page number (``va >> 12``) or all ones (no entry),
and the host address of guest address ``va`` is ``addend + va`` (mod 2**64).
A refill writes the set's first way and moves the page that was there to the
second (whose page is dropped); native code looks at both. With one way, two
pages in use at one slot (a copy between them) made a Python fill call per
access: 100,000 of a warm Linux boot's 218,000 fill calls were two such pairs.

The mirror is filled lazily: native code that misses records the address
(the state block's ``miss``/``misskind``) and leaves before the instruction;
the Python tier runs that instruction (filling its dictionaries, doing MMIO or
raising the guest's fault) and :meth:`NativeTLB.refill` then copies whatever
the dictionaries hold for that page. Every removal from the dictionaries
(flushes, TLBI, a page that now holds translated code losing its write
entries) removes the mirrored entry, so the mirror never holds more than the
dictionaries.

There is one table per address space (ASID), as the soft TLB keeps the entries
of the address spaces that are not running: an ASID switch only changes which
table native code reads (``on_switch`` hooks store its address in the state
blocks). A kernel with KPTI switches ASID at every exception entry and return;
a single table lost every entry it had refilled at each switch.
"""
from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from pyqemu.tcg.llvmgen import TLB_ENTRY, TLB_WAYS

TLB_BITS = 11  # sets per MMU index: 2048 (4096 entries)
M64 = (1 << 64) - 1
_WORDS = TLB_ENTRY // 8  # (the second way's words follow the first's)
REFILL_EVICTED = 2
MAX_HOSTS = 1 << 16  # host addresses of page views remembered
_CLEAR_ONE_BY_ONE = 64  # fewer installed entries than this: clear them one by one, else memset


def host_address(view: memoryview) -> int | None:
    """The host address of a writable buffer's first byte (None: read-only, not addressable)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError, BufferError):
        return None


class NativeTLB:
    """The native mirror of one vCPU's soft TLB (``nb_mmu_idx`` tables)."""

    def __init__(self, nb_mmu_idx: int, bits: int = TLB_BITS) -> None:
        self.bits = bits
        self.entries = 1 << bits  # (sets)
        self.size = nb_mmu_idx * self.entries * TLB_ENTRY * TLB_WAYS
        self.words, self.address, self.installed = self._new_table()
        self.refills = 0
        # asid -> (words, address, installed) of the address spaces that are not running
        self.saved: dict[int, tuple[ctypes.Array, int, set[int]]] = {}
        self.on_switch: list[Callable[[int], None]] = []  # gets the new table's address
        # (1 + 2 * mmu_idx + is_store, page) -> (ASID, physical page) of misses whose fill gave
        # no entry (MMIO, ROM, a store to code): native code's fill call does not fill again, and
        # a device access in that ASID goes to that physical page, until a TLBI of the page or
        # the ASID, or a flush (the console's registers: 29,000 accesses in a Linux boot).
        self.nofill: dict[tuple[int, int], tuple[int, int]] = {}
        # id(view) -> (view, its host address): the soft TLB hands out the same views again
        # (AddressSpacePhys keeps them); holding the view keeps its id from being reused.
        self._hosts: dict[int, tuple[memoryview, int | None]] = {}

    def _new_table(self) -> tuple[ctypes.Array, int, set[int]]:
        words = (ctypes.c_uint64 * (self.size // 8))()
        address = ctypes.addressof(words)
        ctypes.memset(address, 0xFF, self.size)
        return words, address, set()  # (installed: word index of every entry holding a tag)

    def _word(self, mmu_idx: int, va_page: int) -> int:
        """The index of the first word of ``va_page``'s set (its first way)."""
        # The page number folded once: pages 4 MiB apart (a kernel's image, stacks and linear
        # map) would share slots, and thrash, with its low bits alone.
        slot = (va_page ^ va_page >> self.bits) & (self.entries - 1)
        return (mmu_idx * self.entries + slot) * _WORDS * TLB_WAYS

    def drop(self, mmu_idx: int, va_page: int) -> None:
        """Forget ``va_page`` in ``mmu_idx`` (if the slot holds it) in the running ASID's table."""
        self._drop(self.words, self.installed, self._word(mmu_idx, va_page), va_page)

    def drop_everywhere(self, mmu_idx: int, va_page: int) -> None:
        """Forget ``va_page`` in ``mmu_idx`` in every ASID's table."""
        w = self._word(mmu_idx, va_page)
        self._drop(self.words, self.installed, w, va_page)
        for words, _address, installed in self.saved.values():
            self._drop(words, installed, w, va_page)
        if self.nofill:
            self.nofill.pop((1 + 2 * mmu_idx, va_page), None)
            self.nofill.pop((2 + 2 * mmu_idx, va_page), None)

    def drop_page(self, va_page: int) -> None:
        """Forget ``va_page`` in every MMU index of every ASID's table (a TLBI of the page).
        Only entries in ``installed`` are read (Linux's text patching runs one TLBI per
        patched instruction: 44,000 in a boot)."""
        first = self._word(0, va_page)
        stride = self.entries * _WORDS * TLB_WAYS
        end = first + self.size // 8 - stride + 1
        for words, installed in ((self.words, self.installed),
                                 *((t[0], t[2]) for t in self.saved.values())):
            if not installed:
                continue
            for way0 in range(first, end, stride):
                for w in (way0, way0 + _WORDS):
                    if w in installed and (words[w] == va_page or words[w + 1] == va_page):
                        words[w] = words[w + 1] = M64
                        installed.discard(w)
        nofill = self.nofill
        if nofill:
            for kind in range(1, 2 * (self.size // 8 // stride) + 1):
                nofill.pop((kind, va_page), None)

    @staticmethod
    def _drop(words: ctypes.Array, installed: set[int], way0: int, va_page: int) -> None:
        for w in (way0, way0 + _WORDS):
            if words[w] == va_page or words[w + 1] == va_page:
                words[w] = words[w + 1] = M64
                installed.discard(w)

    def clear(self) -> None:
        """Forget everything (every ASID's table)."""
        self.saved.clear()
        self.nofill.clear()
        self.clear_running()

    def clear_running(self) -> None:
        """Forget the running ASID's table."""
        installed = self.installed
        if len(installed) < _CLEAR_ONE_BY_ONE:
            words = self.words
            for w in installed:
                words[w] = words[w + 1] = M64
        else:
            ctypes.memset(self.address, 0xFF, self.size)
        installed.clear()
        self.nofill.clear()  # (a TLBI of the ASID: its device translations go too)

    def forget(self, asid: int) -> None:
        """Drop the table of ``asid`` (not running: its entries were flushed or evicted)."""
        self.saved.pop(asid, None)
        self.nofill.clear()

    def switch(self, old: int, new: int) -> None:
        """ASID ``new`` runs now: keep ``old``'s table, use ``new``'s (empty if it has none)."""
        self.saved[old] = (self.words, self.address, self.installed)
        table = self.saved.pop(new, None)
        self.words, self.address, self.installed = table if table is not None else self._new_table()
        for hook in self.on_switch:
            hook(self.address)

    def _host(self, view: memoryview) -> int | None:
        known = self._hosts.get(id(view))
        if known is not None:
            return known[1]
        if len(self._hosts) >= MAX_HOSTS:
            self._hosts.clear()
        host = host_address(view)
        self._hosts[id(view)] = (view, host)
        return host

    def refill(self, tlb: Any, mmu_idx: int, va: int) -> int:
        """Copy the soft TLB's entry for the page of ``va`` in ``mmu_idx`` into its set's first
        way: 0 if it has none (MMIO, a fault, a store to code) or its memory has no host
        address, REFILL_EVICTED if that pushed another page out of the set (three pages in use
        map to one set), else 1."""
        if not 0 <= mmu_idx < tlb.nb_mmu_idx:
            return 0
        page = (va & M64) >> 12
        return self.install(mmu_idx, page, tlb.read[mmu_idx].get(page), tlb.write[mmu_idx].get(page))

    def install(self, mmu_idx: int, page: int, rview: memoryview | None, wview: memoryview | None) -> int:
        """Mirror the soft TLB's entries ``rview``/``wview`` (None: none) of ``page`` in
        ``mmu_idx`` (see refill; with neither, or no host address, the page is dropped)."""
        view = wview if wview is not None else rview
        host = None if view is None else self._host(view)
        if host is None:
            self.drop(mmu_idx, page)
            return 0
        if rview is not None and wview is not None and rview is not wview:
            rhost = self._host(rview)
            if rhost != host:  # reads and writes go to different memory: writes take the slow path
                wview, host = None, rhost
                if host is None:
                    self.drop(mmu_idx, page)
                    return 0
        w = self._word(mmu_idx, page)
        words, installed = self.words, self.installed
        old = words[w] if words[w] != M64 else words[w + 1]
        w1 = w + _WORDS
        evicted = M64
        if words[w1] == page or words[w1 + 1] == page:  # (the second way held it: drop that)
            words[w1] = words[w1 + 1] = M64
            installed.discard(w1)
        elif old != M64 and old != page:  # the first way's page moves to the second
            evicted = words[w1] if words[w1] != M64 else words[w1 + 1]
            words[w1], words[w1 + 1], words[w1 + 2] = words[w], words[w + 1], words[w + 2]
            installed.add(w1)
        words[w] = page if rview is not None else M64
        words[w + 1] = page if wview is not None else M64
        words[w + 2] = (host - (page << 12)) & M64
        installed.add(w)
        self.refills += 1
        return REFILL_EVICTED if evicted != M64 else 1
