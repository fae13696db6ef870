"""The native back end in system mode (tcg/llvmgen.py ``SoftMMU``) against the Python tier.

A fake soft TLB maps virtual pages of two MMU indexes to a bytearray's pages, mirrored by a
:class:`NativeTLB` through ``refill``. Blocks run as pygen's system-mode code and natively:
they must agree; an access the native TLB cannot do (no entry, a read-only entry for a
store, a page crossing, a misalignment) leaves with EXIT_FALLBACK before its instruction,
the miss address and kind in the state block. Also: CpuValue slots, the native
store-exclusive and DC ZVA, the keyed chain table, SoftTLB's upkeep of the mirror.
"""
from __future__ import annotations

import ctypes
import random
import struct
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from pyqemu.accel.tcg import cputlb
from pyqemu.accel.tcg.cpu_exec import restore_block_state
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.accel.tcg.native import _LLVM
from pyqemu.accel.tcg.native_tlb import REFILL_EVICTED, NativeTLB
from pyqemu.target.arm import native_helpers
from pyqemu.target.arm.helper_a64_atomic import stxr
from pyqemu.target.arm.trans_a64_system import sys_dc_zva, sys_read_sp_el0, sys_reg_read_store
from pyqemu.tcg.ir import Block, Builder, Helper, Temp
from pyqemu.tcg.llvmgen import (
    CPU_VALUE_SLOTS,
    MISS_DONE,
    MISS_SIZE_SHIFT,
    PY_CALL_ARGS,
    PY_CALL_RESULTS,
    PY_CALLS,
    SYS_CHAIN_SLOTS,
    SoftMMU,
    StateLayout,
    generate_native,
    sys_chain_slot,
)
from pyqemu.tcg.pygen import generate

M64 = (1 << 64) - 1
WIDTHS = (64,) * 8 + (128, 128)
NREGS = len(WIDTHS)
G = {i: Temp(f"g{i}", i, w) for i, w in enumerate(WIDTHS)}
CPU = Temp("cpu")
LAYOUT = StateLayout(NREGS)
BITS = 4  # 16 native TLB entries per MMU index
VBASE = 0xFFFF_0000_0040_0000  # virtual page k: VBASE + 4096 * k (native TLB slot k)
ALIAS = 1 << 62  # VBASE ^ ALIAS: the same slot, another tag
NPHYS = 16
# (mmu_idx, virtual page) -> (physical page, writable); everything else is unmapped
MAP = {(0, 0): (0, True), (0, 1): (1, True), (0, 2): (2, True), (0, 3): (3, True), (0, 4): (4, False),
       (0, 5): (5, False), (0, 6): (6, True),
       (1, 0): (8, True), (1, 1): (9, True), (1, 2): (10, False), (1, 3): (3, True), (1, 5): (11, True)}
UNMAPPED = 8  # in no MMU index
_CALL = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)
_CHAIN = (ctypes.c_uint64 * (4 * SYS_CHAIN_SLOTS))()  # empty: (0, 0, null, 0) everywhere
_FILL_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)
_NO_FILL = _FILL_FN(lambda state: 0)  # a TLB miss always leaves native code

assert native_helpers.STORE_EXCLUSIVE["h_stxr"] and native_helpers.ZERO_BLOCK["h_sys_dc_zva"]


def va(k: int, off: int = 0) -> int:
    return VBASE + 4096 * k + off


def pa(p: int, off: int = 0) -> int:
    """Offset of physical page ``p`` (+ ``off``) in Mem.ram."""
    return 4096 * p + off


class Mem:
    """Physical RAM, a fake soft TLB over it (MAP: read/write dictionaries of page views) and
    its native mirror. The slow paths stand for "the Python tier does it": they record
    (address, 1 + 2 * mmu_idx + is_store) and fault."""

    nb_mmu_idx = 2

    def __init__(self) -> None:
        self.ram = bytearray(NPHYS * 4096)
        self.pages = [memoryview(self.ram)[pa(p):pa(p + 1)] for p in range(NPHYS)]
        self.read: list[dict] = [{}, {}]
        self.write: list[dict] = [{}, {}]
        self.slow: list[tuple[int, int]] = []
        self.native = NativeTLB(2, BITS)
        for (idx, k), (p, writable) in MAP.items():
            page = (VBASE >> 12) + k
            self.read[idx][page] = self.pages[p]
            if writable:
                self.write[idx][page] = self.pages[p]
            assert self.native.refill(self, idx, page << 12)

    def ld_slow(self, cpu, addr, size, signed, mask, idx):
        self.slow.append((addr, 1 + 2 * idx))
        raise GuestException("segv", addr)

    def st_slow(self, cpu, addr, value, size, idx):
        self.slow.append((addr, 2 + 2 * idx))
        raise GuestException("segv", addr, True)


@pytest.fixture(scope="module")
def mem() -> Mem:
    return Mem()


class _Fault(Exception):
    """The Python tier faulted (or would replay) at the instruction at ``args[0]``."""


class FakeCPU:
    """What pygen's system-mode code and the helpers under test need of a vCPU."""

    def __init__(self, mem: Mem, regs: list[int], mmu_idx: int, sp_ok: bool = True) -> None:
        self.regs, self.icount, self.pc = regs, 0, 0
        self.tlb, self.mmu_idx = mem, mmu_idx
        for i in range(2):
            setattr(self, f"TR{i}", mem.read[i].get)
            setattr(self, f"TW{i}", mem.write[i].get)
        self.pstate = 1 if sp_ok else 0  # PSTATE.SP
        self.sp_el = [0xFFFF_8000_1234_5670, 0]
        self.sr = SimpleNamespace(values=[0x1111 * i for i in range(64)])

    jc_get = staticmethod(lambda pc: None)

    def data_mmu_idx(self) -> int:
        return self.mmu_idx

    def rmw_view(self, addr: int, size: int):
        view = self.tlb.write[self.mmu_idx].get(addr >> 12)
        if view is None:
            self.tlb.slow.append((addr, 2 + 2 * self.mmu_idx))
            raise GuestException("segv", addr, True)
        return view, addr & 4095

    def fault_in_block(self, e, meta):
        """A fault or a page-crossing struct access at an instruction: registers as before it."""
        entry = restore_block_state(self, e, meta)
        return _Fault(entry[1]) if entry is not None and isinstance(e, GuestException | struct.error) else e


@dataclass
class Result:
    kind: str  # "jump" or "fallback"
    pc: int
    regs: list[int]
    ram: bytes
    miss: tuple[int, int] | None  # (address, kind) of the access left to the Python tier
    icount: int = 0


def _unaligned(cpu, addr, write):
    raise GuestException("bus", addr, bool(write))


def python_fn(block: Block, count: bool):
    """pygen's system-mode function for ``block``: exits return ("tb"|"jump", pc)."""
    gen = generate(block, f"tb_{block.pc:x}", count)
    g = cputlb.namespace()
    g.update({h.name: h.func for h in gen.helpers.values()})
    g.update(LINEMAP=gen.linemap, UNALIGNED=_unaligned, LOOKUP=lambda cpu, pc: ("jump", pc), _ij={})
    g.update({slot: ("tb", target) for slot, target in gen.exits})
    exec(compile(gen.source, f"<tb {block.pc:#x}>", "exec"), g)  # noqa: S102 - generated by pygen
    return g[gen.name]


_ENGINES: dict[int, _LLVM] = {}


def compile_native(ir: str, opt: int = 2) -> int:
    eng = _ENGINES.get(opt)
    if eng is None:
        eng = _ENGINES[opt] = _LLVM(opt)
        eng.cache_dir = None
    return eng.compile(ir)[0]


class Region:
    """``blocks`` (head first) compiled natively with SoftMMU; the head also by pygen."""

    def __init__(self, *blocks: Block, count: bool = False, opt: int = 2) -> None:
        self.head = blocks[0]
        self.count = count
        self.fn = python_fn(self.head, count)
        self.code = generate_native(self.head.pc, {b.pc: b for b in blocks}, lambda s, d: True, "region",
                                    LAYOUT, SoftMMU(BITS), count)
        assert self.code is not None
        self.addr = compile_native(self.code.ir, opt)


def run_python(mem: Mem, region: Region, regs: list[int], image: bytes, **cpu_kw) -> Result:
    mem.ram[:] = image
    mem.slow.clear()
    cpu = FakeCPU(mem, list(regs), region.head.mmu_idx, **cpu_kw)
    try:
        _how, target = region.fn(cpu, cpu.regs)
        kind, pc = "jump", target
    except _Fault as f:
        kind, pc = "fallback", f.args[0]
    miss = mem.slow[0] if mem.slow else None
    return Result(kind, pc, cpu.regs, bytes(mem.ram), miss, cpu.icount)


def run_native(mem: Mem, region: Region, regs: list[int], image: bytes, *, budget: int = 1, key: int = 0,
               chain=_CHAIN, tlb: NativeTLB | None = None, fill=_NO_FILL, pycall=None,
               chainfill=None, **cpu_kw) -> Result:
    """The region's native code; CpuValue slots filled as native_sys's wrapper fills them."""
    mem.ram[:] = image
    buf = (ctypes.c_uint64 * (LAYOUT.size // 8 + 2 * CPU_VALUE_SLOTS))()
    for i, v in enumerate(regs):
        buf[2 * i], buf[2 * i + 1] = v & M64, v >> 64
    for name, v in (("budget", budget), ("key", key), ("chain", ctypes.addressof(chain)),
                    ("tlb", (tlb or mem.native).address),
                    ("fill", ctypes.cast(fill, ctypes.c_void_p).value),
                    ("pycall", ctypes.cast(pycall, ctypes.c_void_p).value if pycall else 0),
                    ("chainfill", ctypes.cast(chainfill, ctypes.c_void_p).value if chainfill else 0)):
        buf[LAYOUT.off(name) // 8] = v
    cpu = FakeCPU(mem, list(regs), region.head.mmu_idx, **cpu_kw)
    for slot, (cv, consts) in region.code.cpu_values.items():
        v = cv.get(cpu, *consts)
        at = (LAYOUT.size + 16 * slot) // 8
        buf[at], buf[at + 1] = (v or 0, int(v is not None)) if cv.may_fail else (v, 1)
    k = _CALL(region.addr)(ctypes.addressof(buf))
    assert k in (0, 1)  # EXIT_JUMP, EXIT_FALLBACK
    out = [buf[2 * i] | (buf[2 * i + 1] << 64 if w > 64 else 0) for i, w in enumerate(WIDTHS)]
    kind = buf[LAYOUT.off("misskind") // 8] & ((1 << MISS_SIZE_SHIFT) - 1)  # (without the size)
    miss = (buf[LAYOUT.off("miss") // 8], kind) if kind else None
    return Result("fallback" if k else "jump", buf[LAYOUT.pc_off // 8], out, bytes(mem.ram), miss,
                  buf[LAYOUT.icount_off // 8])


def compare(mem: Mem, region: Region, regs: list[int], image: bytes, **cpu_kw) -> Result:
    """Run both tiers; they must agree (the miss too, where the Python tier took a slow path).
    Returns the native result."""
    py = run_python(mem, region, regs, image, **cpu_kw)
    nat = run_native(mem, region, regs, image, **cpu_kw)
    what = f"\n{region.head.dump()}\nregs {[hex(r) for r in regs]}"
    assert (py.kind, py.pc, py.regs) == (nat.kind, nat.pc, nat.regs), f"python {py}, native {nat}{what}"
    k = next((i for i in range(0, len(py.ram), 8) if py.ram[i:i + 8] != nat.ram[i:i + 8]), None)
    assert k is None, f"RAM at {k:#x}: python {py.ram[k:k + 8].hex()}, native {nat.ram[k:k + 8].hex()}{what}"
    assert py.miss in (None, nat.miss), f"miss: python {py.miss}, native {nat.miss}{what}"
    assert py.icount == nat.icount or not region.count, what
    return nat


def u64(data: bytes, off: int) -> int:
    return int.from_bytes(data[off:off + 8], "little")


def image_of(seed: int) -> bytes:
    return random.Random(seed).randbytes(NPHYS * 4096)


def regs_with(**kw: int) -> list[int]:
    regs = [0x0101_0101_0101_0101 * (i + 1) for i in range(8)] + [(1 << 127) | 0x1234, (3 << 126) | 0x5678]
    for name, v in kw.items():
        regs[int(name[1:])] = v
    return regs


def new_block(mmu_idx: int = 0, pc: int = 0x1000) -> tuple[Block, Builder]:
    block = Block(pc, dict(G), mmu_idx=mmu_idx)
    return block, Builder(block)


# --- hits ----------------------------------------------------------------------------------

ACCESSES = [(1, False, 64), (1, True, 32), (1, True, 64), (2, False, 64), (2, True, 32), (2, True, 64),
            (4, False, 64), (4, True, 32), (4, True, 64), (8, False, 64), (8, True, 64), (16, False, 128)]


def _load_value(data: bytes, size: int, signed: bool, w: int) -> int:
    v = int.from_bytes(data[:size], "little")
    if signed and v >> (size * 8 - 1):
        v -= 1 << (size * 8)
    return v & ((1 << max(w, 32)) - 1) if signed else v


@pytest.mark.parametrize("opt", [0, 2])
def test_loads_and_stores_hit(mem, opt):
    """Loads of every size and sign extension from page 0 copied (as 8/16-byte stores) to page 1,
    and stores of every size from registers to page 2: the Python tier's values, exactly."""
    block, b = new_block()
    for i, (size, signed, w) in enumerate(ACCESSES):
        b.insn_start(0x1000 + 4 * i)
        t = b.ld(b.add(G[0], 40 * i + 3, 64), size, signed, w=w)
        b.st(b.add(G[1], 16 * i, 64), t, 16 if w > 64 else 8)
    b.insn_start(0x1100)
    for i, size in enumerate((1, 2, 4, 8, 16)):
        b.st(b.add(G[2], 24 * i + 1, 64), G[9] if size == 16 else G[3], size)
    b.insn_start(0x1104)  # the last bytes of page 3: copied to page 6's end
    for size in (1, 2, 4, 8, 16):
        t = b.ld(b.add(G[4], 4096 - size, 64), size)
        b.st(b.add(G[5], 4096 - size, 64), t, size)
    b.goto_tb(0x2000)
    region = Region(block, opt=opt)
    image = image_of(1)
    regs = regs_with(g0=va(0, 0x100), g1=va(1, 0x200), g2=va(2, 0x300), g3=0x8877_6655_4433_2211, g4=va(3),
                     g5=va(6))
    r = compare(mem, region, regs, image)
    assert (r.kind, r.pc, r.miss) == ("jump", 0x2000, None)
    for i, (size, signed, w) in enumerate(ACCESSES):
        want = _load_value(image[pa(0, 0x100 + 40 * i + 3):], size, signed, w)
        n = 16 if w > 64 else 8
        assert r.ram[pa(1, 0x200 + 16 * i):][:n] == want.to_bytes(n, "little"), (size, signed, w)
    for i, size in enumerate((1, 2, 4, 8, 16)):
        v = regs[9] if size == 16 else regs[3]
        got = r.ram[pa(2, 0x300 + 24 * i + 1):][:size + 1]
        after = image[pa(2, 0x301 + 24 * i + size)]
        assert got == (v & ((1 << 8 * size) - 1)).to_bytes(size, "little") + bytes([after])
    assert r.ram[pa(7) - 16:pa(7)] == image[pa(4) - 16:pa(4)]


def _random_block(rng: random.Random) -> Block:
    """Instructions of one to three accesses (any size, sign, alignment, MMU index) through
    the pointers g0/g1, then register writes of the loaded values."""
    block, b = new_block(rng.randrange(2))
    for i in range(rng.randint(2, 5)):
        b.insn_start(0x1000 + 4 * i)
        loaded = []
        for _ in range(rng.randint(1, 3)):
            size = rng.choice((1, 2, 4, 8, 16))
            align = rng.choice((0, 0, size, min(size, 4))) if size > 1 else 0
            idx = rng.choice((-1, -1, 0, 1))
            addr = b.add(G[rng.randrange(2)], rng.choice((0, 0, 0, 4, 8, 16, 32, 4090)), 64)
            if rng.random() < 0.6:
                signed = size < 16 and rng.random() < 0.4
                w = 128 if size == 16 else rng.choice((32, 64)) if signed else rng.choice((0, 64))
                loaded.append(b.ld(addr, size, signed, align, w, mmu_idx=idx))
            else:
                val = G[rng.choice((8, 9))] if size == 16 else G[rng.randrange(2, 8)]
                b.st(addr, val, size, align, mmu_idx=idx)
        for t in loaded:
            b.mov(G[rng.choice((8, 9))] if t.width > 64 else G[rng.randrange(2, 8)], t)
    b.insn_start(0x1000 + 4 * i + 4)
    b.goto_tb(0x2000)
    return block


def _random_pointer(rng: random.Random) -> int:
    if rng.random() < 0.85:  # writable in both MMU indexes, 16-byte aligned, not near the end
        return va(rng.choice((0, 1, 3)), rng.randrange(4096 - 64) & ~15)
    k = rng.choice((0, 1, 2, 3, 4, 5, 6, UNMAPPED))
    off = rng.choice((rng.randrange(4096), 4096 - 16 + rng.randrange(16)))
    return va(k, off) ^ (ALIAS if rng.random() < 0.1 else 0)


def test_random_blocks(mem):
    """Random accesses on mapped, read-only, unmapped and aliased pages, near page ends and
    misaligned, in both MMU indexes: native code does what the Python tier does or leaves
    before the same instruction with the slow path's address and kind."""
    kinds = {"jump": 0, "fallback": 0}
    for seed in range(60):
        rng = random.Random(seed)
        region = Region(_random_block(rng), count=seed % 2 == 0, opt=2 if seed % 3 else 0)
        image = image_of(seed)
        for _ in range(12):
            regs = [rng.getrandbits(w) for w in WIDTHS]
            regs[0], regs[1] = _random_pointer(rng), _random_pointer(rng)
            kinds[compare(mem, region, regs, image).kind] += 1
    assert kinds["jump"] >= 100 and kinds["fallback"] >= 200, kinds


# --- misses ------------------------------------------------------------------------------------

# case -> (block's MMU index, size, store, align, address, MemOp's mmu_idx, expected misskind)
MISSES = {
    "unmapped_load": (0, 8, 0, 0, va(UNMAPPED, 8), -1, 1), "aliased_load": (0, 8, 0, 0, va(0) ^ ALIAS, -1, 1),
    "unmapped_store": (0, 4, 1, 0, va(UNMAPPED, 8), -1, 2), "readonly_store": (0, 8, 1, 0, va(4, 16), -1, 2),
    "crossing_load": (0, 8, 0, 0, va(0, 4092), -1, 1), "crossing_load2": (0, 2, 0, 0, va(1, 4095), -1, 1),
    "crossing_store": (0, 16, 1, 0, va(0, 4095), -1, 2), "misaligned_store": (0, 4, 1, 4, va(1, 2), -1, 2),
    "misaligned_load": (0, 8, 0, 8, va(1, 12), -1, 1), "idx1_load": (1, 4, 0, 0, va(4, 0), -1, 3),
    "idx1_readonly_store": (1, 8, 1, 0, va(2, 8), -1, 4), "idx0_in_idx1_block": (1, 1, 0, 0, va(7), 0, 1),
    "idx1_store_in_idx0_block": (0, 2, 1, 0, va(4, 0), 1, 4),
}


@pytest.mark.parametrize("case", sorted(MISSES))
def test_miss_falls_back_before_the_instruction(mem, case):
    """The second instruction's access misses: EXIT_FALLBACK at its pc, miss/misskind recorded,
    the first instruction's registers, store and count, none of the second's."""
    idx, size, store, align, addr, memop_idx, kind = MISSES[case]
    block, b = new_block(idx)
    b.insn_start(0x1000)  # hits in either index (page 3 is mapped in both)
    t = b.ld(b.add(G[0], 8, 64), 8)
    b.st(b.add(G[0], 16, 64), G[3], 4)
    b.mov(G[2], t)
    b.mov(G[0], b.add(G[0], 4, 64))
    b.insn_start(0x1004)
    if store:
        b.st(G[1], G[9] if size == 16 else G[4], size, align, mmu_idx=memop_idx)
    else:
        b.mov(G[5], b.ld(G[1], size, align=align, mmu_idx=memop_idx))
    b.mov(G[6], 0x1234)
    b.mov(G[2], 0)
    b.insn_start(0x1008)
    b.goto_tb(0x2000)
    region = Region(block, count=True)
    image = image_of(2)
    regs = regs_with(g0=va(3, 0x800), g1=addr)
    r = compare(mem, region, regs, image)
    assert (r.kind, r.pc, r.icount, r.miss) == ("fallback", 0x1004, 1, (addr, kind))
    want = list(regs)
    want[0] += 4
    want[2] = u64(image, pa(3, 0x808))
    assert r.regs == want
    ram = bytearray(image)
    ram[pa(3, 0x810):pa(3, 0x814)] = (regs[3] & 0xFFFFFFFF).to_bytes(4, "little")
    assert r.ram == bytes(ram)


@pytest.mark.parametrize("honest", [True, False])
def test_fill_call_resolves_a_miss(mem, honest):
    """A miss calls the state block's fill function with miss/misskind set; when it fills the
    entry and returns 1, the access and the rest of the region run natively. An entry that
    is still missing after a nonzero return falls back all the same; so does a misaligned
    access, which the fill function cannot help."""
    block, b = new_block(0)
    b.insn_start(0x1000)
    b.mov(G[2], b.ld(G[1], 8))
    b.insn_start(0x1004)
    b.st(b.add(G[1], 8, 64), G[3], 8)
    b.mov(G[4], b.ld(G[0], 4, align=4))
    b.insn_start(0x1008)
    b.goto_tb(0x2000)
    region = Region(block)
    calls = []

    def fill(state: int) -> int:
        at = LAYOUT.off("miss") // 8
        words = (ctypes.c_uint64 * (LAYOUT.size // 8)).from_address(state)
        calls.append((words[at], words[at + 1] & ((1 << MISS_SIZE_SHIFT) - 1)))
        if honest:  # (as native_sys's fill: the miss is resolved)
            mem.native.refill(mem, 0, words[at])
            words[at + 1] = 0
        return 1
    callback = _FILL_FN(fill)
    image = image_of(7)
    regs = regs_with(g0=va(6, 0x40), g1=va(2, 0x100), g3=0x1122334455667788)
    mem.native.drop(0, va(2) >> 12)
    try:
        r = run_native(mem, region, regs, image, fill=callback)
        if honest:
            assert calls == [(va(2, 0x100), 1)]
            assert (r.kind, r.pc, r.miss) == ("jump", 0x2000, None)
            assert r.regs[2] == u64(image, pa(2, 0x100)) and r.regs[4] == u64(image, pa(6, 0x40)) & 0xFFFFFFFF
            assert u64(r.ram, pa(2, 0x108)) == 0x1122334455667788
        else:
            assert calls == [(va(2, 0x100), 1)]
            assert (r.kind, r.pc, r.miss) == ("fallback", 0x1000, (va(2, 0x100), 1))
        mem.native.refill(mem, 0, va(2))
        calls.clear()
        r = run_native(mem, region, regs_with(g0=va(6, 0x42), g1=va(2, 0x100)), image, fill=callback)
        assert calls == [(va(6, 0x42), 1)]  # (misaligned: not a TLB miss, the same path)
        assert (r.kind, r.pc, r.miss) == ("fallback", 0x1004, None if honest else (va(6, 0x42), 1))
    finally:
        mem.native.refill(mem, 0, va(2))


def test_two_pages_of_one_set_both_hit(mem):
    """Two pages whose TLB set is the same (a copy from one to the other) both stay in the
    native TLB, one in each way: loads and stores alternating between them run natively
    without a fill call, through each way's own addend."""
    alias = (va(2) ^ ALIAS) >> 12  # (page 2's set, another tag)
    assert mem.native._word(0, alias) == mem.native._word(0, va(2) >> 12)
    mem.read[0][alias] = mem.write[0][alias] = mem.pages[7]
    block, b = new_block(0)
    for i in range(3):
        b.insn_start(0x1000 + 8 * i)
        t = b.ld(b.add(G[0], 8 * i, 64), 8)
        b.insn_start(0x1004 + 8 * i)
        b.st(b.add(G[1], 8 * i, 64), t, 8)
    b.insn_start(0x1020)
    b.goto_tb(0x2000)
    region = Region(block)
    calls = []

    def fill(state: int) -> int:
        calls.append(state)
        return 0
    callback = _FILL_FN(fill)
    image = image_of(11)
    try:
        assert mem.native.refill(mem, 0, va(2)) and mem.native.refill(mem, 0, alias << 12) == 1
        regs = regs_with(g0=va(2, 0x200), g1=(alias << 12) + 0x300)
        r = run_native(mem, region, regs, image, fill=callback)
        assert (r.kind, r.pc, calls) == ("jump", 0x2000, [])
        assert r.ram[pa(7, 0x300):pa(7, 0x318)] == image[pa(2, 0x200):pa(2, 0x218)]
        r = run_native(mem, region, regs_with(g0=(alias << 12) + 0x40, g1=va(2, 0x80)), image, fill=callback)
        assert (r.kind, r.pc, calls) == ("jump", 0x2000, [])
        assert r.ram[pa(2, 0x80):pa(2, 0x98)] == image[pa(7, 0x40):pa(7, 0x58)]
    finally:
        del mem.read[0][alias], mem.write[0][alias]
        mem.native.drop(0, alias)
        mem.native.refill(mem, 0, va(2))


def test_fill_call_may_do_a_device_access_itself(mem):
    """A plain load or store tells the fill function its size (and a store its value, in
    ``mmio``); fill may do the access itself and return MISS_DONE: a load then takes the
    value left in ``mmio``, a store writes nothing to RAM, and the region goes on."""
    block, b = new_block(0)
    b.insn_start(0x1000)
    b.mov(G[2], b.ld(G[1], 2))
    b.insn_start(0x1004)
    b.st(b.add(G[1], 8, 64), G[3], 4)
    b.insn_start(0x1008)
    b.goto_tb(0x2000)
    region = Region(block)
    seen = []

    def fill(state: int) -> int:
        words = (ctypes.c_uint64 * (LAYOUT.size // 8)).from_address(state)
        kind = words[LAYOUT.off("misskind") // 8]
        size, kind = kind >> MISS_SIZE_SHIFT, kind & ((1 << MISS_SIZE_SHIFT) - 1)
        slot = LAYOUT.off("mmio") // 8
        seen.append((words[LAYOUT.off("miss") // 8], kind, size, words[slot] if kind == 2 else None))
        if kind == 1:
            words[slot] = 0xBEEF
        words[LAYOUT.off("misskind") // 8] = 0
        return MISS_DONE
    callback = _FILL_FN(fill)
    image = image_of(3)
    device = va(UNMAPPED, 0x100)
    r = run_native(mem, region, regs_with(g1=device, g3=0x1122334455667788), image, fill=callback)
    assert seen == [(device, 1, 2, None), (device + 8, 2, 4, 0x1122334455667788)]  # (fill truncates)
    assert (r.kind, r.pc, r.miss) == ("jump", 0x2000, None)
    assert r.regs[2] == 0xBEEF and r.ram == image


_PYCALL_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * (1 + PY_CALL_ARGS))


def _noted(cpu, a: int, b: int) -> None:
    raise AssertionError("only called through the test's pycall function")


NOTED = Helper(_noted, "h_test_noted")


@pytest.mark.parametrize("answer", [0, 1])
def test_python_call_from_native_code(mem, answer):
    """A PY_CALLS helper is called through the state block's ``pycall`` with its number and
    arguments; 0: native code goes on (the next instruction's store happens natively),
    nonzero: the instruction runs on the Python tier (state as before it)."""
    PY_CALLS["h_test_noted"] = 77
    try:
        block, b = new_block(0)
        b.insn_start(0x1000)
        b.mov(G[2], b.add(G[2], 1, 64))
        b.insn_start(0x1004)
        b.call_void(NOTED, CPU, 5, b.add(G[0], 3, 64))
        b.insn_start(0x1008)
        b.st(G[1], G[3], 8)
        b.insn_start(0x100C)
        b.goto_tb(0x2000)
        region = Region(block)
    finally:
        del PY_CALLS["h_test_noted"]
    assert region.code.fallbacks == 0  # (the call is not an instruction cut from native code)
    calls = []

    def pycall(state, number, *args):
        calls.append((number, *args))
        return answer
    callback = _PYCALL_FN(pycall)
    image = image_of(9)
    regs = regs_with(g0=40, g1=va(2, 0x200), g2=1, g3=0xABCDEF)
    r = run_native(mem, region, regs, image, pycall=callback)
    assert calls == [(77, 5, 43, 0, 0)]
    if answer == 0:
        assert (r.kind, r.pc) == ("jump", 0x2000)
        assert u64(r.ram, pa(2, 0x200)) == 0xABCDEF
    else:
        assert (r.kind, r.pc) == ("fallback", 0x1004)
        assert r.ram == image
    assert r.regs[2] == 2


def _read_reg(cpu, packed: int) -> int:
    raise AssertionError("only called through the test's pycall function")


READ = Helper(_read_reg, "h_test_read")


def test_python_call_with_a_result(mem):
    """A PY_CALL_RESULTS helper (a timer read): its value comes back through ``mmio``, for
    the arguments its predicate accepts; other arguments keep the instruction off native."""
    PY_CALLS["h_test_read"] = 78
    PY_CALL_RESULTS["h_test_read"] = lambda args: args[1] == 0x1234
    try:
        block, b = new_block(0)
        b.insn_start(0x1000)
        b.mov(G[2], b.call(READ, CPU, 0x1234))
        b.insn_start(0x1004)
        b.mov(G[3], b.add(G[2], 1, 64))
        b.insn_start(0x1008)
        b.goto_tb(0x2000)
        region = Region(block)
        other, b2 = new_block(0)
        b2.insn_start(0x1000)
        b2.mov(G[4], b2.add(G[4], 1, 64))
        b2.insn_start(0x1004)
        b2.mov(G[2], b2.call(READ, CPU, 0x999))
        b2.insn_start(0x1008)
        b2.goto_tb(0x2000)
        refused = Region(other)
    finally:
        del PY_CALLS["h_test_read"], PY_CALL_RESULTS["h_test_read"]
    assert region.code.fallbacks == 0 and refused.code.fallbacks == 1
    calls = []

    def pycall(state, number, *args):
        calls.append((number, *args))
        words = (ctypes.c_uint64 * (LAYOUT.size // 8)).from_address(state)
        words[LAYOUT.off("mmio") // 8] = 0xFEDCBA9876543210
        return 0
    callback = _PYCALL_FN(pycall)
    r = run_native(mem, region, regs_with(), image_of(1), pycall=callback)
    assert calls == [(78, 0x1234, 0, 0, 0)]
    assert (r.kind, r.pc) == ("jump", 0x2000)
    assert r.regs[2] == 0xFEDCBA9876543210 and r.regs[3] == 0xFEDCBA9876543211


def test_two_mmu_indexes(mem):
    """A block of MMU index 1 reads and writes its own pages, and index 0's through MemOps
    naming index 0 (LDTR/STTR the other way round): the same addresses, other memory."""
    block, b = new_block(1)
    b.insn_start(0x1000)
    t1 = b.ld(G[0], 8)
    t0 = b.ld(G[0], 8, mmu_idx=0)
    b.st(G[1], G[3], 8)
    b.st(G[1], G[4], 8, mmu_idx=0)
    b.mov(G[2], t1)
    b.mov(G[5], t0)
    b.insn_start(0x1004)
    b.goto_tb(0x2000)
    region = Region(block)
    image = image_of(3)
    regs = regs_with(g0=va(0, 0x40), g1=va(1, 0x80))
    r = compare(mem, region, regs, image)
    assert (r.kind, r.pc) == ("jump", 0x2000)
    assert r.regs[2] == u64(image, pa(8, 0x40))  # index 1: page 8
    assert r.regs[5] == u64(image, pa(0, 0x40))  # index 0: page 0
    assert r.ram[pa(9, 0x80):pa(9, 0x88)] == regs[3].to_bytes(8, "little")
    assert r.ram[pa(1, 0x80):pa(1, 0x88)] == regs[4].to_bytes(8, "little")
    # index 0's page 6 is writable, index 1 has no page 6
    r = run_native(mem, region, regs_with(g0=va(6, 0x40), g1=va(6, 0x80)), image)
    assert (r.kind, r.pc, r.miss) == ("fallback", 0x1000, (va(6, 0x40), 3))


# --- CpuValue ----------------------------------------------------------------------------------

def test_cpu_values(mem):
    """MRS of a stored register and of SP_EL0 read the values the wrapper put in their slots;
    SP_EL0 while SPSel is 0 (may_fail, no value) falls back at that instruction; so does a
    call with a register argument."""
    block, b = new_block()
    b.insn_start(0x1000)
    b.mov(G[2], b.call(sys_reg_read_store, CPU, 5))
    b.insn_start(0x1004)
    b.mov(G[3], b.call(sys_read_sp_el0, CPU))
    b.insn_start(0x1008)
    b.mov(G[4], b.call(sys_reg_read_store, CPU, 9))
    b.insn_start(0x100C)
    b.goto_tb(0x2000)
    region = Region(block, count=True)
    assert region.code.fallbacks == 0
    assert {s: (cv.name, c) for s, (cv, c) in region.code.cpu_values.items()} == {
        0: ("h_sys_read_sp_el0", ()), 6: ("h_sys_reg_read_store", (5,)), 10: ("h_sys_reg_read_store", (9,))}
    image = image_of(5)
    regs = regs_with()
    r = compare(mem, region, regs, image)
    assert (r.kind, r.pc, r.regs[2:5]) == ("jump", 0x2000, [0x1111 * 5, 0xFFFF_8000_1234_5670, 0x1111 * 9])
    r = compare(mem, region, regs, image, sp_ok=False)
    assert (r.kind, r.pc, r.icount, r.miss) == ("fallback", 0x1004, 1, None)
    assert r.regs == regs[:2] + [0x1111 * 5] + regs[3:]
    block, b = new_block()  # a register argument: not a CpuValue, the instruction falls back
    b.insn_start(0x1000)
    b.mov(G[2], b.call(sys_reg_read_store, CPU, 5))
    b.insn_start(0x1004)
    b.mov(G[3], b.call(sys_reg_read_store, CPU, G[4]))
    b.goto_tb(0x2000)
    region = Region(block)
    assert region.code.fallbacks == 1 and list(region.code.cpu_values) == [6]
    r = run_native(mem, region, regs, image)
    assert (r.kind, r.pc, r.regs[2], r.miss) == ("fallback", 0x1004, 0x1111 * 5, None)


# --- store-exclusive and DC ZVA ------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 4, 8, 16])
def test_store_exclusive(mem, size):
    """STXR of each size: 0 and the store when the monitor holds the address and memory the
    value seen; 1 and nothing stored otherwise; the Python helper's results exactly. A miss
    (unmapped, read-only, misaligned) falls back with nothing stored."""
    block, b = new_block()
    b.insn_start(0x1000)
    b.mov(G[5], b.add(G[5], 1, 64))
    b.insn_start(0x1004)
    st = b.call(stxr, CPU, G[0], G[1], G[8], G[9] if size == 16 else G[3], size)
    b.mov(G[4], st)
    b.insn_start(0x1008)
    b.goto_tb(0x2000)
    region = Region(block, count=True)
    assert region.code.fallbacks == 0 and not region.code.helpers
    image = image_of(7 + size)
    m = (1 << 8 * size) - 1
    addr = va(2, 0x100)
    seen = int.from_bytes(image[pa(2, 0x100):][:size], "little")
    new = regs_with()[9 if size == 16 else 3] & m
    cases = [  # (address, monitor address, value seen, status or None: a fallback, miss)
        (addr, addr, seen, 0, None),
        (addr, addr + size, seen, 1, None),  # the monitor holds another address
        (addr, addr, seen ^ 1, 1, None),  # memory changed since the load-exclusive
        (addr ^ ALIAS, addr, seen, 1, None),  # no access at all
        (va(UNMAPPED, 0x100), va(UNMAPPED, 0x100), 0, None, (va(UNMAPPED, 0x100), 2)),
        (va(4, 0x100), va(4, 0x100), 0, None, (va(4, 0x100), 2)),  # read-only
    ]
    if size > 1:
        cases.append((addr + size // 2, addr + size // 2, seen, None, (addr + size // 2, 2)))
    for a, mon, excl, status, miss in cases:
        regs = regs_with(g0=a, g1=mon, g8=excl)
        r = compare(mem, region, regs, image)
        ram = bytearray(image)
        if status is None:
            assert (r.kind, r.pc, r.icount, r.miss) == ("fallback", 0x1004, 1, miss)
            assert r.regs[4] == regs[4]
        else:
            assert (r.kind, r.regs[4]) == ("jump", status), (hex(a), hex(mon), hex(excl))
            if status == 0:
                ram[pa(2, 0x100):pa(2, 0x100 + size)] = new.to_bytes(size, "little")
        assert r.ram == bytes(ram)
    if size < 16:  # a wider value seen (the Python tier answers 1): native code leaves it to Python
        regs = regs_with(g0=addr, g1=addr, g8=seen | 1 << 8 * size)
        r = run_native(mem, region, regs, image)
        assert (r.kind, r.pc, r.icount, r.regs[4], r.miss) == ("fallback", 0x1004, 1, regs[4], None)
        assert r.ram == image


@pytest.mark.parametrize("idx", [0, 1])
def test_dc_zva(mem, idx):
    """DC ZVA zeroes the 64-byte block holding the address (as the Python helper); an address
    without a write entry falls back with the block's address and a store miss."""
    block, b = new_block(idx)
    b.insn_start(0x1000)
    b.call_void(sys_dc_zva, CPU, G[0])
    b.mov(G[2], 7)
    b.insn_start(0x1004)
    b.goto_tb(0x2000)
    region = Region(block)
    assert region.code.fallbacks == 0
    image = image_of(20 + idx)
    page = {0: 1, 1: 9}[idx]  # virtual page 1
    for off in (0, 0x40, 0x7F, 0xFC1, 0xFFF):
        r = compare(mem, region, regs_with(g0=va(1, off)), image)
        ram = bytearray(image)
        ram[pa(page, off & ~63):pa(page, (off & ~63) + 64)] = bytes(64)
        assert (r.kind, r.regs[2], r.ram) == ("jump", 7, bytes(ram))
    for k in (UNMAPPED, 4 if idx == 0 else 2):  # unmapped, read-only
        r = compare(mem, region, regs_with(g0=va(k, 0x123)), image)
        assert (r.kind, r.pc, r.miss, r.ram) == ("fallback", 0x1000, (va(k, 0x100), 2 + 2 * idx), image)


# --- the chain table -----------------------------------------------------------------------------

def _chained_pair() -> tuple[Region, Region, ctypes.Array, int]:
    """Region a (0x1000: x2 += 1, jump to 0x3000), region c (0x3000: x3 = 0x77, jump to
    0x4000), an empty chain table and the index of 0x3000's entry in it."""
    a, ba = new_block(0, 0x1000)
    ba.insn_start(0x1000)
    ba.mov(G[2], ba.add(G[2], 1, 64))
    ba.goto_tb(0x3000)
    c, bc = new_block(0, 0x3000)
    bc.insn_start(0x3000)
    bc.mov(G[3], 0x77)
    bc.goto_tb(0x4000)
    chain = (ctypes.c_uint64 * (4 * SYS_CHAIN_SLOTS))()
    return Region(a), Region(c), chain, 4 * sys_chain_slot(0x3000)


def test_chain_matches_pc_and_key(mem):
    """At an exit, native code tail-calls the region that the chain entry (pc, key, function)
    holds only if both the pc and the state block's key match."""
    ra, rc, chain, slot = _chained_pair()
    chain[slot:slot + 3] = [0x3000, 0x5_0000_0042, rc.addr]
    regs = regs_with()
    image = image_of(30)
    r = run_native(mem, ra, regs, image, budget=10, key=0x5_0000_0042, chain=chain)
    assert (r.kind, r.pc, r.regs[2], r.regs[3]) == ("jump", 0x4000, regs[2] + 1, 0x77)
    for key, budget in ((0x5_0000_0043, 10), (0x6_0000_0042, 10), (0x5_0000_0042, 1)):
        r = run_native(mem, ra, regs, image, budget=budget, key=key, chain=chain)
        assert (r.kind, r.pc, r.regs[2], r.regs[3]) == ("jump", 0x3000, regs[2] + 1, regs[3]), hex(key)
    chain[slot + 2] = 0  # no function
    r = run_native(mem, ra, regs, image, budget=10, key=0x5_0000_0042, chain=chain)
    assert (r.kind, r.pc, r.regs[3]) == ("jump", 0x3000, regs[3])


def test_chain_miss_asks_chainfill(mem):
    """A chain entry for another pc or key makes native code ask the state block's
    ``chainfill`` (the exit pc in the state block) for the region there: it tail-calls the
    address returned and leaves on 0. A matching entry without a function and an empty budget
    do not ask."""
    ra, rc, chain, slot = _chained_pair()
    asked: list[tuple[int, int]] = []
    answer = {0x3000: rc.addr}  # (0x4000: no native code)

    def chainfill(state: int) -> int:
        words = (ctypes.c_uint64 * (LAYOUT.size // 8)).from_address(state)
        pc = words[LAYOUT.pc_off // 8]
        asked.append((pc, words[LAYOUT.off("key") // 8]))
        return answer.get(pc, 0)
    callback = _FILL_FN(chainfill)
    regs = regs_with()
    image = image_of(31)
    chain[slot:slot + 3] = [0x3000, 0x4_0000_0042, rc.addr]  # another key's entry
    r = run_native(mem, ra, regs, image, budget=10, key=0x5_0000_0042, chain=chain, chainfill=callback)
    assert (r.kind, r.pc, r.regs[2], r.regs[3]) == ("jump", 0x4000, regs[2] + 1, 0x77)
    assert asked == [(0x3000, 0x5_0000_0042), (0x4000, 0x5_0000_0042)]
    answer.clear()  # no native code there: leave for the Python tier
    r = run_native(mem, ra, regs, image, budget=10, key=0x5_0000_0042, chain=chain, chainfill=callback)
    assert (r.kind, r.pc, r.regs[3]) == ("jump", 0x3000, regs[3]) and len(asked) == 3
    asked.clear()
    chain[slot:slot + 3] = [0x3000, 0x5_0000_0042, 0]  # known: no native code there
    r = run_native(mem, ra, regs, image, budget=10, key=0x5_0000_0042, chain=chain, chainfill=callback)
    chain[slot:slot + 3] = [0, 0, 0]
    r2 = run_native(mem, ra, regs, image, budget=1, key=0x5_0000_0042, chain=chain, chainfill=callback)
    assert (r.pc, r2.pc, asked) == (0x3000, 0x3000, [])


# --- NativeTLB and its upkeep by SoftTLB ---------------------------------------------------------

def _entry(t: NativeTLB, idx: int, page: int) -> tuple[int, int, int]:
    """The entry of ``page`` in either way of its set (all ones: in neither)."""
    for w in (t._word(idx, page), t._word(idx, page) + 4):
        if page in (t.words[w], t.words[w + 1]):
            return t.words[w], t.words[w + 1], t.words[w + 2]
    return M64, M64, M64


def _host(view: memoryview) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _tlb(read: dict, write: dict) -> SimpleNamespace:
    """A soft TLB of one MMU index."""
    return SimpleNamespace(nb_mmu_idx=1, read=[read], write=[write])


def test_native_tlb_refill_drop_clear(mem):
    """refill copies the read/write entries (addend = host - page address); drop forgets only
    the page the slot holds; clear forgets everything (one by one, or all at once)."""
    t = NativeTLB(2, BITS)
    p0, p4 = (VBASE >> 12), (VBASE >> 12) + 4
    assert all(w == M64 for w in t.words[0::4]) and all(w == M64 for w in t.words[1::4])
    assert t.refill(mem, 0, va(0, 0x123))
    assert _entry(t, 0, p0) == (p0, p0, (_host(mem.pages[0]) - va(0)) & M64)
    assert t.refill(mem, 0, va(4))  # read-only
    assert _entry(t, 0, p4)[:2] == (p4, M64)
    assert not t.refill(mem, 1, va(4)) and _entry(t, 1, p4)[:2] == (M64, M64)  # unmapped
    assert not t.refill(mem, 2, va(0))  # no such MMU index
    assert t.refill(_tlb({p0: mem.pages[1]}, {p0: mem.pages[2]}), 0, va(0))  # different memory: writes slow
    assert _entry(t, 0, p0)[:2] == (p0, M64) and _entry(t, 0, p0)[2] == (_host(mem.pages[1]) - va(0)) & M64
    same = _tlb({p0: mem.pages[1]}, {p0: memoryview(mem.ram)[4096:8192]})  # other views, the same memory
    assert t.refill(same, 0, va(0)) and _entry(t, 0, p0)[:2] == (p0, p0)
    assert not t.refill(_tlb({p0: memoryview(bytes(4096))}, {}), 0, va(0))  # not addressable: dropped
    assert _entry(t, 0, p0)[:2] == (M64, M64)
    assert t.refill(same, 0, va(0))
    assert t._word(0, p0 + (1 << BITS)) != t._word(0, p0)  # (pages 1 << BITS apart: other slots)
    other, third = [q for q in range(p0 + 1, p0 + (1 << 2 * BITS)) if t._word(0, q) == t._word(0, p0)][:2]
    t.drop(0, other)  # another page of the set: kept
    before = _entry(t, 0, p0)
    assert before[0] == p0
    assert t.refill(_tlb({other: mem.pages[7]}, {}), 0, other << 12) == 1  # p0 to the second way
    w = t._word(0, p0)
    assert (t.words[w], t.words[w + 4], t.words[w + 5]) == (other, p0, p0)
    assert _entry(t, 0, p0) == before
    assert t.refill(_tlb({third: mem.pages[6]}, {}), 0, third << 12) == REFILL_EVICTED
    assert _entry(t, 0, p0)[:2] == (M64, M64)  # three pages in the set: the oldest is gone
    assert (t.words[w], t.words[w + 4]) == (third, other)
    assert t.refill(mem, 0, va(0))
    assert (t.words[w], t.words[w + 4]) == (p0, third)
    t.drop(0, third)
    assert _entry(t, 0, third)[:2] == (M64, M64) and t.words[w] == p0 and t.words[w + 4] == M64
    t.drop(0, p0)
    assert _entry(t, 0, p0)[:2] == (M64, M64) and _entry(t, 0, p4)[0] == p4
    assert t.refill(mem, 1, va(0))
    t.clear()
    assert not t.installed and all(w == M64 for w in t.words[0::4]) and all(w == M64 for w in t.words[1::4])
    t = NativeTLB(2, BITS)  # a TLBI of a page: every MMU index, both ways, the nofill hints
    assert t.refill(mem, 0, va(0)) and t.refill(mem, 1, va(0))
    assert t.refill(_tlb({other: mem.pages[7]}, {}), 0, other << 12) == 1  # (p0: second way)
    t.nofill.update({(3, p0): (0, 9), (1, other): (0, 9)})
    t.drop_page(p0)
    assert _entry(t, 0, p0)[:2] == _entry(t, 1, p0)[:2] == (M64, M64) and _entry(t, 0, other)[0] == other
    assert t.nofill == {(1, other): (0, 9)} and len(t.installed) == 1
    big = NativeTLB(2, 7)
    many = _tlb({p0 + k: mem.pages[0] for k in range(100)}, {})
    for k in range(100):
        assert big.refill(many, 0, (p0 + k) << 12)
    assert len(big.installed) == 100
    big.clear()
    assert not big.installed and all(w == M64 for w in big.words[0::4])


def test_soft_tlb_keeps_the_mirror(mem):
    """SoftTLB's fills mirror their entry; flush, flush_page, protect_code_page and flush_asid
    remove mirrored native entries (of every ASID's table); an ASID switch changes table; the
    wrapper's refill brings back what the dictionaries hold."""
    rw = cputlb.PROT_READ | cputlb.PROT_WRITE
    table = {0: (0, rw), 1: (1, rw | cputlb.PROT_GLOBAL), 4: (4, cputlb.PROT_READ)}

    walks = []

    def translate(addr, access, idx):
        walks.append(addr >> 12)
        p, prot = table[(addr - VBASE) >> 12]
        return pa(p, addr & 4095), prot
    tlb = cputlb.SoftTLB(SimpleNamespace(ram_page=lambda p, write: mem.pages[p]), translate, 2)
    nat = tlb.native = NativeTLB(2, BITS)
    pages = {k: (VBASE >> 12) + k for k in table}

    def fill_all():
        for k in table:
            for idx in (0, 1):
                tlb.fill(va(k), cputlb.ACCESS_READ, idx)  # (mirrored at once: no native miss)
                assert _entry(nat, idx, pages[k])[0] == pages[k]

    def tags(idx, k):
        return _entry(nat, idx, pages[k])[:2]
    fill_all()
    assert tags(0, 0) == (pages[0], pages[0]) and tags(1, 4) == (pages[4], M64)
    tlb.flush_page(va(0, 0x80))
    assert tags(0, 0) == tags(1, 0) == (M64, M64) and tags(0, 1) == (pages[1], pages[1])
    tlb.flush()
    assert not nat.installed and all(tags(i, k) == (M64, M64) for i in (0, 1) for k in table)
    fill_all()
    tlb.protect_code_page(0)  # code on physical page 0: no more write entries for it
    assert tags(0, 0)[1] == M64 and tags(1, 0)[1] == M64 and tags(0, 1) == (pages[1], pages[1])
    assert nat.refill(tlb, 0, va(0)) and tags(0, 0) == (pages[0], M64)
    table[1] = (5, cputlb.PROT_READ)
    tlb.flush_page(va(1))  # (the guest's TLBI after it changed a global mapping)
    tlb.fill(va(1), cputlb.ACCESS_READ, 0)  # the new translation
    assert tags(0, 1) == (pages[1], M64)
    assert _entry(nat, 0, pages[1])[2] == (_host(mem.pages[5]) - (pages[1] << 12)) & M64
    table[1] = (1, rw | cputlb.PROT_GLOBAL)
    fill_all()
    address0 = nat.address
    seen = []
    nat.on_switch.append(seen.append)
    tlb.switch_asid(5)  # native code reads ASID 5's own table: empty
    assert seen == [nat.address] and nat.address != address0
    assert tags(0, 0) == tags(1, 4) == tags(1, 1) == (M64, M64)
    assert not nat.refill(tlb, 0, va(0))  # (not ASID 5's)
    before = len(walks)
    tlb.fill(va(1), cputlb.ACCESS_READ, 1)  # the global page: known, no walk
    assert len(walks) == before and tags(1, 1) == (pages[1], pages[1])
    tlb.flush_page(va(4))  # TLBI VA reaches the table of ASID 0 put aside
    tlb.switch_asid(0)  # back: ASID 0's table again, with its entries (page 4's dropped)
    assert seen[-1] == nat.address == address0
    assert tags(0, 0) == (pages[0], M64) and tags(1, 4) == (M64, M64)  # (still code on page 0)
    tlb.protect_code_page(1)  # reaches ASID 5's table put aside: no entry for page 1
    tlb.switch_asid(5)
    assert tags(1, 1) == (M64, M64)
    assert nat.refill(tlb, 1, va(1)) and tags(1, 1) == (pages[1], M64)  # (reads only now)
    tlb.switch_asid(0)
    tlb.flush_asid(0)  # TLBI ASIDE1 of the current ASID: its table is emptied
    assert tags(0, 0) == tags(1, 1) == (M64, M64)
    before = len(walks)
    tlb.fill(va(1), cputlb.ACCESS_READ, 1)  # the global translation is still known
    assert len(walks) == before and tags(1, 1) == (pages[1], M64)
    tlb.flush_asid(5)  # TLBI ASIDE1 of one put aside: its table goes
    assert 5 not in nat.saved
