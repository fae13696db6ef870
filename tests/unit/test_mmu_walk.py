"""The TLB fill's walk (target/arm/mmu_walk.py) against the general walk (mmu.translate).

Random 4 KiB-granule tables (pages, blocks, invalid entries, AF clear, APTable, PXN/UXN,
nG, output addresses beyond the output size) under random registers: wherever the fast
walk answers, its answer is the general walk's; it answers for every level-3 page the
general walk translates and every 2 MiB block at level 2; and its walk cache follows the
architecture's rules.
"""
from __future__ import annotations

import random

import pytest
from test_mmu import AF, BLOCK, NG, PAGE, TABLE, Tables, _random_tables

from pyqemu.target.arm import mmu, mmu_walk
from pyqemu.target.arm.mmu import MMURegs, Translation

ACCESSES = (mmu.READ, mmu.WRITE, mmu.EXEC)


def _variants(regs: MMURegs, rnd: random.Random) -> list[MMURegs]:
    out = []
    for el, pan in ((1, False), (1, True), (0, False)):
        sctlr = regs.sctlr | rnd.choice([0, mmu.SCTLR_WXN])
        out.append(MMURegs(sctlr=sctlr, tcr=regs.tcr, ttbr0=regs.ttbr0, ttbr1=regs.ttbr1, mair=regs.mair,
                           el=el, pan=pan, pa_bits=regs.pa_bits))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_fast_walk_matches_the_general_walk(seed):
    rnd = random.Random(seed)
    t, regs, vas = _random_tables(12, seed, oa_bits=(40, 40, 46), pa_bits=44)
    answered = 0
    for r in _variants(regs, rnd):
        walk = mmu_walk.make_walker(r, t.read, mmu_walk.WalkCache())
        assert walk is not None
        for _ in range(2):  # (the second time from the walk cache)
            for va in vas:
                for access, acc in enumerate(ACCESSES):
                    want = mmu.translate(va, acc, r, t.read)
                    got = walk(va, access)
                    if got is None:
                        assert not (isinstance(want, Translation) and want.level >= 2), (hex(va), want)
                        continue
                    assert isinstance(want, Translation), (hex(va), access, want, got)
                    glob = mmu_walk.PROT_GLOBAL if want.asid is None else 0
                    assert got == (want.pa, want.prot | glob), (hex(va), access, want, got)
                    answered += 1
    assert answered > 50


def test_registers_without_a_fast_path():
    t = Tables()
    root = t.alloc()
    base = dict(tcr=16 | 16 << 16 | 2 << 30 | 5 << 32, ttbr0=root, mair=0xFF)
    assert mmu_walk.make_walker(MMURegs(sctlr=0, **base), t.read, mmu_walk.WalkCache()) is None
    big_endian = MMURegs(sctlr=mmu.SCTLR_M | mmu.SCTLR_EE, **base)
    assert mmu_walk.make_walker(big_endian, t.read, mmu_walk.WalkCache()) is None
    tg64 = MMURegs(sctlr=mmu.SCTLR_M, tcr=base["tcr"] | 1 << 14, ttbr0=root, mair=0xFF)
    t.map(root, 0x1000, 0x4000_0000 | PAGE | AF)
    walk = mmu_walk.make_walker(tg64, t.read, mmu_walk.WalkCache())
    assert walk(0x1000, 0) is None  # (a 64 KiB granule: the general walk)


def test_walk_cache_follows_tlbi_rules():
    """A changed table descriptor is seen only after the cache is cleared (TLBI VAE1 and the
    like); a changed page descriptor at once (only the TLB holds those)."""
    t = Tables()
    root = t.alloc()
    regs = MMURegs(sctlr=mmu.SCTLR_M, tcr=16 | 16 << 16 | 2 << 30 | 5 << 32, ttbr0=root, mair=0xFF)
    va = 0x1234_5000
    t.map(root, va, 0x4010_0000 | PAGE | AF | NG)
    cache = mmu_walk.WalkCache()
    walk = mmu_walk.make_walker(regs, t.read, cache)
    assert walk(va, 0) == (0x4010_0000, mmu.PROT_R | mmu.PROT_W | mmu.PROT_X)
    t.reads.clear()
    assert walk(va + 8, 0)[0] == 0x4010_0008
    assert len(t.reads) == 1  # the level-3 descriptor only
    t.map(root, va, 0x4020_0000 | PAGE | AF)  # a last-level change: seen at once
    assert walk(va, 0) == (0x4020_0000, mmu.PROT_R | mmu.PROT_W | mmu.PROT_X | mmu_walk.PROT_GLOBAL)
    # Another level-3 table for the same 2 MiB: the cached one is used until the cache is cleared.
    l2_slot = None
    table = root
    for level in range(0, 3):
        slot = table + 8 * t.index(va, level, 48)
        table = t.get(slot) & ((1 << 48) - 1) & ~0xFFF
        l2_slot = slot
    new_l3 = t.alloc()
    t.put(new_l3 + 8 * t.index(va, 3, 48), 0x4030_0000 | PAGE | AF)
    t.put(l2_slot, new_l3 | 3)
    assert walk(va, 0)[0] == 0x4020_0000
    cache.clear()
    assert walk(va, 0)[0] == 0x4030_0000
    # Another ASID with the same tables shares the cached ones (a TLBI of any ASID clears them).
    other = MMURegs(sctlr=regs.sctlr, tcr=regs.tcr, ttbr0=root | 5 << 48, mair=0xFF)
    t.reads.clear()
    assert mmu_walk.make_walker(other, t.read, cache)(va, 0)[0] == 0x4030_0000
    assert len(t.reads) == 1 and len(cache.roots) == 1  # (roots that have tables cached)
    # Other tables are another root: their walks never see this root's cached tables.
    root2 = t.alloc()
    t.map(root2, va, 0x4040_0000 | PAGE | AF)
    third = MMURegs(sctlr=regs.sctlr, tcr=regs.tcr, ttbr0=root2 | 5 << 48, mair=0xFF)
    assert mmu_walk.make_walker(third, t.read, cache)(va, 0)[0] == 0x4040_0000
    assert len(cache.roots) == 2


def test_a_2mib_block_is_read_at_every_walk():
    """A level-2 block (a kernel's linear map) takes the fast walk; its descriptor is the leaf,
    read at every walk (a change is seen at once); a block replaced by a table is left to the
    general walk."""
    t = Tables()
    root = t.alloc()
    regs = MMURegs(sctlr=mmu.SCTLR_M, tcr=16 | 16 << 16 | 2 << 30 | 5 << 32, ttbr0=root, mair=0xFF)
    va = 0x4000_0000 + 0x3_5123
    t.map(root, va, 0x8000_0000 | BLOCK | AF | NG, level=2)
    cache = mmu_walk.WalkCache()
    walk = mmu_walk.make_walker(regs, t.read, cache)
    rwx = mmu.PROT_R | mmu.PROT_W | mmu.PROT_X
    assert walk(va, 0) == (0x8003_5123, rwx)
    t.reads.clear()
    assert walk(va + 0x10_0000, 1) == (0x8013_5123, rwx)
    assert len(t.reads) == 1  # the block descriptor only
    t.map(root, va, 0x9000_0000 | BLOCK | AF, level=2)  # a new block: seen at once
    assert walk(va, 0) == (0x9003_5123, rwx | mmu_walk.PROT_GLOBAL)
    t.map(root, va, t.alloc() | TABLE, level=2)  # split into a table (then a TLBI): not a block
    assert walk(va, 0) is None
