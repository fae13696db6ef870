"""A32 branches: B/BL (all conditions), BX/BLX (register), MOV/ADD pc, LDR pc; ARM/Thumb
interworking (BLX immediate and BX/BLX register into Thumb code and back); exception
generating instructions (SVC, UDF, BKPT): pyqemu against Unicorn.

Blocks mix flag-setting and conditional ALU instructions on R0-R3 with forward
branches to instruction boundaries inside the block (or to its end), so every
path ends at the block's end; register targets are preset in R4-R11, load
targets in the data window at R12. Targets stay in the ARM state (BLX to Thumb
would need Thumb code there); interworking has its own blocks, ARM code calling
a Thumb section (packed two halfwords per word) that returns with BX/BLX to the
ARM tail. UDF and BKPT are unconditional (a condition is UNPREDICTABLE).
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
    cond,
    dt_fixture,
    fixed_tests,
    it_block,
    random_state,
    random_test,
)

FILL = [Encoding("dp_imm", "cond:4 001 op:4 s:1 rn:4 rd:4 rot:4 imm:8", op=(0, 1, 2, 4, 5, 12, 13),
                 rn=range(4), rd=range(4), valid=lambda f: f["op"] != 13 or f["rn"] == 0),
        Encoding("cmp", "cond:4 00110 op:2 1 rn:4 0000 rot:4 imm:8", rn=range(4))]
BLOCK = 40


def gen(rng: random.Random) -> Block:
    init = random_state(rng, mem_size=256)
    start = CODE_BASE + 4 * rng.randrange(512)
    n = BLOCK
    specs: list = []
    free = list(range(4, 12))
    rng.shuffle(free)
    slot = 0
    mem = bytearray(init.mem)
    for i in range(n):
        if rng.random() < 0.6:
            specs.append(rng.choice(FILL).gen(rng))
            continue
        t = rng.randrange(i + 1, min(n, i + 8) + 1)
        target = start + 4 * t
        k = rng.randrange(6)
        c = cond(rng)
        if k <= 1:  # B / BL
            off = (target - (start + 4 * i + 8)) >> 2
            specs.append((c << 28) | ((0b1010 | k) << 24) | (off & 0xFFFFFF))
        elif k == 2 and free:  # BX / BLX register
            rm = free.pop()
            init.r[rm] = target
            specs.append((c << 28) | 0x012FFF10 | (rng.randrange(2) << 5) | rm)
        elif k == 3 and free:  # MOV pc, rm
            rm = free.pop()
            init.r[rm] = target
            specs.append((c << 28) | 0x01A0F000 | rm)
        elif k == 5 and free:  # ADD pc, rm, #imm
            rm = free.pop()
            imm = rng.randrange(256)
            init.r[rm] = (target - imm) & 0xFFFFFFFF
            specs.append((c << 28) | 0x0280F000 | (rm << 16) | imm)
        elif slot < 32:  # LDR pc, [r12, #imm]
            init.r[12] = DATA_BASE
            mem[8 * slot:8 * slot + 4] = target.to_bytes(4, "little")
            specs.append((c << 28) | 0x059CF000 | (8 * slot))
            slot += 1
        else:
            specs.append(rng.choice(FILL).gen(rng))
    init.mem = bytes(mem)
    return Block(specs, init, start=start)


T16_FILL = [Encoding("imm8", "001 op:2 0 rd:2 imm:8"), Encoding("dpreg", "010000 op:4 rm:3 0 rdn:2"),
            Encoding("shift", "000 op:2 imm:5 rm:3 0 rd:2", op=(0, 1, 2))]  # R0-R3 only


def gen_interwork(rng: random.Random) -> Block:
    """ARM head -> (BLX imm | BX/BLX r5) -> Thumb section -> (BX/BLX r4) -> ARM tail."""
    init = random_state(rng)
    start = CODE_BASE + 4 * rng.randrange(512)
    head = [rng.choice(FILL).gen(rng) for _ in range(rng.randrange(0, 6))]
    thumb: list[int] = []
    for _ in range(rng.randrange(0, 10)):
        thumb += it_block(rng, lambda r: r.choice(T16_FILL).gen(r)) if rng.random() < 0.2 \
            else [rng.choice(T16_FILL).gen(rng)]
    halfwords = [0xBF00] * rng.randrange(2) + thumb + [0x4720 | (rng.randrange(2) << 7)]  # BX/BLX r4
    if len(halfwords) % 2:
        halfwords.append(0xBF00)  # never reached
    words = [halfwords[i] | (halfwords[i + 1] << 16) for i in range(0, len(halfwords), 2)]
    tail = [rng.choice(FILL).gen(rng) for _ in range(rng.randrange(1, 6))]
    t_addr = start + 4 * (len(head) + 1)
    if rng.random() < 0.5:  # BLX imm: target = pc + 8 + imm24:H:0, Thumb
        off = t_addr - (start + 4 * len(head) + 8)
        h = 0
        if halfwords[0] == 0xBF00 and rng.random() < 0.5:  # skip the leading NOP: H = 1
            off += 2
            h = 1
        call = 0xFA000000 | (h << 24) | ((off >> 2) & 0xFFFFFF)
    else:
        init.r[5] = t_addr | 1
        call = (14 << 28) | 0x012FFF15 | (rng.randrange(2) << 5)  # BX/BLX r5
    init.r[4] = start + 4 * (len(head) + 1 + len(words))
    return Block(head + [call] + words + tail, init, start=start)


def gen_exception(rng: random.Random) -> Block:
    """Random ALU instructions, then SVC (any condition), UDF or BKPT."""
    insns = [rng.choice(FILL).gen(rng) for _ in range(rng.randrange(1, 10))]
    k = rng.randrange(3)
    last = ((cond(rng) << 28) | 0x0F000000 | rng.getrandbits(24) if k == 0
            else 0xE7F000F0 | (rng.getrandbits(12) << 8) | rng.getrandbits(4) if k == 1
            else 0xE1200070 | (rng.getrandbits(12) << 8) | rng.getrandbits(4))
    return Block(insns + [last], random_state(rng), start=CODE_BASE + 4 * rng.randrange(512), faults=True)


RUNS = {"branch": (gen, 150), "interwork": (gen_interwork, 100), "exception": (gen_exception, 60)}

dt = dt_fixture(thumb=False)
test_branches, test_interworking, test_exceptions = fixed_tests("a32/", RUNS)
test_branches_random = random_test("a32/", RUNS)
