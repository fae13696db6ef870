"""AArch32 branches, loads/stores, exclusives, barriers and CP15 user registers,
compared with Unicorn (its ``max`` ARM CPU, which has the ARMv8 acquire/release
instructions) on hand-encoded A32, T32 and T16 instructions.

Each case runs a few instructions from the same registers, flags and data
memory in both emulators; the code region around them is filled with UDF (in
the instruction set of the test), so execution stops at the first UDF reached:
after the snippet, or where a branch went. Registers R0-R14, NZCV, the final
pc with its instruction set, the data memory and the fault (if any) must match.
Cases avoid what the architecture leaves UNPREDICTABLE (where QEMU's choices
matter, they are tested separately) and alignment faults on LDM/LDRD (QEMU 5.0,
Unicorn's base, does not raise them; QEMU 7.2 and pyqemu do).
"""
from __future__ import annotations

import random
import struct

import pytest

unicorn = pytest.importorskip("unicorn")
from unicorn import UC_ARCH_ARM, UC_MODE_ARM, UC_MODE_THUMB, Uc, UcError  # noqa: E402
from unicorn import arm_const as U  # noqa: E402
from unicorn.unicorn_const import (  # noqa: E402
    UC_ERR_INSN_INVALID,
    UC_ERR_READ_UNALIGNED,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_PROT,
    UC_ERR_WRITE_UNALIGNED,
    UC_ERR_WRITE_UNMAPPED,
    UC_PROT_EXEC,
    UC_PROT_READ,
)

from pyqemu.accel.tcg.cpu_exec import cpu_exec  # noqa: E402
from pyqemu.accel.tcg.excp import GuestException  # noqa: E402
from pyqemu.linux_user.mmap import PROT_EXEC, PROT_READ, PROT_WRITE  # noqa: E402
from pyqemu.linux_user.process import Process  # noqa: E402
from pyqemu.target.arm import cpu32 as C  # noqa: E402

M32 = 0xFFFFFFFF
CODE, CODE_SIZE = 0x10000, 0x10000
START = CODE + 0x8000  # the snippet; UDF around it
LAND_ARM, LAND_THUMB = CODE + 0xE000, CODE + 0xF000  # interworking targets
DATA, DATA_SIZE = 0x40000, 0x4000
MID = DATA + 0x2000
A32_UDF = 0xE7F000F0
T16_UDF = 0xDEFE

# --- running -------------------------------------------------------------------------------


def code_image(thumb: bool, insns: list[tuple[int, int]], patch: dict[int, bytes] | None = None) -> bytes:
    """The code region: UDF everywhere, the snippet at START, landing pads, `patch`."""
    arm_fill = struct.pack("<I", A32_UDF)
    thumb_fill = struct.pack("<H", T16_UDF)
    img = bytearray((thumb_fill * 2 if thumb else arm_fill) * (CODE_SIZE // 4))
    img[LAND_ARM - CODE:LAND_ARM - CODE + 0x100] = arm_fill * 64
    img[LAND_THUMB - CODE:LAND_THUMB - CODE + 0x100] = thumb_fill * 128
    off = START - CODE
    for val, size in insns:
        if size == 4 and thumb:
            raw = struct.pack("<HH", val >> 16, val & 0xFFFF)
        else:
            raw = val.to_bytes(size, "little")
        img[off:off + size] = raw
        off += size
    for addr, raw in (patch or {}).items():
        img[addr - CODE:addr - CODE + len(raw)] = raw
    return bytes(img)


class Case:
    def __init__(self, thumb: bool, insns: list, regs: list[int], nzcv: int, mem: bytes,
                 tpidr: tuple[int, int] = (0, 0), patch: dict[int, bytes] | None = None) -> None:
        self.thumb = thumb
        self.insns = [(i, 2 if thumb and i < 0x10000 and (i >> 11) < 0x1D else 4) if isinstance(i, int)
                      else i for i in insns]
        self.regs = regs
        self.nzcv = nzcv
        self.mem = mem
        self.tpidr = tpidr  # TPIDRURW, TPIDRURO
        self.patch = patch  # code bytes to place (UDF in the other instruction set)


TPIDRURW = (15, 0, 0, 13, 0, 0, 2)  # cp, is64, secure, crn, crm, opc1, opc2
TPIDRURO = (15, 0, 0, 13, 0, 0, 3)
_UC_REGS = [getattr(U, f"UC_ARM_REG_R{i}") for i in range(13)] + [U.UC_ARM_REG_SP, U.UC_ARM_REG_LR]
_UC_FAULTS = {UC_ERR_INSN_INVALID: "ill", UC_ERR_READ_UNMAPPED: "segv", UC_ERR_WRITE_UNMAPPED: "segv",
              UC_ERR_WRITE_PROT: "segv", UC_ERR_READ_UNALIGNED: "bus", UC_ERR_WRITE_UNALIGNED: "bus"}


def run_uc(case: Case) -> tuple:
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB if case.thumb else UC_MODE_ARM)
    uc.ctl_set_cpu_model(U.UC_CPU_ARM_MAX)
    uc.mem_map(CODE, CODE_SIZE, UC_PROT_READ | UC_PROT_EXEC)
    uc.mem_map(DATA, DATA_SIZE)
    uc.mem_write(CODE, code_image(case.thumb, case.insns, case.patch))
    uc.mem_write(DATA, case.mem)
    for r, v in zip(_UC_REGS, case.regs, strict=True):
        uc.reg_write(r, v)
    cpsr = uc.reg_read(U.UC_ARM_REG_CPSR)
    uc.reg_write(U.UC_ARM_REG_CPSR, (cpsr & 0x0FFFFFFF) | case.nzcv)
    uc.reg_write(U.UC_ARM_REG_CP_REG, (*TPIDRURW, case.tpidr[0]))
    uc.reg_write(U.UC_ARM_REG_CP_REG, (*TPIDRURO, case.tpidr[1]))
    fault = None
    try:
        uc.emu_start(START | case.thumb, CODE + CODE_SIZE, count=64)
        fault = "timeout"
    except UcError as e:
        fault = _UC_FAULTS.get(e.errno, f"uc error {e}")
    regs = [uc.reg_read(r) for r in _UC_REGS]
    cpsr = uc.reg_read(U.UC_ARM_REG_CPSR)
    pc = uc.reg_read(U.UC_ARM_REG_PC) | (cpsr >> 5 & 1)
    return (regs, cpsr & 0xF0000000, pc, fault, bytes(uc.mem_read(DATA, DATA_SIZE)),
            uc.reg_read(U.UC_ARM_REG_CP_REG, TPIDRURW))


_PROC: Process | None = None


def _proc() -> Process:
    global _PROC
    if _PROC is None:
        p = Process(target="arm")
        p.tbs.code_cache = None
        p.mem.map(CODE, CODE_SIZE, PROT_READ | PROT_EXEC)
        p.mem.map(DATA, DATA_SIZE, PROT_READ | PROT_WRITE)
        _PROC = p
    return _PROC


def run_pq(case: Case) -> tuple:
    p = _proc()
    p.tbs.invalidate_range(CODE, CODE_SIZE)
    p.mem.mem[CODE:CODE + CODE_SIZE] = code_image(case.thumb, case.insns, case.patch)
    p.mem.mem[DATA:DATA + DATA_SIZE] = case.mem
    cpu = p.new_cpu()
    cpu.regs[0:15] = list(case.regs)
    cpu.nzcv = case.nzcv
    cpu.regs[C.REG_TPIDRURW], cpu.regs[C.REG_TPIDRURO] = case.tpidr
    cpu.pc = START | case.thumb
    fault = None
    try:
        cpu_exec(cpu, p.tbs, 64)
        fault = "timeout"
    except GuestException as e:
        fault = e.kind
    return (list(cpu.regs[0:15]), cpu.nzcv, cpu.pc, fault, bytes(p.mem.mem[DATA:DATA + DATA_SIZE]),
            cpu.regs[C.REG_TPIDRURW])


def check(case: Case, ignore: tuple[int, ...] = ()) -> None:
    """Compare Unicorn and pyqemu on `case` (registers in `ignore` excepted)."""
    ref, got = run_uc(case), run_pq(case)
    for r in ignore:
        ref[0][r] = got[0][r]
    if ref == got:
        return
    msg = [f"insns {[hex(i) for i, _ in case.insns]} thumb={case.thumb} nzcv={case.nzcv >> 28:x}",
           "init " + " ".join(f"r{i}={v:#x}" for i, v in enumerate(case.regs))]
    for i, (a, b) in enumerate(zip(ref[0], got[0], strict=True)):
        if a != b:
            msg.append(f"r{i}: unicorn {a:#x} pyqemu {b:#x}")
    for name, k in (("nzcv", 1), ("pc", 2), ("fault", 3), ("tpidrurw", 5)):
        if ref[k] != got[k]:
            msg.append(f"{name}: unicorn {ref[k]!r} pyqemu {got[k]!r}")
    if ref[4] != got[4]:
        for off in range(0, DATA_SIZE, 4):
            if ref[4][off:off + 4] != got[4][off:off + 4]:
                msg.append(f"mem[{DATA + off:#x}]: unicorn {ref[4][off:off + 4].hex()} "
                           f"pyqemu {got[4][off:off + 4].hex()}")
    raise AssertionError("\n".join(msg))


# --- random state -----------------------------------------------------------------------------


def rand_mem(rng: random.Random) -> bytes:
    return rng.randbytes(DATA_SIZE)


def rand_regs(rng: random.Random, ptr: set[int] = frozenset(), small: set[int] = frozenset(),
              align: int = 1) -> list[int]:
    """Registers: those in `ptr` point into the data window (near its middle, aligned to
    `align`), those in `small` hold small offsets, the rest anything."""
    regs = []
    for i in range(15):
        if i in ptr:
            regs.append((MID + rng.randrange(-0x200, 0x200)) & ~(align - 1))
        elif i in small:
            regs.append(rng.choice((0, 1, 2, 3, 4, 8, rng.randrange(0x100), rng.randrange(0x40) * 4)))
        else:
            regs.append(rng.getrandbits(32))
    return regs


def rand_cond(rng: random.Random) -> int:
    return 14 if rng.random() < 0.7 else rng.randrange(14)


def nzcv(rng: random.Random) -> int:
    return rng.randrange(16) << 28


def reg_not(rng: random.Random, *avoid: int, hi: int = 15) -> int:
    while True:
        r = rng.randrange(hi)
        if r not in avoid:
            return r


N = 60  # random cases per test

# --- A32 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["imm", "reg"])
def test_a32_ldr_str(form: str) -> None:
    """LDR/STR/LDRB/STRB: offset, pre-, post-indexed, writeback, T forms, shifted registers,
    literal loads, conditions."""
    rng = random.Random(f"a32_ldst_{form}")
    for _ in range(N):
        p, u, bb, w, ld = (rng.randrange(2) for _ in range(5))
        wback = not p or w
        rn = rng.randrange(15) if wback or rng.random() < 0.9 else 15
        if rn == 15 and not ld:
            rn = 0
        rt = reg_not(rng, rn if wback else -1)
        cond = rand_cond(rng)
        if form == "imm":
            imm = rng.choice((0, 1, 2, 4, rng.randrange(0x100), rng.randrange(0x1000)))
            insn = cond << 28 | 0b010 << 25 | p << 24 | u << 23 | bb << 22 | w << 21 | ld << 20 \
                | rn << 16 | rt << 12 | imm
            small: set[int] = set()
        else:
            rm = reg_not(rng, 15, rn if wback else -1, hi=15)
            shtype = rng.randrange(4)
            shimm = rng.randrange(4) if shtype == 0 else rng.randrange(32)
            insn = cond << 28 | 0b011 << 25 | p << 24 | u << 23 | bb << 22 | w << 21 | ld << 20 \
                | rn << 16 | rt << 12 | shimm << 7 | shtype << 5 | rm
            if shtype == 0:
                small = {rm}
            elif shtype == 3 and shimm:
                small = {rm}
            else:
                small = {rm} if rng.random() < 0.5 else set()
            if rm == rt:
                small.add(rt)
        regs = rand_regs(rng, ptr={rn} - small, small=small)
        if form == "reg" and not small:
            regs[rm] = rng.getrandbits(32) & 0xFFF00000 if shtype in (1, 2) else regs[rm]
        check(Case(False, [insn], regs, nzcv(rng), rand_mem(rng)))


@pytest.mark.parametrize("form", ["imm", "reg"])
def test_a32_extra_ldst(form: str) -> None:
    """LDRH/STRH/LDRSB/LDRSH/LDRD/STRD with immediate and register offsets."""
    rng = random.Random(f"a32_extra_{form}")
    for _ in range(N):
        p, u, w = (rng.randrange(2) for _ in range(3))
        op, ld = rng.choice(((1, 0), (1, 1), (2, 1), (3, 1), (2, 0), (3, 0)))
        dual = ld == 0 and op != 1
        if not p and dual:
            w = 0  # P=0 W=1: the T forms (LDRHT...), UNPREDICTABLE for LDRD/STRD
        wback = not p or w
        rn = rng.randrange(15) if wback or rng.random() < 0.9 else 15
        if rn == 15 and not ld:
            rn = 1
        if dual:
            rt = rng.randrange(7) * 2
            avoid = {rt, rt + 1}
            if wback and rn in avoid:
                rn = reg_not(rng, rt, rt + 1)
        else:
            rt = reg_not(rng, rn if wback else -1)
            avoid = {rt}
        cond = rand_cond(rng)
        if form == "imm":
            imm = rng.randrange(0x100)
            if dual:
                imm &= ~3
            insn = cond << 28 | p << 24 | u << 23 | 1 << 22 | w << 21 | ld << 20 | rn << 16 | rt << 12 \
                | (imm >> 4) << 8 | 1 << 7 | op << 5 | 1 << 4 | (imm & 15)
            small: set[int] = set()
        else:
            rm = reg_not(rng, rn if wback else -1, *(avoid if dual else ()))
            insn = cond << 28 | p << 24 | u << 23 | w << 21 | ld << 20 | rn << 16 | rt << 12 \
                | 1 << 7 | op << 5 | 1 << 4 | rm
            small = {rm}
        regs = rand_regs(rng, ptr={rn} - small, small=small, align=4 if dual else 1)
        if dual and form == "reg":
            regs[rm] &= ~3
        check(Case(False, [insn], regs, nzcv(rng), rand_mem(rng)))


def test_a32_ldm_stm() -> None:
    """LDM/STM IA/IB/DA/DB with and without writeback, SP as base, STM with the base in the
    list (QEMU stores the original value), conditions."""
    rng = random.Random("a32_ldm")
    for _ in range(2 * N):
        p, u, w, ld = (rng.randrange(2) for _ in range(4))
        rn = rng.randrange(15)
        lst = rng.getrandbits(15) or 1
        if ld and w:
            lst &= ~(1 << rn)
            lst = lst or (1 << ((rn + 1) % 15))
        insn = rand_cond(rng) << 28 | 0b100 << 25 | p << 24 | u << 23 | w << 21 | ld << 20 | rn << 16 | lst
        regs = rand_regs(rng, ptr={rn}, align=4)
        check(Case(False, [insn], regs, nzcv(rng), rand_mem(rng)))


def test_a32_ldm_pc_interworking() -> None:
    """LDM with the PC in the list: an interworking branch (ARM or Thumb target)."""
    rng = random.Random("a32_ldm_pc")
    for _ in range(20):
        u, p = rng.randrange(2), rng.randrange(2)
        rn = rng.randrange(13)
        lst = (rng.getrandbits(13) & ~(1 << rn)) | 1 << 15
        n = bin(lst).count("1")
        insn = 0xE << 28 | 0b100 << 25 | p << 24 | u << 23 | 1 << 21 | 1 << 20 | rn << 16 | lst
        regs = rand_regs(rng, ptr={rn}, align=4)
        mem = bytearray(rand_mem(rng))
        base = regs[rn]
        start = base + (4 if p else 0) if u else base - 4 * n + (0 if p else 4)
        pc_addr = start + 4 * (n - 1)
        target = rng.choice((LAND_ARM + 8, LAND_THUMB + 6 + 1))
        mem[pc_addr - DATA:pc_addr - DATA + 4] = struct.pack("<I", target)
        check(Case(False, [insn], regs, nzcv(rng), bytes(mem)))


def test_a32_ldm_wback_base_in_list_undef() -> None:
    """LDM with writeback and the base in the list: UNPREDICTABLE, UNDEF as in QEMU."""
    rng = random.Random("a32_ldm_undef")
    insn = 0xE8B00003  # ldm r0!, {r0, r1}
    check(Case(False, [insn], rand_regs(rng, ptr={0}, align=4), 0, rand_mem(rng)))


def test_a32_ldr_pc() -> None:
    """LDR to the PC (imm, post-indexed pop) interworks."""
    rng = random.Random("a32_ldr_pc")
    for target in (LAND_ARM + 4, LAND_THUMB + 2 + 1, LAND_ARM + 0x10):
        for insn in (0xE591F004, 0xE49DF004, 0xE79EF001):  # ldr pc,[r1,#4]; pop {pc}; ldr pc,[lr,r1]
            regs = rand_regs(rng, ptr={1, 13, 14}, align=4)
            if insn == 0xE79EF001:
                regs[1] = 8
            mem = bytearray(rand_mem(rng))
            addr = {0xE591F004: regs[1] + 4, 0xE49DF004: regs[13], 0xE79EF001: regs[14] + 8}[insn]
            mem[addr - DATA:addr - DATA + 4] = struct.pack("<I", target)
            check(Case(False, [insn], regs, 0, bytes(mem)))


def test_a32_branches() -> None:
    """B, BL, BLX (immediate), BX, BLX (register), conditional."""
    rng = random.Random("a32_branch")
    for _ in range(N):
        kind = rng.randrange(5)
        patch = None
        cond = rand_cond(rng)
        off = rng.randrange(-0x400, 0x400)
        if kind == 0:
            insns = [cond << 28 | 0xA << 24 | (off & 0xFFFFFF)]
        elif kind == 1:
            insns = [cond << 28 | 0xB << 24 | (off & 0xFFFFFF)]
        elif kind == 2:
            h = rng.randrange(2)
            insns = [0xF << 28 | 0xA << 24 | h << 24 | (off & 0xFFFFFF)]
            target = START + 8 + off * 4 + h * 2
            patch = {target: struct.pack("<H", T16_UDF)}
        else:
            rm = rng.randrange(15)
            insns = [cond << 28 | 0x012FFF10 | (0x20 if kind == 4 else 0) | rm]
        regs = rand_regs(rng)
        if kind >= 3:
            regs[insns[0] & 15] = rng.choice((LAND_ARM + 4 * rng.randrange(8),
                                              LAND_THUMB + 2 * rng.randrange(8) + 1))
        check(Case(False, insns, regs, nzcv(rng), rand_mem(rng), patch=patch))


def test_a32_bl_then_return() -> None:
    """BL to a function that returns with BX LR; BLX to Thumb code returning with BX LR."""
    rng = random.Random("a32_bl_ret")
    # bl +8 (to insn 3); mov r0, #1 (skipped by...); udf; [insn 3:] add r1, r1, #5; bx lr
    insns = [0xEB000001, 0xE3A00001, A32_UDF, 0xE2811005, 0xE12FFF1E]
    check(Case(False, insns, rand_regs(rng), 0, rand_mem(rng)))


def test_a32_udf() -> None:
    rng = random.Random("a32_udf")
    check(Case(False, [0xE3A00001, 0xE7F123F4], rand_regs(rng), 0, rand_mem(rng)))
    check(Case(False, [0xE7F000F0], rand_regs(rng), 0, rand_mem(rng)))


def test_a32_exclusives() -> None:
    """LDREX/STREX (B/H/D): success, failure on another address, after CLREX, after the value
    changed, and a store-exclusive without a load-exclusive."""
    rng = random.Random("a32_excl")
    sizes = {0: 4, 1: 8, 2: 1, 3: 2}  # op field (bits 22:21): word, dual, byte, half
    for _ in range(N):
        op = rng.randrange(4)
        size = sizes[op]
        rn = rng.randrange(13)
        rt = reg_not(rng, rn, 14, 12, 13, hi=12) & ~(1 if op == 1 else 0)
        rd = reg_not(rng, rn, rt, rt + 1, 13, 14, hi=13)
        rs = reg_not(rng, rn, rd, 13, 14, 12, hi=12) & ~(1 if op == 1 else 0)
        if rs == rd or rs + (op == 1) == rd or rs == rn or rs + 1 == rn:
            continue
        ldrex = 0xE1900F9F | op << 21 | rn << 16 | rt << 12
        strex = 0xE1800F90 | op << 21 | rn << 16 | rd << 12 | rs
        scenario = rng.randrange(5)
        if scenario == 0:
            insns = [ldrex, strex]
        elif scenario == 1:
            insns = [ldrex, 0xF57FF01F, strex]  # clrex
        elif scenario == 2:
            # store to the location in between (a different value: the store-exclusive fails)
            insns = [ldrex, 0xE2800000 | rt << 16 | 11 << 12 | 1, 0xE580B000 | rn << 16, strex]
            if rt == 11 or rn == 11 or rd == 11 or rs == 11:
                continue
        elif scenario == 3:
            insns = [ldrex, 0xE2800000 | rn << 16 | rn << 12 | size, strex]  # another address
        else:
            insns = [strex]
        regs = rand_regs(rng, ptr={rn}, align=8)
        check(Case(False, insns, regs, 0, rand_mem(rng)))


def test_a32_exclusive_size_mismatch() -> None:
    """LDREXB then STREX (word) on the same address: as QEMU, only the address and the
    value are compared (the word holds the byte zero-extended: the store succeeds)."""
    rng = random.Random("a32_excl_size")
    regs = rand_regs(rng, ptr={1}, align=4)
    mem = bytearray(rand_mem(rng))
    mem[regs[1] - DATA + 1:regs[1] - DATA + 4] = b"\0\0\0"
    check(Case(False, [0xE1D10F9F, 0xE1812F93], regs, 0, bytes(mem)))  # ldrexb r0,[r1]; strex r2,r3,[r1]


def test_a32_acquire_release() -> None:
    """LDA/LDAB/LDAH, STL/STLB/STLH, LDAEX*/STLEX* (ARMv8)."""
    rng = random.Random("a32_acqrel")
    for _ in range(N):
        sz = rng.randrange(3)  # word, byte, half
        op = (0, 2, 3)[sz]
        size = (4, 1, 2)[sz]
        rn = rng.randrange(13)
        rt = reg_not(rng, rn, hi=13)
        kind = rng.randrange(4)
        if kind == 3:  # LDAEXD/STLEXD
            rt = rng.choice([r for r in range(0, 12, 2) if rn not in (r, r + 1)])
            rd = reg_not(rng, rn, rt, rt + 1, hi=13)
            size = 8
            insns = [0xE1B00E9F | rn << 16 | rt << 12, 0xE1A00E90 | rn << 16 | rd << 12 | rt]
        elif kind == 0:
            insns = [0xE1900C9F | op << 21 | rn << 16 | rt << 12]  # LDA*
        elif kind == 1:
            insns = [0xE180FC90 | op << 21 | rn << 16 | rt]  # STL*
        else:
            rd = reg_not(rng, rn, rt, hi=13)
            insns = [0xE1900E9F | op << 21 | rn << 16 | rt << 12,
                     0xE1800E90 | op << 21 | rn << 16 | rd << 12 | rt]
        regs = rand_regs(rng, ptr={rn}, align=size)
        check(Case(False, insns, regs, 0, rand_mem(rng)))


def test_a32_swp() -> None:
    rng = random.Random("a32_swp")
    for _ in range(20):
        b = rng.randrange(2)
        rn = rng.randrange(13)
        rt = reg_not(rng, rn, hi=13)
        rt2 = reg_not(rng, rn, hi=13)
        insn = 0xE1000090 | b << 22 | rn << 16 | rt << 12 | rt2
        check(Case(False, [insn], rand_regs(rng, ptr={rn}, align=4), 0, rand_mem(rng)))


def test_a32_cp15_tpidr_and_barriers() -> None:
    """MRC TPIDRURO/TPIDRURW, MCR TPIDRURW, DMB/DSB/ISB/CLREX/PLD as no-ops."""
    rng = random.Random("a32_cp15")
    insns = [0xEE1D0F70,  # mrc p15, 0, r0, c13, c0, 3
             0xEE1D1F50,  # mrc p15, 0, r1, c13, c0, 2
             0xEE0D2F50,  # mcr p15, 0, r2, c13, c0, 2
             0xEE1D3F50,  # mrc p15, 0, r3, c13, c0, 2
             0xF57FF05F, 0xF57FF04F, 0xF57FF06F, 0xF57FF01F,  # dmb sy; dsb sy; isb; clrex
             0xF5D4F010, 0xF7D4F005,  # pld [r4, #16]; pld [r4, r5]
             0xEE070FBA, 0xEE070F9A,  # mcr p15 c7,c10,5 (dmb); c7,c10,4 (dsb)
             0xF1010000, 0xF10C0080]  # setend le; cpsid i (a NOP at PL0; Unicorn's NZCV keeps)
    check(Case(False, insns, rand_regs(rng, ptr={4}, small={5}), 0, rand_mem(rng),
               tpidr=(rng.getrandbits(32), rng.getrandbits(32))))


def test_a32_mcr_tpidruro_undef_at_pl0() -> None:
    """Writing TPIDRURO from user mode is UNDEFINED (SIGILL); unicorn runs at PL1, so this
    is checked against the architecture directly."""
    case = Case(False, [0xEE0D0F70], [0] * 15, 0, bytes(DATA_SIZE))
    regs, _, pc, fault, _, _ = run_pq(case)
    assert fault == "ill" and pc == START


# --- T16 ------------------------------------------------------------------------------------

T16_RR = ["STR", "STRH", "STRB", "LDRSB", "LDR", "LDRH", "LDRB", "LDRSH"]


def test_t16_ldst() -> None:
    """T16 register-offset, immediate, SP-relative and literal loads and stores."""
    rng = random.Random("t16_ldst")
    for _ in range(2 * N):
        kind = rng.randrange(6)
        rt, rn, rm = rng.randrange(8), rng.randrange(8), rng.randrange(8)
        small: set[int] = set()
        ptr = {rn}
        if kind == 0:
            insn = 0x5000 | rng.randrange(8) << 9 | rm << 6 | rn << 3 | rt
            if rm == rn:
                continue
            small = {rm}
        elif kind == 1:
            insn = 0x6000 | rng.randrange(2) << 11 | rng.randrange(32) << 6 | rn << 3 | rt
        elif kind == 2:
            insn = 0x7000 | rng.randrange(2) << 11 | rng.randrange(32) << 6 | rn << 3 | rt
        elif kind == 3:
            insn = 0x8000 | rng.randrange(2) << 11 | rng.randrange(32) << 6 | rn << 3 | rt
        elif kind == 4:
            insn = 0x9000 | rng.randrange(2) << 11 | rt << 8 | rng.randrange(256)
            ptr = {13}
        else:
            insn = 0x4800 | rt << 8 | rng.randrange(256)
            ptr = set()
        regs = rand_regs(rng, ptr=ptr - small, small=small)
        insns = [(insn, 2)]
        if rng.random() < 0.5:
            insns.insert(0, (0xE7FF, 2))  # b.n to the next insn: literal loads at pc % 4 == 2
        check(Case(True, insns, regs, nzcv(rng), rand_mem(rng)))


def test_t16_push_pop_ldm_stm() -> None:
    rng = random.Random("t16_ldm")
    for _ in range(N):
        kind = rng.randrange(4)
        lst = rng.getrandbits(8) or 1
        rn = rng.randrange(8)
        if kind == 0:
            insn = 0xB400 | rng.randrange(2) << 8 | lst  # push
        elif kind == 1:
            insn = 0xBC00 | lst  # pop (no pc)
        elif kind == 2:
            if lst >> rn & 1 and lst & ((1 << rn) - 1):
                continue  # STM with the base in the list but not lowest: UNPREDICTABLE
            insn = 0xC000 | rn << 8 | lst  # stmia rn!
        else:
            insn = 0xC800 | rn << 8 | lst  # ldmia rn(!)
        regs = rand_regs(rng, ptr={rn, 13}, align=4)
        check(Case(True, [insn], regs, 0, rand_mem(rng)))


def test_t16_pop_pc() -> None:
    rng = random.Random("t16_pop_pc")
    for target in (LAND_THUMB + 4 + 1, LAND_ARM + 8):
        regs = rand_regs(rng, ptr={13}, align=4)
        mem = bytearray(rand_mem(rng))
        off = regs[13] - DATA + 8
        mem[off:off + 4] = struct.pack("<I", target)
        check(Case(True, [0xBD05], regs, 0, bytes(mem)))  # pop {r0, r2, pc}


def test_t16_branches() -> None:
    """B, B<cond>, CBZ/CBNZ, BX, BLX (register), SVC-free UDF end."""
    rng = random.Random("t16_branch")
    for _ in range(N):
        kind = rng.randrange(5)
        regs = rand_regs(rng)
        if kind == 0:
            insn = 0xE000 | rng.randrange(-0x100, 0x100) & 0x7FF
        elif kind == 1:
            insn = 0xD000 | rng.randrange(14) << 8 | rng.randrange(256)
        elif kind == 2:
            rn = rng.randrange(8)
            insn = 0xB100 | rng.randrange(2) << 11 | rng.randrange(2) << 9 | rng.randrange(32) << 3 | rn
            regs[rn] = rng.choice((0, 1, regs[rn]))
        else:
            rm = rng.randrange(15)
            insn = 0x4700 | (kind == 4) << 7 | rm << 3
            regs[rm] = rng.choice((LAND_ARM + 4 * rng.randrange(8), LAND_THUMB + 2 * rng.randrange(8) + 1))
        check(Case(True, [insn], regs, nzcv(rng), rand_mem(rng)))


# --- T32 ------------------------------------------------------------------------------------


def _t32_single(rng: random.Random) -> tuple[int, set[int], set[int]]:
    """A random T32 LDR*/STR* (imm12, imm8 P/U/W, register, literal)."""
    while True:
        kind = rng.randrange(4)
        sz = rng.randrange(3)
        ld = rng.randrange(2)
        sign = rng.randrange(2) if ld and sz < 2 else 0
        rn = rng.randrange(15)
        rt = reg_not(rng, 13, 15, rn)
        hw1 = 0xF800 | sign << 8 | sz << 5 | ld << 4
        if kind == 0:
            return (hw1 | 1 << 7 | rn) << 16 | rt << 12 | rng.randrange(0x1000), {rn}, set()
        if kind == 1:
            puw = rng.choice((0b110, 0b100, 0b111, 0b101, 0b011, 0b001, 0b010 + 1))
            return (hw1 | rn) << 16 | rt << 12 | 1 << 11 | puw << 8 | rng.randrange(256), {rn}, set()
        if kind == 2:
            rm = reg_not(rng, 13, 15)
            if rm == rn:
                continue
            return (hw1 | rn) << 16 | rt << 12 | rng.randrange(4) << 4 | rm, {rn}, {rm}
        if ld:
            return (hw1 | rng.randrange(2) << 7 | 15) << 16 | rt << 12 | rng.randrange(0x1000), set(), set()


def test_t32_ldr_str() -> None:
    rng = random.Random("t32_ldst")
    for _ in range(3 * N):
        insn, ptr, small = _t32_single(rng)
        regs = rand_regs(rng, ptr=ptr, small=small)
        insns = [(insn, 4)]
        if rng.random() < 0.5:
            insns.insert(0, (0xE7FF, 2))
        check(Case(True, insns, regs, 0, rand_mem(rng)))


def test_t32_ldrd_strd() -> None:
    rng = random.Random("t32_ldrd")
    for _ in range(N):
        p, u, w, ld = (rng.randrange(2) for _ in range(4))
        if not p and not w:
            p = 1
        rn = rng.randrange(15) if w or not p or rng.random() < 0.8 else 15
        if rn == 15 and not ld:
            rn = 0
        rt = reg_not(rng, 13, 15, rn if w or not p else -1)
        rt2 = reg_not(rng, 13, 15, rt, rn if w or not p else -1)
        hw1 = 0xE840 | p << 8 | u << 7 | w << 5 | ld << 4 | rn
        insn = hw1 << 16 | rt << 12 | rt2 << 8 | rng.randrange(256)
        regs = rand_regs(rng, ptr={rn}, align=4)
        check(Case(True, [(insn, 4)], regs, 0, rand_mem(rng)))


def test_t32_ldm_stm() -> None:
    """LDMIA/LDMDB/STMIA/STMDB (PUSH.W/POP.W), with writeback."""
    rng = random.Random("t32_ldm")
    for _ in range(N):
        db, w, ld = (rng.randrange(2) for _ in range(3))
        rn = rng.randrange(15)
        lst = rng.getrandbits(13) | (rng.randrange(2) << 14 if not ld else 0)
        if w:
            lst &= ~(1 << rn)
        if bin(lst).count("1") < 2:
            continue
        hw1 = (0xE900 if db else 0xE880) | w << 5 | ld << 4 | rn
        regs = rand_regs(rng, ptr={rn}, align=4)
        check(Case(True, [(hw1 << 16 | lst, 4)], regs, 0, rand_mem(rng)))


def test_t32_pop_pc_and_ldr_pc() -> None:
    rng = random.Random("t32_pop_pc")
    for target in (LAND_THUMB + 8 + 1, LAND_ARM + 4):
        regs = rand_regs(rng, ptr={13}, align=4)
        mem = bytearray(rand_mem(rng))
        off = regs[13] - DATA + 4
        mem[off:off + 4] = struct.pack("<I", target)
        check(Case(True, [(0xE8BD8002, 4)], regs, 0, bytes(mem)))  # pop.w {r1, pc}
        regs = rand_regs(rng, ptr={13}, align=4)
        mem = bytearray(rand_mem(rng))
        off = regs[13] - DATA
        mem[off:off + 4] = struct.pack("<I", target)
        check(Case(True, [(0xF85DFB04, 4)], regs, 0, bytes(mem)))  # ldr.w pc, [sp], #4


def _t32_branch(kind: int, off: int) -> int:
    """B.W (0), BL (1), BLX (2) with the byte offset `off`."""
    v = (off >> 1) & 0xFFFFFF
    s = v >> 23
    i1, i2 = v >> 22 & 1, v >> 21 & 1
    j1, j2 = 1 ^ i1 ^ s, 1 ^ i2 ^ s
    hw1 = 0xF000 | s << 10 | (v >> 11 & 0x3FF)
    hw2 = 0x8000 | j1 << 13 | j2 << 11 | (v & 0x7FF) | {0: 0x1000, 1: 0x5000, 2: 0x4000}[kind]
    return hw1 << 16 | hw2


def test_t32_branches() -> None:
    """B.W, B<cond>.W, BL, BLX (immediate, to ARM), TBB/TBH."""
    rng = random.Random("t32_branch")
    for _ in range(N):
        kind = rng.randrange(5)
        regs = rand_regs(rng)
        patch = None
        if kind < 3:
            off = rng.randrange(-0x800, 0x800) * 2
            if kind == 2:
                off &= ~3
            insns = [(_t32_branch(kind, off), 4)]
            at = START
            if rng.random() < 0.5:
                insns = [(0xE7FF, 2)] + insns  # b.n to the next insn: the branch at pc % 4 == 2
                at += 2
            if kind == 2:
                patch = {((at + 4) & ~3) + off: struct.pack("<I", A32_UDF)}
        elif kind == 3:
            off = rng.randrange(-0x200, 0x200) * 2
            v = (off >> 1) & 0xFFFFF
            cond = rng.randrange(14)
            hw1 = 0xF000 | (v >> 19) << 10 | cond << 6 | (v >> 11 & 0x3F)
            hw2 = 0x8000 | (v >> 17 & 1) << 11 | (v >> 18 & 1) << 13 | (v & 0x7FF)
            insns = [(hw1 << 16 | hw2, 4)]
        else:
            h = rng.randrange(2)
            rn, rm = rng.randrange(13), rng.randrange(13)
            if rn == rm:
                continue
            regs[rn] = (MID + rng.randrange(-0x100, 0x100)) & ~1
            regs[rm] = rng.randrange(16)
            insns = [((0xE8D0 | rn) << 16 | 0xF000 | h << 4 | rm, 4)]
            mem = bytearray(rand_mem(rng))
            ent = regs[rn] + (regs[rm] << h) - DATA
            mem[ent:ent + 2] = rng.randrange(0x400).to_bytes(2, "little")
            check(Case(True, insns, regs, nzcv(rng), bytes(mem)))
            continue
        check(Case(True, insns, regs, nzcv(rng), rand_mem(rng), patch=patch))


def test_t32_tbb_pc_relative() -> None:
    """TBB [PC, Rm] with the table right after the instruction."""
    rng = random.Random("t32_tbb_pc")
    for idx in range(4):
        regs = rand_regs(rng)
        regs[0] = idx
        table = [3, 5, 7, 2]
        insns = [(0xE8DFF000, 4), (table[0] | table[1] << 8, 2), (table[2] | table[3] << 8, 2)]
        check(Case(True, insns, regs, 0, rand_mem(rng)))


def test_t32_exclusives_and_acquire_release() -> None:
    """LDREX/STREX (with offset), LDREXB/H/D, STREXB/H/D, LDA*/STL*, LDAEX*/STLEX*."""
    rng = random.Random("t32_excl")
    for _ in range(N):
        rn = rng.randrange(13)
        rt = reg_not(rng, rn, hi=13)
        rt2 = reg_not(rng, rn, rt, hi=13)
        rd = reg_not(rng, rn, rt, rt2, hi=13)
        kind = rng.randrange(4)
        if kind == 0:
            imm = rng.randrange(8)
            ld = (0xE850 | rn) << 16 | rt << 12 | 0xF00 | imm
            st = (0xE840 | rn) << 16 | rt2 << 12 | rd << 8 | imm
            size = 4
        elif kind in (1, 2):
            op = rng.choice((4, 5, 7))  # B, H, D
            if kind == 2:
                op = rng.choice((0xC, 0xD, 0xF))  # acquire/release exclusive forms
            size = {4: 1, 5: 2, 7: 8, 0xC: 1, 0xD: 2, 0xF: 8}[op]
            d = op & 3 == 3
            ld = (0xE8D0 | rn) << 16 | rt << 12 | (rt2 if d else 15) << 8 | op << 4 | 15
            st = (0xE8C0 | rn) << 16 | rt << 12 | (rt2 if d else 15) << 8 | op << 4 | rd
        else:
            op = rng.choice((8, 9, 10))
            size = {8: 1, 9: 2, 10: 4}[op]
            ld = (0xE8D0 | rn) << 16 | rt << 12 | 0xF00 | op << 4 | 15
            st = (0xE8C0 | rn) << 16 | rt2 << 12 | 0xF00 | op << 4 | 15
            insns = [(st, 4), (ld, 4)]
        if kind != 3:
            insns = rng.choice(([(ld, 4), (st, 4)], [(st, 4)], [(ld, 4), (0xF3BF8F2F, 4), (st, 4)]))
        regs = rand_regs(rng, ptr={rn}, align=max(size, 4))
        check(Case(True, insns, regs, 0, rand_mem(rng)))


def test_t32_cp15_and_barriers() -> None:
    rng = random.Random("t32_cp15")
    insns = [(0xEE1D0F70, 4), (0xEE1D1F50, 4), (0xEE0D2F50, 4), (0xEE1D3F50, 4),
             (0xF3BF8F5F, 4), (0xF3BF8F4F, 4), (0xF3BF8F6F, 4), (0xF3BF8F2F, 4),  # dmb dsb isb clrex
             (0xF894F010, 4), (0xF814F005, 4),  # pld [r4, #16]; pld [r4, r5]
             (0xB650, 2), (0xB662, 2)]  # setend le; cpsie i
    check(Case(True, insns, rand_regs(rng, ptr={4}, small={5}), 0, rand_mem(rng),
               tpidr=(rng.getrandbits(32), rng.getrandbits(32))))


def test_t16_t32_udf() -> None:
    rng = random.Random("t_udf")
    check(Case(True, [(0xDE12, 2)], rand_regs(rng), 0, rand_mem(rng)))
    check(Case(True, [(0xF7F1A234, 4)], rand_regs(rng), 0, rand_mem(rng)))


def test_unaligned_ldm_ldrd_exclusive_sigbus() -> None:
    """QEMU 7.2 (and the architecture) raise an alignment fault for LDM/STM, LDRD/STRD
    and exclusives on a misaligned address; plain LDR/LDRH do not (SCTLR.A = 0)."""
    for insn in (0xE8910003, 0xE1C100D0, 0xE1910F9F, 0xE1C100F0, 0xE1910C9F):
        regs = [0] * 15
        regs[1] = MID + 2
        case = Case(False, [insn], regs, 0, bytes(DATA_SIZE))
        _, _, pc, fault, _, _ = run_pq(case)
        assert (fault, pc) == ("bus", START), hex(insn)
    regs = [0] * 15
    regs[1] = MID + 1
    _, _, pc, fault, _, _ = run_pq(Case(False, [0xE5910000, 0xE1D100B0], regs, 0, bytes(DATA_SIZE)))
    assert fault == "ill" and pc == START + 8


def test_user_mode_exceptions_as_qemu_arm() -> None:
    """What qemu-arm 7.2 does at PL0 (observed with a static test program): BKPT is SIGTRAP;
    MCR to TPIDRURO, MRC CNTFRQ, MRRC CNTVCT/CNTPCT are SIGILL (Unicorn runs at PL1)."""
    for insn, kind in ((0xE1200071, "trap"),   # bkpt #1
                       (0xEE1E0F10, "ill"),    # mrc p15, 0, r0, c14, c0, 0 (CNTFRQ)
                       (0xEC510F1E, "ill"),    # mrrc p15, 1, r0, r1, c14 (CNTVCT)
                       (0xEC510F0E, "ill")):   # mrrc p15, 0, r0, r1, c14 (CNTPCT)
        _, _, pc, fault, _, _ = run_pq(Case(False, [insn], [0] * 15, 0, bytes(DATA_SIZE)))
        assert (fault, pc) == (kind, START), hex(insn)
    _, _, pc, fault, _, _ = run_pq(Case(True, [(0xBE07, 2)], [0] * 15, 0, bytes(DATA_SIZE)))
    assert (fault, pc) == ("trap", START | 1)


def test_swp_as_qemu_arm() -> None:
    """SWP exists in qemu-arm 7.2 (its max CPU): old value to Rt, Rt2 to memory."""
    regs = [0] * 15
    regs[2], regs[1] = MID, 9
    mem = bytearray(DATA_SIZE)
    mem[MID - DATA] = 5
    got = run_pq(Case(False, [0xE1020091], regs, 0, bytes(mem)))  # swp r0, r1, [r2]
    assert got[0][0] == 5 and got[4][MID - DATA:MID - DATA + 4] == b"\x09\0\0\0"


def test_thumb_it_blocks() -> None:
    """Loads, stores and branches under an IT block (IT itself is the DP helper's)."""
    rng = random.Random("t_it")
    bodies = [
        [(0x6808, 2)],                       # ldr r0, [r1]
        [(0x600A, 2), (0x7A4B, 2)],          # str r2, [r1]; ldrb r3, [r1, #9]
        [(0xF8D1_4004, 4)],                  # ldr.w r4, [r1, #4]
        [(0xE001, 2)],                       # b.n +2 (last in the block)
        [(0x6808, 2), (0x4770 | 3 << 3, 2)],  # ldr r0, [r1]; bx r3
        [(0xBD01, 2)],                       # pop {r0, pc}
        [(0xE8BD_8001, 4)],                  # pop.w {r0, pc}
        [(0xF7FF_FFFC, 4)],                  # bl -8 (to the UDF fill)
    ]
    for _ in range(40):
        body = rng.choice(bodies)
        cond = rng.randrange(14)
        n = len(body)
        # IT mask: "then" for every instruction, as many as in the body
        mask = {1: 0b1000, 2: 0b0100 | (cond & 1) << 3, 3: 0b0010 | (cond & 1) * 0b1100}[n]
        it = 0xBF00 | cond << 4 | mask
        regs = rand_regs(rng, ptr={1, 13}, align=4)
        regs[3] = LAND_THUMB + 4 + 1
        mem = bytearray(rand_mem(rng))
        off = regs[13] - DATA + 4
        mem[off:off + 4] = struct.pack("<I", LAND_ARM + 8)
        check(Case(True, [(it, 2)] + body, regs, nzcv(rng), bytes(mem)))


def test_misc_control_and_bxj() -> None:
    """T32 MRS/MSR/NOP.W/YIELD.W patterns (the DP helper's semantics) and BXJ (A32, T32)."""
    rng = random.Random("t32_misc")
    for _ in range(10):
        regs = rand_regs(rng)
        regs[2] = rng.choice((LAND_ARM + 4, LAND_THUMB + 1))
        # mrs r0, apsr; lsr r0, #27 (Unicorn runs in SVC mode); msr apsr_nzcvq, r1; nop.w;
        # mrs r3, apsr; lsr r3, #27; bxj r2
        insns = [(0xF3EF8000, 4), (0xEA4F60D0, 4), (0xF3818800, 4), (0xF3AF8000, 4),
                 (0xF3EF8300, 4), (0xEA4F63D3, 4), (0xF3C28F00, 4)]
        check(Case(True, insns, regs, nzcv(rng), rand_mem(rng)))
        check(Case(False, [0xE12FFF22], regs, nzcv(rng), rand_mem(rng)))  # bxj r2


def test_faults_are_precise() -> None:
    """Accesses running off the end of the data window fault (SIGSEGV) with the registers as
    before the instruction, writeback included; stores before the faulting word stay done.
    (QEMU writes the registers an LDM loaded before the fault, which the architecture
    leaves UNKNOWN; pyqemu leaves them unchanged: those are not compared.)"""
    rng = random.Random("faults")
    end = DATA + DATA_SIZE
    arm = [0xE8B1000C,  # ldm r1!, {r2, r3}
           0xE8A1000C,  # stm r1!, {r2, r3}
           0xE1E120D4,  # ldrd r2, r3, [r1, #4]!
           0xE4912004,  # ldr r2, [r1], #4
           0xE5B12004,  # ldr r2, [r1, #4]!
           0xE1F120B2]  # ldrh r2, [r1, #2]!
    for i, insn in enumerate(arm):
        for base in (end - 4, end - 2, end) if i >= 3 else (end - 8, end - 4, end):
            regs = rand_regs(rng)
            regs[1] = base
            check(Case(False, [insn], regs, 0, rand_mem(rng)), ignore=(2, 3))
    thumb = [(0xC90C, 2), (0xC10C, 2), (0xE8F12301, 4), (0xF8512B04, 4), (0xB40C, 2), (0xBC0C, 2)]
    for insn in thumb:  # ldmia r1!; stmia r1!; ldrd r2, r3, [r1], #4; ldr r2, [r1], #4; push; pop
        for base in (end - 4, end, DATA + 4):
            regs = rand_regs(rng)
            regs[1] = regs[13] = base
            check(Case(True, [insn], regs, 0, rand_mem(rng)), ignore=(2, 3))


def test_a32_store_pc() -> None:
    """STR/STM of the PC store the instruction's address + 8."""
    rng = random.Random("a32_str_pc")
    for insns in ([0xE581F008], [0xE8818001], [0xE92D8003], [0xE1A00000 | 0xA << 28, 0xE5A1F004]):
        check(Case(False, insns, rand_regs(rng, ptr={1, 13}, align=4), nzcv(rng), rand_mem(rng)))
