"""A32 loads and stores (every addressing form), LDM/STM, exclusives and
acquire/release, barriers and hints, TPIDRURW/TPIDRURO: pyqemu against Unicorn.

The generators know the initial values of the base and index registers and
follow writeback (see :class:`difftest32.LsCtx`), so every access falls inside
the data window, which is compared byte for byte. Excluded (UNPREDICTABLE, or
not comparable):

* writeback with Rn = Rt (or Rt2, or Rm); Rt = PC (a branch, tested apart) and
  Rt = PC in stores; PC as a base except for literal loads, which read the
  code already generated in the block;
* conditions on writeback forms (the generator could not follow the base);
* LDRD/STRD with odd Rt or Rt = LR; unaligned LDRD/STRD/LDM/STM/exclusives
  (Unicorn does not fault on the first three, Linux fixes them up);
* LDM with the base in the list and writeback, STM with it and writeback;
* unaligned SWP; RRX-shifted register offsets (the generator cannot follow
  the carry flag).
"""
from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from difftest32 import (  # noqa: E402
    M32,
    Block,
    LsCtx,
    cond,
    fixed_tests,
    group_tests,
    rand_start,
    shift_value,
)

NOP = 0xE320F000
DATA = (0, 1, 2, 3, 14)
BASES = (4, 5, 6, 7, 9, 10, 11, 12)
INDEX = (8,)


def _cond(rng: random.Random, wb: bool) -> int:
    return 14 if wb else cond(rng)


def ldst_word(rng: random.Random, ctx: LsCtx) -> int | None:
    """LDR/STR/LDRB/STRB (immediate, register, literal; offset, pre, post, T forms)."""
    load, byte, p, u, w = (rng.randrange(2) for _ in range(5))
    size = 1 if byte else 4
    rt = rng.choice(ctx.data) if load else rng.randrange(15)
    reg = rng.random() < 0.4
    if load and not reg and rng.random() < 0.1:  # literal
        lo = ctx.start
        if ctx.pc - lo < 4:
            return None
        target = rng.randrange(lo, ctx.pc - size + 1)
        target -= target % (1 if byte else 4)
        imm = ctx.pc + 8 - target
        ctx.load(rt)
        return (cond(rng) << 28) | (0b010 << 25) | (1 << 24) | (byte << 22) | (1 << 20) | (15 << 16) \
            | (rt << 12) | imm
    wbk = not p or w
    bases = ctx.bases(exclude=(rt,) if wbk else ())
    if not bases:
        return None
    rn = rng.choice(bases)
    if reg:
        idx = [r for r in ctx.index if r not in (rn, rt)]
        if not idx:
            return None
        rm = rng.choice(idx)
        ty, sh = rng.randrange(4), rng.choice((0, 0, 1, 2, rng.randrange(32)))
        off = shift_value(ctx.vals[rm], ty, sh)
        if off is None:
            return None
        a = ctx.access(rn, off, p, u, w, size)
        if a is None:
            return None
        word = (0b011 << 25) | (sh << 7) | (ty << 5) | rm
    else:
        imm = rng.choice((0, 1, 4, rng.randrange(256), rng.randrange(4096)))
        a = ctx.access(rn, imm, p, u, w, size)
        if a is None:
            return None
        word = (0b010 << 25) | imm
    ctx.done(rn, a[1], bool(load), rt)
    return word | (_cond(rng, a[1] is not None) << 28) | (p << 24) | (u << 23) | (byte << 22) \
        | (w << 21) | (load << 20) | (rn << 16) | (rt << 12)


def ldst_half(rng: random.Random, ctx: LsCtx) -> int | None:
    """LDRH/STRH/LDRSB/LDRSH/LDRD/STRD (immediate and register; offset, pre, post, T forms)."""
    load, op = rng.randrange(2), rng.randrange(1, 4)
    dual = not load and op >= 2
    p, u = rng.randrange(2), rng.randrange(2)
    w = 0 if (dual and not p) else rng.randrange(2)
    size, align = ((8, 4) if dual else (2, 1) if op != 2 else (1, 1))
    if dual:
        rt = rng.choice([r for r in ctx.data if r % 2 == 0 and r + 1 in ctx.data and r != 14])
        rts = (rt, rt + 1)
        dload = op == 2
    else:
        rt = rng.choice(ctx.data) if load else rng.randrange(15)
        rts = (rt,)
        dload = False
    wbk = not p or w
    bases = ctx.bases(exclude=rts if wbk or dload else ())
    if not bases:
        return None
    rn = rng.choice(bases)
    if rng.random() < 0.4:
        idx = [r for r in ctx.index if r != rn and r not in rts]
        if not idx:
            return None
        rm = rng.choice(idx)
        a = ctx.access(rn, ctx.vals[rm], p, u, w, size, align)
        word = (1 << 7) | (op << 5) | (1 << 4) | rm
    else:
        imm = rng.choice((0, 1, 2, 4, 8, rng.randrange(256)))
        a = ctx.access(rn, imm, p, u, w, size, align)
        word = (1 << 22) | ((imm >> 4) << 8) | (1 << 7) | (op << 5) | (1 << 4) | (imm & 15)
    if a is None:
        return None
    ctx.done(rn, a[1], bool(load) or dload, *rts)
    return word | (_cond(rng, a[1] is not None) << 28) | (p << 24) | (u << 23) | (w << 21) \
        | (load << 20) | (rn << 16) | (rt << 12)


def ldst_multi(rng: random.Random, ctx: LsCtx) -> int | None:
    """LDM/STM (IA, IB, DA, DB; with and without writeback; PUSH/POP through SP)."""
    load, p, u, w = (rng.randrange(2) for _ in range(4))
    bases = ctx.bases(align=4)
    if not bases:
        return None
    rn = rng.choice(bases)
    pool = list(ctx.data) if load else list(range(15))
    if w:
        pool = [r for r in pool if r != rn]
    regs = sorted(set(rng.sample(pool, rng.randrange(1, len(pool) + 1))))
    n = 4 * len(regs)
    base = ctx.vals[rn]
    lo = (base if u else base - n + 4) + (4 if p and u else -4 if p else 0)
    if not ctx.inside(lo, n, 4):
        return None
    new = (base + n if u else base - n) & M32
    ctx.done(rn, new if w else None, bool(load), *regs)
    lst = sum(1 << r for r in regs)
    return (_cond(rng, bool(w)) << 28) | (0b100 << 25) | (p << 24) | (u << 23) | (w << 21) \
        | (load << 20) | (rn << 16) | lst


def swp(rng: random.Random, ctx: LsCtx) -> int | None:
    """SWP/SWPB (deprecated, still in Unicorn's and pyqemu's ARMv8 AArch32): word-aligned."""
    byte = rng.randrange(2)
    bases = ctx.bases(align=1 if byte else 4)
    if not bases:
        return None
    rn = rng.choice(bases)
    rt = rng.choice(ctx.data)
    rt2 = rng.choice([r for r in range(15) if r != rn])
    ctx.load(rt)
    return (cond(rng) << 28) | 0x01000090 | (byte << 22) | (rn << 16) | (rt << 12) | rt2


def misc(rng: random.Random, ctx: LsCtx) -> int | None:
    """Barriers, preload hints, TPIDRURW write/read, TPIDRURO read."""
    k = rng.randrange(6)
    if k == 0:  # DMB/DSB/ISB
        op = rng.choice((4, 5, 6))
        opt = 15 if op == 6 else rng.choice((15, 14, 11, 10, 7, 3))
        return 0xF57FF000 | (op << 4) | opt
    if k == 1:  # PLD/PLDW/PLI (immediate): any address
        r = rng.choice(list(ctx.vals))
        kind = rng.choice((0xF550F000, 0xF510F000, 0xF450F000))
        return kind | (rng.randrange(2) << 23) | (r << 16) | rng.randrange(4096)
    if k == 2:  # MCR p15, 0, Rt, c13, c0, 2 (TPIDRURW)
        return (cond(rng) << 28) | 0x0E0D0F50 | (rng.randrange(15) << 12)
    rt = rng.choice(ctx.data)
    ctx.load(rt)
    return (cond(rng) << 28) | 0x0E1D0F10 | (rt << 12) | (rng.choice((2, 3)) << 5)  # MRC TPIDRURW/URO


def _excl_unit(rng: random.Random, ctx: LsCtx) -> list[int] | None:
    """LDREX*/LDAEX* usually followed by STREX*/STLEX* (same size, same or other address,
    sometimes after CLREX), or a plain LDA*/STL*. Both have the same condition: a
    store-exclusive never pairs with an earlier load-exclusive of another size (whether
    that succeeds is IMPLEMENTATION DEFINED: QEMU lets it, pyqemu does not)."""
    size = rng.choice((1, 2, 4, 8))
    sz = {4: 0, 8: 1, 1: 2, 2: 3}[size]
    bases = ctx.bases(align=size)
    if not bases:
        return None
    rn = rng.choice(bases)
    c = cond(rng)
    if size != 8 and rng.random() < 0.25:  # LDA/STL: bits 9:8 = 00
        if rng.random() < 0.5:
            rt = rng.choice(ctx.data)
            ctx.load(rt)
            return [(c << 28) | 0x01900C9F | (sz << 21) | (rn << 16) | (rt << 12)]
        rt = rng.randrange(15)
        return [(c << 28) | 0x0180FC90 | (sz << 21) | (rn << 16) | rt]
    acq = rng.randrange(2)
    ex = 0xE if acq else 0xF  # bits 11:8
    pairs = [r for r in ctx.data if r % 2 == 0 and r + 1 in ctx.data and r != 14]
    rt = rng.choice(pairs) if size == 8 else rng.choice(ctx.data)
    out = [(c << 28) | 0x01900F9F & ~0xF00 | (ex << 8) | (sz << 21) | (rn << 16) | (rt << 12)]
    ctx.load(rt, rt + 1 if size == 8 else rt)
    r = rng.random()
    if r < 0.1:
        return out
    if r < 0.2:
        out.append(0xF57FF01F)  # CLREX
    if r < 0.35:
        other = ctx.bases(align=size)
        rn = rng.choice(other)
    st = rng.choice(pairs) if size == 8 else rng.randrange(15)
    sts = (st, st + 1) if size == 8 else (st,)
    rds = [d for d in ctx.data if d not in sts and d != rn]
    if not rds:
        return out
    rd = rng.choice(rds)
    ctx.load(rd)
    out.append((c << 28) | 0x01800F90 & ~0xF00 | (ex << 8) | (sz << 21) | (rn << 16)
               | (rd << 12) | st)
    return out


Gen = Callable[[random.Random, LsCtx], "int | None"]
GROUPS: dict[str, tuple[list[Gen], int]] = {
    "word": ([ldst_word], 120),
    "half": ([ldst_half], 120),
    "multi": ([ldst_multi], 80),
    "misc": ([misc, swp, ldst_word], 30),
    "mix": ([ldst_word, ldst_half, ldst_multi], 80),
}
BLOCK = 48
SKIP: dict[str, str] = {}  # group -> reason (pyqemu bugs or missing instructions)


def _gen(group: str):
    gens = GROUPS[group][0] if group != "excl" else []

    def gen(rng: random.Random) -> Block:
        ctx = LsCtx(rng, DATA, BASES, INDEX, sp_base=group != "mix")
        ctx.start = rand_start(rng, False)

        def draw() -> list[int] | None:
            if group == "excl":
                return _excl_unit(rng, ctx)
            w = rng.choice(gens)(rng, ctx)
            return None if w is None else [w]

        insns, cuts = ctx.units(draw, NOP, BLOCK, False, count_units=False)
        return Block(insns, ctx.init, excl=group == "excl", cuts=cuts, start=ctx.start)
    return gen


# A faulting access through SP (unmapped) ends "fault" blocks: the exception is precise
# (pc at the access, no writeback, no register written).
FAULTING = (0xE49D0004, 0xE52D0004, 0xE92D000F, 0xE8BD000F, 0xE0CD00D8, 0xE8FD0003, 0xE5ED0001,
            0xE59D1FFC, 0xE1DD00B2, 0xE16D00F8)
UNMAPPED_SP = 0x10000


def _gen_fault(rng: random.Random) -> Block:
    b = _gen("mix")(rng)
    b.init.r[13] = UNMAPPED_SP
    b.insns = [i for i in b.insns if (i >> 16) & 15 != 13][:BLOCK // 2] + [rng.choice(FAULTING)]
    b.cuts = None
    b.faults = True
    return b


ALL = {**GROUPS, "excl": ([], 100)}

dt, test_group, test_group_random = group_tests("a32ls/", {g: (_gen(g), n) for g, (_, n) in ALL.items()},
                                            BLOCK, SKIP, thumb=False)
[test_fault] = fixed_tests("a32ls/", {"fault": (_gen_fault, 60)})
