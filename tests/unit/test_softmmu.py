"""System-mode execution core: soft TLB, physical TB cache, slow paths, page-crossing replay.

A minimal board stands in for a real one: RAM at 0x40000000, a UART data
register and an exit register as MMIO, an identity "MMU". Bare-metal A64
code (assembled with binutils) runs through the real translator, on both
lower tiers: compiled to Python at once, and on the IR interpreter throughout
(tcg/interp.py).
"""
from __future__ import annotations

import mmap
import sys
from pathlib import Path

import pytest

from pyqemu.accel.tcg import cpu_exec as cpu_exec_mod
from pyqemu.accel.tcg import cputlb
from pyqemu.accel.tcg import pic as pic_mod
from pyqemu.accel.tcg.cputlb import PROT_EXEC, PROT_READ, PROT_WRITE, SoftTLB
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.accel.tcg.tb_sys import SMC_MISSES, SMC_SEQUENTIAL, SysTBCache
from pyqemu.target.arm import translate_a64
from pyqemu.target.arm.cpu import ARMCPU

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import baremetal  # noqa: E402
from conftest import unavailable  # noqa: E402

RAM_BASE, RAM_SIZE = 0x40000000, 1 << 20
M64 = (1 << 64) - 1
UART, EXIT = 0x09000000, 0x09000100


class Board:
    def __init__(self) -> None:
        self.ram = mmap.mmap(-1, RAM_SIZE)
        self.view = memoryview(self.ram)
        self.uart = bytearray()
        self.exit_value: int | None = None
        self.mmio_log: list[tuple[str, int, int]] = []

    def ram_page(self, pa_page: int, write: bool) -> memoryview | None:
        off = (pa_page << 12) - RAM_BASE
        if 0 <= off < RAM_SIZE:
            return self.view[off:off + 4096]
        return None

    def read(self, pa: int, size: int) -> int:
        self.mmio_log.append(("r", pa, size))
        return 0

    def write(self, pa: int, size: int, value: int) -> None:
        self.mmio_log.append(("w", pa, size))
        if pa == UART:
            self.uart.append(value & 0xFF)
        elif pa == EXIT:
            self.exit_value = value


class MiniSysCPU(ARMCPU):
    """Just enough of a system-mode CPU to drive the execution core."""

    def __init__(self, board: Board, interp_calls: int = 0) -> None:
        super().__init__()
        self.tb_flags = 1
        self.exceptions: list[GuestException] = []
        SoftTLB(board, self._walk).bind(self)
        ns = cputlb.namespace()
        ns["LOOKUP"] = lambda cpu, pc: cpu.lookup(pc)

        def unaligned(cpu, addr, write):
            raise GuestException("bus", addr, bool(write))
        ns["UNALIGNED"] = unaligned

        def fetch_phys(pa: int) -> int:
            page = board.ram_page(pa >> 12, False)
            if page is None:
                raise GuestException("segv", pa)
            return int.from_bytes(page[pa & 4095:(pa & 4095) + 4], "little")

        self.tbs = SysTBCache(self._translate, ns, lambda flags: 1, fetch_phys)
        self.tbs.interp_calls = interp_calls
        self.tbs.attach(self)

    def _walk(self, va: int, access: int, mmu_idx: int) -> tuple[int, int]:
        if va >= 1 << 40:
            raise GuestException("segv", va, access == 1)
        return va, PROT_READ | PROT_WRITE | PROT_EXEC

    def _translate(self, pc, flags, fetch, slow):
        block = translate_a64.translate(self, pc, fetch, 1 if slow else translate_a64.MAX_INSNS)
        block.mmu_idx = 1
        block.slow_mem = slow
        return block

    def lookup(self, pc: int):
        return self.tbs.lookup(self, pc)

    def replay_slow(self, pc: int):
        return self.tbs.replay_slow(self, pc)

    def take_exception(self, e: GuestException) -> None:
        self.exceptions.append(e)
        raise e

    def fault_in_block(self, e, linemap):
        return cpu_exec_mod.fault_in_block_sys(self, e, linemap)


@pytest.fixture(scope="module")
def have_binutils() -> None:
    if baremetal.missing_tools():
        unavailable(f"binutils for aarch64 missing: {baremetal.missing_tools()}")


INTERPRETED = 1 << 40  # calls on the interpreter before compiling: never, in these tests


@pytest.fixture(params=[0, INTERPRETED], ids=["compiled", "interpreted"])
def interp_calls(request) -> int:
    return request.param


def run(source: str, interp_calls: int, max_slices: int = 200) -> tuple[MiniSysCPU, Board]:
    board = Board()
    image = baremetal.assemble(source, RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board, interp_calls)
    cpu.pc = RAM_BASE
    for _ in range(max_slices):
        cpu_exec_mod.cpu_exec_sys(cpu, 100)
        if board.exit_value is not None:
            return cpu, board
    raise AssertionError(f"guest did not finish; pc={cpu.pc:#x}, uart={bytes(board.uart)!r}")


PROGRAM = """
    .global _start
_start:
    ldr x0, =0x09000000
    adr x1, msg
1:  ldrb w2, [x1], #1
    cbz w2, 2f
    strb w2, [x0]
    b 1b
2:  ldr x3, =0x40003ffc          // a store and a load straddling two RAM pages
    ldr x4, =0x1122334455667788
    str x4, [x3]
    ldr x5, [x3]
    ldr x10, =0x40003ff8
    ldp x11, x12, [x10]            // a pair whose second half is on the next page
    mov x6, #0
    bl patch                       // run the code once, then rewrite it and run it again
    adr x7, patch
    ldr w8, =0xd2800546            // movz x6, #42
    str w8, [x7]
    bl patch
    ldr x9, =0x09000100
    str x6, [x9]
3:  b 3b
    .ltorg
msg: .asciz "hello\\n"
    .balign 4096
patch:
    movz x6, #7
    ret
"""


def test_runs_code_with_mmio_crossing_accesses_and_self_modifying_code(have_binutils, interp_calls) -> None:
    cpu, board = run(PROGRAM, interp_calls)
    assert bytes(board.uart) == b"hello\n"
    assert cpu.regs[5] == 0x1122334455667788
    assert board.ram[0x3ffc:0x4004] == (0x1122334455667788).to_bytes(8, "little")
    assert cpu.regs[11] == int.from_bytes(board.ram[0x3ff8:0x4000], "little")
    assert cpu.regs[12] == int.from_bytes(board.ram[0x4000:0x4008], "little")
    assert board.exit_value == 42
    assert cpu.exceptions == []
    if not interp_calls:  # (the interpreter takes the slow path for a crossing access itself)
        assert cpu.tbs.slow_tbs, "the crossing load should have been replayed on the slow path"


def test_unmapped_load_faults_precisely(have_binutils, interp_calls) -> None:
    board = Board()
    image = baremetal.assemble("""
    .global _start
_start:
    mov x1, #5
    ldr x0, =0x20000000000
    ldr x2, [x0]
    mov x1, #6
    .ltorg
""", RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board, interp_calls)
    cpu.pc = RAM_BASE
    with pytest.raises(GuestException) as info:
        cpu_exec_mod.cpu_exec_sys(cpu, 10)
    assert info.value.kind == "segv" and info.value.addr == 0x20000000000
    assert cpu.pc == RAM_BASE + 8 and cpu.regs[1] == 5


def test_tlb_flush_sees_new_mapping(have_binutils, interp_calls) -> None:
    """Blocks are found by physical address: remapping a virtual page runs the new code."""
    board = Board()
    prog = baremetal.assemble("""
    .global _start
_start:
    movz x0, #1
    ret
    .balign 4096
    movz x0, #2
    ret
""", RAM_BASE)
    board.view[:len(prog)] = prog
    cpu = MiniSysCPU(board, interp_calls)
    offset = {"delta": 0}
    cpu.tlb.translate = lambda va, acc, idx: (va + offset["delta"], PROT_READ | PROT_WRITE | PROT_EXEC)
    stop = RAM_BASE + 0x10000
    board.view[0x10000:0x10004] = (0x14000000).to_bytes(4, "little")  # b . (a self loop)
    for delta, want in ((0, 1), (0x1000, 2)):
        offset["delta"] = delta
        cpu.tlb.flush()
        cpu.regs[30] = stop - delta
        cpu.pc = RAM_BASE
        cpu_exec_mod.cpu_exec_sys(cpu, 3)
        assert cpu.regs[0] == want


SMC_PROGRAM = """
    .global _start
_start:
    mov x20, #0
    adr x2, data
    adr x3, f
    ldr w4, patched
loop:
    bl f                           // f returns x6 = 7 until its first instruction is rewritten
    add x21, x21, x6
    str x20, [x2]                  // data on f's page: must not drop f or this loop
    add x20, x20, #1
    cmp x20, #2
    b.ne 1f
    str w4, [x3]                   // on the second pass, rewrite f's first instruction
1:  cmp x20, #4
    b.ne loop
    ldr x9, =0x09000100
    str x21, [x9]
2:  b 2b
    .ltorg
patched:
    movz x6, #40
    .balign 1024
f:                                 // RAM_BASE + 0x400
    movz x6, #7
    ret
    .balign 2048
data: .quad 0                      // RAM_BASE + 0x800
"""


def test_store_to_a_code_page_drops_only_the_blocks_of_those_bytes(have_binutils, interp_calls) -> None:
    cpu, board = run(SMC_PROGRAM, interp_calls)
    assert board.exit_value == 7 + 7 + 40 + 40  # f ran as rewritten after the store
    tbs = cpu.tbs
    page = RAM_BASE >> 12
    assert page in cpu.tlb.code_pages and page in tbs.page_tbs  # the page keeps its blocks
    start = tbs.tbs[(RAM_BASE, RAM_BASE, 1)]
    f_key, data = (RAM_BASE + 0x400, RAM_BASE + 0x400, 1), RAM_BASE + 0x800
    f_block = tbs.tbs[f_key]
    cpu.tlb.st_slow(cpu, data, 0x1234, 8, 1)  # data next to code: the blocks stay
    assert tbs.tbs[(RAM_BASE, RAM_BASE, 1)] is start and tbs.tbs[f_key] is f_block
    cpu.tlb.st_slow(cpu, f_key[0] + 4, 0xD65F03C0, 4, 1)  # f's ret (the same bytes): f goes
    assert f_key not in tbs.tbs and not f_block.valid
    assert tbs.tbs[(RAM_BASE, RAM_BASE, 1)] is start and start.valid
    for i in range(SMC_MISSES - tbs.smc_misses[page]):  # stores that hit no block (the
        assert page in cpu.tlb.code_pages                 # program's too): the page is given up
        cpu.tlb.st_slow(cpu, data, i, 8, 1)
    assert page not in cpu.tlb.code_pages and page not in tbs.page_tbs and not start.valid


def test_a_code_page_written_over_in_sequence_is_dropped_at_once(have_binutils, interp_calls) -> None:
    cpu, board = run(SMC_PROGRAM, interp_calls)
    tbs = cpu.tbs
    page = RAM_BASE >> 12
    start = tbs.tbs[(RAM_BASE, RAM_BASE, 1)]
    fill = RAM_BASE + 0x600       # (between f and data: no block's bytes) a memset of the page
    for i in range(SMC_SEQUENTIAL):
        assert page in cpu.tlb.code_pages and start.valid
        cpu.tlb.st_slow(cpu, fill + 8 * i, 0, 8, 1)
    assert page not in cpu.tlb.code_pages and page not in tbs.page_tbs and not start.valid


def test_a_region_is_dropped_by_a_store_to_any_member_and_tracks_what_it_was_made_from() -> None:
    from pyqemu.accel.tcg.tb_sys import SysTB, member_spans

    def block(pc: int, size: int, base: SysTB | None = None) -> SysTB:
        tb = SysTB(pc, size)
        tb.key = (pc, pc + 0x1000, 1)
        tb.base = base
        return tb
    head = block(0x400000, 12)
    assert head.overlaps(0x40100B, 0x40100C) and not head.overlaps(0x40100C, 0x401010)
    region = block(0x400000, 12, base=head)
    region.spans = member_spans({0x400000: 12, 0x400100: 8}, 0x1000)
    assert region.overlaps(0x401104, 0x401105) and not region.overlaps(0x401108, 0x401200)
    compiled = block(0x400000, 12)
    compiled.compiled_from = head                   # (head ran on the interpreter first)
    region2 = block(0x400000, 12, base=compiled)
    assert region.derives_from(head) and region2.derives_from(head) and region2.derives_from(compiled)
    assert not compiled.derives_from(region) and not block(0x400000, 12).derives_from(head)
    region2.valid = False                           # invalidated: nothing derives from it any more
    assert not region2.derives_from(head)


PIC_PROGRAM = """
    .global _start
_start:
    adr x1, _start                 // pc-derived values: ADR, ADRP, a return address
    adrp x2, _start
    bl 1f
1:  mov x3, x30
    ldr x9, =0x09000100
    str x1, [x9]
2:  b 2b
    .ltorg
"""


class KernelHalfCPU(MiniSysCPU):
    """RAM_BASE's page mapped at a kernel-half virtual address ``va`` (a KASLR kernel)."""

    def __init__(self, board: Board, va: int) -> None:
        self.va = va
        super().__init__(board)
        self.tbs.page_bytes = lambda page: bytes(board.ram_page(page, False) or b"") or None
        self.midr = 0x411FD070

    def _walk(self, va: int, access: int, mmu_idx: int) -> tuple[int, int]:
        if va >> 12 == self.va >> 12:
            return RAM_BASE + (va & 0xFFF), PROT_READ | PROT_WRITE | PROT_EXEC
        return super()._walk(va, access, mmu_idx)


def kaslr_boots(source: str, addresses=(0xFFFF_A000_1234_5000, 0xFFFF_8000_0800_0000, 0xFFFF_D000_0000_3000)):
    """(virtual address, board, CPU) for ``source`` run at three kernel-half addresses."""
    image = baremetal.assemble(source, 0)
    for va in addresses:
        board = Board()
        board.view[:len(image)] = image
        yield va, board, KernelHalfCPU(board, va)


@pytest.mark.parametrize("pic", ["1", "0"])
def test_kernel_half_code_is_cached_position_independent(have_binutils, tmp_path, monkeypatch, pic) -> None:
    """A kernel at a new random virtual address (KASLR) finds its blocks in the code cache:
    they are cached without their virtual address, and relocated to the new one."""
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PYQEMU_CACHE_PIC", pic)
    translated = []
    for va, board, cpu in kaslr_boots(PIC_PROGRAM):
        real_block_ir = cpu.tbs._block_ir
        cpu.tbs._block_ir = lambda key, slow, f=real_block_ir: (translated.append(key[0]), f(key, slow))[1]
        cpu.pc = va
        cpu_exec_mod.cpu_exec_sys(cpu, 20)
        assert board.exit_value == va
        assert (cpu.regs[2], cpu.regs[3]) == (va, va + 12)
        cpu.tbs.save_code_cache()
    first = 0xFFFF_A000_1234_5000
    if pic == "1":  # translated at the first address only (twice: there and pic_mod.SHIFT below)
        assert {pc >> 12 for pc in translated} == {first >> 12, (first - pic_mod.SHIFT) >> 12}
    else:
        assert {pc >> 12 for pc in translated} == {0xFFFF_A000_1234_5, 0xFFFF_8000_0800_0, 0xFFFF_D000_0000_3}


def test_code_of_a_process_at_a_new_address_is_cached_position_independent(have_binutils, tmp_path,
                                                                          monkeypatch) -> None:
    """A position-independent executable moves at every run (ASLR) as a KASLR kernel does:
    code at a high address is cached without it too; code low enough that the second
    translation cannot go SHIFT below stays cached by address."""
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    translated = []
    user = (0xAAAA_C123_4000, 0xAAAB_0000_0000, 0xFFFF_E000_1000)
    for va, board, cpu in kaslr_boots(PIC_PROGRAM, user + (0x4000_0000, 0x4000_0000)):
        real_block_ir = cpu.tbs._block_ir
        cpu.tbs._block_ir = lambda key, slow, f=real_block_ir: (translated.append(key[0]), f(key, slow))[1]
        cpu.pc = va
        cpu_exec_mod.cpu_exec_sys(cpu, 20)
        assert board.exit_value == va and (cpu.regs[2], cpu.regs[3]) == (va, va + 12)
        cpu.tbs.save_code_cache()
    assert {pc >> 12 for pc in translated} == {user[0] >> 12, (user[0] - pic_mod.SHIFT) >> 12, 0x40000}
    in_user_page = sum(pc >> 12 == user[0] >> 12 for pc in translated)
    assert sum(pc >> 12 == 0x40000 for pc in translated) == in_user_page


def test_code_that_ran_once_is_compiled_and_cached_at_the_next_run(have_binutils, tmp_path,
                                                                  monkeypatch) -> None:
    """Cold code runs on the interpreter and is not cached, but is noted as run: the next run
    (at another KASLR address) compiles it to the cache, and the run after that translates
    nothing."""
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    tiers, translations = [], []
    for va, board, cpu in kaslr_boots(PIC_PROGRAM):
        cpu.tbs.interp_calls = INTERPRETED
        translated = []
        real_block_ir = cpu.tbs._block_ir
        cpu.tbs._block_ir = lambda key, slow, f=real_block_ir, t=translated: (
            t.append(key[0]), f(key, slow))[1]
        cpu.pc = va
        cpu_exec_mod.cpu_exec_sys(cpu, 20)
        assert board.exit_value == va
        tiers.append({tb.fn.__name__ == "interpreted" for tb in cpu.tbs.tbs.values()})
        translations.append(len(translated))
        cpu.tbs.save_code_cache()
    assert tiers == [{True}, {False}, {False}]
    assert translations[0] > 0 and translations[1] > 0 and translations[2] == 0


FAULT_PROGRAM = """
    .global _start
_start:
    adr x1, _start
    mov x2, #5
    movz x8, #1, lsl #48           // an address nothing maps
    add x2, x2, #1
    ldr x7, [x8]                   // faults: at _start + 16, x1 and x2 written back
2:  b 2b
"""


def test_fault_in_a_cached_relocated_block_is_precise(have_binutils, tmp_path, monkeypatch) -> None:
    """A block from the code cache (position-independent, at a new KASLR address) that
    faults reports the faulting instruction's pc at that address, with the registers the
    instructions before it wrote: its line map, stored apart and decoded only now, follows
    the relocation."""
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    translated = []
    for va, _board, cpu in kaslr_boots(FAULT_PROGRAM):
        real_block_ir = cpu.tbs._block_ir
        cpu.tbs._block_ir = lambda key, slow, f=real_block_ir: (translated.append(key[0]), f(key, slow))[1]
        cpu.pc = va
        with pytest.raises(GuestException) as fault:
            cpu_exec_mod.cpu_exec_sys(cpu, 20)
        assert (fault.value.pc, fault.value.addr) == (va + 16, 1 << 48)
        assert (cpu.regs[1], cpu.regs[2]) == (va, 6)
        cpu.tbs.save_code_cache()
    first = 0xFFFF_A000_1234_5000  # (translated there and SHIFT below only: the rest came cached)
    assert {pc >> 12 for pc in translated} == {first >> 12, (first - pic_mod.SHIFT) >> 12}


NATIVE_PIC_PROGRAM = PIC_PROGRAM.replace("""
    ldr x9, =0x09000100""", """
    adr x4, 3f
    adds x5, x1, x3                // flags, read back through a native helper
    mrs x6, nzcv
    br x4                          // a computed jump to a pc-derived target
3:  ldr x9, =0x09000100""")


def test_native_regions_of_kernel_half_code_are_position_independent(have_binutils, tmp_path,
                                                                     monkeypatch) -> None:
    """Native code of a KASLR kernel is compiled once: the same object code runs at the next
    virtual address (accel/tcg/native_pic.py), with the pc-derived values of that address."""
    from pyqemu.accel.tcg.native_sys import SysNativeTier
    from pyqemu.target.arm import native_helpers  # noqa: F401 - registers them
    from pyqemu.target.arm.cpu import NREGS
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    compiled, made = [], []
    for va, board, cpu in kaslr_boots(NATIVE_PIC_PROGRAM):
        tier = cpu.tbs.native = SysNativeTier(cpu.tbs, NREGS, force=True)  # every block native
        tier.attach(cpu)
        cpu.pc = va
        cpu_exec_mod.cpu_exec_sys(cpu, 20)
        assert board.exit_value == va
        total = 2 * va + 12  # (adds x5: N and C set, for these addresses)
        assert cpu.regs[1:7] == [va, va, va + 12, va + 32, total & M64, 0xA000_0000]
        assert total >> 64 and total >> 63 & 1
        assert tier.regions >= 3
        # the first time compiled position-independent; then found by shape in the code cache
        # (accel/tcg/native_regions.py), without translating or generating them again
        made.append((tier.pic_regions, tier.remembered, tier.regions))
        compiled.append(set(tier.llvm.compiled))
        cpu.tbs.save_code_cache()
    n = made[0][2]
    assert made == [(n, 0, n), (0, n, n), (0, n, n)]
    assert compiled[0] == compiled[1] == compiled[2]  # (no new machine code after the first)


@pytest.mark.parametrize("mmu_idx", [1, 0])
def test_native_regions_of_early_boot_code_are_remembered_at_their_address(have_binutils, tmp_path,
                                                                          monkeypatch, mmu_idx) -> None:
    """Code outside the kernel half (a kernel's early boot, MMU off or identity-mapped; a
    program that is not position-independent) is compiled for its address; the next run at
    that address finds its regions in the code cache and loads their objects without
    translating them again."""
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    made, generated = [], []
    for _ in range(3):
        tier, count = _early_boot_code_run(mmu_idx)
        made.append((tier.pic_regions, tier.remembered, tier.regions))
        generated.append(count)
    n = made[0][2]
    assert n >= 3 and made == [(0, 0, n), (0, n, n), (0, n, n)]
    assert generated[0] == n and generated[1:] == [0, 0]


def _early_boot_code_run(mmu_idx: int, prepare=None):  # noqa: ANN001, ANN202
    """Run NATIVE_PIC_PROGRAM at 0x4123_4000 with every block native (``prepare(tier)``
    first); the tier and how many regions it generated (the rest came from the code cache)."""
    from pyqemu.accel.tcg.native_sys import SysNativeTier
    from pyqemu.target.arm import native_helpers  # noqa: F401 - registers them
    from pyqemu.target.arm.cpu import NREGS
    image = baremetal.assemble(NATIVE_PIC_PROGRAM, 0)
    va = 0x4123_4000
    board = Board()
    board.view[:len(image)] = image
    cpu = KernelHalfCPU(board, va)
    cpu.tbs.mmu_idx_of = lambda flags: mmu_idx
    tier = cpu.tbs.native = SysNativeTier(cpu.tbs, NREGS, force=True)
    tier.attach(cpu)
    if prepare is not None:
        prepare(tier)
    real_generate = tier.generate
    count = []
    tier.generate = lambda *a, f=real_generate, **k: (count.append(1), f(*a, **k))[1]
    cpu.pc = va
    cpu_exec_mod.cpu_exec_sys(cpu, 20)
    assert board.exit_value == va and cpu.regs[1:4] == [va, va, va + 12]
    cpu.tbs.save_code_cache()
    return tier, len(count)


@pytest.mark.parametrize("loader", [True, False])
def test_a_remembered_region_whose_object_file_is_gone(have_binutils, tmp_path, monkeypatch,
                                                       loader) -> None:
    """The code cache remembers a region with its object ready to load (our loader's form):
    the object's file is not needed. Without that form (MCJIT loads the objects), a region
    whose object never reached the disk (LLVM failed, or it was deleted) is generated and
    compiled again at the next hot promotion (it stayed on the Python tier for good before),
    and the run after that finds it remembered."""
    from pyqemu.accel.tcg import native
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "USE_LOADER", loader)
    runs = []
    for run in range(3):
        if run == 1:
            objects = list((tmp_path / "native").glob("*/*.o"))
            assert objects
            for obj in objects:
                obj.unlink()

        def prepare(tier, run=run) -> None:  # noqa: ANN001
            monkeypatch.setattr(tier.llvm, "cache_dir", tmp_path / "native")  # (a process-wide LLVM)
            if run < 2:
                tier.llvm.compiled.clear()  # (as in a new process: objects go to disk, come from it)
        tier, count = _early_boot_code_run(1, prepare)
        runs.append((count, tier.regions))
    n = runs[0][1]
    assert n >= 3 and runs == [(n, n), (0 if loader else n, n), (0, n)]


COUNTER = 0x09000010


class CountingBoard(Board):
    """A device register at COUNTER that reads 1, 2, 3, ... (a read has a side effect)."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0

    def read(self, pa: int, size: int) -> int:
        super().read(pa, size)
        if pa == COUNTER:
            self.counter += 1
            return self.counter
        return 0


MMIO_LOOP = """
    .global _start
_start:
    ldr x0, =0x09000000            // UART data
    ldr x3, =0x09000010            // COUNTER
    mov x1, #0
    mov x2, #40
1:  ldrh w4, [x3]                  // 1, 2, 3, ...: each read exactly once
    add x1, x1, x4
    add w5, w4, #0x40
    strb w5, [x0]                  // 'A', 'B', ...
    subs x2, x2, #1
    b.ne 1b
    ldr x9, =0x09000100
    str x1, [x9]
2:  b 2b
    .ltorg
"""


def test_native_code_does_device_accesses_without_leaving(have_binutils, tmp_path, monkeypatch) -> None:
    """A load or store that misses the native TLB on a device page is done by the fill call
    (the Python tier's device access), once, and native code goes on with its value."""
    from pyqemu.accel.tcg.native_sys import SysNativeTier
    from pyqemu.target.arm import native_helpers  # noqa: F401 - registers them
    from pyqemu.target.arm.cpu import NREGS
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    board = CountingBoard()
    image = baremetal.assemble(MMIO_LOOP, RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board)
    tier = cpu.tbs.native = SysNativeTier(cpu.tbs, NREGS, force=True)  # every block native
    tier.attach(cpu)
    cpu.pc = RAM_BASE
    for _ in range(50):
        cpu_exec_mod.cpu_exec_sys(cpu, 100)
        if board.exit_value is not None:
            break
    assert board.exit_value == sum(range(1, 41))
    assert board.counter == 40
    assert bytes(board.uart) == bytes(range(0x41, 0x41 + 40))
    assert [op for op, _pa, _size in board.mmio_log] == ["r", "w"] * 40 + ["w"]
    assert tier.native_mmio >= 2 * 39  # (all but maybe the first pass, and the exit store)


DOORBELL_PROGRAM = """
    .global _start
_start:
    ldr x0, =0x09000020            // a device register whose write raises an interrupt line
    mov x7, #0
    str x7, [x0]
1:  add x7, x7, #1
    b 1b
    .ltorg
"""


def test_a_device_access_that_raises_an_interrupt_ends_the_native_call(have_binutils, tmp_path,
                                                                         monkeypatch) -> None:
    from pyqemu.accel.tcg.native_sys import SYS_NATIVE_BUDGET, SysNativeTier
    from pyqemu.target.arm.cpu import NREGS
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    board = Board()
    image = baremetal.assemble(DOORBELL_PROGRAM, RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board)
    cpu.irq_lines = 0
    board.write = lambda pa, size, value: setattr(cpu, "irq_lines", 1)
    tier = cpu.tbs.native = SysNativeTier(cpu.tbs, NREGS, force=True)
    tier.attach(cpu)
    cpu.pc = RAM_BASE
    cpu_exec_mod.cpu_exec_sys(cpu, 10)
    assert cpu.irq_lines == 1 and tier.native_mmio == 1
    assert cpu.regs[7] <= 2  # (not SYS_NATIVE_BUDGET turns of the loop: the slice ended)
    cpu_exec_mod.cpu_exec_sys(cpu, 10)  # (without a new interrupt, the loop runs on)
    assert cpu.regs[7] > SYS_NATIVE_BUDGET // 2


class FakeTier:
    """The native tier's side of the TB cache's protocol, recording what it is asked (never
    compiling anything); ``worker``: a stand-in for its background compiler, or None."""

    force = False

    def __init__(self, worker=None) -> None:  # noqa: ANN001
        self.worker = worker
        self.exit_heat: dict[int, int] = {}
        self.hot: list[tuple[int, int, bool]] = []

    def hot_exit_at(self, cpu, pc: int, remembered_only: bool = False) -> bool:  # noqa: ANN001
        self.hot.append((pc, cpu.regs[0], remembered_only))
        return False

    def promote(self, *args, **kwargs) -> bool:  # noqa: ANN002, ANN003
        return False


HEAT_PROGRAM = """
    .global _start
_start:
    mov x0, #2000
1:  bl f
    subs x0, x0, #1
    b.ne 1b
    ldr x9, =0x09000100
    str x1, [x9]
2:  b 2b
f:  add x1, x1, #3
    ret
    .ltorg
"""


def _heat_setup() -> tuple[Board, bytes, MiniSysCPU, FakeTier]:
    """HEAT_PROGRAM at RAM_BASE on a CPU whose blocks ask a FakeTier at their 50th call."""
    board = Board()
    image = baremetal.assemble(HEAT_PROGRAM, RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board)
    tier = cpu.tbs.native = FakeTier()
    cpu.tbs.block_heat = 50
    return board, image, cpu, tier


def test_a_compiled_block_called_often_enough_asks_the_native_tier_for_a_region(have_binutils) -> None:
    """PYQEMU_BLOCK_HEAT: a compiled block counts its calls and, at the threshold, asks the
    native tier for a region headed there that an earlier run compiled; if there is none, it
    asks for one to be compiled COLD_HEAT_FACTOR times later."""
    from pyqemu.accel.tcg.tb_sys import COLD_HEAT_FACTOR
    board, image, cpu, tier = _heat_setup()
    cpu.tbs.regions = False  # (a Python region would inline the blocks: they would stop counting)
    cpu.pc = RAM_BASE
    while board.exit_value is None:
        cpu_exec_mod.cpu_exec_sys(cpu, 100)
    assert cpu.regs[1] == 6000
    f = RAM_BASE + image.index(bytes.fromhex("21 0c 00 91"))  # add x1, x1, #3
    # f and the loop body after it ran 2000 times: each asked on its 50th call for a cached
    # region, and for a compiled one on its (50 * COLD_HEAT_FACTOR)th
    cold = 50 * COLD_HEAT_FACTOR
    assert cold < 2000
    for pc in (f, RAM_BASE + 8):
        assert [(x0, cached) for p, x0, cached in tier.hot if p == pc] == [(1951, True), (2001 - cold, False)]


def test_a_block_an_earlier_run_compiled_asks_for_a_compiled_region_at_its_threshold(have_binutils) -> None:
    """A block from the code cache (code that ran in an earlier run) that reaches BLOCK_HEAT
    calls with no region remembered there asks for one to be compiled at once (the next run
    then loads it when the block is made); a new block waits COLD_HEAT_FACTOR times longer."""
    from pyqemu.accel.tcg.tb_sys import COLD_HEAT_FACTOR
    _board, _image, cpu, tier = _heat_setup()
    tb = cpu.tbs._find(cpu, RAM_BASE)
    for ran_before, left in ((True, 0), (False, 50 * (COLD_HEAT_FACTOR - 1))):
        tier.hot.clear()
        heat = [0, False]
        cpu.tbs._hot(tb, heat, ran_before, cpu)
        assert heat[0] == left
        assert [cached for _pc, _x0, cached in tier.hot] == ([True, False] if ran_before else [True])


LOOP_PROGRAM = """
    .global _start
_start:
    mov x0, #1000
1:  subs x0, x0, #1
    b.ne 1b
    ldr x9, =0x09000100
    str x1, [x9]
2:  b 2b
    .ltorg
"""


def test_a_loop_on_the_python_tier_installs_finished_native_code_before_the_slice_ends(have_binutils) -> None:
    """A looping block that ran its LOOP budget installs what the background compiler has
    finished (its own native region, say) at once, not at the end of a slice that may hold
    64 times as many iterations."""
    from pyqemu.accel.tcg.tb_sys import SYS_LOOP_BUDGET

    class Worker:
        ready = True

        def __init__(self) -> None:
            self.delivered: list[int] = []

        def deliver(self) -> None:
            self.delivered.append(cpu.regs[0])  # (the loop's counter, written back)
            self.ready = len(self.delivered) < 2

    board = Board()
    image = baremetal.assemble(LOOP_PROGRAM, RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board)
    tier = cpu.tbs.native = FakeTier(Worker())
    cpu.tbs.regions = False
    cpu.pc = RAM_BASE
    cpu_exec_mod.cpu_exec_sys(cpu, 6)  # (the first block, jump stubs, calls of the loop)
    # delivered while the loop ran (each time its LOOP budget ran out), until nothing was ready
    first = 999 - SYS_LOOP_BUDGET
    assert tier.worker.delivered == [first, first - SYS_LOOP_BUDGET]
    assert cpu.regs[0] == first - 2 * SYS_LOOP_BUDGET  # (the slice went on)


POLL_PROGRAM = """
    .global _start
_start:
    ldr x0, =0x09000018            // a device register, polled from native code
    mov x7, #0
1:  ldr w1, [x0]
    add x7, x7, #1
    cmp x7, #40
    b.ne 1b
2:  b 2b
    .ltorg
"""


def test_native_device_accesses_walk_once_per_asid_until_a_tlbi(have_binutils, tmp_path, monkeypatch) -> None:
    """Native code's device accesses remember the device's physical page per ASID: a polled
    register costs one table walk, not one per access; another ASID, or a TLBI of the page,
    walks again."""
    from pyqemu.accel.tcg.native_sys import SysNativeTier
    from pyqemu.target.arm.cpu import NREGS
    monkeypatch.setenv("PYQEMU_CACHE_DIR", str(tmp_path))
    board = Board()
    image = baremetal.assemble(POLL_PROGRAM, RAM_BASE)
    board.view[:len(image)] = image
    cpu = MiniSysCPU(board)
    walks: list[int] = []
    walk = cpu._walk
    cpu.tlb.translate = lambda va, access, idx: (walks.append(va >> 12), walk(va, access, idx))[1]
    tier = cpu.tbs.native = SysNativeTier(cpu.tbs, NREGS, force=True)
    tier.attach(cpu)

    def poll() -> None:
        board.mmio_log.clear()
        cpu.pc, cpu.regs[7] = RAM_BASE, 0
        while cpu.regs[7] < 40:
            cpu_exec_mod.cpu_exec_sys(cpu, 10)
        assert board.mmio_log == [("r", 0x09000018, 4)] * 40
    poll()
    assert walks.count(0x9000) == 1 and tier.native_mmio >= 39
    poll()
    assert walks.count(0x9000) == 1
    cpu.tlb.switch_asid(3)
    poll()
    assert walks.count(0x9000) == 2
    cpu.tlb.flush_page(0x09000000)
    poll()
    assert walks.count(0x9000) == 3
