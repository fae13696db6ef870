"""The native back end (tcg/llvmgen.py) against the Python one (tcg/pygen.py), on random IR.

Blocks are built directly with the IR builder (no guest architecture): globals of 32, 64
and 128 bits, every arithmetic op, conditions, nested if/else, loads and stores, native
helpers, exits. Each block (or region of blocks) runs as Python code and as LLVM-compiled
machine code from the same registers and guest memory; registers, memory, the exit kind
and pc and the instruction count must agree. An access the fast path cannot do (a page
whose fast-path byte is 0, a misaligned access that must be aligned, an address outside
the guest space) makes the Python tier fault at that instruction, and the native code
must leave with EXIT_FALLBACK at the same pc with the same state; so must an instruction
that the back end cannot emit (a helper without a native version). Regions are also run
chained (native code tail-calling another region through the chain table), and the
native versions of the AArch64 helpers are checked against the Python ones.
"""
from __future__ import annotations

import ctypes
import dataclasses
import mmap
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from struct import Struct

import pytest

from pyqemu.accel.tcg.cpu_exec import restore_block_state
from pyqemu.accel.tcg.excp import GuestException
from pyqemu.accel.tcg.native import _LLVM
from pyqemu.target.arm import cpu as C
from pyqemu.target.arm import helper_a64_int as HI
from pyqemu.target.arm import native_helpers  # noqa: F401 - registers the native helpers
from pyqemu.target.arm.translate import nzcv_from
from pyqemu.tcg.ir import CONDS, Block, Builder, Helper, Temp
from pyqemu.tcg.llvmgen import (
    CHAIN_SLOTS,
    EXIT_FALLBACK,
    EXIT_JUMP,
    NATIVE_HELPERS,
    GuestRAM,
    StateLayout,
    generate_native,
)
from pyqemu.tcg.optimize import optimize
from pyqemu.tcg.pygen import generate

M64 = (1 << 64) - 1
VA_BITS = 16
MEM_SIZE = 1 << VA_BITS
NPAGES = MEM_SIZE >> 12
LAST_PAGE = NPAGES - 1  # never on the fast path (an access there may cross the end)
SLOW_PAGES = {5: (0, 0), 9: (1, 0), 12: (0, 0)}  # page -> (rpf, wpf) in the "slow" setup

WIDTHS = (64, 64, 64, 64, 64, 64, 32, 32, 32, 128, 128, 64)
NREGS = len(WIDTHS)
GLOBALS = {i: Temp(f"g{i}", i, w) for i, w in enumerate(WIDTHS)}
PTRS = (0, 1)  # globals that start out holding guest addresses
LAYOUT = StateLayout(NREGS)
OUT = (0x9000, 0x9100, 0x9204)  # exit targets outside any region
_CALL = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)


def _unsupported(cpu, x):
    raise AssertionError("the Python tier never runs this helper here")


UNSUPPORTED = Helper(_unsupported, "h_test_llvmgen_unsupported", may_fault=True)
assert UNSUPPORTED.name not in NATIVE_HELPERS


def _address(buf) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


class Env:
    """Guest memory (an mmap at ``ram.base``) and the fast-path tables, shared by both tiers."""

    def __init__(self) -> None:
        self.mm = mmap.mmap(-1, MEM_SIZE)
        self.rpf = bytearray(NPAGES)
        self.wpf = bytearray(NPAGES)
        self.ram = GuestRAM(_address(self.mm), _address(self.rpf), _address(self.wpf), VA_BITS)
        self.ns = self._namespace()
        self.chained_calls = 0  # chained calls between regions run_python has made

    def setup(self, rng: random.Random, slow: bool) -> bytes:
        """Random memory contents and fast-path tables; returns the memory image."""
        image = rng.randbytes(MEM_SIZE)
        self.mm[:] = image
        for p in range(NPAGES):
            r, w = SLOW_PAGES.get(p, (1, 1)) if slow else (1, 1)
            self.rpf[p], self.wpf[p] = (0, 0) if p == LAST_PAGE else (r, w)
        return image

    def _namespace(self) -> dict:
        """What generated Python code refers to (see linux_user/process.py and tb.py)."""
        ns: dict = {"M": memoryview(self.mm), "RP": memoryview(self.rpf), "WP": memoryview(self.wpf)}
        for size, ch in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
            ns[f"U{size * 8}"] = Struct("<" + ch).unpack_from
            ns[f"S{size * 8}"] = Struct("<" + ch.lower()).unpack_from
            ns[f"P{size * 8}"] = Struct("<" + ch).pack_into

        # The slow paths stand for "the Python tier must do this access": the instruction
        # faults, as native code leaves with EXIT_FALLBACK there.
        def ld_slow(cpu, addr, size, signed, mask):
            raise GuestException("segv", addr)

        def st_slow(cpu, addr, val, size):
            raise GuestException("segv", addr, True)

        def unaligned(cpu, addr, write):
            raise GuestException("bus", addr, bool(write))

        ns.update(LD_SLOW=ld_slow, ST_SLOW=st_slow, UNALIGNED=unaligned, JC_get={}.get,
                  LOOKUP=lambda cpu, pc: ("jump", pc),
                  LOOP=range(1), LOOP_HOT=lambda slot: slot)  # a self-loop returns after one pass
        return ns


@pytest.fixture(scope="module")
def env() -> Env:
    return Env()


def _fast_all(env: Env) -> bytes:
    """Every page but the last on the fast path; returns the (random) memory image."""
    image = random.Random(7).randbytes(MEM_SIZE)
    env.mm[:] = image
    env.rpf[:] = env.wpf[:] = bytes([1] * LAST_PAGE + [0])
    return image


# --- random values and IR ---------------------------------------------------------------------

def rand_value(rng: random.Random, w: int) -> int:
    """A ``w``-bit value, often an edge case."""
    m = (1 << w) - 1
    s = 1 << (w - 1)
    r = rng.random()
    if r < 0.35:
        return rng.choice((0, 1, 2, 3, m, m - 1, s, s - 1, s + 1, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000,
                           0xFFFFFFFF, 1 << 32, 0x8000000000000000, M64)) & m
    if r < 0.55:
        return rng.getrandbits(rng.randrange(1, w + 1))
    return rng.getrandbits(w)


BINOPS = ("add", "sub", "mul", "and", "or", "xor", "andc", "orc", "eqv")
SHIFTS = ("shl", "shr", "sar", "rotr")
ALL_CONDS = CONDS + ("true", "false")


class Gen:
    """Builds one random block the way a front end would: per instruction an ``insn_start``,
    loads/computation/stores (possibly under if/else), then the global writes."""

    def __init__(self, rng: random.Random, pc: int, targets: tuple[int, ...], slow: bool) -> None:
        self.rng = rng
        self.block = Block(pc, dict(GLOBALS))
        self.block.chain_inline = rng.random() < 0.3  # pygen's AArch32 opt-in
        self.b = Builder(self.block)
        self.scopes: list[list[tuple[Temp, int]]] = [[]]  # (temp, bound on its value's bits)
        self.targets = targets
        # where addresses point: all pages (slow ones included) or the low, fast half
        self.amask = (MEM_SIZE - 1) if slow else (MEM_SIZE // 2 - 1)
        self.ninsns = 0
        self.unused: dict[Temp, int] = {}  # temps not used as an operand yet -> bound

    # values
    def width(self, wide: float = 0.1) -> int:
        r = self.rng.random()
        return 128 if r < wide else 32 if r < 0.5 else 64

    def keep(self, t: Temp, bound: int) -> Temp:
        self.scopes[-1].append((t, bound))
        self.unused[t] = bound
        return t

    def result(self, w: int) -> Temp | int:
        """A value for a global write: mostly a temp in scope not used yet (so that computed
        values reach the registers), else any operand."""
        live = {t for scope in self.scopes for t, _b in scope}
        fresh = [t for t, bound in self.unused.items() if bound <= w and t in live]
        if fresh and self.rng.random() < 0.8:
            t = self.rng.choice(fresh)
            del self.unused[t]
            return t
        return self.operand(w)

    def pool(self, w: int) -> list[Temp]:
        vals = [t for scope in self.scopes for t, bound in scope if bound <= w]
        return vals + [g for g in GLOBALS.values() if g.width <= w]

    def operand(self, w: int, const: float = 0.2, wide: bool = False) -> Temp | int:
        """A value below 2**w: a constant, a temp in scope or a global. A 128-bit temp holding a
        narrower value only if ``wide``: the optimiser may substitute such a temp for the result
        of ``x op 0``, and a helper's 128-bit argument makes its instruction fall back."""
        if self.rng.random() < const:
            return rand_value(self.rng, w)
        vals = [t for t in self.pool(w) if wide or t.width <= max(w, 64)]
        recent = [t for t, bound in self.scopes[-1][-4:] if bound <= w and (wide or t.width <= max(w, 64))]
        t = self.rng.choice(recent if recent and self.rng.random() < 0.4 else vals)
        self.unused.pop(t, None)
        return t

    # ops
    def op_bin(self) -> None:
        w = self.width()
        opc = self.rng.choice(BINOPS)
        self.keep(self.block.op(opc, self.operand(w), self.operand(w), aux=w, width=w), w)

    def op_shift(self) -> None:
        rng, b = self.rng, self.b
        w = self.width(0.15)
        # the front ends rotate 32 and 64 bits only (128: test_rotr_128)
        opc = rng.choice(SHIFTS if w < 128 else SHIFTS[:3])
        r = rng.random()
        if r < 0.4:
            amt: Temp | int = rng.choice((0, 1, w - 1, rng.randrange(w)))
        elif r < 0.8 or opc == "rotr":
            amt = b.and_(self.operand(w), w - 1, w)  # what the guest masks
        else:  # register shifts of A32 (amount up to 255) and over-wide amounts
            amt = b.and_(self.operand(w), rng.choice((0xFF, 2 * w - 1)), w)
        self.keep(self.block.op(opc, self.operand(w), amt, aux=w, width=w), w)

    def op_unary(self) -> None:
        w = self.width()
        opc = self.rng.choice(("not", "neg"))
        self.keep(self.block.op(opc, self.operand(w), aux=w, width=w), w)

    def op_ext(self) -> None:
        rng = self.rng
        w = rng.choice((32, 64, 64, 128))
        bits = rng.choice([n for n in (8, 16, 32, 64) if n <= w])
        signed = rng.random() < 0.5
        t = self.b.ext(self.operand(128, 0.1), bits, signed, w)
        self.keep(t, w if signed else bits)

    def op_setcond(self) -> None:
        w = self.width()
        t = self.b.setcond(self.rng.choice(CONDS), self.operand(w), self.operand(w), w)
        self.keep(t, 1)

    def op_movcond(self) -> None:
        rng = self.rng
        w = self.width()
        vw = rng.choice((w, 64)) if w < 128 else w  # FCSEL: a 32-bit test picking 64-bit values
        v1, v2 = self.operand(vw, wide=True), self.operand(vw, wide=True)
        t = self.b.movcond(rng.choice(CONDS), self.operand(w), self.operand(w), v1, v2, w)
        self.keep(t, vw)

    def op_mov(self) -> None:
        w = self.width()
        t = self.block.new_temp(w)
        self.b.mov(t, self.operand(w, 0.5))
        if self.rng.random() < 0.3:  # defined twice at top level
            self.b.mov(t, self.operand(w))
        self.keep(t, w)

    def narrow(self, bits: int) -> Temp | int:
        """A value below 2**bits (zero-extended from a wider one if needed)."""
        x = self.operand(64)
        return x if isinstance(x, int) and x < 1 << bits else self.b.ext(x, bits, False, max(bits, 32))

    def op_call(self) -> None:
        """A helper that has a native version, with arguments the front end passes."""
        rng, b = self.rng, self.b
        kind = rng.choice(("nzcv", "nzcv_var", "udiv", "sdiv", "clz", "ctz", "cnt", "rbit", "rev_bytes",
                           "rev"))
        if kind == "nzcv":
            op = rng.randrange(7)
            w = 32 if op in (C.CC_ADD32, C.CC_SUB32, C.CC_LOGIC32) else 64
            a, c = self.operand(w), self.operand(w)
            self.keep(b.call(nzcv_from, op, a, c), 64 if op == C.CC_NZCV else 32)
        elif kind == "nzcv_var":  # the lazy flag op comes from a register
            op = b.movcond(rng.choice(CONDS), self.operand(64), self.operand(64), rng.randrange(7),
                           rng.randrange(7), 64)
            self.keep(b.call(nzcv_from, op, self.operand(32), self.operand(32)), 32)
        elif kind == "udiv":
            w = rng.choice((32, 64))
            self.keep(b.call(HI.udiv, self.operand(w), self.operand(w)), w)
        elif kind == "sdiv":
            w = rng.choice((32, 64))
            self.keep(b.call(HI.sdiv, self.operand(w), self.operand(w), w), w)
        elif kind in ("clz", "ctz"):
            w = rng.choice((32, 64))
            self.keep(b.call(HI.clz if kind == "clz" else HI.ctz, self.operand(w), w), 7)
        elif kind == "cnt":
            self.keep(b.call(HI.cnt, self.operand(64)), 7)
        elif kind == "rbit":
            w = rng.choice((8, 16, 32, 64))
            self.keep(b.call(HI.rbit, self.narrow(w), w), w)
        elif kind == "rev_bytes":
            n = rng.choice((1, 2, 4, 8))
            self.keep(b.call(HI.rev_bytes, self.narrow(8 * n), n), 8 * n)
        else:
            w, e = rng.choice(((16, 16), (32, 32), (64, 64), (32, 16), (64, 16), (64, 32)))
            self.keep(b.call(HI.rev, self.narrow(w), w, e), w)

    def address(self, size: int, align: int) -> Temp | int:
        rng, b = self.rng, self.b
        r = rng.random()
        off = rng.choice((0, size, 8, 16, rng.randrange(64)))
        if align and rng.random() < 0.8:
            off &= ~(align - 1)
        if r < 0.75:  # a register masked into the guest space
            base = b.and_(self.operand(64, 0.05), self.amask & ~15, 64)
            return b.add(base, off, 64) if off else base
        if r < 0.9:
            return b.add(GLOBALS[rng.choice(PTRS)], off, 64)
        if r < 0.95:  # a 32-bit address (AArch32)
            return b.add(b.and_(self.operand(32, 0.05), self.amask & ~15, 32), off, 32)
        return self.operand(64, 0.3)  # anywhere: usually outside the guest space

    def op_load(self) -> None:
        rng = self.rng
        size = rng.choice((1, 2, 4, 8, 8, 16))
        signed = size < 16 and rng.random() < 0.4
        w = rng.choice((32, 64)) if signed else rng.choice((0, 0, 64)) if size < 8 else 0
        align = rng.choice((0, 0, size, min(size, 4))) if size > 1 else 0
        t = self.b.ld(self.address(size, align), size, signed, align, w)
        self.keep(t, t.width if signed else size * 8)

    def op_store(self) -> None:
        rng = self.rng
        size = rng.choice((1, 2, 4, 8, 8, 16))
        align = rng.choice((0, 0, size)) if size > 1 else 0
        # pygen masks narrow stores; an 8-byte store takes a 64-bit value; a 16-byte one a
        # global (for a constant <= 9, which the optimiser may fold a temp into, pygen emits
        # `1.to_bytes(16, 'little')`: a SyntaxError)
        if size == 16:
            val = rng.choice(list(GLOBALS.values()))
        else:
            val = self.operand(128 if size < 8 and rng.random() < 0.2 else 64, wide=True)
        self.b.st(self.address(size, align), val, size, align)

    def op_if(self, depth: int, memory: bool) -> None:
        """if/else with items in each branch; often a temp defined on both paths (or before
        the if and again in it) that is used afterwards."""
        rng, b = self.rng, self.b
        w = self.width()
        phi = rng.random() < 0.6
        has_else = rng.random() < 0.6
        pw = self.width()
        t = self.block.new_temp(pw)
        if phi and not has_else:
            b.mov(t, self.operand(pw))
        b.if_(rng.choice(ALL_CONDS), self.operand(w), self.operand(w), w)
        for branch in range(2 if has_else else 1):
            if branch:
                b.else_()
            self.scopes.append([])
            self.items(rng.randint(0, 4), depth + 1, memory)
            if phi:
                b.mov(t, self.operand(pw))
            self.scopes.pop()
        b.endif()
        if phi:
            self.keep(t, pw)

    def items(self, n: int, depth: int = 0, memory: bool = True) -> None:
        rng = self.rng
        for _ in range(n):
            r = rng.random()
            if memory and r < 0.14:
                self.op_load()
            elif memory and r < 0.24:
                self.op_store()
            elif r < 0.32 and depth < 2:
                self.op_if(depth, memory)
            elif r < 0.38:
                self.op_call()
            else:
                rng.choice((self.op_bin, self.op_bin, self.op_shift, self.op_shift, self.op_unary,
                            self.op_ext, self.op_setcond, self.op_movcond, self.op_mov))()

    def writable(self) -> Temp:
        """A global to write: not a pointer (``ptr + offset`` must not wrap around 2**64,
        where pygen's unmasked address faults but the native code wraps, as the hardware)."""
        return self.rng.choice([g for g in GLOBALS.values() if g.gidx not in PTRS])

    def commit(self, n: int) -> None:
        """Global writes: a mov, or an op whose destination is the global itself."""
        rng, block = self.rng, self.block
        for _ in range(n):
            g = self.writable()
            w = g.width
            r = rng.random()
            if r < 0.6:
                self.b.mov(g, self.result(w))
            elif r < 0.8:
                block.emit(rng.choice(BINOPS), g, self.result(w), self.operand(w), aux=w)
            elif r < 0.9:
                block.emit("setcond", g, self.operand(w), self.operand(w), aux=(rng.choice(CONDS), w))
            else:
                block.emit("ext", g, self.operand(128), aux=(rng.choice((8, 16, 32)), rng.random() < 0.5, w))

    def insn(self, nitems: int) -> None:
        self.b.insn_start(self.block.pc + 4 * self.ninsns)
        self.ninsns += 1
        self.items(nitems)
        if self.rng.random() < 0.2:  # conditional write-back (no memory in there)
            self.b.if_(self.rng.choice(CONDS), self.operand(64), self.operand(64), 64)
            self.commit(self.rng.randint(1, 2))
            if self.rng.random() < 0.5:
                self.b.else_()
                self.commit(self.rng.randint(1, 2))
            self.b.endif()
        self.commit(self.rng.randint(1, 4))

    def exit(self) -> None:
        """The last instruction's end: direct, conditional or computed jumps."""
        rng, b = self.rng, self.b
        tg = self.targets
        r = rng.random()
        if r < 0.3:
            b.goto_tb(rng.choice(tg))
        elif r < 0.55:
            b.if_(rng.choice(ALL_CONDS), self.operand(64), self.operand(64), 64)
            self.commit(rng.randint(0, 2))
            b.goto_tb(rng.choice(tg))
            b.endif()
            b.goto_tb(rng.choice(tg))
        elif r < 0.7:
            b.if_(rng.choice(CONDS), self.operand(32), self.operand(32), 32)
            b.goto_tb(rng.choice(tg))
            b.else_()
            b.exit_jump(rng.choice(tg))
            b.endif()
        elif r < 0.9:
            w = self.width(0)
            b.exit_jump(b.movcond(rng.choice(CONDS), self.operand(w), self.operand(w), rng.choice(tg),
                                  rng.choice(tg), w))
        else:
            b.exit_jump(self.operand(64, 0))  # a register: usually leaves the region

    def build(self, ninsns: int, nitems: tuple[int, int] = (1, 7)) -> Block:
        for _ in range(ninsns):
            self.insn(self.rng.randint(*nitems))
        self.exit()
        return self.block


def rand_regs(rng: random.Random, slow: bool) -> list[int]:
    regs = [rand_value(rng, w) for w in WIDTHS]
    top = MEM_SIZE if slow else MEM_SIZE // 2
    for i in PTRS:
        regs[i] = rng.randrange(0, top - 64) & (~7 if rng.random() < 0.7 else -1)
    return regs


# --- running ----------------------------------------------------------------------------------

@dataclass
class Result:
    """Where a run ended and the state it left."""

    kind: str  # "jump" (EXIT_JUMP) or "fallback"
    pc: int
    regs: list[int]
    mem: bytes
    icount: int

    def diff(self, other: Result) -> str:
        out = []
        if (self.kind, self.pc) != (other.kind, other.pc):
            out.append(f"exit: python {self.kind} {self.pc:#x}, native {other.kind} {other.pc:#x}")
        for i, (a, b) in enumerate(zip(self.regs, other.regs, strict=True)):
            if a != b:
                out.append(f"g{i}: python {a:#x}, native {b:#x}")
        if self.mem != other.mem:
            k = next(i for i in range(MEM_SIZE) if self.mem[i] != other.mem[i])
            out.append(f"memory differs from {k:#x}: python {self.mem[k:k + 8].hex()}, "
                       f"native {other.mem[k:k + 8].hex()}")
        if self.icount != other.icount:
            out.append(f"icount: python {self.icount}, native {other.icount}")
        return "\n".join(out)


class _Fault(Exception):
    def __init__(self, pc: int) -> None:
        super().__init__(pc)
        self.pc = pc


class FakeCPU:
    """What generated Python code needs of a vCPU: registers, icount, the fault hook."""

    def __init__(self, regs: list[int]) -> None:
        self.regs = regs
        self.icount = 0
        self.pc = 0

    def fault_in_block(self, e: BaseException, meta) -> BaseException:
        """A fault (the slow path, a misaligned or wild address) at an instruction: registers
        as before it, as the real fault_in_block leaves them."""
        entry = restore_block_state(self, e, meta)
        if entry is None or not isinstance(e, GuestException | IndexError):
            return e  # a bug in the test's IR: surfaces as itself
        return _Fault(entry[1])


def python_fn(env: Env, block: Block, count: bool) -> Callable:
    """The Python tier's function for ``block``, linked as tb.py links it: direct exits return
    ("tb", pc), computed ones ("jump", pc)."""
    gen = generate(block, f"tb_{block.pc:x}", count)
    g = dict(env.ns)
    for h in gen.helpers.values():
        g[h.name] = h.func
    g["LINEMAP"] = gen.linemap
    g["_ij"] = Counter()
    for slot, target in gen.exits:
        g[slot] = ("tb", target)
    exec(compile(gen.source, f"<tb {block.pc:#x}>", "exec"), g)  # noqa: S102 - generated by pygen
    return g[gen.name]


_ENGINES: dict[int, _LLVM] = {}


def compile_native(ir: str, opt: int) -> int:
    """Address of ``@region`` in ``ir``, compiled as native.py does at optimisation level ``opt``."""
    eng = _ENGINES.get(opt)
    if eng is None:
        eng = _ENGINES[opt] = _LLVM(opt)
        eng.cache_dir = None  # no object files on disk
    return eng.compile(ir)[0]


class Region:
    """A region (blocks headed at ``head``) compiled both ways: a Python function per block
    and the native code for the whole region."""

    def __init__(self, env: Env, blocks: dict[int, Block], head: int, *,
                 inline_ok: Callable[[int, int], bool] = lambda s, d: True,
                 indirect: dict[int, list[int]] | None = None, count: bool = False, opt: int = 2,
                 ram: GuestRAM | None = None, native: bool = True) -> None:
        self.blocks = blocks
        self.head = head
        self.inline_ok = inline_ok
        self.indirect = indirect or {}
        self.count = count
        self.fns = {pc: python_fn(env, b, count) for pc, b in blocks.items()}
        self.code = generate_native(head, blocks, inline_ok, "region", LAYOUT, ram or env.ram, count,
                                    self.indirect) if native else None
        self.addr = compile_native(self.code.ir, opt) if self.code is not None else 0

    def dump(self) -> str:
        return "\n".join(f"block {pc:#x}:\n{b.dump()}" for pc, b in sorted(self.blocks.items()))


def run_python(env: Env, regions: dict[int, Region], head: int, regs: list[int], budget: int, image: bytes,
               chained: frozenset[int] = frozenset()) -> Result:
    """The Python tier on a region's blocks, one at a time, following the jumps that native
    code follows: direct jumps that ``inline_ok`` allows and computed jumps to ``indirect``
    targets, each spending one unit of ``budget``, and at an exit to a ``chained`` region's
    head (its native code in the chain table) that region, for one more unit."""
    env.mm[:] = image
    cpu = FakeCPU(list(regs))
    region = regions[head]
    pc = head
    while True:
        try:
            how, target = region.fns[pc](cpu, cpu.regs)
        except _Fault as f:
            return Result("fallback", f.pc, cpu.regs, bytes(env.mm), cpu.icount)
        if target in region.blocks and (region.inline_ok(pc, target) if how == "tb"
                                        else target in region.indirect.get(pc, ())):
            budget -= 1
            if budget > 0:
                pc = target
                continue
            return Result("jump", target, cpu.regs, bytes(env.mm), cpu.icount)  # nothing left to chain
        budget -= 1
        if target in chained and budget > 0:
            region = regions[target]
            pc = target
            env.chained_calls += 1
            continue
        return Result("jump", target, cpu.regs, bytes(env.mm), cpu.icount)


def run_native(env: Env, region: Region, regs: list[int], budget: int, image: bytes,
               chain: int = 0) -> Result:
    """The region's native code on a state block holding ``regs`` (``chain``: the host address
    of a chain table)."""
    env.mm[:] = image
    buf = (ctypes.c_uint64 * (LAYOUT.size // 8))()
    for i, v in enumerate(regs):
        buf[2 * i], buf[2 * i + 1] = v & M64, v >> 64
    buf[LAYOUT.budget_off // 8] = budget
    for name in ("base", "rpf", "wpf"):
        buf[LAYOUT.host_off(name) // 8] = getattr(env.ram, name)
    buf[LAYOUT.host_off("chain") // 8] = chain
    k = _CALL(region.addr)(ctypes.addressof(buf))
    assert k in (EXIT_JUMP, EXIT_FALLBACK)
    out = [buf[2 * i] | (buf[2 * i + 1] << 64 if w > 64 else 0) for i, w in enumerate(WIDTHS)]
    return Result("fallback" if k == EXIT_FALLBACK else "jump", buf[LAYOUT.pc_off // 8], out, bytes(env.mm),
                  buf[LAYOUT.icount_off // 8])


def compare(env: Env, region: Region, regs: list[int], image: bytes, budget: int = 1) -> Result:
    """Run ``region`` both ways; they must agree. Returns the (common) result."""
    py = run_python(env, {region.head: region}, region.head, regs, budget, image)
    nat = run_native(env, region, regs, budget, image)
    d = py.diff(nat)
    assert not d, f"{d}\n{region.dump()}\nregs: {[hex(r) for r in regs]}"
    return py


def check(env: Env, blocks: dict[int, Block], head: int, regs: list[int], image: bytes, *, budget: int = 1,
          opt: int = 2, **kw) -> Result:
    """Compile ``blocks`` both ways (native code at LLVM level ``opt``; ``kw``: Region's
    options), run them, compare."""
    region = Region(env, blocks, head, opt=opt, **kw)
    assert region.code is not None
    assert region.code.fallbacks == 0, "the back end refused an op the test considers supported"
    return compare(env, region, regs, image, budget)


# --- random blocks ----------------------------------------------------------------------------

def single_case(env: Env, seed: int, slow: bool) -> Result:
    """One random block; LLVM's -O2 pipeline for even seeds, the fast -O0 one for odd seeds."""
    rng = random.Random(seed)
    image = env.setup(rng, slow)
    gen = Gen(rng, 0x1000, OUT, slow)
    block = gen.build(rng.randint(2, 8))
    if rng.random() < 0.5:
        optimize(block)
    return check(env, {block.pc: block}, block.pc, rand_regs(rng, slow), image, count=rng.random() < 0.5,
                 opt=2 if seed % 2 == 0 else 0)


def region_case(env: Env, seed: int) -> Result:
    """A random region of up to three blocks with jumps between them (direct jumps that may
    stay native or not, computed jumps with hot targets) under a random budget."""
    rng = random.Random(seed)
    slow = seed % 4 == 0
    image = env.setup(rng, slow)
    pcs = (0x1000, 0x1100, 0x1200)[:rng.randint(1, 3)]
    targets = pcs * 3 + OUT[:1]
    blocks = {}
    for pc in pcs:
        block = Gen(rng, pc, targets, slow).build(rng.randint(1, 5), (1, 5))
        if rng.random() < 0.5:
            optimize(block)
        blocks[pc] = block
    pairs = {(s, d) for s in pcs for d in pcs if rng.random() < 0.85}
    indirect = {pc: [t for t in pcs if rng.random() < 0.7] for pc in pcs}
    return check(env, blocks, pcs[0], rand_regs(rng, slow), image, budget=rng.randint(1, 40),
                 inline_ok=lambda s, d: (s, d) in pairs, indirect=indirect, count=rng.random() < 0.5,
                 opt=2 if seed % 2 == 0 else 0)


def test_random_blocks(env):
    """Straight-line and branching blocks on fast pages: most run to their exit."""
    kinds = Counter(single_case(env, seed, False).kind for seed in range(400))
    assert kinds["jump"] >= 250 and kinds["fallback"] >= 30, kinds


def test_random_blocks_slow_pages(env):
    """Blocks whose accesses hit pages without a fast path fall back at that instruction."""
    kinds = Counter(single_case(env, seed, True).kind for seed in range(1000, 1150))
    assert kinds["jump"] >= 20 and kinds["fallback"] >= 40, kinds


def test_random_regions(env):
    """Regions: loops between blocks run until the budget ends them or they leave."""
    kinds: Counter = Counter()
    for seed in range(2000, 2250):
        r = region_case(env, seed)
        kinds[r.kind if r.kind == "fallback" else "member" if r.pc < 0x9000 else "outside"] += 1
    assert kinds["member"] >= 40 and kinds["outside"] >= 40 and kinds["fallback"] >= 20, kinds


def chained_case(env: Env, seed: int, table: ctypes.Array) -> Result:
    """Two random regions whose native code may call each other through the chain ``table``."""
    rng = random.Random(seed)
    ram = dataclasses.replace(env.ram, chain=ctypes.addressof(table))
    heads = (0x1000, 0x2000)
    targets = (0x1000, 0x1000, 0x1100, 0x2000, 0x2000, 0x2100, OUT[0])
    slow = seed % 3 == 0
    image = env.setup(rng, slow)
    count = rng.random() < 0.5
    regions = {}
    for head in heads:
        blocks = {pc: Gen(rng, pc, targets, slow).build(rng.randint(1, 4), (1, 4))
                  for pc in (head, head + 0x100)}
        for block in blocks.values():
            if rng.random() < 0.5:
                optimize(block)
        pairs = {(s, d) for s in blocks for d in blocks if rng.random() < 0.8}
        regions[head] = Region(env, blocks, head, inline_ok=lambda s, d, p=pairs: (s, d) in p, count=count,
                               opt=2 if seed % 2 else 0, ram=ram)
    chained = frozenset(h for h in heads if rng.random() < 0.8)
    # empty entries hold a pc of another slot: never a hit (see test_exit_to_pc_0_chains_nowhere)
    table[0::2] = [((i + 1) % CHAIN_SLOTS) << 2 for i in range(CHAIN_SLOTS)]
    for h in chained:
        slot = 2 * ((h >> 2) & (CHAIN_SLOTS - 1))
        table[slot], table[slot + 1] = h, regions[h].addr
    regs = rand_regs(rng, slow)
    budget = rng.randint(1, 60)
    py = run_python(env, regions, heads[0], regs, budget, image, chained)
    nat = run_native(env, regions[heads[0]], regs, budget, image, ctypes.addressof(table))
    d = py.diff(nat)
    assert not d, f"{d}\n" + "\n".join(r.dump() for r in regions.values()) + f"\nregs: {regs}"
    return py


def test_chained_regions(env):
    """Native regions call each other through the chain table at an exit to a head that has
    native code: the same as the Python tier running one region after the other."""
    table = (ctypes.c_uint64 * (2 * CHAIN_SLOTS))()
    calls = env.chained_calls
    kinds = Counter(chained_case(env, seed, table).kind for seed in range(5000, 5150))
    assert env.chained_calls - calls >= 100 and kinds["jump"] >= 50 and kinds["fallback"] >= 20, kinds


_PC0_CHILD = """
import ctypes, mmap, types
from pyqemu.accel.tcg.native import _LLVM, NativeTier
from pyqemu.tcg.ir import Block, Builder, Temp
from pyqemu.tcg.llvmgen import GuestRAM, generate_native
mem, rpf, wpf = mmap.mmap(-1, 1 << 16), bytearray(16), bytearray(16)
host = lambda b: ctypes.addressof(ctypes.c_char.from_buffer(b))
tier = NativeTier(None, GuestRAM(host(mem), host(rpf), host(wpf), 16), 1)
x0 = Temp("x0", 0, 64)
block = Block(0x1000, {0: x0})
b = Builder(block)
b.insn_start(0x1000)
b.exit_jump(x0)  # x0 = 0: a call through a null function pointer
code = generate_native(0x1000, {0x1000: block}, lambda s, d: True, "region", tier.layout, tier.ram)
llvm = _LLVM(2)
llvm.cache_dir = None
fn = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p)(llvm.compile(code.ir)[0])
buf, addr = tier.state_of(types.SimpleNamespace())
buf[tier.layout.budget_off // 8] = 100
k = fn(addr)
print(k, hex(buf[tier.layout.pc_off // 8]))
"""


def test_exit_to_pc_0_chains_nowhere():
    """A computed jump to guest address 0 (a null function pointer) with native.py's chain
    table and no region at 0: EXIT_JUMP to 0, for the Python tier to raise the guest's
    SIGSEGV. (Run in a child process: a jump through an empty table entry kills it.)"""
    env = dict(os.environ, PYQEMU_CACHE="0")
    r = subprocess.run([sys.executable, "-c", _PC0_CHILD], capture_output=True, text=True, env=env,
                       timeout=300)
    assert (r.returncode, r.stdout.strip()) == (0, "0 0x0"), r.stderr[-2000:]


@pytest.mark.parametrize("opt", [0, 2])
def test_rotr_128(env, opt):
    """128-bit rotations (no front end emits them yet) by 0, 1, 64 and 127, constant and from a
    register."""
    image = _fast_all(env)
    g = GLOBALS
    block = Block(0x1000, dict(GLOBALS))
    b = Builder(block)
    b.insn_start(0x1000)
    for i, amount in enumerate((0, 1, 64, 127)):
        b.st(b.add(g[0], 16 * i, 64), b.rotr(g[9], amount, 128), 16)
        b.st(b.add(g[0], 64 + 16 * i, 64), b.rotr(g[9], b.and_(g[2 + i], 127, 128), 128), 16)
    b.goto_tb(0x2000)
    regs = [0x100, 0, 0, 1, 64, 127, 0, 0, 0, 0x0123456789ABCDEF_FEDCBA9876543210, 0, 0]
    r = check(env, {0x1000: block}, 0x1000, regs, image, opt=opt)
    assert r.mem[0x100:0x110] == regs[9].to_bytes(16, "little")


def _edges(w: int) -> list[int]:
    m = (1 << w) - 1
    s = 1 << (w - 1)
    return sorted({0, 1, 2, 3, 7, m, m - 1, s, s - 1, s + 1, m >> 1, 0x80 & m, 0xFF & m,
                   0x5555555555555555 & m})


def _all_ops_block(w: int) -> Block:
    """Every op at width ``w`` on two globals (ga, gb), each result stored at g0 + 16*i."""
    g = GLOBALS
    ga, gb = {32: (g[6], g[7]), 64: (g[2], g[3]), 128: (g[9], g[10])}[w]
    block = Block(0x1000, dict(GLOBALS))
    b = Builder(block)
    out: list[Temp] = []
    b.insn_start(0x1000)
    for opc in BINOPS:
        out.append(block.op(opc, ga, gb, aux=w, width=w))
    for opc in SHIFTS:
        if opc == "rotr" and w == 128:
            continue  # see test_rotr_128
        amounts: list[Temp | int] = [0, 1, w // 2, w - 1, b.and_(gb, w - 1, w)]
        if opc != "rotr":
            amounts += [b.and_(gb, 2 * w - 1, w), b.and_(gb, 0xFF, w)]
        out += [block.op(opc, ga, amount, aux=w, width=w) for amount in amounts]
    out += [block.op(opc, ga, aux=w, width=w) for opc in ("not", "neg")]
    out += [b.ext(ga, bits, signed, dw) for bits in (8, 16, 32, 64) for signed in (False, True)
            for dw in (32, 64, 128) if bits <= dw]
    for cond in ALL_CONDS:
        out.append(b.setcond(cond, ga, gb, w))
        out.append(b.movcond(cond, ga, gb, gb, ga, w))
        t = block.new_temp(64)
        b.if_(cond, ga, gb, w)
        b.mov(t, 1)
        b.else_()
        b.mov(t, 2)
        b.endif()
        out.append(t)
    b.insn_start(0x1004)  # memory round trips of ga
    for size in (1, 2, 4, 8, 16):
        if size <= w // 8 and (size, w) != (8, 128):  # an 8-byte store takes a 64-bit value
            b.st(g[1], ga, size)
            out.append(b.ld(g[1], size))
            if size < 8:
                out += [b.ld(g[1], size, True, w=sw) for sw in (32, 64)]
    for i, t in enumerate(out):
        b.st(b.add(g[0], 16 * i, 64), t, 16 if t.width > 64 else 8)
    b.goto_tb(0x2000)
    return block


@pytest.mark.parametrize("opt", [0, 2])
@pytest.mark.parametrize("w", [32, 64, 128])
def test_all_ops_on_edge_values(env, w, opt):
    """Each op, condition, extension and load/store size on every pair of edge values."""
    image = _fast_all(env)
    region = Region(env, {0x1000: _all_ops_block(w)}, 0x1000, opt=opt)
    ia, ib = {32: (6, 7), 64: (2, 3), 128: (9, 10)}[w]
    rng = random.Random(w + opt)
    pairs = [(a, c) for a in _edges(w) for c in _edges(w)] + [(rng.getrandbits(w), rng.getrandbits(w))
                                                              for _ in range(50)]
    for a, c in pairs:
        regs = [0x100, 0x4000] + [0] * (NREGS - 2)
        regs[ia], regs[ib] = a, c
        r = compare(env, region, regs, image)
        assert (r.kind, r.pc) == ("jump", 0x2000)


# --- slow paths and fallbacks, by hand --------------------------------------------------------

@pytest.mark.parametrize("case", ["load_unmapped", "store_readonly", "misaligned_load", "misaligned_store",
                                  "outside", "crossing_end"])
def test_slow_access_falls_back_before_the_instruction(env, case):
    """The second instruction's access needs the slow path: EXIT_FALLBACK at its pc, with the
    first instruction's registers, memory and count, and none of the second's."""
    image = _fast_all(env)
    env.rpf[3] = env.wpf[3] = 0
    env.wpf[4] = 0
    block = Block(0x1000, dict(GLOBALS))
    b = Builder(block)
    g = GLOBALS
    b.insn_start(0x1000)  # a load and a store that succeed
    t = b.ld(b.add(g[0], 8, 64), 8)
    b.st(b.add(g[0], 16, 64), g[3], 4)
    b.mov(g[2], t)
    b.mov(g[0], b.add(g[0], 4, 64))
    b.insn_start(0x1004)  # the access under test, then register writes
    addr = {"load_unmapped": 0x3000, "store_readonly": 0x4008, "misaligned_load": 0x2002,
            "misaligned_store": 0x2004, "outside": 1 << 40, "crossing_end": MEM_SIZE - 4}[case]
    if case in ("store_readonly", "misaligned_store"):
        b.st(b.add(g[1], addr, 64), g[4], 8, align=8)
    else:
        b.mov(g[5], b.ld(b.add(g[1], addr, 64), 8, align=4 if case == "misaligned_load" else 0))
    b.mov(g[6], 0x1234)
    b.mov(g[2], 0)
    b.insn_start(0x1008)
    b.goto_tb(0x2000)
    regs = [0] * NREGS
    regs[0] = 0x1000
    r = check(env, {0x1000: block}, 0x1000, regs, image, count=True)
    assert (r.kind, r.pc, r.icount) == ("fallback", 0x1004, 1)
    assert r.regs[0] == 0x1004 and r.regs[2] == int.from_bytes(image[0x1008:0x1010], "little")
    assert r.regs[5] == r.regs[6] == 0
    assert r.mem[0x1010:0x1014] == b"\0" * 4


def test_slow_access_in_a_loop(env):
    """A loop walking a pointer into a page without a fast path: the fallback comes in the
    iteration that reaches it, with the registers of that iteration."""
    image = _fast_all(env)
    env.rpf[6] = 0
    g = GLOBALS
    head = Block(0x1000, dict(GLOBALS))
    b = Builder(head)
    b.insn_start(0x1000)  # g2 += load32(g0); g0 += 4
    t = b.ld(g[0], 4)
    b.mov(g[2], b.add(g[2], t, 64))
    b.insn_start(0x1004)
    b.mov(g[0], b.add(g[0], 4, 64))
    b.insn_start(0x1008)
    b.goto_tb(0x1100)
    tail = Block(0x1100, dict(GLOBALS))
    b = Builder(tail)
    b.insn_start(0x1100)  # g3 += 1; loop while g3 != g4
    b.mov(g[3], b.add(g[3], 1, 64))
    b.insn_start(0x1104)
    b.if_("ne", g[3], g[4], 64)
    b.goto_tb(0x1000)
    b.endif()
    b.goto_tb(0x1200)
    regs = [0] * NREGS
    regs[0], regs[4] = 0x6000 - 40, 1000
    r = check(env, {0x1000: head, 0x1100: tail}, 0x1000, regs, image, budget=1 << 20, count=True)
    assert (r.kind, r.pc) == ("fallback", 0x1000)
    assert r.regs[0] == 0x6000 and r.regs[3] == 10 and r.icount == 50
    regs[4] = 7  # the loop ends first
    r = check(env, {0x1000: head, 0x1100: tail}, 0x1000, regs, image, budget=1 << 20, count=True)
    assert (r.kind, r.pc, r.regs[3], r.icount) == ("jump", 0x1200, 7, 35)
    r = check(env, {0x1000: head, 0x1100: tail}, 0x1000, regs, image, budget=5)
    assert (r.kind, r.pc, r.regs[3]) == ("jump", 0x1100, 2)


UNSUPPORTED_KINDS = ("helper", "helper_in_if", "wide_arg", "width_not_accepted", "exit_call", "raise")


def _unsupported_op(b: Builder, kind: str) -> None:
    g = GLOBALS
    if kind == "helper":
        b.mov(g[3], b.call(UNSUPPORTED, g[4]))
    elif kind == "helper_in_if":  # cut at the instruction even when the branch is not taken
        b.if_("eq", g[4], 12345, 64)
        b.mov(g[3], b.call(UNSUPPORTED, g[4]))
        b.endif()
    elif kind == "wide_arg":  # a native helper, but a 128-bit operand
        b.mov(g[3], b.call(HI.cnt, g[9]))
    elif kind == "width_not_accepted":
        b.mov(g[3], b.call(HI.clz, b.ext(g[4], 16, False, 32), 16))
    elif kind == "exit_call":
        b.exit_call(UNSUPPORTED, g[4])
    else:
        b.raise_(UNSUPPORTED, g[4])


@pytest.mark.parametrize("kind", UNSUPPORTED_KINDS)
def test_unsupported_op_falls_back(env, kind):
    """An instruction the back end cannot emit ends the native code there: EXIT_FALLBACK with
    the registers and memory as the Python tier has them before that instruction."""
    for seed in range(3000, 3008):
        rng = random.Random(seed)
        image = env.setup(rng, seed % 2 == 1)
        gen = Gen(rng, 0x1000, OUT, seed % 2 == 1)
        k = rng.randint(1, 4)
        for _ in range(k):
            gen.insn(rng.randint(1, 6))
        n = len(gen.block.ops)
        gen.b.insn_start(0x1000 + 4 * k)
        _unsupported_op(gen.b, kind)
        if kind not in ("exit_call", "raise"):
            for _ in range(rng.randint(0, 2)):
                gen.insn(rng.randint(1, 4))
            gen.exit()
        block = gen.block
        count = rng.random() < 0.5
        region = Region(env, {0x1000: block}, 0x1000, count=count, opt=2 if seed % 2 else 0)
        assert region.code is not None and region.code.fallbacks == 1
        # the Python tier on the instructions before it
        prefix = Block(0x1000, dict(GLOBALS), block.ops[:n], helpers=dict(block.helpers))
        Builder(prefix).goto_tb(0x1000 + 4 * k)
        regs = rand_regs(rng, seed % 2 == 1)
        py = run_python(env, {0x1000: Region(env, {0x1000: prefix}, 0x1000, count=count, native=False)},
                        0x1000, regs, 1, image)
        if py.kind == "jump":
            py.kind = "fallback"
        nat = run_native(env, region, regs, 1, image)
        d = py.diff(nat)
        assert not d, d + "\n" + block.dump()


def test_unsupported_first_instruction_gives_no_code(env):
    """Nothing to compile when the head's first instruction needs the Python tier."""
    block = Block(0x1000, dict(GLOBALS))
    b = Builder(block)
    b.insn_start(0x1000)
    b.mov(GLOBALS[3], b.call(UNSUPPORTED, GLOBALS[4]))
    b.insn_start(0x1004)
    b.goto_tb(0x1008)
    assert Region(env, {0x1000: block}, 0x1000).code is None


# --- the native helpers -----------------------------------------------------------------------

# (case, helper, constant arguments by position, variable arguments' widths, Python function)
_HELPER_CASES: list[tuple[str, str, dict[int, int], list[int], Callable]] = (
    [(f"nzcv_{op}", "h_nzcv_from", {0: op}, [w, w], lambda a, b, op=op: nzcv_from.func(op, a, b))
     for op, w in ((C.CC_NZCV, 64), (C.CC_ADD32, 32), (C.CC_ADD64, 64), (C.CC_SUB32, 32), (C.CC_SUB64, 64),
                   (C.CC_LOGIC32, 32), (C.CC_LOGIC64, 64))]
    + [("nzcv_var", "h_nzcv_from", {}, [3, 32, 32], nzcv_from.func),  # the flag op from a register
       ("udiv32", "h_udiv", {}, [32, 32], HI.udiv.func), ("udiv64", "h_udiv", {}, [64, 64], HI.udiv.func),
       ("cnt", "h_cnt", {}, [64], HI.cnt.func)]
    + [(f"sdiv{w}", "h_sdiv", {2: w}, [w, w], lambda n, m, w=w: HI.sdiv.func(n, m, w)) for w in (32, 64)]
    + [(f"clz{w}", "h_clz", {1: w}, [w], lambda x, w=w: HI.clz.func(x, w)) for w in (32, 64)]
    + [(f"ctz{w}", "h_ctz", {1: w}, [w], lambda x, w=w: HI.ctz.func(x, w)) for w in (32, 64)]
    + [(f"rbit{w}", "h_rbit", {1: w}, [w], lambda x, w=w: HI.rbit.func(x, w)) for w in (8, 16, 32, 64)]
    + [(f"revb{n}", "h_rev_bytes", {1: n}, [8 * n], lambda x, n=n: HI.rev_bytes.func(x, n))
       for n in (1, 2, 4, 8)]
    + [(f"rev{w}_{e}", "h_rev", {1: w, 2: e}, [w], lambda x, w=w, e=e: HI.rev.func(x, w, e))
       for w, e in ((16, 16), (32, 32), (64, 64), (32, 16), (64, 16), (64, 32))]
    + [(f"{h}_{n}", f"h_{h}", {2: n}, [32, 8 * n], lambda a, v, n=n, f=getattr(HI, h): f.func(a, v, n))
       for h in ("crc32", "crc32c") for n in (1, 2, 4, 8)])


def _helper_module() -> str:
    """``i64 @region(i64 %sel, i64 %a, i64 %b, i64 %c)``: case ``sel`` of _HELPER_CASES, with
    its constant arguments in the call as llvmgen emits them and the others from a, b, c."""
    decls = ["declare i64 @llvm.fshr.i64(i64, i64, i64)"]
    for name in sorted({h for _n, h, _c, _v, _f in _HELPER_CASES}):
        for line in NATIVE_HELPERS[name].ir.splitlines():
            if not line.startswith("declare ") or line not in decls:
                decls.append(line)
    body = ["define i64 @region(i64 %sel, i64 %a, i64 %b, i64 %c) {", "entry:",
            "  switch i64 %sel, label %none [" + " ".join(f"i64 {i}, label %case{i}"
                                                        for i in range(len(_HELPER_CASES))) + "]",
            "none:", "  ret i64 0"]
    for i, (_n, hname, consts, _widths, _f) in enumerate(_HELPER_CASES):
        h = NATIVE_HELPERS[hname]
        var = iter(("%a", "%b", "%c"))
        args = ", ".join(f"i64 {consts[k] if k in consts else next(var)}" for k in range(h.nargs))
        body += [f"case{i}:", f"  %r{i} = call i64 @{h.llvm_name}({args})", f"  ret i64 %r{i}"]
    return "\n".join(decls + body + ["}"]) + "\n"


@pytest.mark.parametrize("opt", [0, 2])
def test_native_helpers_match_python(opt):
    """Each native helper, called with the constant arguments llvmgen passes, computes what
    the Python helper does, on edge and random values (division by 0, INT_MIN / -1, ...)."""
    fn = ctypes.CFUNCTYPE(ctypes.c_uint64, *[ctypes.c_uint64] * 4)(compile_native(_helper_module(), opt))
    rng = random.Random(4242)
    for sel, (name, _h, _c, widths, pyfunc) in enumerate(_HELPER_CASES):
        if name == "nzcv_var":  # every flag op, 32-bit operands
            vectors = [(op, a, b) for op in range(7) for a in _edges(32) for b in _edges(32)]
            vectors += [(rng.randrange(7), rng.getrandbits(32), rng.getrandbits(32)) for _ in range(300)]
        elif len(widths) == 2:
            vectors = [(a, b) for a in _edges(widths[0]) for b in _edges(widths[1])]
            vectors += [(rand_value(rng, widths[0]), rand_value(rng, widths[1])) for _ in range(300)]
        else:
            vectors = [(a,) for a in _edges(widths[0])] + [(rand_value(rng, widths[0]),) for _ in range(300)]
        for args in vectors:
            got = fn(sel, *args, *[0] * (3 - len(args)))
            assert got == pyfunc(*args), f"{name}{tuple(hex(a) for a in args)}: native {got:#x}"


def test_native_helpers_in_blocks(env):
    """llvmgen's calls of the native helpers (constant and register arguments) in blocks."""
    for seed in range(4000, 4010):
        rng = random.Random(seed)
        image = env.setup(rng, False)
        gen = Gen(rng, 0x1000, OUT, False)
        for i in range(6):
            gen.b.insn_start(0x1000 + 4 * i)
            gen.ninsns += 1
            for _ in range(4):
                gen.op_call()
            gen.commit(3)
        gen.b.goto_tb(0x2000)
        regs = rand_regs(rng, False)
        r = check(env, {0x1000: gen.block}, 0x1000, regs, image)
        assert (r.kind, r.pc) == ("jump", 0x2000)
