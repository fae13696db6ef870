"""Thumb loads and stores (16- and 32-bit, every addressing form), LDM/STM/PUSH/POP,
exclusives and acquire/release, barriers and TPIDRURW/URO: pyqemu against Unicorn.

As for A32 (test_diff_a32_ls.py), the generators follow the base and index
registers so every access falls inside the compared data window. Conditional
accesses come from IT blocks, which cover only forms without writeback; an
exclusive pair shares one IT block (or none). Excluded: SP/PC as Rt or index
(UNPREDICTABLE in T32), PC as a base except for literal loads, writeback with
Rn = Rt/Rt2, LDM/STM of fewer than two registers or with SP/PC in the list,
unaligned LDRD/STRD/LDM/STM/exclusives (see difftest32), and POP {pc} / LDR pc
(branches, tested apart).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import (  # noqa: E402
    CODE_BASE,
    STUB,
    T32_REGS,
    Block,
    LsCtx,
    fixed_tests,
    group_tests,
    insn_size,
    it_insn,
    rand_start,
    shift_value,
)

NOP16 = 0xBF00
ISB_SY, DSB_SY = 0xF3BF8F6F, 0xF3BF8F4F
DATA = (0, 1, 2, 14)
BASES = (4, 5, 6, 7, 9, 10, 11, 12)
INDEX = (3, 8)


def _lo(regs) -> list[int]:
    return [r for r in regs if r < 8]


# --- 16-bit ----------------------------------------------------------------------------------

def t16_ldst(rng: random.Random, ctx: LsCtx, nowb: bool = False) -> int | None:
    """LDR/STR{,B,H}, LDRS{B,H} (register, immediate, SP-relative, literal)."""
    k = rng.randrange(5)
    if k == 0:  # register offset: 0101 op rm rn rt
        op = rng.randrange(8)
        load = op >= 3
        size = (4, 2, 1, 1, 4, 2, 1, 2)[op]
        rt = rng.choice(_lo(ctx.data)) if load else rng.randrange(8)
        bases, idx = _lo(ctx.bases()), _lo(ctx.index)
        if not bases or not idx:
            return None
        rn, rm = rng.choice(bases), rng.choice(idx)
        if ctx.access(rn, ctx.vals[rm], 1, 1, 0, size) is None:
            return None
        ctx.load(rt) if load else None
        return 0x5000 | (op << 9) | (rm << 6) | (rn << 3) | rt
    if k == 4 and rng.random() < 0.5:  # literal: 01001 rt imm8
        rt = rng.choice(_lo(ctx.data))
        imm = rng.randrange(256)
        if ((ctx.pc + 4) & ~3) + 4 * imm + 4 > STUB:
            return None
        ctx.load(rt)
        return 0x4800 | (rt << 8) | imm
    load = rng.randrange(2)
    rt = rng.choice(_lo(ctx.data)) if load else rng.randrange(8)
    if k == 4:  # SP-relative: 1001 L rt imm8
        if 13 not in ctx.vals:
            return None
        imm = rng.randrange(256)
        if ctx.access(13, 4 * imm, 1, 1, 0, 4) is None:
            return None
        ctx.load(rt) if load else None
        return 0x9000 | (load << 11) | (rt << 8) | imm
    bases = _lo(ctx.bases())
    if not bases:
        return None
    rn = rng.choice(bases)
    imm = rng.randrange(32)
    if k == 1:  # word: 0110 L imm5 rn rt
        size, hi, scale = 4, 0x6000, 4
    elif k == 2:  # byte: 0111 L
        size, hi, scale = 1, 0x7000, 1
    else:  # halfword: 1000 L
        size, hi, scale = 2, 0x8000, 2
    if ctx.access(rn, scale * imm, 1, 1, 0, size) is None:
        return None
    ctx.load(rt) if load else None
    return hi | (load << 11) | (imm << 6) | (rn << 3) | rt


def t16_multi(rng: random.Random, ctx: LsCtx, nowb: bool = False) -> int | None:
    """LDM/STM (16-bit) and PUSH/POP."""
    if nowb:
        return None
    load = rng.randrange(2)
    if rng.random() < 0.4:  # PUSH/POP
        if 13 not in ctx.vals:
            return None
        pool = _lo(ctx.data) if load else list(range(8))
        regs = sorted(set(rng.sample(pool, rng.randrange(1, len(pool) + 1))))
        lr = 0 if load else rng.randrange(2)
        n = 4 * (len(regs) + lr)
        base = ctx.vals[13]
        lo = base if load else base - n
        if not ctx.inside(lo, n, 4):
            return None
        ctx.done(13, base + n if load else base - n, bool(load), *regs)
        return 0xB400 | (load << 11) | (lr << 8) | sum(1 << r for r in regs)
    bases = _lo(ctx.bases(align=4))
    if not bases:
        return None
    rn = rng.choice(bases)
    pool = _lo(ctx.data) if load else [r for r in range(8) if r != rn]
    regs = sorted(set(rng.sample(pool, rng.randrange(1, len(pool) + 1))))
    n = 4 * len(regs)
    if not ctx.inside(ctx.vals[rn], n, 4):
        return None
    ctx.done(rn, ctx.vals[rn] + n, bool(load), *regs)
    return 0xC000 | (load << 11) | (rn << 8) | sum(1 << r for r in regs)


# --- 32-bit ----------------------------------------------------------------------------------

def t32_ldst(rng: random.Random, ctx: LsCtx, nowb: bool = False) -> int | None:
    """LDR/STR{,B,H}, LDRS{B,H}: imm12, imm8 (negative offset, pre, post, T), register, literal."""
    load = rng.randrange(2)
    sz = rng.randrange(3)
    sign = load and sz < 2 and rng.randrange(2)
    size = 1 << sz
    rt = rng.choice(ctx.data) if load else rng.choice(T32_REGS)
    k = rng.randrange(4)
    head = (0b11111 << 27) | (sign << 24) | (sz << 21) | (load << 20)
    if k == 3 and load:  # literal
        u = rng.randrange(2)
        imm = rng.randrange(4096) if u else rng.randrange(min(4096, ctx.pc + 4 - ctx.start))
        target = ((ctx.pc + 4) & ~3) + (imm if u else -imm)
        if target + size > STUB or target < CODE_BASE:
            return None
        ctx.load(rt)
        return head | (u << 23) | (15 << 16) | (rt << 12) | imm
    if k == 0:  # imm12
        bases = ctx.bases()
        if not bases:
            return None
        rn = rng.choice(bases)
        imm = rng.choice((0, 1, 4, rng.randrange(256), rng.randrange(4096)))
        if ctx.access(rn, imm, 1, 1, 0, size) is None:
            return None
        ctx.load(rt) if load else None
        return head | (1 << 23) | (rn << 16) | (rt << 12) | imm
    if k == 1:  # register
        bases = ctx.bases()
        idx = [r for r in ctx.index if r != rt]
        if not bases or not idx:
            return None
        rn, rm, sh = rng.choice(bases), rng.choice(idx), rng.randrange(4)
        if ctx.access(rn, shift_value(ctx.vals[rm], 0, sh), 1, 1, 0, size) is None:
            return None
        ctx.load(rt) if load else None
        return head | (rn << 16) | (rt << 12) | (sh << 4) | rm
    # imm8: PUW = 1 0 0 (negative offset), 1 1 0 (unprivileged), P U 1 (pre/post writeback)
    puw = rng.choice(((1, 0, 0), (1, 1, 0)) if nowb else ((1, 0, 0), (1, 1, 0), (0, 0, 1), (0, 1, 1),
                                                          (1, 0, 1), (1, 1, 1)))
    p, u, w = puw
    wbk = not p or w
    bases = ctx.bases(exclude=(rt,) if wbk else ())
    if not bases:
        return None
    rn = rng.choice(bases)
    imm = rng.randrange(256)
    a = ctx.access(rn, imm, p, u, w, size)
    if a is None:
        return None
    ctx.done(rn, a[1], bool(load), rt)
    return head | (rn << 16) | (rt << 12) | (1 << 11) | (p << 10) | (u << 9) | (w << 8) | imm


def t32_dual(rng: random.Random, ctx: LsCtx, nowb: bool = False) -> int | None:
    """LDRD/STRD (offset, pre, post)."""
    load = rng.randrange(2)
    p, w = rng.choice(((1, 0),) if nowb else ((1, 0), (1, 1), (0, 1)))
    u = rng.randrange(2)
    if load:
        rt, rt2 = rng.sample(ctx.data, 2)
    else:
        rt, rt2 = rng.choice(T32_REGS), rng.choice(T32_REGS)
    bases = ctx.bases(align=4, exclude=(rt, rt2) if w or load else ())
    if not bases:
        return None
    rn = rng.choice(bases)
    imm = rng.randrange(256)
    a = ctx.access(rn, 4 * imm, p, u, w, 8, 4)
    if a is None:
        return None
    ctx.done(rn, a[1], bool(load), rt, rt2)
    return (0b1110100 << 25) | (p << 24) | (u << 23) | (1 << 22) | (w << 21) | (load << 20) \
        | (rn << 16) | (rt << 12) | (rt2 << 8) | imm


def t32_multi(rng: random.Random, ctx: LsCtx, nowb: bool = False) -> int | None:
    """LDM/STM IA/DB (32-bit), at least two registers, no SP/PC."""
    load = rng.randrange(2)
    w = 0 if nowb else rng.randrange(2)
    db = rng.randrange(2)
    bases = [r for r in ctx.bases(align=4) if r != 13]
    if not bases:
        return None
    rn = rng.choice(bases)
    pool = list(ctx.data) if load else [r for r in T32_REGS if not (w and r == rn)]
    regs = sorted(set(rng.sample(pool, rng.randrange(2, len(pool) + 1))))
    n = 4 * len(regs)
    base = ctx.vals[rn]
    lo = base - n if db else base
    if not ctx.inside(lo, n, 4):
        return None
    ctx.done(rn, (base - n if db else base + n) if w else None, bool(load), *regs)
    return (0b1110100 << 25) | ((2 if db else 1) << 23) | (w << 21) | (load << 20) | (rn << 16) \
        | sum(1 << r for r in regs)


def t32_misc(rng: random.Random, ctx: LsCtx, nowb: bool = False) -> int | None:
    """DMB/DSB/ISB, PLD/PLI, MCR/MRC TPIDRURW, MRC TPIDRURO."""
    k = rng.randrange(5)
    if k == 0:
        op = rng.choice((4, 5) if nowb else (4, 5, 6))  # ISB in IT blocks: group isb_it
        return 0xF3BF8F00 | (op << 4) | (15 if op == 6 else rng.choice((15, 14, 11, 10, 7, 3)))
    if k == 1:  # PLD/PLI imm12 (any address)
        r = rng.choice([r for r in ctx.vals if r != 13])
        return rng.choice((0xF890F000, 0xF990F000)) | (r << 16) | rng.randrange(4096)
    if k == 2:
        return 0xEE0D0F50 | (rng.choice(T32_REGS) << 12)
    rt = rng.choice(ctx.data)
    ctx.load(rt)
    return 0xEE1D0F10 | (rt << 12) | (rng.choice((2, 3)) << 5)


def _excl(rng: random.Random, ctx: LsCtx, dual: bool = False) -> list[int] | None:
    """An exclusive pair (or single LDREX, LDA*/STL*), conditional through one IT block;
    doubleword pairs only if `dual`."""
    size = 8 if dual else rng.choice((1, 2, 4))
    bases = [r for r in ctx.bases(align=size) if r != 13]
    if not bases:
        return None
    rn = rng.choice(bases)
    acq = rng.randrange(2)
    if size != 8 and rng.random() < 0.25:  # LDA/STL
        opc = {1: 0x8, 2: 0x9, 4: 0xA}[size]
        if rng.randrange(2):
            rt = rng.choice(ctx.data)
            ctx.load(rt)
            body = [0xE8D00F0F | (rn << 16) | (rt << 12) | (opc << 4)]
        else:
            body = [0xE8C00F0F | (rn << 16) | (rng.choice(T32_REGS) << 12) | (opc << 4)]
    else:
        if size == 4 and not acq:  # LDREX with imm8 offset
            imm = rng.choice((0, 0, rng.randrange(16)))
            if not ctx.inside(ctx.vals[rn] + 4 * imm, 4, 4):
                imm = 0
        else:
            imm = 0
        rt, rt2 = rng.sample(ctx.data, 2)
        op = {1: 0x4, 2: 0x5, 8: 0x7, 4: 0xE}[size] | (0x8 if acq and size != 4 else 0)
        if size == 4 and not acq:
            body = [0xE8500F00 | (rn << 16) | (rt << 12) | imm]
        else:
            body = [0xE8D0000F | (rn << 16) | (rt << 12) | ((rt2 if size == 8 else 15) << 8) | (op << 4)]
        ctx.load(rt, rt2 if size == 8 else rt)
        if rng.random() < 0.85:
            st, st2 = rng.choice(T32_REGS), rng.choice(T32_REGS)
            rn2 = rn if rng.random() < 0.8 else rng.choice(bases)
            rds = [d for d in ctx.data if d not in (st, st2, rn2)]
            if rds:
                rd = rng.choice(rds)
                ctx.load(rd)
                if size == 4 and not acq:
                    body.append(0xE8400000 | (rn2 << 16) | (st << 12) | (rd << 8) | imm)
                else:
                    body.append(0xE8C00000 | (rn2 << 16) | (st << 12) | ((st2 if size == 8 else 15) << 8)
                                | (op << 4) | rd)
    if rng.random() < 0.3:
        return [it_insn(rng.randrange(14), [0] * (len(body) - 1))] + body  # IT, ITT
    return body


GROUPS = {
    "t16": ([t16_ldst, t16_multi], 120),
    "t32": ([t32_ldst], 120),
    "dual_multi": ([t32_dual, t32_multi], 80),
    "misc": ([t32_misc, t16_ldst], 20),
    "mix": ([t16_ldst, t16_multi, t32_ldst, t32_dual, t32_multi], 80),
    "excl": ([], 100),
    "excl_dual": ([], 30),  # LDREXD/LDAEXD + STREXD/STLEXD
    "isb_it": ([], 10),  # ISB inside IT blocks
}
BLOCK = 48
SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)


def _gen(group: str):
    gens = GROUPS[group][0]

    def gen(rng: random.Random) -> Block:
        ctx = LsCtx(rng, DATA, BASES, INDEX, sp_base=group != "mix")  # mix: SP for test_fault
        ctx.start = rand_start(rng, True)

        def draw() -> list[int] | None:
            pc = ctx.pc
            if group.startswith("excl"):
                return _excl(rng, ctx, group == "excl_dual")
            if group == "isb_it":
                c = rng.randrange(14)
                w = t16_ldst(rng, ctx)
                # no literal loads: they could read an ISB that Unicorn sees as a DSB
                lit = w is not None and w & 0xF800 == 0x4800
                return None if w is None or lit else [it_insn(c, [rng.randrange(2)]), ISB_SY, w]
            if rng.random() < 0.12:  # an IT block of forms without writeback
                n = rng.randrange(1, 3)
                ctx.pc = pc + 2
                body = []
                for _k in range(n):
                    w = rng.choice(gens)(rng, ctx, True)
                    if w is None:
                        break
                    body.append(w)
                    ctx.pc += insn_size(w, True)
                ctx.pc = pc
                if len(body) < n:
                    return None
                return [it_insn(rng.randrange(14), [0] * (n - 1))] + body  # IT, ITT
            w = rng.choice(gens)(rng, ctx)
            return None if w is None else [w]

        insns, cuts = ctx.units(draw, NOP16, BLOCK, True)
        # Unicorn loses the IT state at an ISB (see difftest32): it runs a DSB instead.
        subst = {ISB_SY: DSB_SY} if group == "isb_it" else {}
        return Block(insns, ctx.init, excl=group.startswith("excl"), cuts=cuts, start=ctx.start,
                     ref_subst=subst)
    return gen


# A faulting access through SP (unmapped) ends "fault" blocks: the exception is precise
# (pc at the access, no writeback, no register written).
FAULTING = (0xBC0F, 0xB40F, 0xF85D0B04, 0xF84D0D04, 0xE8FD0102, 0x9801, 0xE92D0003, 0xF8DD1FFC,
            0xE8BD0003, 0xF81D0C01)
UNMAPPED_SP = 0x10000


def _gen_fault(rng: random.Random) -> Block:
    b = _gen("mix")(rng)
    b.init.r[13] = UNMAPPED_SP
    b.insns = b.insns[:b.cuts[BLOCK // 2]] + [rng.choice(FAULTING)]
    b.cuts = b.cuts[:BLOCK // 2 + 1] + [len(b.insns)]
    b.faults = True
    return b


dt, test_group, test_group_random = group_tests("t32ls/", {g: (_gen(g), n) for g, (_, n) in GROUPS.items()},
                                            BLOCK, SKIP, thumb=True)
[test_fault] = fixed_tests("t32ls/", {"fault": (_gen_fault, 60)})
