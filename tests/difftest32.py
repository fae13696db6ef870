"""Differential testing of pyqemu's AArch32 translator (A32 and T32) against Unicorn.

Run the same instructions from the same initial state in Unicorn
(``UC_ARCH_ARM``, ``UC_MODE_ARM`` or ``UC_MODE_THUMB``) and in pyqemu (its
real translator, TB cache and generated code, through a user-mode
:class:`Process` with ``target="arm"``) and compare R0-R14, NZCV, Q, GE,
optionally D0-D31 and FPSCR, a window of memory, the final pc (with the Thumb
bit) and the exception that stopped execution, if any.

Instructions are ints: an A32 word, a 16-bit Thumb halfword (< 0x10000) or a
32-bit Thumb instruction as ``hw1 << 16 | hw2`` (always >= 0xE8000000). A
block of random instructions runs as one translation block (or is split with
``max_insns``); on a mismatch, prefixes are replayed to name the first
instruction whose result differs (``cuts`` restricts the prefixes tried to
whole units, e.g. an IT instruction with the instructions it covers).
TPIDRURW/TPIDRURO are set from the state and compared too.

Typical use::

    dt = DiffTester(thumb=True)
    run_group(dt, "t32/dp", gen, seed, nblocks)  # gen(rng) -> Block(insns, init, ...)

Also here: :class:`Encoding` (random instructions from a .decode-like layout
with a validity predicate), :func:`it_block`, :class:`LsCtx` (loads and stores
that follow their base registers so every access stays inside the window),
the VFP and Advanced SIMD encodings shared by the A32 and T32 tests, and the
tests of a module made from a table of groups (:func:`group_tests`,
:func:`fixed_tests`, :func:`random_test`). What does not depend on the
instruction set (the emulators' setup, State comparisons, Encoding's layout
parsing) comes from the A64 harness, tests/difftest.py.

Memory layout shared by both emulators: code at ``CODE_BASE`` (read/execute),
the compared window at ``DATA_BASE`` (``DATA_SIZE`` bytes, read/write).
Nothing else is mapped. After the test code come a few UDF instructions: a
block that runs past its end (a prefix replay cut before a branch target)
stops with SIGILL in both emulators instead of running stale code.

Unicorn caveats (2.1.4, QEMU 5.0's translator), all handled or avoided here:

* Its default ARM CPU (Cortex-A15) has no ARMv8 AArch32 (LDA/STL, VSEL...):
  the harness selects ``UC_CPU_ARM_MAX`` (ARMv8 AArch32 with the v8.x
  extensions QEMU 5.0 had).
* It starts in SVC mode with the FPU disabled: the harness writes CPSR with
  user mode (0x10), sets CPACR.cp10/cp11 and FPEXC.EN.
* It does not reliably retranslate code overwritten with ``mem_write``: the
  harness drops its cached translations of the test code before every run.
* Its exclusive monitor survives between runs: when a block uses exclusives
  (``excl=True``), a CLREX stub runs first (pyqemu's monitor is reset directly).
* It does not raise alignment faults for unaligned LDRD/STRD/LDM/STM (the
  architecture requires word alignment; Linux fixes such faults up): the
  generators keep those addresses word-aligned. Unaligned LDREX raises its
  data abort (EXCP_DATA_ABORT, 4), not told apart from a translation fault:
  exclusives stay aligned too.
* Its UC_ARM_REG_C13_C0_2 (TPIDRURW) is a no-op: the harness reaches the
  thread ID registers through UC_ARM_REG_CP_REG (non-secure bank, which PL0 reads).
* YIELD ends ``emu_start`` with UC_ERR_INSN_INVALID after it: generators leave it out.
* ISB inside an IT block ends its translation block and loses the IT state: the rest
  of the IT block runs unconditionally (qemu-arm 7.2 keeps it, as the architecture
  says). Blocks that test it give Unicorn a DSB instead (``Block.ref_subst``).
* UDF and other undefined encodings end ``emu_start`` with
  ``UC_ERR_INSN_INVALID`` (mapped to ``ill``); SVC and BKPT arrive as
  interrupts 2 and 7.
"""
from __future__ import annotations

import functools
import os
import random
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import difftest
import pytest
from difftest import (
    CODE_BASE,
    CODE_SIZE,
    DATA_BASE,
    HEX32,
    M32,
    NATIVE_DIVISOR,
    STOP_FIELDS,
    UC_MEMERR,
    FieldSpec,
    fields_diff,
    flags,
    mem_diff,
    regs_diff,
)
from unicorn import UC_ARCH_ARM, UC_MODE_ARM, UC_MODE_THUMB, Uc
from unicorn import arm_const as U
from unicorn.unicorn_const import UC_ERR_INSN_INVALID

from pyqemu.accel.tcg.excp import GuestException
from pyqemu.target.arm import cpu32 as C

DATA_SIZE = 0x4000  # CODE_BASE, CODE_SIZE and DATA_BASE as in difftest, a larger data window
STUB = CODE_BASE + CODE_SIZE - 0x10  # the CLREX stub (Unicorn only)
PAD = 4  # UDF instructions after the test code

UDF_A32 = 0xE7F000F0
UDF_T16 = 0xDE00
CLREX_A32 = 0xF57FF01F
CLREX_T32 = 0xF3BF8F2F

T32_REGS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14)  # no SP, no PC (UNPREDICTABLE in T32)
CPSR_USR = 0x10
CPSR_T = 0x20

# --- state -----------------------------------------------------------------------------


@dataclass
class State:
    """The AArch32 counterpart of :class:`difftest.State`: R0-R14, NZCV, Q, GE, D0-D31 and
    FPSCR (`d` None: neither set nor compared; `mem` likewise for the data window), the
    thread ID registers, and where and how execution stopped (`pc`, with the Thumb bit;
    `fault`: ``ill``, ``svc``, ``segv``, ``trap``...)."""

    r: list[int]
    nzcv: int = 0
    q: int = 0
    ge: int = 0
    d: list[int] | None = None
    fpscr: int = 0
    mem: bytes | None = None
    pc: int = 0
    fault: str | None = None
    tls: tuple[int, int] = (0, 0)  # TPIDRURW, TPIDRURO

    def copy(self) -> State:
        return replace(self, r=list(self.r), d=None if self.d is None else list(self.d))

    def diff(self, other: State) -> list[str]:
        """Human-readable differences (self = reference, other = pyqemu)."""
        out: list[str] = []
        regs_diff("R", self.r, other.r, 8, out)
        fields_diff(self, other, {"nzcv": ("NZCV", flags), "q": ("Q", str), "ge": ("GE", "{:04b}".format)},
                    out)
        if self.d is not None and other.d is not None:
            fields_diff(self, other, {"fpscr": ("FPSCR", HEX32)}, out)
            regs_diff("D", self.d, other.d, 16, out)
        if self.mem is not None and other.mem is not None:
            mem_diff(self.mem, other.mem, out)
        fields_diff(self, other, {"tls": ("TPIDRURW/URO", "{0[0]:#x}/{0[1]:#x}".format), **STOP_FIELDS}, out)
        return out

    def describe(self) -> str:
        regs = " ".join(f"R{i}={v:#x}" for i, v in enumerate(self.r))
        s = f"{regs} NZCV={flags(self.nzcv)} Q={self.q} GE={self.ge:04b}"
        if self.d is not None:
            s += f" FPSCR={self.fpscr:#x} " + " ".join(f"D{i}={v:#x}" for i, v in enumerate(self.d) if v)
        return s


# --- random operands ------------------------------------------------------------------------

EDGE32 = (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
          0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x7F7F7F7F, 0x80808080, 0x7FFF8000,
          0x80007FFF, 0xFFFF0000, 0x0000FFFF, 0x01010101, 0xFEFEFEFE, 0x55555555, 0xAAAAAAAA)


def rand_u32(rng: random.Random) -> int:
    """A 32-bit operand biased toward the values where arithmetic goes wrong."""
    r = rng.random()
    if r < 0.25:
        return rng.choice(EDGE32)
    if r < 0.35:
        return rng.randrange(-64, 65) & M32
    if r < 0.45:  # bytes/halfwords at their edges (SIMD-in-register instructions)
        return int.from_bytes(bytes(rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.getrandbits(8)))
                                    for _ in range(4)), "little")
    if r < 0.5:
        return (1 << rng.randrange(32)) ^ rng.choice((0, M32))
    return rng.getrandbits(32)


def rand_u64(rng: random.Random) -> int:
    return (rand_u32(rng) << 32) | rand_u32(rng)


def random_state(rng: random.Random, dregs: bool = False, mem_size: int = 0,
                 value: Callable[[random.Random], int] = rand_u32) -> State:
    """Random R0-R14 (from `value`), NZCV, Q, GE, D registers and FPSCR if
    `dregs` (FPSCR: rounding mode and flush-to-zero/default-NaN bits random,
    exception traps off), and the first `mem_size` bytes of the data window."""
    r = [value(rng) for _ in range(15)]
    d = [rand_u64(rng) for _ in range(32)] if dregs else None
    mem = rng.randbytes(mem_size) + bytes(DATA_SIZE - mem_size) if mem_size else None
    fpscr = (rng.randrange(16) << 28) | (rng.randrange(8) << 22) if dregs else 0
    return State(r, nzcv=rng.randrange(16) << 28, q=rng.randrange(2), ge=rng.randrange(16),
                 d=d, fpscr=fpscr, mem=mem, tls=(rng.getrandbits(32), rng.getrandbits(32)))


# --- random instruction encodings -------------------------------------------------------------

def cond(rng: random.Random) -> int:
    """An A32 condition: AL half of the time, else any of EQ..LE."""
    return 14 if rng.random() < 0.5 else rng.randrange(14)


class Encoding(difftest.Encoding):
    """A random generator of instructions from a bit layout (see :class:`difftest.Encoding`).

    Layouts have 16 bits (a 16-bit Thumb instruction) or 32 bits (an A32 word,
    or a 32-bit Thumb instruction as ``hw1 hw2``). By default a field ``cond:4``
    is :func:`cond`, 4-bit fields named ``r*`` are drawn from `regs` (R0-R14,
    never PC, by default; T32 encodings mostly pass :data:`T32_REGS`), others
    uniform. `valid(f)` rejects field combinations that are UNPREDICTABLE or
    unallocated: :meth:`gen` draws only accepted ones.
    """

    widths = (16, 32)

    def __init__(self, name: str, layout: str, valid: Callable[[dict], bool] | None = None,
                 *, regs: Sequence[int] = tuple(range(15)), **fields: FieldSpec) -> None:
        super().__init__(name, layout, valid, **fields)
        self.regs = regs

    def default(self, name: str, n: int, rng: random.Random) -> int:
        if name == "cond" and n == 4:
            return cond(rng)
        if name.startswith("r") and n == 4:
            return rng.choice(self.regs)
        return rng.getrandbits(n)

    def gen(self, rng: random.Random, **over: int) -> int:
        """A random accepted instruction (`over`: fields given)."""
        for _ in range(10000):
            f = self.fields_of(rng, **over)
            if self.valid is None or self.valid(f):
                return self.encode(f)
        raise ValueError(f"{self.name}: no valid encoding with {over}")


# --- the two emulators --------------------------------------------------------------------------

_UC_R = [U.UC_ARM_REG_R0 + i for i in range(13)] + [U.UC_ARM_REG_SP, U.UC_ARM_REG_LR]
_UC_D = [U.UC_ARM_REG_D0 + i for i in range(32)]
# (cp, is64, sec, crn, crm, opc1, opc2) of the user thread ID registers, non-secure bank
_TPIDRURW = (15, 0, 0, 13, 0, 0, 2)
_TPIDRURO = (15, 0, 0, 13, 0, 0, 3)


def is_t32(insn: int) -> bool:
    return insn > 0xFFFF


def insn_size(insn: int, thumb: bool) -> int:
    return 4 if not thumb or is_t32(insn) else 2


def code_bytes(insns: Sequence[int], thumb: bool) -> bytes:
    out = bytearray()
    for i in insns:
        if not thumb:
            out += struct.pack("<I", i)
        elif is_t32(i):
            out += struct.pack("<HH", i >> 16, i & 0xFFFF)
        else:
            out += struct.pack("<H", i)
    return bytes(out)


def _pad(thumb: bool) -> bytes:
    return code_bytes([UDF_T16 if thumb else UDF_A32] * PAD, thumb)


class UnicornRunner(difftest.UnicornBase):
    """The reference: Unicorn 2 (QEMU 5's AArch32 translator), its ``max`` CPU in user mode."""

    errors = {**UC_MEMERR, UC_ERR_INSN_INVALID: "ill"}

    def __init__(self, thumb: bool, cpu_model: int = U.UC_CPU_ARM_MAX) -> None:
        super().__init__(Uc(UC_ARCH_ARM, UC_MODE_THUMB if thumb else UC_MODE_ARM), cpu_model, DATA_SIZE)
        self.thumb = thumb
        uc = self.uc
        uc.reg_write(U.UC_ARM_REG_C1_C0_2, uc.reg_read(U.UC_ARM_REG_C1_C0_2) | (0xF << 20))  # CPACR
        uc.reg_write(U.UC_ARM_REG_FPEXC, 0x40000000)  # EN
        uc.mem_write(STUB, code_bytes([CLREX_T32 if thumb else CLREX_A32], thumb))

    def _cpsr(self, init: State) -> int:
        return (init.nzcv & 0xF0000000) | (init.q << 27) | (init.ge << 16) | CPSR_USR \
            | (CPSR_T if self.thumb else 0)

    def run(self, insns: Sequence[int], init: State, start: int = CODE_BASE, excl: bool = False) -> State:
        uc = self.uc
        t = int(self.thumb)
        code = code_bytes(insns, self.thumb)
        end = start + len(code)
        self.load(start, code + _pad(self.thumb), init.mem)
        if excl:
            uc.reg_write(U.UC_ARM_REG_CPSR, self._cpsr(init))
            uc.emu_start(STUB | t, STUB + 4)
        uc.reg_write(U.UC_ARM_REG_CPSR, self._cpsr(init))  # first: SP and LR are banked
        uc.reg_write(U.UC_ARM_REG_CP_REG, (*_TPIDRURW, init.tls[0]))
        uc.reg_write(U.UC_ARM_REG_CP_REG, (*_TPIDRURO, init.tls[1]))
        uc.reg_write_batch(list(zip(_UC_R, init.r, strict=True)))
        if init.d is not None:
            uc.reg_write_batch(list(zip(_UC_D, init.d, strict=True)))
            uc.reg_write(U.UC_ARM_REG_FPSCR, init.fpscr)
        fault = self.emulate(start | t, end) if insns else None
        r = list(uc.reg_read_batch(_UC_R))
        cpsr = uc.reg_read(U.UC_ARM_REG_CPSR)
        d = list(uc.reg_read_batch(_UC_D)) if init.d is not None else None
        fpscr = uc.reg_read(U.UC_ARM_REG_FPSCR) if init.d is not None else 0
        pc = uc.reg_read(U.UC_ARM_REG_PC) | (1 if cpsr & CPSR_T else 0) if insns else start | t
        tls = (uc.reg_read(U.UC_ARM_REG_CP_REG, _TPIDRURW), uc.reg_read(U.UC_ARM_REG_CP_REG, _TPIDRURO))
        return State(r, nzcv=cpsr & 0xF0000000, q=(cpsr >> 27) & 1, ge=(cpsr >> 16) & 0xF, d=d,
                     fpscr=fpscr, mem=self.read_data(init.mem is not None), pc=pc, fault=fault, tls=tls)


class PyqemuRunner(difftest.ProcessRunner):
    """pyqemu's AArch32 translator (a Process with ``target="arm"``)."""

    pc_flags = 1  # the Thumb bit

    def __init__(self) -> None:
        super().__init__(DATA_SIZE, target="arm")
        self.cpu.exception_svc = self._svc
        self._svc_pc = 0
        self._limit = 1
        self._left: dict[int, int] = {}

    def _svc(self) -> None:
        self._svc_pc = self.cpu.pc  # the helper has set it to the next instruction
        raise GuestException("svc")

    def block_limit(self, key: int) -> int:
        n = self._limit
        left = self._left.get(key & ~1)
        if left is not None:
            n = min(n, left)
        return max(n, 1)

    def run(self, insns: Sequence[int], init: State, thumb: bool, start: int = CODE_BASE,
            max_insns: int | None = None, max_blocks: int = 10000) -> State:
        """Run `insns` (a fresh translation, blocks of at most `max_insns`)."""
        cpu = self.cpu
        code = code_bytes(insns, thumb)
        end = start + len(code)
        self.load(start, code + _pad(thumb), init.mem)
        self._limit = max_insns or max(len(insns), 1)
        addr, left = start, {}
        for k, i in enumerate(insns):
            left[addr] = len(insns) - k
            addr += insn_size(i, thumb)
        self._left = left
        R = cpu.regs
        R[0:15] = init.r
        cpu.nzcv = init.nzcv
        R[C.REG_QF] = init.q
        R[C.REG_GE] = init.ge
        R[C.REG_EXCL_ADDR] = -1
        R[C.REG_TPIDRURW], R[C.REG_TPIDRURO] = init.tls
        if init.d is not None:
            R[C.REG_D0:C.REG_D0 + 32] = init.d
            R[C.REG_FPSCR] = init.fpscr
        fault = self.execute(start | int(thumb), end, max_blocks)
        if fault == "svc":
            cpu.pc = self._svc_pc
        d = R[C.REG_D0:C.REG_D0 + 32] if init.d is not None else None
        return State(R[0:15], nzcv=cpu.nzcv, q=R[C.REG_QF], ge=R[C.REG_GE], d=d,
                     fpscr=R[C.REG_FPSCR] if init.d is not None else 0,
                     mem=self.read_data(init.mem is not None), pc=cpu.pc, fault=fault,
                     tls=(R[C.REG_TPIDRURW], R[C.REG_TPIDRURO]))


# --- comparing ---------------------------------------------------------------------------------


def disasm(insn: int, thumb: bool, pc: int = 0) -> str:
    import capstone
    mode = (capstone.CS_MODE_THUMB if thumb else capstone.CS_MODE_ARM) | getattr(capstone, "CS_MODE_V8", 0)
    md = capstone.Cs(capstone.CS_ARCH_ARM, mode)
    for i in md.disasm(code_bytes([insn], thumb), pc):
        return f"{i.mnemonic} {i.op_str}".strip()
    return ".inst"


def fmt_insn(insn: int, thumb: bool) -> str:
    if thumb and not is_t32(insn):
        return f"{insn:04x}    "
    return f"{insn:08x}"


@dataclass
class DiffTester:
    """Both emulators of one instruction set, kept for many runs (creating them is the
    expensive part). `dregs`: compare D0-D31 and FPSCR too."""

    thumb: bool = False
    dregs: bool = False
    uc: UnicornRunner | None = None
    pq: PyqemuRunner = field(default_factory=PyqemuRunner)
    cases: int = 0  # instructions compared so far
    # Instructions Unicorn runs in place of others of the same size (a reference bug's
    # workaround; see Block.ref_subst).
    ref_subst: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.uc is None:
            self.uc = UnicornRunner(self.thumb)

    def compare(self, insns: Sequence[int], init: State, max_insns: int | None = None,
                start: int = CODE_BASE, excl: bool = False) -> tuple[State, State, list[str]]:
        if not self.dregs:
            init = replace(init, d=None)
        ref_insns = [self.ref_subst.get(i, i) for i in insns] if self.ref_subst else insns
        ref = self.uc.run(ref_insns, init, start, excl)
        if ref_insns != insns:  # later blocks' literal loads may read this code: the real one
            self.uc.uc.mem_write(start, code_bytes(insns, self.thumb))
        got = self.pq.run(insns, init, self.thumb, start, max_insns)
        self.cases += len(insns)
        return ref, got, ref.diff(got)

    def check(self, insns: Sequence[int], init: State, max_insns: int | None = None,
              start: int = CODE_BASE, excl: bool = False, cuts: Sequence[int] | None = None,
              faults: bool = False) -> None:
        """Assert that pyqemu ends in the same state as Unicorn; on a mismatch,
        find the first instruction that diverges and describe it. Unless `faults`,
        Unicorn must run the block to its end (else the generator is wrong: a test
        where both emulators stop at the first instruction would prove nothing)."""
        ref, _, diff = self.compare(insns, init, max_insns, start, excl)
        if ref.fault is not None and not faults:
            a = start
            for i in insns:
                if a == ref.pc & ~1:
                    break
                a += insn_size(i, self.thumb)
            else:
                i = 0
            raise AssertionError(f"Unicorn stopped with {ref.fault} at {ref.pc:#x} "
                                 f"({fmt_insn(i, self.thumb)} {disasm(i, self.thumb, a)}): "
                                 "the generator emitted an encoding the reference does not run")
        if diff:
            raise AssertionError(self.report(insns, init, max_insns, start, excl, cuts, diff))

    def first_divergence(self, insns: Sequence[int], init: State, max_insns: int | None = None,
                         start: int = CODE_BASE, excl: bool = False,
                         cuts: Sequence[int] | None = None) -> tuple[int, State, list[str]] | None:
        """(index, state before it, differences) of the first diverging instruction."""
        prev = 0
        for k in (cuts if cuts is not None else range(1, len(insns) + 1)):
            _, _, d = self.compare(insns[:k], init, max_insns, start, excl)
            if d:
                before = self.uc.run(insns[:prev], init, start, excl) if prev else init
                return k - 1, before, d
            prev = k
        return None

    def report(self, insns: Sequence[int], init: State, max_insns: int | None, start: int,
               excl: bool, cuts: Sequence[int] | None, diff: list[str]) -> str:
        th = self.thumb
        addrs = [start]
        for i in insns:
            addrs.append(addrs[-1] + insn_size(i, th))
        lines = [f"pyqemu differs from Unicorn ({'T32' if th else 'A32'}) after {len(insns)} "
                 f"instructions (max_insns={max_insns}):"] + ["  " + d for d in diff]
        fd = self.first_divergence(insns, init, max_insns, start, excl, cuts)
        if fd is not None:
            k, before, d = fd
            lines.append(f"first divergence at instruction {k} ({addrs[k]:#x}): "
                         f"{fmt_insn(insns[k], th)}  {disasm(insns[k], th, addrs[k])}")
            lines.append("  state before: " + before.describe())
            lines += ["  " + x for x in d]
        else:
            lines.append("(no prefix diverges on its own: depends on block splitting)")
        lines.append("block:")
        lines += [f"  {a:#x}: {fmt_insn(i, th)}  {disasm(i, th, a)}"
                  for a, i in zip(addrs, insns, strict=False)]
        lines.append("initial state: " + init.describe())
        return "\n".join(lines)


# --- running groups ---------------------------------------------------------------------------

BlockGen = Callable[[random.Random], "Block"]


@dataclass
class Block:
    """A generated test: instructions, initial state and how to run them."""

    insns: list[int]
    init: State
    excl: bool = False
    cuts: list[int] | None = None  # prefix lengths that end between whole units
    start: int = CODE_BASE
    faults: bool = False  # the block may stop with an exception (else Unicorn must run it all)
    # Unicorn runs ref_subst[i] instead of each instruction i in it (same size): QEMU 5's
    # translator gets some instructions wrong (ISB in an IT block loses the IT state).
    ref_subst: dict[int, int] = field(default_factory=dict)


def it_insn(first: int, elses: Sequence[int]) -> int:
    """IT with condition `first` for the first instruction, then one instruction
    per entry of `elses` (1: else, 0: then)."""
    mask = 1 << (3 - len(elses))
    for k, e in enumerate(elses):  # bit 3, 2, 1: then (= firstcond<0>) or else
        mask |= ((first & 1) ^ e) << (3 - k)
    return 0xBF00 | (first << 4) | mask


def it_block(rng: random.Random, body: Callable[[random.Random], int],
             n: int | None = None) -> list[int]:
    """A Thumb IT instruction and the 1-4 instructions it covers (from `body`).
    AL is used only with a single-condition mask (other ITs with AL are UNPREDICTABLE)."""
    n = n or rng.randrange(1, 5)
    if rng.random() < 0.1:
        first, elses = 14, [0] * (n - 1)
    else:
        first, elses = rng.randrange(14), [rng.randrange(2) for _ in range(n - 1)]
    return [it_insn(first, elses)] + [body(rng) for _ in range(n)]


def units_block(rng: random.Random, units: Sequence[list[int]]) -> tuple[list[int], list[int]]:
    """Concatenate instruction units; returns (instructions, cut points)."""
    insns: list[int] = []
    cuts = []
    for u in units:
        insns += u
        cuts.append(len(insns))
    return insns, cuts


def run_group(dt: DiffTester, name: str, gen: BlockGen, seed: int, nblocks: int) -> None:
    """Run `nblocks` generated blocks; a mismatch fails with a report naming the group and
    seed. Blocks mostly run as one translation block, sometimes split."""
    rng = random.Random(f"{name}/{seed}")
    for i in range(nblocks):
        b = gen(rng)
        max_insns = rng.choice((None, None, None, None, 1, rng.randrange(2, 8)))
        dt.ref_subst = b.ref_subst
        try:
            dt.check(b.insns, b.init, max_insns, b.start, b.excl, b.cuts, b.faults)
        except AssertionError as e:
            raise AssertionError(f"group {name}, seed {seed}, block {i}:\n{e}") from None
        finally:
            dt.ref_subst = {}


def rand_start(rng: random.Random, thumb: bool) -> int:
    """A block start in the first KiB of the code window (word- or halfword-aligned)."""
    return CODE_BASE + (2 * rng.randrange(512) if thumb else 4 * rng.randrange(256))


def random_blocks(encs: Sequence[Encoding], n: int, state: Callable[[random.Random], State],
                  thumb: bool = False, conv: Callable[[int], int] | None = None) -> BlockGen:
    """Blocks of `n` instructions drawn from `encs` (each passed through `conv`), with
    their initial state from `state`, at :func:`rand_start`."""
    def gen(rng: random.Random) -> Block:
        insns = [rng.choice(encs).gen(rng) for _ in range(n)]
        return Block(insns if conv is None else [conv(i) for i in insns], state(rng),
                     start=rand_start(rng, thumb))
    return gen


def it_blocks(one: Callable[[random.Random], int], n: int, state: Callable[[random.Random], State],
              slots: int = 512, it: bool = True) -> BlockGen:
    """Thumb blocks of `n` units: an instruction from `one` or (about one unit in seven,
    if `it`) an IT block of them; initial state from `state`, start at one of the first
    `slots` halfwords of the code window."""
    def gen(rng: random.Random) -> Block:
        units = [it_block(rng, one) if rng.random() < 0.15 and it else [one(rng)] for _ in range(n)]
        insns, cuts = units_block(rng, units)
        return Block(insns, state(rng), cuts=cuts, start=CODE_BASE + 2 * rng.randrange(slots))
    return gen


def rand_div(rng: random.Random) -> int:
    """A divide operand: zero, one, the signed overflow pair... half of the time."""
    if rng.random() < 0.5:
        return rng.choice((0, 1, 2, M32, M32 - 1, 0x80000000, 0x7FFFFFFF))
    return rand_u32(rng)


def operands(value: Callable[[random.Random], int]) -> Callable[[random.Random], State]:
    """:func:`random_state` with registers from `value`."""
    return functools.partial(random_state, value=value)


# --- the tests of a module ------------------------------------------------------------------------

SCALE = 2  # blocks per unit of a group table's weights
RANDOM_SCALE = 3  # the -m random runs: this many times the default, with a fresh seed

Groups = Mapping[str, tuple[BlockGen, int]]  # group -> (block generator, weight or blocks)
Test = Callable[..., None]


def diff_seed() -> int:
    """The seed of a ``-m random`` run: PYQEMU_DIFF_SEED (to replay a failure), else a fresh one."""
    return int(os.environ.get("PYQEMU_DIFF_SEED", "0")) or random.randrange(1 << 32)


def dt_fixture(thumb: bool, dregs: bool = False) -> object:
    """The ``dt`` fixture of a test module: one :class:`DiffTester` for all its tests."""
    @pytest.fixture(scope="module", name="dt")
    def dt() -> DiffTester:
        return DiffTester(thumb=thumb, dregs=dregs)
    return dt


def group_tests(prefix: str, groups: Groups, block: int, skip: Mapping[str, str], *, thumb: bool,
                dregs: bool = False) -> tuple[object, Test, Test]:
    """A test module's ``dt`` fixture (:func:`dt_fixture`), ``test_group`` and
    ``test_group_random``, parametrized by the groups of `groups` (group -> (generator,
    weight)) and named `prefix` + group in reports: weight * SCALE blocks of at least
    `block` instructions with seed 1, and RANDOM_SCALE times as many with
    :func:`diff_seed` under ``-m random``. Groups in `skip` (group -> reason) are skipped."""
    def setup(group: str) -> tuple[BlockGen, int]:
        if group in skip:
            pytest.skip(skip[group])
        gen, weight = groups[group]
        return gen, weight * SCALE

    @pytest.mark.parametrize("group", sorted(groups))
    def test_group(dt: DiffTester, group: str) -> None:
        gen, n = setup(group)
        n = max(n // NATIVE_DIVISOR, 1)
        before = dt.cases
        run_group(dt, prefix + group, gen, 1, n)
        assert dt.cases - before >= n * block

    @pytest.mark.random
    @pytest.mark.parametrize("group", sorted(groups))
    def test_group_random(dt: DiffTester, group: str) -> None:
        gen, n = setup(group)
        run_group(dt, prefix + group, gen, diff_seed(), n * RANDOM_SCALE)

    return dt_fixture(thumb, dregs), test_group, test_group_random


def fixed_tests(prefix: str, runs: Groups) -> list[Test]:
    """A test for each entry of `runs` (name -> (generator, blocks)), in order: the blocks,
    with seed 1, named `prefix` + name in reports."""
    def make(name: str, gen: BlockGen, n: int) -> Test:
        def test(dt: DiffTester) -> None:
            run_group(dt, prefix + name, gen, 1, n)
        return test
    return [make(name, gen, n) for name, (gen, n) in runs.items()]


def random_test(prefix: str, runs: Groups) -> Test:
    """The ``-m random`` test of :func:`fixed_tests`: RANDOM_SCALE times as many blocks
    of each entry, with one :func:`diff_seed`."""
    @pytest.mark.random
    def test(dt: DiffTester) -> None:
        seed = diff_seed()
        for name, (gen, n) in runs.items():
            run_group(dt, prefix + name, gen, seed, n * RANDOM_SCALE)
    return test


# --- loads and stores: addresses kept inside the data window ----------------------------------

class LsCtx:
    """What a load/store generator knows while it builds a block: the values of the
    base and index registers (set in the initial state, changed only by writeback,
    forgotten when a load overwrites them), so every generated access falls inside
    the data window, aligned as the form requires.

    `data` registers receive loads and supply store values; `bases` hold addresses;
    `index` registers hold small offsets.
    """

    def __init__(self, rng: random.Random, data: Sequence[int], bases: Sequence[int],
                 index: Sequence[int] = (), sp_base: bool = False) -> None:
        self.data = list(data)
        self.index = list(index)
        self.vals: dict[int, int] = {}
        self.init = random_state(rng, mem_size=DATA_SIZE)
        for r in bases:
            v = DATA_BASE + 0x1000 + rng.randrange(0x2000)
            self.vals[r] = v & ~3 if rng.random() < 0.75 else v
        if sp_base:
            self.vals[13] = (DATA_BASE + 0x1800 + rng.randrange(0x1000)) & ~7
        for r in index:
            v = rng.choice((0, 1, 2, 4, 8, rng.randrange(-512, 512), rng.randrange(-64, 64) * 4))
            self.vals[r] = v & M32
        for r, v in self.vals.items():
            self.init.r[r] = v
        self.pc = 0  # address of the instruction being generated (literal loads)
        self.start = CODE_BASE

    def bases(self, align: int = 1, exclude: Sequence[int] = ()) -> list[int]:
        return [r for r, v in self.vals.items()
                if r not in self.index and r not in exclude and v % align == 0]

    @staticmethod
    def inside(addr: int, size: int, align: int = 1) -> bool:
        return DATA_BASE <= addr and addr + size <= DATA_BASE + DATA_SIZE and addr % align == 0

    def load(self, *regs: int) -> None:
        """A load overwrites `regs`: they stop being bases or indexes."""
        for r in regs:
            if r in self.vals:
                del self.vals[r]
                if r in self.index:
                    self.index.remove(r)

    def wback(self, rn: int, value: int) -> None:
        self.vals[rn] = value & M32

    def access(self, rn: int, off: int, p: int, u: int, w: int, size: int,
               align: int = 1) -> tuple[int, int | None] | None:
        """An access of `size` bytes at base `rn` +/- `off` (P, U, W as in the encodings):
        (address, written-back base or None), or None if either is outside the window."""
        base = self.vals[rn]
        oa = (base + off if u else base - off) & M32
        addr = oa if p else base
        wb = oa if (not p or w) else None
        if not self.inside(addr, size, align) or (wb is not None and not self.inside(wb, 0)):
            return None
        return addr, wb

    def done(self, rn: int, wb: int | None, load: bool, *rts: int) -> None:
        """After an access: `rn` written back (unless `wb` is None), `rts` loaded if `load`."""
        if wb is not None:
            self.wback(rn, wb)
        if load:
            self.load(*rts)

    def units(self, draw: Callable[[], list[int] | None], nop: int, n: int, thumb: bool,
              count_units: bool = True) -> tuple[list[int], list[int]]:
        """The instructions and cut points of a block at :attr:`start`: units from `draw()`
        (20 tries, else `nop`; :attr:`pc` is the unit's address) until there are `n` units,
        or `n` instructions unless `count_units`."""
        insns: list[int] = []
        cuts: list[int] = []
        pc = self.start
        while (len(cuts) if count_units else len(insns)) < n:
            self.pc = pc
            for _ in range(20):
                u = draw()
                if u is not None:
                    break
            else:
                u = [nop]
            insns += u
            pc += sum(insn_size(i, thumb) for i in u)
            cuts.append(len(insns))
        return insns, cuts


def shift_value(v: int, ty: int, n: int) -> int | None:
    """The A32/T32 immediate shifter (None for RRX, whose input carry is not known)."""
    v &= M32
    if ty == 0:
        return (v << n) & M32
    if ty == 1:
        return v >> (n or 32) if n else 0
    if ty == 2:
        sv = v - ((v >> 31) << 32)
        return (sv >> (n or 32)) & M32
    if n == 0:
        return None
    return ((v >> n) | (v << (32 - n))) & M32


# --- VFP ---------------------------------------------------------------------------------------

F32_EDGE = (0, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
            0xFFC00001, 0x7FBFFFFF, 0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0x00800000, 0x4F000000,
            0xCF000000, 0x4F800000, 0x3F000000, 0x3FC00000, 0x40200000, 0xBFC00000, 0x477FE000,
            0x38800000, 0x33800000)
F64_EDGE = (0, 1 << 63, 0x3FF0000000000000, 0xBFF0000000000000, 0x7FF0000000000000, 0xFFF0000000000000,
            0x7FF8000000000000, 0x7FF0000000000001, 0xFFF4000000000000, 1, 0x800FFFFFFFFFFFFF,
            0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 0x41E0000000000000, 0xC1E0000000000000,
            0x41F0000000000000, 0x3FE0000000000000, 0x3FF8000000000000, 0x4004000000000000,
            0xC1E0000000200000, 0x47EFFFFFE0000000, 0x36A0000000000000, 0x3810000000000000)


def _rand_fp(rng: random.Random, edge: Sequence[int], width: int, frac: int, exps: tuple[int, int]) -> int:
    """A `width`-bit float (`frac` fraction bits): an edge value, one with a biased exponent
    in `exps` (whose conversions and roundings are interesting), or any bits."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(edge)
    if r < 0.8:
        return (rng.getrandbits(1) << (width - 1)) | (rng.randrange(*exps) << frac) | rng.getrandbits(frac)
    return rng.getrandbits(width)


def rand_f32(rng: random.Random) -> int:
    return _rand_fp(rng, F32_EDGE, 32, 23, (100, 160))


def rand_f64(rng: random.Random) -> int:
    return _rand_fp(rng, F64_EDGE, 64, 52, (990, 1060))


def rand_dreg(rng: random.Random) -> int:
    """A D register: a double or two singles, biased toward special values."""
    if rng.random() < 0.5:
        return rand_f64(rng)
    return (rand_f32(rng) << 32) | rand_f32(rng)


def rand_fpscr(rng: random.Random) -> int:
    """NZCV, AHP/DN/FZ/RMode random, cumulative exception flags (and QC) random;
    vector length/stride and trap enables 0 (not in ARMv8; Linux leaves them 0)."""
    return (rng.randrange(16) << 28) | (rng.randrange(2) << 27) | (rng.randrange(16) << 22) \
        | (rng.getrandbits(8) & 0x9F)


def fp_state(rng: random.Random, mem_size: int = 0) -> State:
    st = random_state(rng, dregs=True, mem_size=mem_size)
    st.d = [rand_dreg(rng) for _ in range(32)]
    st.fpscr = rand_fpscr(rng)
    st.r[12] = rand_fpscr(rng)  # for VMSR
    return st


def _vfp3_ok(f: dict) -> bool:
    return f["o1"] == 0 or (f["o2"] == 0 and f["op"] == 0) or f["o2"] in (1, 2)


def _vfp2_ok(f: dict) -> bool:
    o, op = f["opc2"], f["op"]
    if o == 5:
        return f["vm"] == 0 and f["m"] == 0
    if o == 9:
        return False
    if o in (10, 11, 14, 15):  # fixed point: frac_bits = size - imm5 must be >= 0
        return f["op"] == 1 or ((f["vm"] << 1) | f["m"]) <= 16
    return o != 7 or op in (0, 1)


# cond:4 is 1110 in Thumb (same encodings)
VFP_DP = [Encoding("vfp3", "cond:4 1110 o1:1 d:1 o2:2 vn:4 vd:4 101 sz:1 n:1 op:1 m:1 0 vm:4", _vfp3_ok),
          Encoding("vfp2", "cond:4 11101 d:1 11 opc2:4 vd:4 101 sz:1 op:1 1 m:1 0 vm:4", _vfp2_ok),
          Encoding("vmov_imm", "cond:4 11101 d:1 11 imm4h:4 vd:4 101 sz:1 0000 imm4l:4")]
FP_CORE = (0, 1, 2, 3, 8, 9, 10, 11, 14)  # core registers VMOV/VMRS may write (not bases, not R12)


def _vmov64_ok(f: dict) -> bool:
    if f["op"] and f["rt"] == f["rt2"]:
        return False
    return f["sz"] or ((f["vm"] << 1) | f["m"]) != 31


def _scalar_ok(f: dict) -> bool:
    if f["opc1"] & 2:
        return True
    if f["opc2"] & 1:
        return True
    return f["opc2"] == 0 and not f.get("u", 0)


VFP_MOV = [Encoding("vmov_s", "cond:4 1110 000 op:1 vn:4 rt:4 1010 n:1 00 1 0000", rt=FP_CORE),
           Encoding("vmov_64", "cond:4 1100 010 op:1 rt2:4 rt:4 101 sz:1 00 m:1 1 vm:4", _vmov64_ok,
                    rt=FP_CORE, rt2=FP_CORE),
           Encoding("vmov_to_scalar", "cond:4 1110 0 opc1:2 0 vd:4 rt:4 1011 d:1 opc2:2 1 0000", _scalar_ok,
                    rt=FP_CORE),
           Encoding("vmov_from_scalar", "cond:4 1110 u:1 opc1:2 1 vn:4 rt:4 1011 n:1 opc2:2 1 0000",
                    _scalar_ok, rt=FP_CORE),
           Encoding("vmrs", "cond:4 1110 1111 0001 rt:4 1010 0001 0000", rt=(*FP_CORE, 15)),
           Encoding("vmsr", "cond:4 1110 1110 0001 1100 1010 0001 0000")]  # from R12 (a valid FPSCR)
VFP_BASES = (4, 5, 6, 7)


def vfp_ls(rng: random.Random, c: int) -> int:
    """VLDR/VSTR (also literal), VLDM/VSTM (increment after, no writeback) from a base in
    R4-R7, VPUSH/VPOP (SP starts mid-window: 40 of them cannot leave it); see
    :func:`vfp_ls_state`."""
    rn = rng.choice(VFP_BASES)
    sz, load, d, vd = rng.randrange(2), rng.randrange(2), rng.randrange(2), rng.randrange(16)
    first = (d << 4) | vd if sz else (vd << 1) | d
    k = rng.random()
    if k < 0.1:  # VLDR literal, forward: reads code (the same in both emulators)
        return (c << 28) | (0b1101 << 24) | (1 << 23) | (d << 22) | (1 << 20) \
            | (15 << 16) | (vd << 12) | (0b101 << 9) | (sz << 8) | rng.randrange(64)
    if k < 0.5:
        return (c << 28) | (0b1101 << 24) | (rng.randrange(2) << 23) | (d << 22) | (load << 20) \
            | (rn << 16) | (vd << 12) | (0b101 << 9) | (sz << 8) | rng.randrange(256)
    n = rng.randrange(1, min(16 if sz else 32, 32 - first) + 1)
    imm = 2 * n if sz else n
    if k < 0.75:  # VPOP = VLDMIA SP!, VPUSH = VSTMDB SP!
        pu = 0b01 if load else 0b10
        return (c << 28) | (0b110 << 25) | (pu << 23) | (d << 22) | (1 << 21) | (load << 20) \
            | (13 << 16) | (vd << 12) | (0b101 << 9) | (sz << 8) | imm
    return (c << 28) | (0b11001 << 23) | (d << 22) | (load << 20) | (rn << 16) | (vd << 12) \
        | (0b101 << 9) | (sz << 8) | imm


def vfp_ls_state(rng: random.Random) -> State:
    st = fp_state(rng, mem_size=DATA_SIZE)
    for r in VFP_BASES:
        st.r[r] = DATA_BASE + 0x1000 + 4 * rng.randrange(0x800)
    st.r[13] = DATA_BASE + 0x2000 + 8 * rng.randrange(-16, 16)
    return st


# ARMv8 additions (unconditional space; the same words in T32)
VFP_V8 = [Encoding("vsel", "1111 11100 d:1 cc:2 vn:4 vd:4 101 sz:1 n:1 0 m:1 0 vm:4", sz=0),
          Encoding("vmaxnm", "1111 11101 d:1 00 vn:4 vd:4 101 sz:1 n:1 op:1 m:1 0 vm:4"),
          Encoding("vrint", "1111 11101 d:1 111 0 rm:2 vd:4 101 sz:1 0 1 m:1 0 vm:4"),
          Encoding("vcvt", "1111 11101 d:1 111 1 rm:2 vd:4 101 sz:1 op:1 1 m:1 0 vm:4")]
VFP_VSEL64 = [Encoding("vsel64", "1111 11100 d:1 cc:2 vn:4 vd:4 101 1 n:1 0 m:1 0 vm:4")]


# --- Advanced SIMD (NEON) -------------------------------------------------------------------------

def _neon3_ok(f: dict) -> bool:
    """3 registers of the same length: the allocated integer, logic and single-precision
    float encodings (ARM ARM F6.1.x table: opc, o1, U, size, Q)."""
    opc, o1, u, size, q = f["opc"], f["o1"], f["u"], f["size"], f["q"]
    if q and (f["vd"] & 1 or f["vn"] & 1 or f["vm"] & 1):
        return False
    if opc in (0, 1, 2):  # VHADD/VRHADD/VHSUB: no 64-bit elements; VQADD/logic/VQSUB: any
        return o1 == 1 or size != 3
    if opc in (4, 5):
        return True
    if opc in (3, 6, 7):
        return size != 3
    if opc == 8:
        return o1 == 0 or size != 3
    if opc == 9:
        return size != 3 and (o1 == 0 or u == 0 or size == 0)
    if opc == 10:
        return q == 0 and size != 3
    if opc == 11:
        return (o1 == 0 and size in (1, 2)) or (o1 == 1 and u == 0 and q == 0 and size != 3)
    if opc == 13:  # float: size<0> is the half-precision bit (not in Unicorn): 0
        return size & 1 == 0 and (o1 == 0 or u == 0 or size == 0) and not (u and o1 == 0 and size == 0 and q)
    if opc == 14:
        return size & 1 == 0 and (u == 1 or (o1 == 0 and size == 0))
    if opc == 15:
        return size & 1 == 0 and not (u == 1 and o1 == 0 and q)
    return False


def _neon_sh_ok(f: dict) -> bool:
    if f["q"] and (f["vd"] & 1 or f["vm"] & 1):
        return False
    if f["l"] == 0 and f["imm6"] < 8:
        return False
    opc, u = f["opc"], f["u"]
    return opc in (0, 1, 2, 3, 5, 7) or (opc in (4, 6) and u == 1)


def _neon_imm_ok(f: dict) -> bool:
    return not (f["q"] and f["vd"] & 1) and not (f["op"] and f["cmode"] == 15)


def _neon_misc_ok(f: dict) -> bool:
    """Two registers, miscellaneous: VREV*, VPADDL, VCLS/VCLZ/VCNT/VMVN, VPADAL, VQABS/VQNEG,
    compares with zero, VABS/VNEG (integer and float), VSWP/VTRN/VUZP/VZIP."""
    a, b, size, q = f["a"], f["b"], f["size"], f["q"]
    if q and (f["vd"] & 1 or f["vm"] & 1):
        return False
    if size == 3:
        return False
    if a == 0:
        if b == 1:
            return size < 2
        if b == 2:
            return size == 0
        if b in (10, 11):
            return size == 0
        return b in (0, 4, 5, 8, 9, 12, 13, 14, 15)
    if a == 1:
        return b != 5 and b != 13 and (b < 8 or size == 2)
    if a == 2:  # VSWP/VTRN/VUZP/VZIP: Vd == Vm is UNPREDICTABLE
        if (f["d"] << 4 | f["vd"]) == (f["m"] << 4 | f["vm"]):
            return False
        if b == 0:
            return size == 0
        if b in (2, 3):
            return not (q == 0 and size == 2)
        return b == 1
    return False


def _neon_3diff_ok(f: dict) -> bool:
    """Three registers of different lengths (long, wide, narrow)."""
    opc, u, size = f["opc"], f["u"], f["size"]
    if size == 3 or opc == 15:
        return False
    if opc in (4, 6):  # narrowing: Q sources
        return not (f["vn"] & 1 or f["vm"] & 1)
    if f["vd"] & 1:  # long and wide: Q destination
        return False
    if opc in (1, 3):
        return not f["vn"] & 1
    if opc in (9, 11, 13):
        return u == 0 and size != 0
    if opc == 14:
        return u == 0 and size == 0
    return True


def _neon_scalar_ok(f: dict) -> bool:
    """Two registers and a scalar."""
    opc, size, q = f["opc"], f["size"], f["q"]
    if size in (0, 3):
        return False
    if opc in (2, 3, 6, 7, 10, 11):  # long: bit 24 is U, Q destination
        return not f["vd"] & 1 and (opc not in (3, 7, 11) or q == 0)
    if q and (f["vd"] & 1 or f["vn"] & 1):
        return False
    if opc in (1, 5, 9):
        return size == 2
    return opc in (0, 4, 8, 12, 13)


# A32 words (1111 001U ...); :func:`neon_t32` turns them into T32 (111U 1111 ...)
NEON_MORE = [Encoding("neon_imm", "1111 001 i:1 1 d:1 000 imm3:3 vd:4 cmode:4 0 q:1 op:1 1 imm4:4",
                      _neon_imm_ok),
             Encoding("neon_misc", "1111 0011 1 d:1 11 size:2 a:2 vd:4 0 b:4 q:1 m:1 0 vm:4", _neon_misc_ok,
                      a=(0, 1, 2)),
             Encoding("vext", "1111 0010 1 d:1 11 vn:4 vd:4 imm4:4 n:1 q:1 m:1 0 vm:4",
                      lambda f: (f["imm4"] < 8 if not f["q"]
                                 else not (f["vd"] & 1 or f["vn"] & 1 or f["vm"] & 1))),
             Encoding("vdup", "1111 0011 1 d:1 11 imm4:4 vd:4 1100 0 q:1 m:1 0 vm:4",
                      lambda f: f["imm4"] & 7 != 0 and not (f["q"] and f["vd"] & 1)),
             Encoding("neon_3diff", "1111 001 u:1 1 d:1 size:2 vn:4 vd:4 opc:4 n:1 0 m:1 0 vm:4",
                      _neon_3diff_ok),
             Encoding("neon_scalar", "1111 001 q:1 1 d:1 size:2 vn:4 vd:4 opc:4 n:1 1 m:1 0 vm:4",
                      _neon_scalar_ok),
             Encoding("vtbl", "1111 0011 1 d:1 11 vn:4 vd:4 10 len:2 n:1 op:1 m:1 0 vm:4",
                      lambda f: ((f["n"] << 4) | f["vn"]) + f["len"] < 32),
             # VSHRN/VRSHRN/VQSHRUN/VQRSHRUN/VQSHRN/VQRSHRN, VSHLL/VMOVL
             Encoding("neon_narrow", "1111 001 u:1 1 d:1 imm6:6 vd:4 100 o:1 0 r:1 m:1 1 vm:4",
                      lambda f: f["imm6"] >= 8 and not f["vm"] & 1),
             Encoding("neon_shll", "1111 001 u:1 1 d:1 imm6:6 vd:4 1010 0 0 m:1 1 vm:4",
                      lambda f: f["imm6"] >= 8 and not f["vd"] & 1)]
NEON_DP = [Encoding("neon3", "1111 001 u:1 0 d:1 size:2 vn:4 vd:4 opc:4 n:1 q:1 m:1 o1:1 vm:4", _neon3_ok,
                    opc=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15)),
           Encoding("neon_shift", "1111 001 u:1 1 d:1 imm6:6 vd:4 opc:4 l:1 q:1 m:1 1 vm:4", _neon_sh_ok)]


def neon_t32(word: int) -> int:
    """The T32 encoding of an A32 Advanced SIMD data-processing word."""
    u = (word >> 24) & 1
    return (0xEF000000 | (u << 28) | (word & 0x00FFFFFF)) if word >> 25 == 0x79 else word


def neon_ls(rng: random.Random, thumb: bool = False) -> int:
    """VLD1/VST1 (multiple single elements, 1-4 registers, no writeback) from R4-R7."""
    rn = rng.choice(VFP_BASES)
    typ, nregs = rng.choice(((0b0111, 1), (0b1010, 2), (0b0110, 3), (0b0010, 4)))
    d, vd = rng.randrange(2), rng.randrange(16)
    first = (d << 4) | vd
    if first + nregs > 32:
        first = 32 - nregs
        d, vd = first >> 4, first & 15
    size = rng.randrange(4)
    word = 0xF400000F | (d << 22) | (rng.randrange(2) << 21) | (rn << 16) | (vd << 12) | (typ << 8) \
        | (size << 6)
    return (word & ~0x0F000000) | 0x09000000 if thumb else word


# VLDn/VSTn multiple structures: type -> registers (offsets from Vd); VLD1 all lanes and single lane
_VLDN = {0b0000: (0, 1, 2, 3), 0b0001: (0, 2, 4, 6), 0b0100: (0, 1, 2), 0b0101: (0, 2, 4),
         0b1000: (0, 1), 0b1001: (0, 2), 0b0011: (0, 1, 2, 3)}


def neon_ls_struct(rng: random.Random, thumb: bool = False) -> int:
    """VLD2/3/4 and VST2/3/4 (multiple structures), VLD1 (one lane, all lanes), VST1 (one
    lane): no writeback, no alignment hints, registers inside D0-D31."""
    rn = rng.choice(VFP_BASES)
    load = rng.randrange(2)
    k = rng.randrange(3)
    if k == 0:
        typ = rng.choice(list(_VLDN))
        first = rng.randrange(32 - _VLDN[typ][-1])
        word = 0xF400000F | (load << 21) | (typ << 8) | (rng.randrange(3) << 6)
    elif k == 1:  # one lane (alignment bits clear)
        size = rng.randrange(3)
        first = rng.randrange(32)
        ia = (rng.randrange(8) << 1, rng.randrange(4) << 2, rng.randrange(2) << 3)[size]
        word = 0xF480000F | (load << 21) | (size << 10) | (ia << 4)
    else:  # VLD1 all lanes, 1 or 2 registers
        t = rng.randrange(2)
        first = rng.randrange(32 - t)
        word = 0xF4A00C0F | (rng.randrange(3) << 6) | (t << 5)
    word |= ((first >> 4) << 22) | ((first & 15) << 12) | (rn << 16)
    return (word & ~0x0F000000) | 0x09000000 if thumb else word


NEON_BLOCK = 40


def neon_groups(thumb: bool, block: int = NEON_BLOCK) -> dict[str, tuple[BlockGen, int]]:
    """The Advanced SIMD groups (group -> (generator, weight)) of the A32 or T32 tests:
    blocks of `block` data-processing instructions (``dp``: :data:`NEON_DP`, ``more``:
    :data:`NEON_MORE`), or of element and structure loads and stores mixed with them (``ls``)."""
    conv = neon_t32 if thumb else None

    def ls(rng: random.Random) -> Block:
        insns = [(neon_ls(rng, thumb) if rng.random() < 0.5 else neon_ls_struct(rng, thumb))
                 if rng.random() < 0.6 else rng.choice(NEON_DP).gen(rng) for _ in range(block)]
        if conv is not None:
            insns = [conv(i) for i in insns]  # VLDn/VSTn are T32 already: unchanged
        return Block(insns, vfp_ls_state(rng), start=rand_start(rng, thumb))

    return {"dp": (random_blocks(NEON_DP, block, fp_state, thumb, conv), 150), "ls": (ls, 50),
            "more": (random_blocks(NEON_MORE, block, fp_state, thumb, conv), 60)}
