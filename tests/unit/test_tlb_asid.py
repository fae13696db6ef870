"""The ASID-tagged soft TLB: context switches, TLBI by VA/ASID/ALL, and page-table edits.

A bare-metal program switches between two address spaces (ASID 1 and 2) that
map the same virtual pages (non-global, nG=1) to different data and code; RAM
itself is a global block mapping. What it loads and what the code it calls
returns show whether a stale translation of the other address space, or an
entry put aside before a TLBI, ever leaks through.
"""
from __future__ import annotations

import sys
from pathlib import Path

from pyqemu.accel.tcg.cputlb import PROT_EXEC, PROT_GLOBAL, PROT_READ, PROT_WRITE, SoftTLB

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_cpu_sys import load, run_until_exit  # noqa: E402
from test_softmmu import RAM_BASE, Board  # noqa: E402

TABLES = 0x40080000          # L1/L2/L3 of ASID 1, then of ASID 2 (one 4 KiB page each)
DATA = 0x40090000            # data pages A, B, C, D
CODE = 0x40094000            # code pages: ASID 1's, ASID 2's, and the one ASID 1 gets later
USER_VA = 0x80000000         # data page (nG); the next page holds code (nG)
PAGE_ATTRS = 0xF07           # page descriptor, AttrIndx 1 (normal), inner shareable, AF, nG

PROGRAM = r"""
    .global _start
_start:
    ldr x25, =log
    ldr x0, =0xff00                 // MAIR: attr0 device-nGnRnE, attr1 normal write-back
    msr mair_el1, x0
    ldr x0, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))  // EPD1, 8-bit ASIDs
    msr tcr_el1, x0
    ldr x0, =0x40080000 | (1 << 48) // ASID 1
    msr ttbr0_el1, x0
    isb
    mrs x0, sctlr_el1
    orr x0, x0, #1
    msr sctlr_el1, x0
    isb
    ldr x19, =0x80000000            // the data page; x19 + 0x1000: the code page
    add x18, x19, #0x1000
    bl probe                        // ASID 1: A's data, code returns 1
    bl as2
    bl probe                        // ASID 2: B's data, code returns 2
    bl as1
    bl probe                        // ASID 1 again (its entries come back)
    // ASID 2: point ASID 1's data page at C and its code page at the third code page, then TLBI
    // the two pages by VA (for ASID 1) while ASID 2 runs: ASID 1's set-aside entries must go
    bl as2
    ldr x0, =0x40082000
    ldr x1, =0x40092000 | 0xF07
    str x1, [x0]
    ldr x1, =0x40096000 | 0xF07
    str x1, [x0, #8]
    dsb ishst
    ldr x0, =(0x80000000 >> 12) | (1 << 48)
    tlbi vae1is, x0
    ldr x0, =(0x80001000 >> 12) | (1 << 48)
    tlbi vale1, x0
    dsb ish
    isb
    bl probe                        // still ASID 2: B, 2
    bl as1
    bl probe                        // ASID 1: C, 3
    // ASID 1: point ASID 2's data page at D, TLBI ASIDE1 for ASID 2, switch
    ldr x0, =0x40085000
    ldr x1, =0x40093000 | 0xF07
    str x1, [x0]
    dsb ishst
    mov x0, #(2 << 48)
    tlbi aside1, x0
    dsb ish
    bl as2
    bl probe                        // ASID 2: D, 2
    // a store through ASID 2's mapping lands in D, not in ASID 1's page C
    ldr x1, =0x5555
    str x1, [x19]
    bl as1
    bl probe                        // ASID 1: C, 3
    // TLBI VMALLE1 after editing ASID 1's table again: back to A
    ldr x0, =0x40082000
    ldr x1, =0x40090000 | 0xF07
    str x1, [x0]
    dsb ishst
    tlbi vmalle1
    dsb ish
    isb
    bl probe                        // ASID 1: A, 3
    bl as2
    bl probe                        // ASID 2: D (now 0x5555), 2
    ldr x9, =0x09000100
    str x25, [x9]
1:  b 1b

probe:                              // log [x19] and what the code page returns
    mov x24, x30
    ldr x1, [x19]
    blr x18
    stp x1, x0, [x25], #16
    ret x24

as1:
    ldr x0, =0x40080000 | (1 << 48)
    b 1f
as2:
    ldr x0, =0x40083000 | (2 << 48)
1:  msr ttbr0_el1, x0
    isb
    ret
    .ltorg
    .balign 4096
log:
    .fill 64, 8, 0
"""


def _q(board: Board, pa: int, value: int) -> None:
    off = pa - RAM_BASE
    board.view[off:off + 8] = value.to_bytes(8, "little")


def _setup_tables(board: Board) -> None:
    for n, (data, code) in enumerate(((DATA, CODE), (DATA + 0x1000, CODE + 0x1000))):
        l1, l2, l3 = TABLES + 0x3000 * n, TABLES + 0x3000 * n + 0x1000, TABLES + 0x3000 * n + 0x2000
        _q(board, l1, 0x401)                       # 0-1 GiB: device, global
        _q(board, l1 + 8, 0x40000705)              # 1-2 GiB: RAM, global
        _q(board, l1 + 16, l2 | 3)                 # 2-3 GiB: a table down to the nG pages
        _q(board, l2, l3 | 3)
        _q(board, l3, data | PAGE_ATTRS)
        _q(board, l3 + 8, code | PAGE_ATTRS)
    for i, value in enumerate((0xAAAA, 0xBBBB, 0xCCCC, 0xDDDD)):
        _q(board, DATA + 0x1000 * i, value)
    for i, ret in enumerate((1, 2, 3)):
        insns = (0xD2800000 | ret << 5, 0xD65F03C0)  # movz x0, #ret; ret
        for j, insn in enumerate(insns):
            off = CODE + 0x1000 * i + 4 * j - RAM_BASE
            board.view[off:off + 4] = insn.to_bytes(4, "little")


def test_context_switches_and_tlbi_reach_entries_of_inactive_asids() -> None:
    board, _image, cpu = load(PROGRAM, model="cortex-a57")
    _setup_tables(board)
    run_until_exit(cpu, board, slices=200)
    end = board.exit_value - RAM_BASE             # x25: just past the 9 logged pairs
    log = [int.from_bytes(board.ram[i:i + 8], "little") for i in range(end - 9 * 16, end, 8)]
    pairs = [(log[i], log[i + 1]) for i in range(0, len(log), 2)]
    assert pairs == [
        (0xAAAA, 1), (0xBBBB, 2), (0xAAAA, 1),   # switches keep each ASID's own view
        (0xBBBB, 2), (0xCCCC, 3),                # TLBI VA for ASID 1 issued while ASID 2 ran
        (0xDDDD, 2), (0xCCCC, 3),                # TLBI ASIDE1 for the inactive ASID 2
        (0xAAAA, 3), (0x5555, 2),                # TLBI VMALLE1; the store went to D only
    ]
    assert int.from_bytes(board.ram[DATA + 0x2000 - RAM_BASE:][:8], "little") == 0xCCCC


def _tlb_over(board: Board, maps: dict[int, tuple[int, bool]]) -> tuple[SoftTLB, list[int]]:
    """A soft TLB whose 'walk' reads ``maps`` (va page -> (pa page, global)) and counts walks."""
    walks: list[int] = []

    def walk(va: int, access: int, mmu_idx: int) -> tuple[int, int]:
        walks.append(va >> 12)
        pa_page, glob = maps[va >> 12]
        return pa_page << 12 | (va & 0xFFF), PROT_READ | PROT_WRITE | PROT_EXEC | (PROT_GLOBAL if glob else 0)
    return SoftTLB(board, walk, 2), walks


def test_switch_keeps_global_entries_and_restores_the_other_asids_without_walks() -> None:
    board = Board()
    maps = {0x10: (0x40000, False), 0xFFFF0: (0x40001, True)}
    tlb, walks = _tlb_over(board, maps)
    for va in (0x10000, 0xFFFF0000):
        tlb.ld_slow(None, va, 8, 0, (1 << 64) - 1, 1)
    assert walks == [0x10, 0xFFFF0]
    tlb.switch_asid(5)
    assert tlb.read[1].get(0x10) is None
    board.view[0x1000:0x1008] = (99).to_bytes(8, "little")
    assert tlb.ld_slow(None, 0xFFFF0000, 8, 0, (1 << 64) - 1, 1) == 99   # the global page...
    maps[0x10] = (0x40002, False)                 # ASID 5 maps the user page elsewhere
    board.view[0x2000:0x2008] = (77).to_bytes(8, "little")
    assert tlb.ld_slow(None, 0x10000, 8, 0, (1 << 64) - 1, 1) == 77
    assert walks == [0x10, 0xFFFF0, 0x10]         # ...came back without a walk
    tlb.switch_asid(0)
    assert tlb.read[1].get(0x10) is not None and tlb.read[1].get(0xFFFF0) is not None
    assert tlb.ld_slow(None, 0x10000, 8, 0, (1 << 64) - 1, 1) == 0   # ASID 0's page again
    assert walks == [0x10, 0xFFFF0, 0x10]         # ...without walking its tables again


def test_code_appearing_on_a_page_revokes_set_aside_write_entries() -> None:
    board = Board()
    tlb, _walks = _tlb_over(board, {0x10: (0x40000, False)})
    tlb.st_slow(None, 0x10000, 1, 8, 1)
    assert tlb.write[1].get(0x10) is not None
    tlb.switch_asid(3)
    tlb.protect_code_page(0x40000)                # code translated there while ASID 3 ran
    writes: list[int] = []
    tlb.on_code_write = lambda pa, size: (writes.append(pa >> 12), tlb.unprotect_code_page(pa >> 12))
    tlb.switch_asid(0)
    assert tlb.write[1].get(0x10) is None         # the store must take the slow path...
    tlb.st_slow(None, 0x10000, 2, 8, 1)
    assert writes == [0x40000]                    # ...which drops the blocks first
    assert tlb.read[1][0x10][0] == 2


def test_tlbi_of_a_data_page_keeps_virtual_pc_caches() -> None:
    board = Board()
    tlb, _walks = _tlb_over(board, {0x10: (0x40000, True), 0x11: (0x40001, True)})
    seen: list[int | None] = []
    tlb.on_flush.append(seen.append)
    tlb.translate_code(0x10000, 1)
    tlb.ld_slow(None, 0x11000, 8, 0, (1 << 64) - 1, 1)
    tlb.flush_page(0x11000)                       # data only: no block can depend on it
    assert seen == [] and tlb.read[1].get(0x11) is None
    tlb.flush_page(0x10000)                       # code: the lookup caches must forget it
    assert seen == [0x10]
    assert tlb.translate_code(0x10008, 1) == 0x40000008


def test_device_pages_are_walked_once_until_a_tlbi() -> None:
    """A polled device register (a console's flag register) must not cost a walk per access."""
    board = Board()
    dev = 0x09000                                 # pa page 0x9000000 >> 12: no RAM there
    tlb, walks = _tlb_over(board, {0x100: (dev, True), 0x200: (dev, False)})
    for _ in range(3):
        tlb.ld_slow(None, 0x100018, 4, 0, 0xFFFFFFFF, 1)
        tlb.st_slow(None, 0x100000, 0x41, 1, 1)
    assert walks == [0x100]                       # one walk (it allows reads and writes)
    assert ("w", 0x9000000, 1) in board.mmio_log and ("r", 0x9000018, 4) in board.mmio_log
    assert len(board.mmio_log) == 6               # every access still reaches the device
    tlb.flush_page(0x100000)                      # TLBI VA: walk again
    tlb.ld_slow(None, 0x100018, 4, 0, 0xFFFFFFFF, 1)
    tlb.flush()
    tlb.ld_slow(None, 0x100018, 4, 0, 0xFFFFFFFF, 1)
    assert walks == [0x100, 0x100, 0x100]
    for _ in range(2):                            # an ASID's own (nG) mapping: walked each time
        tlb.ld_slow(None, 0x200000, 4, 0, 0xFFFFFFFF, 1)
    assert walks[3:] == [0x200, 0x200]


def test_memory_map_changes_flush_only_when_a_ram_range_goes() -> None:
    """A flash leaving read-array mode must drop cached views of it; going back needs no flush."""
    from pyqemu.accel.tcg.cputlb import AddressSpacePhys
    from pyqemu.memory import AddressSpace, MemoryRegion, MemoryRegionOps

    root = MemoryRegion.container_region("root", 1 << 32)
    ram = MemoryRegion.ram_region("ram", 1 << 16)
    flash = MemoryRegion.rom_device_region("flash", 1 << 16, MemoryRegionOps(
        read=lambda offset, size: 0x98, write=lambda offset, value, size: None))
    root.add_subregion(0x40000000, ram)
    root.add_subregion(0, flash)
    space = AddressSpace(root, "test")
    try:
        phys = AddressSpacePhys(space)
        flushes: list[int] = []
        tlb, _walks = _tlb_over(phys, {0: (0, True), 0x40000: (0x40000, True)})
        phys.on_map_change.append(lambda: (flushes.append(1), tlb.flush()))
        flash.ram[0:8] = (0x1234).to_bytes(8, "little")
        assert tlb.ld_slow(None, 0, 8, 0, (1 << 64) - 1, 1) == 0x1234   # read-array: RAM view
        flash.set_romd(False)                                           # command mode: MMIO
        assert flushes == [1]
        assert tlb.ld_slow(None, 0, 1, 0, 0xFF, 1) == 0x98               # the device answers
        flash.set_romd(True)
        assert flushes == [1]                                           # nothing cached went stale
        assert tlb.ld_slow(None, 0, 8, 0, (1 << 64) - 1, 1) == 0x1234
        root.del_subregion(ram)                                         # RAM gone: flush
        assert flushes == [1, 1]
    finally:
        space.destroy()


def test_asid_switch_names_the_code_pages_it_puts_aside_without_a_per_asid_hook() -> None:
    board = Board()
    tlb, walks = _tlb_over(board, {0x10: (0x40000, False), 0x11: (0x40001, False), 0x12: (0x40002, True)})
    seen: list[int | None] = []
    tlb.on_flush.append(seen.append)
    tlb.translate_code(0x10000, 0)                # user code (nG)
    tlb.ld_slow(None, 0x11000, 8, 0, (1 << 64) - 1, 0)
    tlb.translate_code(0x12000, 1)                # kernel code (global): stays
    tlb.switch_asid(7)
    assert seen == [0x10] and tlb.exec[0].get(0x10) is None
    assert tlb.translate_code(0x12008, 1) == 0x40002008 and walks == [0x10, 0x11, 0x12]
    tlb.ld_slow(None, 0x11000, 8, 0, (1 << 64) - 1, 0)
    tlb.switch_asid(0)                            # ASID 7 had data only: no virtual-pc cache to drop
    assert seen == [0x10] and tlb.exec[0].get(0x10) == 0x40000


def test_jump_caches_are_kept_per_address_space() -> None:
    """A KPTI kernel switches ASID at every context switch: each address space keeps its own
    virtual-pc caches (and native chain generation), as the TLB keeps its entries, until a
    TLBI reaches them."""
    from types import SimpleNamespace

    from pyqemu.accel.tcg.tb_sys import SysTBCache
    board = Board()
    tlb, _walks = _tlb_over(board, {0x10: (0x40000, False), 0x12: (0x40002, True)})
    switches: list[tuple[int, int, bool, bool]] = []
    tlb.on_asid_switch.append(lambda *a: switches.append(a))
    cache = SysTBCache(lambda *a: None, {}, lambda flags: 1, lambda pa: 0)
    cpu = SimpleNamespace(tlb=tlb, tb_flags=1)
    cache.attach(cpu)
    tlb.translate_code(0x10000, 1)                # ASID 0's own code page (nG)
    cpu.jc[0x10000] = block = object()
    gen0 = cpu._native_gen
    tlb.switch_asid(7)                            # another process: its own empty caches
    assert switches[-1] == (0, 7, True, False)
    assert cpu.jc_get(0x10000) is None and cpu._native_gen != gen0
    tlb.translate_code(0x12000, 1)                # global code only
    cpu.jc[0x12000] = object()
    tlb.switch_asid(0)                            # back: ASID 0's caches come back
    assert switches[-1] == (7, 0, False, True)
    assert cpu.jc_get(0x10000) is block and cpu._native_gen == gen0
    tlb.switch_asid(7)
    tlb.flush_page(0x10000)                       # TLBI VA while ASID 0 is aside
    tlb.switch_asid(0)
    assert cpu.jc_get(0x10000) is None and cpu._native_gen != gen0


def test_upper_half_translations_are_shared_by_asids_with_the_same_tables() -> None:
    """A KPTI kernel maps itself non-global: an ASID that has not run the kernel's page yet
    takes the translation another ASID walked, as long as both read the same upper-half tables
    (``upper_tables``). A TLBI by VA, a full flush, other tables, or a TLBI of that ASID
    (only that one) walk again; lower-half (user) pages are never shared."""
    board = Board()
    kernel, user = 0xFFFF800000010, 0x10
    maps = {kernel: (0x40000, False), user: (0x40001, False)}
    tlb, walks = _tlb_over(board, maps)
    tlb.upper_tables = ("swapper", 0)

    def touch(asid: int, *pages: int) -> None:
        tlb.switch_asid(asid)
        for page in pages:
            tlb.ld_slow(None, page << 12, 8, 0, (1 << 64) - 1, 1)
    touch(1, kernel, user)
    touch(2, kernel, user)
    assert walks == [kernel, user, user]          # (the kernel page: no walk in ASID 2)
    assert tlb.read[1].get(kernel) is not None
    tlb.flush_asid(3)                             # TLBI ASIDE1 of ASID 3: its copies go
    touch(4, kernel)
    touch(3, kernel)
    assert walks[3:] == [kernel]                  # ASID 4 still shares it, ASID 3 walks
    tlb.flush_page(kernel << 12)
    touch(5, kernel)
    tlb.upper_tables = ("other", 0)               # another TTBR1 table (a trampoline)
    touch(6, kernel)
    tlb.upper_tables = None                       # (the MMU off: nothing is shared)
    touch(7, kernel)
    tlb.upper_tables = ("swapper", 0)
    tlb.flush()
    touch(8, kernel)
    assert walks[4:] == [kernel] * 4
