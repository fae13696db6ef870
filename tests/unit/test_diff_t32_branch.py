"""Thumb branches: B (16-bit conditional and unconditional, 32-bit conditional and
wide), BL, CBZ/CBNZ, BX/BLX (register), MOV/ADD pc, TBB/TBH, LDR pc, POP {pc}, and branches
ending IT blocks: pyqemu against Unicorn.

Blocks mix flag-setting and conditional ALU instructions on R0-R3 with forward
branches to unit boundaries (never into an IT block: UNPREDICTABLE) inside the
block or to its end. Register targets (with the Thumb bit) are preset in
R4-R11; TBB/TBH tables and load targets live in the data window at R12, table
indexes in R4-R11 too. CBZ/CBNZ are never in an IT block, and a branch in an
IT block is always its last instruction (both as the ARM ARM requires).
Interworking has its own blocks: Thumb code calling an ARM section (BLX
immediate, or BX/BLX register) that returns with BX/BLX to the Thumb tail.
Exception generating: SVC (also in IT blocks), UDF, BKPT (never in IT blocks).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import (  # noqa: E402
    CODE_BASE,
    DATA_BASE,
    Block,
    Encoding,
    dt_fixture,
    fixed_tests,
    insn_size,
    it_block,
    it_insn,
    random_state,
    random_test,
)

FILL = [Encoding("imm8", "001 op:2 0 rd:2 imm:8"),
        Encoding("addsub3", "00011 1 op:1 imm:3 0 rn:2 0 rd:2")]
BLOCK = 40
TABLE = 0x400  # TBB/TBH tables in the data window (R12 = DATA_BASE)
STACK = 0x700  # the POP {pc} slot (one per block: a skipped POP would shift later ones)
SIZES = {"b16": 2, "bc16": 2, "b32": 4, "bc32": 4, "bl": 4, "cbz": 2, "bx": 2, "tb": 4,
         "ldr": 4, "pop": 2, "movpc": 2, "addpc": 2}
IN_IT = ("b16", "b32", "bl", "bx", "tb", "ldr", "movpc", "addpc")  # may end an IT block


def _b_cond16(c: int, off: int) -> int:
    return 0xD000 | (c << 8) | ((off >> 1) & 0xFF)


def _b16(off: int) -> int:
    return 0xE000 | ((off >> 1) & 0x7FF)


def _b_cond32(c: int, off: int) -> int:
    s, j2, j1 = (off >> 20) & 1, (off >> 19) & 1, (off >> 18) & 1
    return (0xF000 << 16) | (s << 26) | (c << 22) | (((off >> 12) & 0x3F) << 16) | 0x8000 \
        | (j1 << 13) | (j2 << 11) | ((off >> 1) & 0x7FF)


def _b32(off: int, link: int) -> int:
    s = (off >> 24) & 1
    i1, i2 = (off >> 23) & 1, (off >> 22) & 1
    j1, j2 = (1 - i1) ^ s, (1 - i2) ^ s
    return (0xF000 << 16) | (s << 26) | (((off >> 12) & 0x3FF) << 16) | 0x9000 | (link << 14) \
        | (j1 << 13) | (j2 << 11) | ((off >> 1) & 0x7FF)


def gen(rng: random.Random) -> Block:
    init = random_state(rng, mem_size=0x800)
    mem = bytearray(init.mem)
    init.r[12] = DATA_BASE
    init.r[13] = DATA_BASE + STACK
    start = CODE_BASE + 2 * rng.randrange(1024)
    free = list(range(4, 12))
    rng.shuffle(free)
    slots = iter(range(0, TABLE, 4))
    tbb = tbh = 0
    popped = False
    units: list[list] = []  # instructions, or (kind, target unit, condition, register/slot)
    for i in range(BLOCK):
        if rng.random() < 0.55:
            units.append([rng.choice(FILL).gen(rng)])
            continue
        kind = rng.choice(list(SIZES))
        extra = None
        if kind in ("bx", "tb", "movpc", "addpc"):
            extra = free.pop() if free else None
        elif kind == "ldr":
            extra = next(slots, None)
        elif kind == "pop":
            extra = None if popped else STACK
            popped = True
        if extra is None and kind in ("bx", "tb", "ldr", "pop", "movpc", "addpc"):
            kind = "b32"
        c = rng.randrange(14)
        unit: list = [(kind, rng.randrange(i + 1, min(BLOCK, i + 6) + 1), c, extra)]
        if kind in IN_IT and rng.random() < 0.3:  # the branch ends an IT block
            m = rng.randrange(3)
            unit = [it_insn(c, [rng.randrange(2) for _ in range(m)])] \
                + [rng.choice(FILL).gen(rng) for _ in range(m)] + unit
        units.append(unit)
    uaddr = [start]
    for u in units:
        uaddr.append(uaddr[-1] + sum(SIZES[x[0]] if isinstance(x, tuple) else insn_size(x, True)
                                     for x in u))
    insns: list[int] = []
    cuts: list[int] = []
    for ui, u in enumerate(units):
        pc = uaddr[ui]
        for x in u:
            if isinstance(x, tuple):
                kind, t, c, extra = x
                target = uaddr[t]
                off = target - (pc + 4)
                if kind == "cbz" and off < 0:
                    kind = "b16"
                if kind == "b16":
                    w = _b16(off)
                elif kind == "bc16":
                    w = _b_cond16(c, off)
                elif kind in ("b32", "bl"):
                    w = _b32(off, int(kind == "bl"))
                elif kind == "bc32":
                    w = _b_cond32(c, off)
                elif kind == "cbz":
                    w = 0xB100 | (rng.randrange(2) << 11) | (((off >> 6) & 1) << 9) \
                        | (((off >> 1) & 0x1F) << 3) | rng.randrange(4)
                elif kind == "bx":
                    init.r[extra] = target | 1
                    w = 0x4700 | (rng.randrange(2) << 7) | (extra << 3)
                elif kind == "movpc":  # MOV pc, rm: bit 0 ignored (stays Thumb)
                    init.r[extra] = target | rng.randrange(2)
                    w = 0x4687 | (extra << 3)
                elif kind == "addpc":  # ADD pc, rm: PC reads as the address + 4
                    init.r[extra] = (target - (pc + 4) + rng.randrange(2)) & 0xFFFFFFFF
                    w = 0x4487 | (extra << 3)
                elif kind == "tb":
                    h = rng.randrange(2)
                    if h:
                        init.r[extra] = TABLE // 2 + 0x80 + tbh
                        a = TABLE + 0x100 + 2 * tbh
                        mem[a:a + 2] = (off >> 1).to_bytes(2, "little")
                        tbh += 1
                    else:
                        init.r[extra] = TABLE + tbb
                        mem[TABLE + tbb] = off >> 1
                        tbb += 1
                    w = 0xE8D0F000 | (12 << 16) | (h << 4) | extra
                elif kind == "ldr":
                    mem[extra:extra + 4] = (target | 1).to_bytes(4, "little")
                    w = 0xF8DCF000 | extra
                else:  # POP {pc}
                    mem[extra:extra + 4] = (target | 1).to_bytes(4, "little")
                    w = 0xBD00
                x = w
            insns.append(x)
            pc += insn_size(x, True)
        cuts.append(len(insns))
    init.mem = bytes(mem)
    return Block(insns, init, cuts=cuts, start=start)


ARM_FILL = [Encoding("dp_imm", "1110 001 op:4 s:1 rn:4 rd:4 rot:4 imm:8", op=(0, 1, 2, 4, 5, 12, 13),
                     rn=range(4), rd=range(4), valid=lambda f: f["op"] != 13 or f["rn"] == 0)]


def _blx32(off: int) -> int:
    return _b32(off, 1) & ~(1 << 12)  # BLX (immediate): bit 12 clear, H (bit 0) 0


def gen_interwork(rng: random.Random) -> Block:
    """Thumb head -> (BLX imm | BX/BLX r5) -> ARM section -> (BX/BLX r4) -> Thumb tail."""
    init = random_state(rng)
    start = CODE_BASE + 4 * rng.randrange(512)  # word-aligned
    one = lambda r: r.choice(FILL).gen(r)  # noqa: E731
    head: list[int] = []
    for _ in range(rng.randrange(0, 6)):
        head += it_block(rng, one) if rng.random() < 0.2 else [one(rng)]
    size = sum(insn_size(i, True) for i in head)
    blx_imm = rng.random() < 0.5
    call_size = 4 if blx_imm else 2
    pad = (-(size + call_size)) % 4  # the ARM section is word-aligned
    arm = [rng.choice(ARM_FILL).gen(rng) for _ in range(rng.randrange(0, 6))]
    arm.append((14 << 28) | 0x012FFF14 | (rng.randrange(2) << 5))  # BX/BLX r4
    a_addr = start + size + call_size + pad
    if blx_imm:
        call = _blx32(a_addr - ((start + size + 4) & ~3))
    else:
        init.r[5] = a_addr
        call = 0x4728 | (rng.randrange(2) << 7)  # BX/BLX r5
    tail = [one(rng) for _ in range(rng.randrange(1, 6))]
    init.r[4] = (a_addr + 4 * len(arm)) | 1
    halfwords = [w for i in arm for w in (i & 0xFFFF, i >> 16)]
    # ARM words as pairs of "halfword instructions" (the harness writes halfwords little-endian)
    return Block(head + [call] + [0xBF00] * (pad // 2) + halfwords + tail, init, start=start)


def gen_exception(rng: random.Random) -> Block:
    insns = [rng.choice(FILL).gen(rng) for _ in range(rng.randrange(1, 10))]
    k = rng.randrange(4)
    if k == 0:
        last = [0xDF00 | rng.getrandbits(8)]  # SVC
    elif k == 1:
        last = [it_insn(rng.randrange(14), []), 0xDF00 | rng.getrandbits(8)]  # conditional SVC
    elif k == 2:
        last = [rng.choice((0xDE00 | rng.getrandbits(8), 0xF7F0A000 | (rng.getrandbits(4) << 16)
                            | rng.getrandbits(12)))]  # UDF
    else:
        last = [0xBE00 | rng.getrandbits(8)]  # BKPT
    return Block(insns + last, random_state(rng), start=CODE_BASE + 2 * rng.randrange(1024), faults=True)


RUNS = {"branch": (gen, 150), "interwork": (gen_interwork, 100), "exception": (gen_exception, 60)}

dt = dt_fixture(thumb=True)
test_branches, test_interworking, test_exceptions = fixed_tests("t32/", RUNS)
test_branches_random = random_test("t32/", RUNS)
