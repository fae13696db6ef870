"""The soft TLB's table walk: :func:`mmu.translate`'s common case, with a walk cache.

A TLB fill (accel/tcg/cputlb.py) needs only the output address and the
permissions of one 4 KiB page. :func:`make_walker` builds, for one set of
translation registers, a function that computes exactly those for the common
case (MMU on, 4 KiB granule, little-endian tables, a page descriptor at level
3 or a 2 MiB block at level 2, no fault) and answers None for everything else,
which then takes the general :func:`mmu.translate` (faults, 1 GiB blocks, 16/64
KiB granules, MMU off, big-endian tables). (A kernel's linear map of RAM is made
of 2 MiB blocks: 14,700 of a Linux boot's walks took the general walk.)

Like a real MMU's walk cache, the walker keeps the table descriptors above the
last level: per translation root (the TTBR's table address, which half, TCR)
and 2 MiB of address space, the address of the level-3 table (or of the level-2
block descriptor, the leaf, which is read at every walk) and the hierarchical
attributes (APTable, PXNTable, UXNTable) gathered on the way, so a fill reads
one descriptor instead of four. The ASID is not part of the key: every ASID
that uses the same tables (a KPTI kernel's half, all processes) shares what was
read, and the cache is cleared at every TLBI that could follow a change of a
table descriptor, whichever ASID it names. The architecture lets an MMU cache
those (Arm ARM D8.13 "Translation Lookaside Buffers": walk caches) and requires
software to invalidate them with a TLBI that is not last-level-only (TLBI VAE1,
VAAE1, ASIDE1, VMALLE1) after changing a table descriptor; the owner clears the
cache on those (:class:`WalkCache`). A TLBI VALE1/VAALE1 (last level only)
keeps it, as hardware may: Linux's text patching maps each page it patches
through a fixmap slot and flushes it with TLBI VAALE1IS.
"""
from __future__ import annotations

from collections.abc import Callable

from pyqemu.target.arm import mmu

M64 = mmu.M64
_ADDR = ((1 << 48) - 1) & ~0xFFF  # output address bits [47:12]
_BLOCK_ADDR = ((1 << 48) - 1) & ~0x1FFFFF  # a level-2 block's output address bits [47:21]
_R, _W, _X = mmu.PROT_R, mmu.PROT_W, mmu.PROT_X
PROT_GLOBAL = 8  # (accel/tcg/cputlb.py's: the translation holds for every ASID)
MAX_ROOTS = 64  # translation roots the cache keeps tables for before it starts again
# (EL1, EL0) read/write permissions by AP[2:1] (mmu._ap_prot)
_AP = tuple(mmu._ap_prot(ap) for ap in range(4))
_NEED = (_R, _W, _X)


class WalkCache:
    """Cached level-3 table addresses (or level-2 block descriptor addresses), per
    translation root and 2 MiB of addresses."""

    def __init__(self) -> None:
        self.roots: dict[tuple, dict[int, tuple[int, int, int, int, bool]]] = {}

    def of_root(self, key: tuple) -> dict[int, tuple[int, int, int, int, bool]]:
        """The tables cached for root ``key`` (walkers look it up at every miss, so that
        :meth:`clear` reaches everything they use)."""
        d = self.roots.get(key)
        if d is None:
            if len(self.roots) >= MAX_ROOTS:
                self.roots.clear()
            d = self.roots[key] = {}
        return d

    def clear(self) -> None:
        """Forget everything (a TLBI that is not last-level-only, a full flush)."""
        self.roots.clear()


Walker = Callable[[int, int], "tuple[int, int] | None"]


def make_walker(regs: mmu.MMURegs, read_desc: Callable[[int], int | None],
                cache: WalkCache) -> Walker | None:
    """``walk(va, access) -> (pa, prot) | None`` for ``regs`` (access: 0 read, 1 write, 2
    fetch; prot: PROT_R/W/X of the translating context, | PROT_GLOBAL for nG = 0), or None
    when these registers never take the fast path."""
    if not regs.sctlr & mmu.SCTLR_M or regs.sctlr & mmu.SCTLR_EE:
        return None
    oa_bits = mmu.output_bits(regs)
    halves: list[tuple | None] = []
    for upper in (False, True):
        for is_exec in (False, True):
            tsz, gbits, ttbr, epd, tbi = mmu._params(regs, upper, is_exec)
            base = ttbr & ((1 << 48) - 1) & ~1
            if gbits != 12 or epd or base >> oa_bits or base & 0xFFF:
                halves.append(None)
                continue
            top = 55 if tbi else 63
            inputsize = 64 - tsz
            ones = (1 << (top + 1 - inputsize)) - 1
            start = 4 - -(-(inputsize - 12) // 9)
            halves.append((inputsize, ones if upper else 0, ones, start, base, (base, upper, regs.tcr),
                           (1 << (inputsize - 21)) - 1))
    roots = cache.roots
    wxn = bool(regs.sctlr & mmu.SCTLR_WXN)
    as_el0 = regs.el == 0
    pan = regs.pan

    def walk(va: int, access: int) -> tuple[int, int] | None:
        va &= M64
        h = halves[(va >> 54 & 2) | (access == 2)]
        if h is None:
            return None
        inputsize, want, ones, start, base, root, region_mask = h
        if (va >> inputsize) & ones != want:
            return None
        region = va >> 21 & region_mask
        tables = roots.get(root)
        hit = None if tables is None else tables.get(region)
        if hit is None:
            table, ap_t, pxn_t, uxn_t = base, 0, 0, 0
            for level in range(start, 3):
                shift = 39 - 9 * level
                bits = min(9, inputsize - shift)
                slot = table | ((va >> shift) & ((1 << bits) - 1)) << 3
                desc = read_desc(slot)
                if desc is None or (desc & _ADDR) >> oa_bits:
                    return None  # (a fault, a bad address: the general walk)
                if desc & 3 != 3:
                    if level == 2 and desc & 3 == 1:  # a 2 MiB block: its descriptor is the leaf
                        hit = (slot, ap_t, pxn_t, uxn_t, True)
                        break
                    return None  # (an invalid entry, a 1 GiB block)
                ap_t |= desc >> 61 & 3
                pxn_t |= desc >> 59 & 1
                uxn_t |= desc >> 60 & 1
                table = desc & _ADDR
            else:
                hit = (table, ap_t, pxn_t, uxn_t, False)
            cache.of_root(root)[region] = hit
        table, ap_t, pxn_t, uxn_t, block = hit
        if block:
            desc = read_desc(table)
            if desc is None or desc & 3 != 1 or not desc >> 10 & 1:
                return None
            out = (desc & _BLOCK_ADDR) | (va & 0x1FF000)
        else:
            desc = read_desc(table | (va >> 9 & 0xFF8))
            if desc is None or desc & 3 != 3 or not desc >> 10 & 1:
                return None
            out = desc & _ADDR
        if out >> oa_bits:
            return None
        ap = (desc >> 6 & 3) | (ap_t & 2)
        if ap_t & 1:
            ap &= ~1
        el1, el0 = _AP[ap]
        if not (uxn_t or desc >> 54 & 1 or (wxn and el0 & _W)):
            el0 |= _X
        if not (pxn_t or desc >> 53 & 1 or el0 & _W or (wxn and el1 & _W)):
            el1 |= _X
        if as_el0:
            prot = el0
        else:
            prot = el1
            if pan and el0 & (_R | _W):
                prot &= _X
        if not prot & _NEED[access]:
            return None
        return out | (va & 0xFFF), prot if desc >> 11 & 1 else prot | PROT_GLOBAL
    return walk
